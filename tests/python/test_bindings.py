# SPDX-License-Identifier: GPL-2.0-or-later
# The Python overrides (bindings/python/gi/overrides/Vhost.py): each friction a first user met, as a test.
import gc
import os
import struct
import socket
import threading
import warnings

import pytest
import gi

gi.require_version("Vhost", "1.0")
from gi.repository import Gio, GLib, GObject, Vhost  # noqa: E402
from slave_thread import SlaveThread  # noqa: E402

GLib.MainContext.default()
GObject.type_class_ref(Gio.Task)

CONFIG = bytes(range(16))


def open_fds():
    """The open fds and what they are."""
    gc.collect()
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink("/proc/self/fd/" + fd)
        except FileNotFoundError:  # the directory's own fd
            pass
    return fds


class Echo(Vhost.UserSlave):
    """Copies each chain's readable bytes into its writable buffers, popping with a for loop;
    nothing about features is overridden: the library's defaults are offered."""

    def __init__(self):
        super().__init__()
        self.handled = 0
        self.config_written = None
        self.mtu = None
        self.mac = None
        self.state = None
        queue = self.get_virtqueue(0)
        queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
        queue.connect("kick", self.on_kick)

    def on_kick(self, queue):
        for request in queue:
            data = request.read()
            request.write(0, bytearray(data))
            self.handled += 1
            queue.push_request(request, len(data))

    def do_get_config(self, offset, size):
        if offset + size > len(CONFIG):
            raise Vhost.InvalidArgumentError("past the end")
        return memoryview(CONFIG)[offset:offset + size]

    def do_set_config(self, offset, data, flags):
        self.config_written = (offset, data)
        return True

    def do_net_set_mtu(self, mtu):
        self.mtu = mtu
        return True

    def do_send_rarp(self, mac):
        self.mac = mac
        return True

    def do_save_state(self):
        self.saved = True
        return GLib.Bytes.new(b"state")


class BatchEcho(Vhost.UserSlave):
    """Echo, popping and pushing requests in batches of up to 4; records the batch sizes
    and whether pushing with the wrong number of lengths was refused."""

    def __init__(self):
        super().__init__()
        self.batches = []
        self.mismatch = None
        queue = self.get_virtqueue(0)
        queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
        queue.connect("kick", self.on_kick)

    def on_kick(self, queue):
        while True:
            requests = queue.pop_requests(4)
            if not requests:
                return
            self.batches.append(len(requests))
            lens = []
            for request in requests:
                data = request.read()
                request.write(0, data.upper())
                lens.append(len(data))
            try:
                queue.push_requests(requests, lens[:-1])
            except Vhost.InvalidArgumentError as error:
                self.mismatch = error.message
            queue.push_requests(requests, lens)


class Broken(Vhost.UserSlave):
    """A device whose code raises: in a virtual function with a GError and in one without."""

    fail_features = False

    def do_get_features(self):
        if self.fail_features:
            raise ValueError("no features today")
        return super().do_get_features()

    def do_get_config(self, offset, size):
        raise KeyError(offset)


class Forgetful(Vhost.UserSlave):
    """Leaves its queue in worker mode, where no Python code can process it."""


class Served(SlaveThread):
    def __init__(self, sock, device):
        self.device = device
        self.events = []
        super().__init__(sock)

    def make_slave(self):
        slave = self.device()
        slave.connect("disconnected", lambda s, error: self.events.append(("disconnected", error)))
        slave.connect("request-handled",
                      lambda s, request, error: error and self.events.append(("failed", request, error)))
        slave.get_virtqueue(0).connect("broken", lambda q, error: self.events.append(("broken", error)))
        return slave

    def slave_done(self, slave):
        # The kick handler is a bound method of the device: a cycle through C that
        # Python's collector cannot see; break it so the device and its context go.
        if isinstance(slave, (Echo, BatchEcho)):
            slave.get_virtqueue(0).disconnect_by_func(slave.on_kick)

    def wait_for(self, kind, timeout=10):
        deadline = GLib.get_monotonic_time() + timeout * 1000000
        while GLib.get_monotonic_time() < deadline:
            for event in list(self.events):
                if event[0] == kind:
                    return event
            threading.Event().wait(0.01)
        raise AssertionError("no %s event: %r" % (kind, self.events))


