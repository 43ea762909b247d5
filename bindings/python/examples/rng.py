#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A virtio-rng device written in Python on Vhost.UserSlave: QEMU's vhost-user-rng-pci reads random bytes from it.
"""Usage: rng.py --socket-path PATH [--source FILE]

Serves a virtio-rng device (virtio device id 4) on the vhost-user socket PATH:
each request the guest's driver makes is a writable buffer, which the device
fills with bytes read from FILE (default /dev/urandom). For instance:

    rng.py --socket-path /tmp/rng.sock &
    qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=512M,share=on \\
        -numa node,memdev=mem -chardev socket,id=rng,path=/tmp/rng.sock \\
        -device vhost-user-rng-pci,chardev=rng

and in the guest, /dev/hwrng (rng_current: virtio_rng.0) gives the bytes.
It runs until SIGTERM or SIGINT, then prints how many requests and bytes it served.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, Vhost  # noqa: E402


class Rng(Vhost.UserSlave):
    """virtio-rng has one queue, no feature bits of its own and no configuration
    space: the library's defaults (the ring features it implements, no CONFIG)
    are what it offers. The queue is processed on the main context."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.requests = 0
        self.bytes = 0
        queue = self.get_virtqueue(0)
        queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
        queue.connect("kick", self.on_kick)

    def do_get_num_queues(self):
        return 1

    def on_kick(self, queue):
        for request in queue:
            size = request.get_writable_size()
            request.write(0, self.source.read(size))
            queue.push_request(request, size)
            self.requests += 1
            self.bytes += size


def main():
    parser = argparse.ArgumentParser(description="A virtio-rng vhost-user back-end in Python.")
    parser.add_argument("--socket-path", required=True, help="the vhost-user socket to listen on")
    parser.add_argument("--source", default="/dev/urandom", help="where the random bytes come from")
    args = parser.parse_args()

    with open(args.source, "rb", buffering=0) as source:
        device = Rng(source)
        loop = GLib.MainLoop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
        device.connect("disconnected", lambda d, error: print("rng: front-end gone: %s" % error.message,
                                                              flush=True))
        with device:
            device.listen(args.socket_path)
            print("rng: listening on %s" % args.socket_path, flush=True)
            loop.run()
        print("rng: served %d requests, %d bytes" % (device.requests, device.bytes), flush=True)


if __name__ == "__main__":
    try:
        main()
    except GLib.Error as error:
        print("rng: %s" % error.message, file=sys.stderr)
        sys.exit(1)
