#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A management daemon's part of test-daemon-install: finds the installed vhost-user-blk through
# Vhost.UserBackendDiscovery (default search path), launches it for the image given as argument on
# a socket path, and says so as one JSON line on stdout; on "kill" from stdin, kills the program
# and prints its exit, as Vhost.UserBackendProcess::exited reports it.
import json
import os
import signal
import sys

import gi

gi.require_version("Vhost", "1.0")
from gi.repository import GLib, GObject, Vhost  # noqa: E402

loop = GLib.MainLoop()
state = {"status": 1}


def say(**fields):
    print(json.dumps(fields), flush=True)


def fail(message):
    say(error=message)
    loop.quit()


def on_skipped(discovery, path, error):
    say(skipped=path, error=error.message)


def on_listed(discovery, result):
    programs = discovery.list_finish(result)
    if not programs:
        fail("no installed block back-end with the read-only feature")
        return
    process = Vhost.UserBackendProcess.new(programs[0], Vhost.UserBackendConnection.SOCKET_PATH,
                                           ["--blk-file=" + sys.argv[1]])
    state["process"] = process
    GObject.Object.connect(process, "exited", on_exited)
    process.start_async(None, on_started)


def on_started(process, result):
    try:
        process.start_finish(result)
    except GLib.Error as error:
        fail(error.message)
        return
    program = process.get_program()
    say(ready=True, binary=program.get_binary(), descriptor=program.get_descriptor_path(),
        features=program.get_features(), socket=process.get_socket_path(), pid=process.get_pid())
    GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_command)


def on_command(fd, condition):
    line = sys.stdin.readline().strip()
    if line == "kill":
        state["killed"] = True
        state["process"].send_signal(signal.SIGKILL)
    else:
        fail("unexpected command %r" % line)
    return GLib.SOURCE_REMOVE


def on_exited(process, status):
    say(exited=status, signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0)
    if state.get("killed"):
        state["status"] = 0
    loop.quit()


discovery = Vhost.UserBackendDiscovery.new()
GObject.Object.connect(discovery, "skipped", on_skipped)
discovery.list_async("block", ["read-only"], None, on_listed)
loop.run()
sys.exit(state["status"])