def reap(driver, count):
    """Waits for `count` completions of queue 0: {tag: length}."""
    done = {}
    while len(done) < count:
        driver.wait(0, 10000)
        while True:
            ok, tag, length = driver.reap(0)
            if not ok:
                break
            done[tag] = length
    return done


@pytest.fixture
def serve():
    before = open_fds()
    started = []

    def start(device=Echo):
        a, b = socket.socketpair()
        served = Served(a, device)
        master = Vhost.UserMaster.new_for_fd(b.detach())
        master.connect_backend()
        started.append((master, served))
        return master, served

    yield start
    for master, served in started:
        master.close()
        served.stop()
    del started[:]
    after = open_fds()
    assert after.keys() == before.keys(), {fd: after.get(fd, before.get(fd)) for fd in after.keys() ^ before.keys()}


def test_connect_is_gobject_connect_and_the_backend_connect_keeps_a_name(serve):
    master, served = serve()
    seen = []
    loop = GLib.MainLoop()

    def on_disconnected(m, error):
        seen.append(error)
        loop.quit()

    handler = master.connect("disconnected", on_disconnected)
    assert handler > 0
    assert master.props.connected
    served.stop()  # the slave goes away: the master's signal fires
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    assert len(seen) == 1 and isinstance(seen[0], GLib.Error)
    assert not master.props.connected


def test_old_connect_form_warns_and_still_connects():
    a, b = socket.socketpair()
    served = Served(a, Echo)
    master = Vhost.UserMaster.new_for_fd(b.detach())
    with pytest.warns(DeprecationWarning, match="connect_backend"):
        master.connect(None)
    assert master.props.connected
    master.close()
    served.stop()


def test_driver_takes_bytes_like_and_returns_bytes_alloc_returns_the_address(serve):
    master, served = serve()
    driver = Vhost.Driver.new(master, 1 << 20)
    driver.start(1, 16, Vhost.Features.VERSION_1)
    addr = driver.alloc(4096)
    assert isinstance(addr, int) and addr > 0
    for data in (b"bytes", bytearray(b"bytearray"), memoryview(b"xxmemoryviewxx")[2:-2]):
        driver.write(addr, data)
        back = driver.read(addr, len(data))
        assert type(back) is bytes and back == bytes(data)
    assert bytes(driver.read(addr, 4)) == b"memo"
    driver.stop()


def test_buffers_as_tuples_or_keywords_and_iteration_over_requests(serve):
    master, served = serve()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        buffer = Vhost.DriverBuffer(addr=0x1000, len=64)
    assert (buffer.addr, buffer.len) == (0x1000, 64)
    assert tuple(buffer) == (0x1000, 64) and buffer == (0x1000, 64)
    with Vhost.Driver(backend=master, memory_size=1 << 20) as driver:
        driver.start(1, 16, Vhost.Features.VERSION_1 | Vhost.Features.EVENT_IDX)
        out, into = driver.alloc(64), driver.alloc(64)
        for i in range(8):
            driver.write(out, b"request %d" % i)
            outs = [(out, 9)] if i % 2 else [Vhost.DriverBuffer(addr=out, len=9)]
            driver.submit(0, outs, [(into, 64)], i)
        driver.kick(0)
        assert reap(driver, 8) == {i: 9 for i in range(8)}
        assert driver.read(into, 9) == b"request 7"
        assert driver.get_running()
        assert served.slave.handled == 8
    assert not driver.get_running()  # the with block stopped it


def test_requests_popped_and_pushed_in_batches(serve):
    master, served = serve(BatchEcho)
    with Vhost.Driver(master, 1 << 20) as driver:
        driver.start(1, 32, Vhost.Features.VERSION_1)
        outs = [driver.alloc(16) for _ in range(10)]
        ins = [driver.alloc(16) for _ in range(10)]
        for i in range(10):
            driver.write(outs[i], b"chain %d" % i)
            driver.submit(0, [(outs[i], len(b"chain %d" % i))], [(ins[i], 16)], i)
        driver.kick(0)
        done = reap(driver, 10)
        assert {tag: driver.read(ins[tag], length) for tag, length in done.items()} == {
            i: b"CHAIN %d" % i for i in range(10)}
        assert sum(served.slave.batches) == 10 and max(served.slave.batches) == 4
        assert "requests but" in served.slave.mismatch


