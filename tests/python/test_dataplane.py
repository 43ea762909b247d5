# SPDX-License-Identifier: GPL-2.0-or-later
# The data plane from Python: a device that handles its queue on the main context, and a VhostDriver.
import os
import socket

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, GObject, Vhost  # noqa: E402
from slave_thread import SlaveThread  # noqa: E402

VERSION_1 = 1 << 32
INDIRECT = 1 << 28
EVENT_IDX = 1 << 29
PACKED = 1 << 34


class PyReverse(Vhost.UserSlave):
    """Answers each chain with its readable bytes reversed, handled in Python on the main context."""

    def __init__(self):
        super().__init__()
        self.handled = 0
        queue = self.get_virtqueue(0)
        queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
        queue.connect("kick", self.on_kick)

    def do_get_features(self):
        return VERSION_1 | INDIRECT | EVENT_IDX | PACKED

    def do_get_num_queues(self):
        return 1

    def on_kick(self, queue):
        while True:
            request = queue.pop_request()
            if request is None:
                return
            data = request.read()
            assert request.get_writable_size() >= len(data)
            request.write(0, data[::-1])
            queue.push_request(request, len(data))
            self.handled += 1


class ReverseThread(SlaveThread):
    def make_slave(self):
        return PyReverse()

    def slave_done(self, slave):
        self.handled = slave.handled


def run_reverse(features):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    thread = ReverseThread(theirs)
    master = Vhost.UserMaster.new_for_fd(ours.detach())
    master.connect_backend()
    driver = Vhost.Driver.new(master, 1024 * 1024)
    driver.start(1, 16, features)
    assert driver.get_acked_features() & features == features
    out_addr = driver.alloc(4096)
    in_addr = driver.alloc(4096)
    for i in range(100):
        payload = os.urandom(1 + (i * 37) % 4000)
        driver.write(out_addr, payload)
        driver.submit(0, [(out_addr, len(payload))], [(in_addr, 4096)], i)
        driver.kick(0)
        driver.wait(0, 10000)
        ok, tag, length = driver.reap(0)
        assert ok and tag == i and length == len(payload)
        assert driver.read(in_addr, length) == payload[::-1]
    driver.stop()
    base = driver.get_vring_base(0)
    del driver
    master.close()
    thread.stop()
    assert thread.handled == 100
    return base


def test_split_main_context_dispatch():
    assert run_reverse(VERSION_1 | EVENT_IDX) == 100


def test_packed_main_context_dispatch():
    # 100 chains of two descriptors in a packed ring of 16: position 200 % 16 = 8
    # after 12 wraps, so the wrap counter is back at 1; GET_VRING_BASE gives the
    # available position in bits 0-15 and the used one, the same, in bits 16-31.
    assert run_reverse(VERSION_1 | PACKED) == (8 | 0x8000) * 0x10001


def test_polling_properties():
    # The workers' polling settings are properties, as constructor arguments too.
    slave = Vhost.UserSlave(busy_poll_us=50, coalesce_us=100)
    assert slave.props.busy_poll_us == 50
    assert slave.props.coalesce_us == 100
    seen = []
    slave.connect("notify::coalesce-us", lambda obj, pspec: seen.append(obj.props.coalesce_us))
    slave.props.coalesce_us = 0
    slave.set_coalesce_us(0)
    assert slave.get_coalesce_us() == 0
    assert seen == [0]
