# SPDX-License-Identifier: GPL-2.0-or-later
# The reference manual's examples for management daemons (C and Python, taken from
# doc/reference/daemons.xml at build time) run against the build's vhost-user-blk: found through a
# descriptor in $XDG_CONFIG_HOME, launched for an image, its socket printed, stopped.
import os
import subprocess
import sys

import pytest

BLK = os.environ["VHOST_USER_BLK"]


@pytest.fixture
def setup(tmp_path):
    folder = tmp_path / "config" / "qemu" / "vhost-user"
    folder.mkdir(parents=True)
    descriptor = folder / "50-vhost-glib-blk.json"
    descriptor.write_text('{"description": "build tree", "type": "block", "binary": "%s"}' % BLK)
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(1 << 20)
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_RUNTIME_DIR=str(tmp_path))
    return tmp_path, descriptor, image, env


@pytest.mark.parametrize("example", [[os.environ["DAEMON_EXAMPLE_C"]],
                                     [sys.executable, os.environ["DAEMON_EXAMPLE_PYTHON"]]],
                         ids=["c", "python"])
def test_example(setup, example):
    tmp_path, descriptor, image, env = setup
    run = subprocess.run(example + [str(image)], env=env, capture_output=True, text=True, timeout=60)
    print(run.stdout, run.stderr)
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "Using %s (%s)" % (BLK, descriptor)
    socket_line, = [line for line in lines if line.startswith("Socket: ")]
    socket = socket_line[len("Socket: "):]
    assert os.path.dirname(os.path.dirname(socket)) == str(tmp_path)
    assert socket.endswith("/vhost-user-blk.sock")
    assert "For QEMU: -chardev socket,id=disk0,path=%s -device vhost-user-blk-pci,chardev=disk0" % socket in lines
    assert lines[-1] == "The back-end exited with status 0"
    # The back-end ran read-only on the image, and its folder is gone.
    assert "read-only" in run.stderr
    assert not os.path.exists(os.path.dirname(socket))


def test_example_without_back_end(setup):
    tmp_path, descriptor, image, env = setup
    # The empty file also hides a vhost-glib installed in the build's own prefix.
    descriptor.write_text("")
    for example in ([os.environ["DAEMON_EXAMPLE_C"]], [sys.executable, os.environ["DAEMON_EXAMPLE_PYTHON"]]):
        run = subprocess.run(example + [str(image)], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 1
        assert run.stdout == ""
        assert "No installed block back-end supports read-only" in run.stderr