def test_driver_from_properties_is_initialised_or_refused(serve):
    master, _ = serve()
    driver = Vhost.Driver(backend=master, memory_size=1 << 20)
    assert driver.get_memory_size() == 1 << 20 and driver.get_memory_fd() >= 0
    driver.start(1, 8, Vhost.Features.VERSION_1)
    assert driver.get_running()
    driver.stop()
    with pytest.raises(TypeError, match="backend, memory_size"):
        Vhost.Driver()
    # Keywords as properties; a driver that cannot be made says why.
    assert Vhost.Driver(master, 1 << 20, n_regions=2).get_n_regions() == 2
    with pytest.raises(Vhost.InvalidArgumentError, match="4097 is not a positive multiple"):
        Vhost.Driver(backend=master, memory_size=4097)
    # Made by GObject itself, without the override's constructor: the memory is there too.
    plain = GObject.new(Vhost.Driver, backend=master, memory_size=1 << 20)
    assert plain.get_memory_fd() >= 0
    broken = GObject.new(Vhost.Driver, backend=master, memory_size=4097)
    with pytest.raises(Vhost.InvalidArgumentError, match="The driver has no guest memory"):
        broken.alloc(64)


def test_driver_addresses_and_byte_arrays_without_wrappers(serve):
    master, _ = serve()
    driver = Vhost.Driver(master, 1 << 20)
    addr = driver.alloc_address(64)
    assert isinstance(addr, int)
    assert driver.write_data(addr, b"bytes in")
    data = driver.read_data(addr, 8)
    assert type(data) is bytes and data == b"bytes in"
    with pytest.raises(Vhost.InvalidArgumentError):
        driver.read_data(1 << 20, 1)


def test_features_are_ints_with_named_masks(serve):
    master, _ = serve()
    assert Vhost.Features.VERSION_1 == 1 << 32 == 1 << int(Vhost.VirtioFeature.VERSION_1)
    assert Vhost.Features.INDIRECT_DESC == Vhost.Features.RING_INDIRECT_DESC == 1 << 28
    assert Vhost.ProtocolFeatures.CONFIG == int(Vhost.UserProtocolFeatures.CONFIG) == 1 << 9
    features = master.get_features()
    assert isinstance(features, int) and isinstance(features, Vhost.Features)
    # The library's defaults: the ring features it implements.
    assert features == (Vhost.Features.VERSION_1 | Vhost.Features.INDIRECT_DESC | Vhost.Features.EVENT_IDX
                        | Vhost.Features.RING_PACKED | Vhost.Features.PROTOCOL_FEATURES)
    offered = master.get_protocol_features()
    assert isinstance(offered, Vhost.ProtocolFeatures)
    # Echo has a get_config, and typed NET_SET_MTU and SEND_RARP: their features come with them.
    # The engine's own (dirty log, inflight area, postcopy, device state) come with every device.
    for flag in (Vhost.ProtocolFeatures.CONFIG, Vhost.ProtocolFeatures.NET_MTU, Vhost.ProtocolFeatures.RARP,
                 Vhost.ProtocolFeatures.DEVICE_STATE, Vhost.ProtocolFeatures.INFLIGHT_SHMFD,
                 Vhost.ProtocolFeatures.LOG_SHMFD, Vhost.ProtocolFeatures.PAGEFAULT):
        assert flag in offered
    assert Vhost.ProtocolFeatures.CROSS_ENDIAN not in offered
    master.set_protocol_features(offered)
    assert master.get_acked_protocol_features() == offered
    master.set_features(features & ~Vhost.Features.RING_PACKED)
    assert master.get_acked_features() == features & ~Vhost.Features.RING_PACKED


def test_bytes_in_device_virtual_functions_and_typed_device_requests(serve):
    master, served = serve()
    master.get_features()
    master.set_protocol_features(Vhost.ProtocolFeatures.CONFIG | Vhost.ProtocolFeatures.NET_MTU
                                 | Vhost.ProtocolFeatures.RARP | Vhost.ProtocolFeatures.DEVICE_STATE
                                 | Vhost.ProtocolFeatures.REPLY_ACK)
    assert master.get_config(4, 4, 0) == CONFIG[4:8]
    master.set_config(2, bytearray(b"\xaa\xbb"), 0)
    master.net_set_mtu(1400)
    master.send_rarp(b"\x52\x54\x00\x01\x02\x03")
    # The library's state with the device's own bytes (do_save_state) at its end.
    r, w = os.pipe()
    master.set_device_state_fd(Vhost.DeviceStateDirection.SAVE, Vhost.DeviceStatePhase.STOPPED, w)
    os.close(w)
    state = b""
    while chunk := os.read(r, 4096):
        state += chunk
    os.close(r)
    master.check_device_state()
    assert state.startswith(b"vhost-glib-state") and state.endswith(struct.pack("<I", 5) + b"state")
    device = served.slave
    assert device.config_written == (2, b"\xaa\xbb")
    assert device.mtu == 1400
    assert device.mac == b"\x52\x54\x00\x01\x02\x03"
    assert device.saved


