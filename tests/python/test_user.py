# SPDX-License-Identifier: GPL-2.0-or-later
# A Vhost.UserMaster talks to a Vhost.UserSlave subclass written in Python, over a socketpair.
import struct

import pytest
import gi

gi.require_version("Vhost", "1.0")
from gi.repository import Gio, GLib, GObject, Vhost  # noqa: E402
from slave_thread import SlaveThread, master_and_slave  # noqa: E402

# GLib creates a few fds once per process (the default main context's wakeup fd, the
# worker context that GTask's type sets up): create them before any test counts fds.
GLib.MainContext.default()
GObject.type_class_ref(Gio.Task)

CONFIG = bytes((i * 7 + 3) % 256 for i in range(60))
DEVICE_FEATURES = (1 << 32) | (1 << 6) | (1 << 9)


class PyBlk(Vhost.UserSlave):
    """A device written in Python: features, protocol features, queues and config space."""

    def do_get_features(self):
        return DEVICE_FEATURES

    def do_get_protocol_features(self):
        return int(Vhost.UserProtocolFeatures.MQ | Vhost.UserProtocolFeatures.CONFIG
                   | Vhost.UserProtocolFeatures.REPLY_ACK | Vhost.UserProtocolFeatures.STATUS)

    def do_get_num_queues(self):
        return 3

    def do_get_config(self, offset, size):
        if offset + size > len(CONFIG):
            raise GLib.Error.new_literal(Vhost.error_quark(), "outside the config space",
                                         int(Vhost.Error.INVALID_ARGUMENT))
        return CONFIG[offset:offset + size]


class BlkThread(SlaveThread):
    """A PyBlk served from its own thread; `requests` lists what it handled."""

    def __init__(self, sock):
        self.requests = []
        super().__init__(sock)

    def make_slave(self):
        slave = PyBlk()
        slave.connect("request-handled",
                               lambda s, request, error: self.requests.append(request))
        return slave


@pytest.fixture
def pair():
    with master_and_slave(BlkThread) as pair:
        yield pair


def test_negotiate_and_read_config(pair):
    m, slave = pair
    assert m.props.connected
    features = m.get_features()
    assert features == DEVICE_FEATURES | (1 << Vhost.VirtioFeature.PROTOCOL_FEATURES)
    m.set_features(features)
    assert m.props.acked_features == features
    m.set_owner()

    offered = m.get_protocol_features()
    assert Vhost.UserProtocolFeatures(offered) == (Vhost.UserProtocolFeatures.MQ | Vhost.UserProtocolFeatures.CONFIG
                                                   | Vhost.UserProtocolFeatures.REPLY_ACK
                                                   | Vhost.UserProtocolFeatures.STATUS)
    m.set_protocol_features(offered)
    assert m.get_acked_protocol_features() == offered
    assert m.get_queue_num() == 3

    config = m.get_config(0, 60, 0)
    assert isinstance(config, bytes)
    assert config == CONFIG
    assert m.get_config(10, 8, 0) == CONFIG[10:18]
    capacity, = struct.unpack_from("<Q", m.get_config(0, 8, 0))
    assert capacity == struct.unpack_from("<Q", CONFIG)[0]

    m.set_status(0x0f)
    assert m.get_status() == 0x0f
    assert Vhost.UserRequest.GET_CONFIG in slave.requests


def test_config_error_from_python_device(pair):
    m, _ = pair
    m.set_protocol_features(int(Vhost.UserProtocolFeatures.CONFIG))
    with pytest.raises(GLib.Error) as info:
        m.get_config(56, 8, 0)
    assert info.value.domain == "vhost-error-quark"
    assert info.value.code == int(Vhost.Error.REJECTED)
    assert "GET_CONFIG" in info.value.message
    # The session goes on after a refused GET_CONFIG.
    assert m.get_config(0, 4, 0) == CONFIG[:4]


def test_feature_not_negotiated(pair):
    m, _ = pair
    m.set_protocol_features(0)
    with pytest.raises(GLib.Error) as info:
        m.get_queue_num()
    assert info.value.code == int(Vhost.Error.NOT_SUPPORTED)


def test_async_request(pair):
    m, _ = pair
    loop = GLib.MainLoop()
    results = []

    def done(master, result):
        results.append(master.send_request_finish(result))
        loop.quit()

    m.send_request_async(Vhost.UserRequest.GET_FEATURES, None, None, None, done)
    loop.run()
    (payload, fds), = results
    assert struct.unpack("<Q", payload)[0] & DEVICE_FEATURES == DEVICE_FEATURES
    assert fds is None


def test_connect_to_missing_socket():
    m = Vhost.UserMaster.new("/nonexistent/vhost.sock")
    with pytest.raises(GLib.Error) as info:
        m.connect_backend()
    assert info.value.code == int(Vhost.Error.IO)
    assert "/nonexistent/vhost.sock" in info.value.message
    assert not m.props.connected


def test_backend_negotiate_protocol(pair):
    m, slave = pair
    wanted = int(Vhost.UserProtocolFeatures.MQ | Vhost.UserProtocolFeatures.STATUS
                 | Vhost.UserProtocolFeatures.LOG_SHMFD)
    assert not m.has_status()
    # Before GET_FEATURES the back-end's offer is unknown: nothing is sent.
    with pytest.raises(GLib.Error) as info:
        m.negotiate_protocol(wanted)
    assert info.value.code == int(Vhost.Error.NOT_SUPPORTED)
    m.get_features()
    acked = m.negotiate_protocol(wanted)
    assert acked == int(Vhost.UserProtocolFeatures.MQ | Vhost.UserProtocolFeatures.STATUS)
    assert m.get_acked_protocol_features() == acked
    assert m.has_status()
    m.get_features()  # a reply: the slave has handled what came before
    assert Vhost.UserRequest.GET_PROTOCOL_FEATURES in slave.requests
    assert Vhost.UserRequest.SET_PROTOCOL_FEATURES in slave.requests


def test_log_rate_limited(capfd):
    """What a peer can make a device log goes out at a bounded rate: the burst of 10 per
    queue (or slave) and reason, whatever the number of calls."""
    slave = PyBlk()
    queue = slave.get_virtqueue(0)
    for i in range(50):
        queue.log("py-rate", GLib.LogLevelFlags.LEVEL_MESSAGE, "bad chain", "chain %d" % i)
        slave.log("py-rate", GLib.LogLevelFlags.LEVEL_MESSAGE, "went away", "gone %d" % i)
    lines = [line for line in capfd.readouterr().err.splitlines() if "py-rate-Message" in line]
    assert sum("chain " in line for line in lines) == 10
    assert sum("gone " in line for line in lines) == 10
    assert lines[0].endswith("chain 0") and lines[1].endswith("gone 0")
