# SPDX-License-Identifier: GPL-2.0-or-later
# Vhost.UserBackendDiscovery and Vhost.UserBackendProcess from Python: a fake tree of descriptor
# folders around the build's vhost-user-blk, a broken descriptor reported as a GLib.Error, and
# the program launched on a socketpair and on a socket path.
import os
import signal
import time

import pytest
import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, GObject, Vhost  # noqa: E402

BLK = os.environ["VHOST_USER_BLK"]


def wait_for(condition, timeout=20):
    """Iterate the default main context until condition() is true."""
    deadline = time.monotonic() + timeout
    context = GLib.MainContext.default()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        context.iteration(False) or time.sleep(0.005)


def call_async(start, finish):
    """Run an _async call and return what its _finish gives (or raise its GLib.Error)."""
    results = []
    start(lambda source, result: results.append(result))
    wait_for(lambda: results)
    return finish(results[0])


@pytest.fixture
def tree(tmp_path):
    folders = [tmp_path / name / "qemu" / "vhost-user" for name in ("user", "etc", "share")]
    for folder in folders:
        folder.mkdir(parents=True)
    return folders


def descriptor(folder, name, binary, description="vhost-user-blk"):
    (folder / name).write_text('{"description": "%s", "type": "block", "binary": "%s"}' % (description, binary))


def blk_program(tree):
    descriptor(tree[2], "50-blk.json", BLK)
    discovery = Vhost.UserBackendDiscovery.new()
    discovery.set_search_path([str(f) for f in tree])
    programs = call_async(lambda cb: discovery.list_async("block", ["read-only"], None, cb), discovery.list_finish)
    assert len(programs) == 1
    return programs[0]


def test_discovery(tree):
    user, etc, share = tree
    descriptor(share, "50-blk.json", BLK, "share")
    descriptor(etc, "50-blk.json", BLK, "etc")
    descriptor(share, "60-masked.json", BLK)
    (user / "60-masked.json").write_text("")
    (etc / "10-broken.json").write_text('{"type": "block"')
    discovery = Vhost.UserBackendDiscovery.new()
    discovery.props.search_path = [str(f) for f in tree]
    skipped = []
    GObject.Object.connect(discovery, "skipped", lambda d, path, error: skipped.append((path, error)))

    programs = call_async(lambda cb: discovery.list_async(None, None, None, cb), discovery.list_finish)
    assert [p.get_name() for p in programs] == ["50-blk.json"]
    program = programs[0]
    assert program.get_description() == "etc"
    assert program.props.descriptor_path == str(etc / "50-blk.json")
    assert program.get_backend_type() == "block"
    assert program.get_binary() == BLK
    assert program.get_features() == ["read-only", "blk-file"]
    assert program.get_tags() == []
    assert program.has_features(["blk-file"])
    assert not program.has_features(["blk-file", "no-such-feature"])

    (path, error), = skipped
    assert path == str(etc / "10-broken.json")
    assert error.domain == "vhost-error-quark"
    assert error.code == int(Vhost.Error.INVALID_DATA)
    assert error.message.startswith(path)

    # A feature nobody has: nothing, and nothing skipped but the broken one.
    skipped.clear()
    programs = call_async(lambda cb: discovery.list_async("block", ["no-such-feature"], None, cb),
                          discovery.list_finish)
    assert programs == []
    assert len(skipped) == 1


def test_launch_fd(tree):
    process = Vhost.UserBackendProcess.new(blk_program(tree), Vhost.UserBackendConnection.FD, ["--ram=1M"])
    exits = []
    GObject.Object.connect(process, "exited", lambda p, status: exits.append(status))
    assert call_async(lambda cb: process.start_async(None, cb), process.start_finish)
    assert process.props.pid > 0
    assert process.get_socket_path() is None

    master = call_async(lambda cb: process.connect_master_async(None, cb), process.connect_master_finish)
    assert master.get_features() & (1 << Vhost.VirtioFeature.VERSION_1)
    master.close()
    # With --fd the program serves one front-end: it exits when the front-end goes.
    wait_for(lambda: exits)
    assert os.WIFEXITED(exits[0]) and os.WEXITSTATUS(exits[0]) == 0
    assert process.get_pid() == 0


def test_launch_socket_path(tree, tmp_path):
    process = Vhost.UserBackendProcess.new(blk_program(tree), Vhost.UserBackendConnection.SOCKET_PATH,
                                           ["--ram=1M", "--read-only"])
    process.set_runtime_directory(str(tmp_path))
    exits = []
    GObject.Object.connect(process, "exited", lambda p, status: exits.append(status))
    assert call_async(lambda cb: process.start_async(None, cb), process.start_finish)
    path = process.get_socket_path()
    assert path.startswith(str(tmp_path)) and os.path.exists(path)

    master = Vhost.UserMaster.new(path)
    master.connect(None)
    assert master.get_features() & (1 << Vhost.VirtioFeature.VERSION_1)
    master.close()

    process.send_signal(signal.SIGKILL)
    wait_for(lambda: exits)
    assert os.WIFSIGNALED(exits[0]) and os.WTERMSIG(exits[0]) == signal.SIGKILL
    assert not os.path.exists(os.path.dirname(path))
    assert call_async(lambda cb: process.stop_async(None, cb), process.stop_finish)


def test_start_failure(tree, tmp_path):
    process = Vhost.UserBackendProcess.new(blk_program(tree), Vhost.UserBackendConnection.SOCKET_PATH,
                                           ["--blk-file=/nonexistent/disk.img"])
    process.set_runtime_directory(str(tmp_path))
    with pytest.raises(GLib.Error) as info:
        call_async(lambda cb: process.start_async(None, cb), process.start_finish)
    assert info.value.code == int(Vhost.Error.FAILED)
    assert "/nonexistent/disk.img" in info.value.message