def test_errors_are_vhost_error_subclasses(serve):
    m = Vhost.UserMaster.new("/nonexistent/vhost.sock")
    with pytest.raises(Vhost.IoError) as info:
        m.connect_backend()
    assert isinstance(info.value, Vhost.VhostError) and isinstance(info.value, GLib.Error)
    assert info.value.code == int(Vhost.Error.IO) and "/nonexistent/vhost.sock" in info.value.message

    master, _ = serve()
    master.set_protocol_features(Vhost.ProtocolFeatures.CONFIG)
    with pytest.raises(Vhost.RejectedError, match="GET_CONFIG"):
        master.get_config(12, 8, 0)
    master.set_protocol_features(0)
    try:
        master.get_queue_num()
    except Vhost.VhostError as error:
        assert type(error) is Vhost.NotSupportedError
    else:
        raise AssertionError("GET_QUEUE_NUM without MQ went through")
    # Raised from a device, a subclass keeps its code.
    assert Vhost.InvalidArgumentError("x").code == int(Vhost.Error.INVALID_ARGUMENT)


def test_exception_in_a_vfunc_with_an_error_fails_the_request(serve, capfd):
    master, served = serve(Broken)
    master.set_protocol_features(Vhost.ProtocolFeatures.CONFIG)
    with pytest.raises(Vhost.RejectedError):
        master.get_config(0, 4, 0)
    event = served.wait_for("failed")
    assert event[1] == Vhost.UserRequest.GET_CONFIG
    assert "do_get_config raised KeyError" in event[2].message
    assert "KeyError" in capfd.readouterr().err  # the traceback is printed too
    assert master.props.connected  # a refused GET_CONFIG is not fatal


def test_exception_in_a_vfunc_without_an_error_fails_the_request(serve, capfd):
    Broken.fail_features = True
    try:
        master, served = serve(Broken)
        with pytest.raises(Vhost.DisconnectedError):
            master.get_features()
        event = served.wait_for("disconnected")
        assert event[1].message == "GET_FEATURES: do_get_features raised ValueError: no features today"
        assert "ValueError: no features today" in capfd.readouterr().err
    finally:
        Broken.fail_features = False


def test_worker_mode_queue_without_handler_fails_loudly(serve):
    master, served = serve(Forgetful)
    driver = Vhost.Driver.new(master, 1 << 20)
    driver.start(1, 16, Vhost.Features.VERSION_1)
    event = served.wait_for("broken")
    assert "started in worker mode with no handler" in event[1].message
    assert "MAIN_CONTEXT" in event[1].message
    driver.stop()


def test_acked_but_not_offered_names_the_bits(serve):
    master, served = serve(Forgetful)
    # QEMU 7.2's vhost-user-rng acks INDIRECT_DESC and EVENT_IDX whatever was offered: now offered.
    master.set_features(Vhost.Features.VERSION_1 | Vhost.Features.INDIRECT_DESC | Vhost.Features.EVENT_IDX)
    master.get_features()
    assert served.slave.get_acked_features() & Vhost.Features.EVENT_IDX
    master.set_features(Vhost.Features.VERSION_1 | Vhost.Features.RING_RESET | (1 << 5))
    with pytest.raises(Vhost.DisconnectedError):
        master.get_features()
    message = served.wait_for("disconnected")[1].message
    assert "device feature bit 5, RING_RESET (bit 40)" in message
    assert "do_get_features" in message


def test_context_managers_close(serve):
    a, b = socket.socketpair()
    served = Served(a, Echo)
    with Vhost.UserMaster.new_for_fd(b.detach()) as master:
        master.connect_backend()
        assert master.props.connected
    assert not master.props.connected
    served.stop()
    with Vhost.UserSlave() as slave:
        slave.serve_fd(socket.socketpair()[0].detach())
        assert slave.props.connected
    assert not slave.props.connected
