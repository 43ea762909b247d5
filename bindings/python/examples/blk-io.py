#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes and reads a vhost-user-blk device from Python: Vhost.UserMaster + Vhost.Driver.
"""Usage: blk-io.py SOCKET

Brings up the vhost-user-blk back-end listening on SOCKET with a Vhost.Driver (guest
memory, one split queue, event idx), writes 16 blocks of 4 KiB of random data at
the start of the disk, reads them back, compares, and prints what happened (with
the md5 of the 64 KiB written, to compare with the disk image).
"""
import hashlib
import os
import struct
import sys
import time

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, Vhost  # noqa: E402

VERSION_1 = 1 << 32
EVENT_IDX = 1 << 29
BLK_F_FLUSH = 1 << 9
T_IN, T_OUT, T_FLUSH = 0, 1, 4
BLOCK = 4096


class Blk:
    def __init__(self, path):
        self.master = Vhost.UserMaster.new(path)
        self.master.connect_backend()
        self.driver = Vhost.Driver.new(self.master, 4 * 1024 * 1024)
        self.driver.start(1, 64, VERSION_1 | EVENT_IDX | BLK_F_FLUSH)
        self.hdr = self.driver.alloc(64)
        self.data = self.driver.alloc(BLOCK)
        self.tag = 0

    def request(self, kind, sector, payload=None):
        """One virtio-blk request: header, data, status byte; returns (status, data read)."""
        self.driver.write(self.hdr, struct.pack("<IIQB", kind, 0, sector, 0xff))
        out = [(self.hdr, 16)]
        into = []
        if kind == T_OUT:
            self.driver.write(self.data, payload)
            out.append((self.data, BLOCK))
        elif kind == T_IN:
            into.append((self.data, BLOCK))
        into.append((self.hdr + 16, 1))
        self.tag += 1
        self.driver.submit(0, out, into, self.tag)
        self.driver.kick(0)
        self.driver.wait(0, 10000)
        ok, tag, length = self.driver.reap(0)
        assert ok and tag == self.tag
        status = self.driver.read(self.hdr + 16, 1)[0]
        data = self.driver.read(self.data, BLOCK) if kind == T_IN else None
        return status, data

    def close(self):
        self.driver.stop()
        self.master.close()


def main(path):
    blk = Blk(path)
    features = blk.driver.get_acked_features()
    print("driver up: acked features 0x%x, 1 queue of %d" % (features, blk.driver.get_queue_size()))
    blocks = [os.urandom(BLOCK) for _ in range(16)]
    start = time.monotonic()
    for i, block in enumerate(blocks):
        status, _ = blk.request(T_OUT, i * (BLOCK // 512), block)
        assert status == 0, "write %d: status %d" % (i, status)
    if features & BLK_F_FLUSH:
        status, _ = blk.request(T_FLUSH, 0)
        assert status == 0
    print("wrote %d blocks of %d bytes%s; their md5 is %s"
          % (len(blocks), BLOCK, ", flushed" if features & BLK_F_FLUSH else "",
             hashlib.md5(b"".join(blocks)).hexdigest()))
    for i, block in enumerate(blocks):
        status, data = blk.request(T_IN, i * (BLOCK // 512))
        assert status == 0 and data == block, "block %d read back wrong" % i
    print("read them back: all %d match (%.1f ms for %d requests)"
          % (len(blocks), (time.monotonic() - start) * 1000, blk.tag))
    blk.close()
    print("stopped: the queue's final avail index is %d" % blk.driver.get_vring_base(0))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except GLib.Error as error:
        print("blk-io: %s" % error.message, file=sys.stderr)
        sys.exit(1)
