#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# The device of bench-python: a Vhost.UserSlave in Python that copies each request's readable bytes into its writable buffer.
"""Usage: python-echo.py --socket-path PATH [--batch N]

Serves one queue, processed on the main context by Python: each chain's readable
bytes are read and written back into its writable buffers, popped and pushed N
at a time (pop_requests(), push_requests()), or one by one with --batch 1
(``for request in queue``). Runs until SIGTERM.
"""
import argparse
import signal

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, Vhost  # noqa: E402


class Echo(Vhost.UserSlave):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch
        queue = self.get_virtqueue(0)
        queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
        queue.connect("kick", self.on_kick if batch > 1 else self.on_kick_one_by_one)

    def on_kick_one_by_one(self, queue):
        for request in queue:
            data = request.read()
            request.write(0, data)
            queue.push_request(request, len(data))

    def on_kick(self, queue):
        # In batches: one call pops (or pushes) up to `batch` requests.
        while True:
            requests = queue.pop_requests(self.batch)
            if not requests:
                return
            lens = []
            for request in requests:
                data = request.read()
                request.write(0, data)
                lens.append(len(data))
            queue.push_requests(requests, lens)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket-path", required=True)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    with Echo(args.batch) as device:
        device.listen(args.socket_path)
        loop.run()


if __name__ == "__main__":
    main()
