# SPDX-License-Identifier: GPL-2.0-or-later
# VIRTIO Shared Memory Regions from Python: a slave maps a memfd, a master reads it through its region.
import os

import pytest
import gi

gi.require_version("Vhost", "1.0")
from gi.repository import Gio, GLib, GObject, Vhost  # noqa: E402
from slave_thread import SlaveThread, master_and_slave  # noqa: E402

GLib.MainContext.default()
GObject.type_class_ref(Gio.Task)

PAGE = os.sysconf("SC_PAGE_SIZE")
REGIONS = [16 * PAGE, 0, 4 * PAGE]
FEATURES = int(Vhost.UserProtocolFeatures.SHMEM | Vhost.UserProtocolFeatures.BACKEND_REQ
               | Vhost.UserProtocolFeatures.BACKEND_SEND_FD | Vhost.UserProtocolFeatures.REPLY_ACK)


class ShmemThread(SlaveThread):
    """A plain Vhost.UserSlave with three shared memory region IDs, one unused."""

    def make_slave(self):
        slave = Vhost.UserSlave()
        slave.set_shmem_regions(REGIONS)
        return slave


@pytest.fixture
def pair():
    with master_and_slave(ShmemThread) as pair:
        yield pair


def test_map_read_unmap(pair):
    m, slave = pair
    m.get_features()
    m.set_protocol_features(FEATURES)
    assert m.get_shmem_config() == REGIONS
    seen = []
    GObject.Object.connect(m, "shmem-map", lambda master, *args: seen.append(("map",) + args))
    GObject.Object.connect(m, "shmem-unmap", lambda master, *args: seen.append(("unmap",) + args))

    fd = os.memfd_create("python-shmem", os.MFD_CLOEXEC)
    os.ftruncate(fd, 2 * PAGE)
    os.pwrite(fd, b"written by the device", PAGE + 8)
    slave.run(lambda s: s.shmem_map(0, fd, PAGE, 2 * PAGE, PAGE, Vhost.UserShmemMapFlags.READ_ONLY))
    assert seen == [("map", 0, 2 * PAGE, PAGE, Vhost.UserShmemMapFlags.READ_ONLY)]
    data = m.read_shmem(0, 2 * PAGE + 8, 21)
    # (the overrides give bytes for a GBytes)
    assert data == b"written by the device"

    # Region 1 is unused: the master refuses, the slave's call says so.
    with pytest.raises(GLib.Error) as info:
        slave.run(lambda s: s.shmem_map(1, fd, 0, 0, PAGE, Vhost.UserShmemMapFlags.READ_ONLY))
    assert info.value.code == int(Vhost.Error.REJECTED)
    assert "SHMEM_MAP" in info.value.message
    assert m.props.connected

    slave.run(lambda s: s.shmem_unmap(0, 2 * PAGE, PAGE))
    assert seen[-1] == ("unmap", 0, 2 * PAGE, PAGE)
    with pytest.raises(GLib.Error) as info:
        m.read_shmem(0, 2 * PAGE + 8, 21)
    assert info.value.code == int(Vhost.Error.INVALID_ARGUMENT)
    os.close(fd)
