# SPDX-License-Identifier: GPL-2.0-or-later
# The asynchronous calls from Python, Gio-style (_async with a callback, _finish in it), on a main loop that keeps running.
import gc
import os
import socket
import struct
import threading

import pytest
import gi

gi.require_version("Vhost", "1.0")
from gi.repository import Gio, GLib, GObject, Vhost  # noqa: E402
from slave_thread import SlaveThread  # noqa: E402

GLib.MainContext.default()
GObject.type_class_ref(Gio.Task)

CONFIG = bytes(range(7, 67))
DEVICE_FEATURES = Vhost.Features.VERSION_1 | Vhost.Features.EVENT_IDX
PROTOCOL = (Vhost.ProtocolFeatures.MQ | Vhost.ProtocolFeatures.CONFIG | Vhost.ProtocolFeatures.REPLY_ACK
            | Vhost.ProtocolFeatures.STATUS)
MEMORY = 1 << 20
UADDR = 0x7f0000000000  # where the front-end says it maps guest memory: a key for the back-end's translations


class Device(Vhost.UserSlave):
    """A device in Python: two queues processed on its main context."""

    def __init__(self):
        super().__init__()
        self.kicked = threading.Event()
        for index in range(2):
            queue = self.get_virtqueue(index)
            queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
            queue.connect("kick", self.on_kick)

    def on_kick(self, queue):
        self.kicked.set()

    def do_get_features(self):
        return DEVICE_FEATURES

    def do_get_protocol_features(self):
        return PROTOCOL

    def do_get_num_queues(self):
        return 2

    def do_get_config(self, offset, size):
        if offset + size > len(CONFIG):
            raise ValueError("outside the config space")
        return CONFIG[offset:offset + size]


class Served(SlaveThread):
    def __init__(self, sock):
        self.requests = []
        super().__init__(sock)

    def make_slave(self):
        slave = Device()
        slave.connect("request-handled", lambda s, request, error: self.requests.append(request))
        return slave

    def slave_done(self, slave):
        # The kick handler is a bound method of the device: a cycle through C that
        # Python's collector cannot see; break it so the device and its context go.
        for index in range(2):
            slave.get_virtqueue(index).disconnect_by_func(slave.on_kick)


def open_fds():
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


class Calls:
    """Starts async calls and keeps their results in the order the callbacks came.
    The main loop runs while they wait; a timer counts its ticks."""

    def __init__(self):
        self.done = []
        self.ticks = 0
        self.context = GLib.MainContext.default()
        self.timer = GLib.timeout_add(2, self._tick)

    def _tick(self):
        self.ticks += 1
        return GLib.SOURCE_CONTINUE

    def callback(self, name, finish):
        def done(source, result):
            try:
                self.done.append((name, finish(result)))
            except GLib.Error as error:
                self.done.append((name, error))
        return done

    def iterate_until(self, condition, timeout=10):
        deadline = GLib.get_monotonic_time() + timeout * 1000000
        while not condition():
            assert GLib.get_monotonic_time() < deadline
            self.context.iteration(True)

    def wait(self, count):
        self.iterate_until(lambda: len(self.done) >= count)

    def close(self):
        GLib.source_remove(self.timer)


@pytest.fixture
def pair():
    before = open_fds()
    a, b = socket.socketpair()
    served = Served(a)
    master = Vhost.UserMaster.new_for_fd(b.detach())
    master.connect_backend()
    calls = Calls()
    memfd = os.memfd_create("guest")
    os.ftruncate(memfd, MEMORY)
    kick, call = os.eventfd(0, os.EFD_CLOEXEC), os.eventfd(0, os.EFD_CLOEXEC)
    yield master, served, calls, (memfd, kick, call)
    calls.close()
    master.close()
    del master
    served.stop()
    for fd in (memfd, kick, call):
        os.close(fd)
    # The idle sources that answered calls are gone once the context ran dry.
    while GLib.MainContext.default().iteration(False):
        pass
    after = open_fds()
    assert after == before, {fd: os.readlink("/proc/self/fd/" + fd) for fd in after ^ before if os.path.exists("/proc/self/fd/" + fd)}


