#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Probes a vhost-user back-end without blocking: every request asynchronous, the main loop free throughout.
"""Usage: probe-async.py SOCKET

Connects a Vhost.UserMaster to the back-end listening on SOCKET and asks, one
asynchronous call after the other, for its virtio features, its queue count and,
for a block device, its capacity. The main loop never waits for the back-end:
a timer keeps firing while it answers.
"""
import struct
import sys

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, Vhost  # noqa: E402


class Probe:
    """Asks a back-end what it offers, with Gio-style calls: each `_async`
    call's callback takes the result with `_finish` and starts the next call."""

    def __init__(self, master):
        self.master = master
        self.loop = GLib.MainLoop()
        self.features = self.queues = self.capacity = self.error = None
        self.ticks = 0

    def run(self):
        timer = GLib.timeout_add(1, self.tick)
        if self.master.props.connected:
            self.get_features()
        else:
            self.master.connect_async(None, self.then(self.master.connect_finish, self.get_features))
        self.loop.run()
        GLib.source_remove(timer)

    def tick(self):
        self.ticks += 1  # the loop runs while the back-end answers
        return GLib.SOURCE_CONTINUE

    def then(self, finish, next_step):
        """A callback that finishes a call and goes on with its result; an error ends the probe."""
        def callback(master, result):
            try:
                value = finish(result)
            except Vhost.VhostError as error:  # Vhost.DisconnectedError, Vhost.RejectedError...
                self.error = error
                self.loop.quit()
                return
            next_step(value)
        return callback

    def get_features(self, *ignored):
        self.master.get_features_async(None, self.then(self.master.get_features_finish, self.set_owner))

    def set_owner(self, features):
        self.features = features  # a Vhost.Features: an int with named bits
        names = [Vhost.VirtioFeature(bit).value_nick for bit in range(64)
                 if features & (1 << bit) and bit in Vhost.VirtioFeature.__enum_values__]
        print("features 0x%016x %s" % (features, " ".join(names)))
        self.master.set_owner_async(None, self.then(self.master.set_owner_finish, self.negotiate))

    def negotiate(self, *ignored):
        wanted = Vhost.ProtocolFeatures.MQ | Vhost.ProtocolFeatures.CONFIG
        self.master.negotiate_protocol_async(wanted, None,
                                             self.then(self.master.negotiate_protocol_finish, self.get_queue_num))

    def get_queue_num(self, acked):
        self.acked = acked
        if acked & Vhost.ProtocolFeatures.MQ:
            self.master.get_queue_num_async(None, self.then(self.master.get_queue_num_finish, self.get_config))
        else:
            self.get_config(1)

    def get_config(self, queues):
        self.queues = queues
        print("queues %d" % queues)
        if self.acked & Vhost.ProtocolFeatures.CONFIG:
            # virtio-blk: the capacity, in 512-byte sectors, is the first field.
            self.master.get_config_async(0, 8, 0, None, self.then(self.master.get_config_finish, self.done))
        else:
            self.done(None)

    def done(self, config):
        if config is not None:
            self.capacity, = struct.unpack("<Q", config)
            print("capacity %d sectors" % self.capacity)
        print("the main loop ran %d times meanwhile" % self.ticks, file=sys.stderr)
        self.loop.quit()


def main(path):
    probe = Probe(Vhost.UserMaster.new(path))
    probe.run()
    probe.master.close()
    if probe.error is not None:
        print("probe-async: %s" % probe.error.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
