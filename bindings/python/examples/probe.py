#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Connects to a vhost-user back-end as a front-end and prints what it offers.
"""Usage: probe.py SOCKET

Connects a Vhost.UserMaster to the back-end listening on SOCKET, negotiates the
protocol features both sides know, and prints the virtio features, protocol
features, queue count and, for a block device, its configuration space.
"""
import struct
import sys

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, Vhost  # noqa: E402

VIRTIO_BLK_FEATURES = {0: "BARRIER", 1: "SIZE_MAX", 2: "SEG_MAX", 4: "GEOMETRY", 5: "RO", 6: "BLK_SIZE",
                       9: "FLUSH", 10: "TOPOLOGY", 11: "CONFIG_WCE", 12: "MQ", 13: "DISCARD",
                       14: "WRITE_ZEROES"}


def feature_names(features):
    names = []
    for bit in range(64):
        if not features & (1 << bit):
            continue
        try:
            names.append(Vhost.VirtioFeature(bit).value_nick)
        except ValueError:
            names.append(VIRTIO_BLK_FEATURES.get(bit, "bit%d" % bit).lower())
    return names


def main(path):
    master = Vhost.UserMaster.new(path)
    master.connect_backend()
    features = master.get_features()
    print("virtio features   0x%016x" % features)
    print("                  " + " ".join(feature_names(features)))
    master.set_owner()

    offered = master.get_protocol_features()
    flags = Vhost.UserProtocolFeatures(offered)
    print("protocol features 0x%05x" % offered)
    print("                  " + " ".join(n for n in flags.value_nicks if n != "none"))
    # The library implements every protocol feature but XEN_MMAP.
    master.set_protocol_features(offered & ~int(Vhost.UserProtocolFeatures.XEN_MMAP))

    if flags & Vhost.UserProtocolFeatures.MQ:
        print("queues            %d" % master.get_queue_num())
    if flags & Vhost.UserProtocolFeatures.CONFIGURE_MEM_SLOTS:
        print("memory slots      %d" % master.get_max_mem_slots())
    if flags & Vhost.UserProtocolFeatures.CONFIG:
        try:
            config = master.get_config(0, 60, 0)
        except GLib.Error as error:
            print("config            unreadable: %s" % error.message)
        else:
            capacity, = struct.unpack_from("<Q", config, 0)
            blk_size, = struct.unpack_from("<I", config, 20)
            num_queues, = struct.unpack_from("<H", config, 34)
            print("blk capacity      %d sectors (%d bytes)" % (capacity, capacity * 512))
            print("blk block size    %d" % blk_size)
            print("blk num_queues    %d" % num_queues)
    master.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except GLib.Error as error:
        print("probe: %s" % error.message, file=sys.stderr)
        sys.exit(1)