def bring_up(master, calls, fds):
    """The bring-up VhostDriver makes, every call started at once: (name, result) in call order."""
    memfd, kick, call = fds
    region = Vhost.MemoryRegion.new(0, MEMORY, UADDR, memfd, 0)
    addr = Vhost.VringAddr.new(0, 0, UADDR + 0x10000, UADDR + 0x12000, UADDR + 0x11000, 0x12000)
    wanted = DEVICE_FEATURES | Vhost.Features.PROTOCOL_FEATURES
    ok = Vhost.VirtioStatus.ACKNOWLEDGE | Vhost.VirtioStatus.DRIVER
    steps = [
        ("features", lambda cb: master.get_features_async(None, cb), master.get_features_finish),
        ("negotiate", lambda cb: master.negotiate_protocol_async(PROTOCOL, None, cb), master.negotiate_protocol_finish),
        ("owner", lambda cb: master.set_owner_async(None, cb), master.set_owner_finish),
        ("status", lambda cb: master.set_status_async(int(ok), None, cb), master.set_status_finish),
        ("set-features", lambda cb: master.set_features_async(wanted, None, cb), master.set_features_finish),
        ("mem-table", lambda cb: master.set_mem_table_async([region], None, cb), master.set_mem_table_finish),
        ("num", lambda cb: master.set_vring_num_async(0, 16, None, cb), master.set_vring_num_finish),
        ("base", lambda cb: master.set_vring_base_async(0, 0, None, cb), master.set_vring_base_finish),
        ("addr", lambda cb: master.set_vring_addr_async(addr, None, cb), master.set_vring_addr_finish),
        ("kick", lambda cb: master.set_vring_kick_async(0, kick, None, cb), master.set_vring_kick_finish),
        ("call", lambda cb: master.set_vring_call_async(0, call, None, cb), master.set_vring_call_finish),
        ("enable", lambda cb: master.set_vring_enable_async(0, True, None, cb), master.set_vring_enable_finish),
        ("driver-ok", lambda cb: master.set_status_async(0xf, None, cb), master.set_status_finish),
        ("status?", lambda cb: master.get_status_async(None, cb), master.get_status_finish),
        ("queues", lambda cb: master.get_queue_num_async(None, cb), master.get_queue_num_finish),
        ("config", lambda cb: master.get_config_async(0, 8, 0, None, cb), master.get_config_finish),
    ]
    for name, start, finish in steps:
        start(calls.callback(name, finish))
    return [name for name, _, _ in steps]


def test_bring_up_while_the_back_end_holds_its_replies(pair):
    master, served, calls, fds = pair
    served.pause()
    names = bring_up(master, calls, fds)
    # The loop runs (the timer fires) and nothing has come back.
    calls.iterate_until(lambda: calls.ticks >= 5)
    assert calls.done == []
    served.resume()
    calls.wait(len(names))
    assert [name for name, _ in calls.done] == names
    results = dict(calls.done)
    for name, result in calls.done:
        assert not isinstance(result, GLib.Error), (name, result)
    assert results["features"] == DEVICE_FEATURES | Vhost.Features.PROTOCOL_FEATURES
    assert isinstance(results["features"], Vhost.Features)
    assert results["negotiate"] == PROTOCOL and isinstance(results["negotiate"], Vhost.ProtocolFeatures)
    assert results["status?"] == 0xf
    assert results["queues"] == 2
    assert results["config"] == CONFIG[:8] and type(results["config"]) is bytes
    assert master.props.acked_features == DEVICE_FEATURES | Vhost.Features.PROTOCOL_FEATURES
    # The queue runs: a kick reaches the device.
    os.eventfd_write(fds[1], 1)
    assert served.slave.kicked.wait(10)


def test_sync_calls_go_after_async_ones(pair):
    master, served, calls, fds = pair
    master.get_features()
    master.set_protocol_features(int(PROTOCOL))
    # (the slave records a request after it answered it)
    calls.iterate_until(lambda: len(served.requests) == 2)
    first = 2
    master.get_queue_num_async(None, calls.callback("queues", master.get_queue_num_finish))
    master.get_config_async(4, 4, 0, None, calls.callback("config", master.get_config_finish))
    # Answered before the sync call returns; the callbacks wait for the loop.
    assert master.get_status() == 0
    assert calls.done == []
    calls.wait(2)
    assert calls.done == [("queues", 2), ("config", CONFIG[4:8])]
    calls.iterate_until(lambda: len(served.requests) >= first + 3)
    assert served.requests[first:] == [Vhost.UserRequest.GET_QUEUE_NUM, Vhost.UserRequest.GET_CONFIG,
                                       Vhost.UserRequest.GET_STATUS]


def test_cancel(pair):
    master, served, calls, fds = pair
    master.get_features()
    master.set_protocol_features(int(PROTOCOL))
    calls.iterate_until(lambda: len(served.requests) == 2)
    first = 2
    cancellable = Gio.Cancellable()
    served.pause()
    master.get_queue_num_async(None, calls.callback("queues", master.get_queue_num_finish))
    master.get_config_async(0, 4, 0, cancellable, calls.callback("config", master.get_config_finish))
    calls.iterate_until(lambda: calls.ticks >= 2)
    cancellable.cancel()
    # The waiting call is answered at once; the one the back-end holds still waits.
    calls.wait(1)
    (name, error), = calls.done
    assert name == "config" and error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
    served.resume()
    calls.wait(2)
    assert calls.done[1] == ("queues", 2)
    master.get_status()
    assert Vhost.UserRequest.GET_CONFIG not in served.requests[first:]


def test_errors_are_vhost_errors(pair):
    master, served, calls, fds = pair
    master.get_config_async(0, 8, 0, None, calls.callback("no-config", master.get_config_finish))
    master.get_features()
    master.set_protocol_features(int(PROTOCOL))
    master.get_config_async(0, 0, 0, None, calls.callback("size-0", master.get_config_finish))
    master.get_config_async(56, 8, 0, None, calls.callback("outside", master.get_config_finish))
    master.get_config_async(56, 4, 0, None, calls.callback("last", master.get_config_finish))
    calls.wait(4)
    results = dict(calls.done)
    assert isinstance(results["no-config"], Vhost.NotSupportedError)
    assert isinstance(results["size-0"], Vhost.InvalidArgumentError)
    assert isinstance(results["outside"], Vhost.RejectedError)
    assert "GET_CONFIG" in results["outside"].message
    assert results["last"] == CONFIG[56:60]


def test_disconnect_mid_call(pair):
    master, served, calls, fds = pair
    seen = []
    master.connect("disconnected", lambda m, error: seen.append(error))
    master.get_features()
    master.set_protocol_features(int(PROTOCOL))
    served.pause()
    master.set_mem_table_async([Vhost.MemoryRegion.new(0, MEMORY, UADDR, fds[0], 0)], None,
                               calls.callback("mem-table", master.set_mem_table_finish))
    master.get_queue_num_async(None, calls.callback("queues", master.get_queue_num_finish))
    master.set_vring_kick_async(0, fds[1], None, calls.callback("kick", master.set_vring_kick_finish))
    served.resume(close=True)
    calls.wait(3)
    assert [name for name, _ in calls.done] == ["mem-table", "queues", "kick"]
    for name, result in calls.done:
        assert isinstance(result, Vhost.DisconnectedError), (name, result)
    calls.iterate_until(lambda: seen)
    assert not master.props.connected
    with pytest.raises(Vhost.DisconnectedError):
        master.query_features()


def test_value_returning_getters(pair):
    master, served, calls, fds = pair
    assert master.query_features() == DEVICE_FEATURES | Vhost.Features.PROTOCOL_FEATURES
    assert isinstance(master.query_features(), Vhost.Features)
    assert master.query_protocol_features() & PROTOCOL == PROTOCOL
    master.set_protocol_features(int(PROTOCOL))
    assert master.query_queue_num() == 2
    master.set_status(3)
    assert master.query_status() == 3


def test_example_in_the_manual(pair):
    """The manual's async example (bindings/python/examples/probe-async.py) against this device."""
    master, served, calls, fds = pair
    import importlib.util
    path = os.path.join(os.environ["VHOST_SOURCE_ROOT"], "bindings", "python", "examples", "probe-async.py")
    spec = importlib.util.spec_from_file_location("probe_async", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    probe = module.Probe(master)
    # The back-end holds its first reply for 20 ms: the probe's timer fires meanwhile.
    served.pause()
    GLib.timeout_add(20, lambda: served.resume())
    probe.run()
    assert probe.error is None
    assert probe.features == DEVICE_FEATURES | Vhost.Features.PROTOCOL_FEATURES
    assert probe.queues == 2
    assert probe.capacity == struct.unpack_from("<Q", CONFIG)[0]
    assert probe.ticks > 0
