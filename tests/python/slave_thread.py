# SPDX-License-Identifier: GPL-2.0-or-later
# The Python tests' harness: a Vhost.UserSlave served from a thread and GMainContext of its own.
import contextlib
import gc
import os
import socket
import threading
import time

from gi.repository import GLib, Vhost


class SlaveThread:
    """Runs the slave that make_slave() returns on its own thread and GMainContext,
    serving one end of a socketpair. Subclasses override make_slave(), and
    slave_done() to look at the slave once its loop has stopped."""

    def __init__(self, sock):
        self.ready = threading.Event()
        self.sock = sock
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        assert self.ready.wait(10)

    def make_slave(self):
        raise NotImplementedError

    def slave_done(self, slave):
        pass

    def _run(self):
        context = self.context = GLib.MainContext.new()
        context.push_thread_default()
        self.slave = self.make_slave()
        self.slave.serve_fd(self.sock.detach())
        self.loop = GLib.MainLoop.new(context, False)
        # Ready once the loop runs: a quit() before run() would be lost.
        started = GLib.idle_source_new()
        started.set_callback(lambda *args: self.ready.set() or GLib.SOURCE_REMOVE)
        started.attach(context)
        self.loop.run()
        self.slave_done(self.slave)
        self.slave.close()
        del self.slave
        context.pop_thread_default()
        del self.loop, self.context

    def pause(self):
        """Holds the slave's thread (it reads nothing, so a front-end's requests
        wait for their replies) until resume(); returns once it is held."""
        held, self._resume = threading.Event(), threading.Event()

        def hold(*args):
            held.set()
            assert self._resume.wait(30)
            if self._close_on_resume:
                self.slave.close()
            return GLib.SOURCE_REMOVE

        self._close_on_resume = False
        source = GLib.idle_source_new()
        source.set_callback(hold)
        source.attach(self.context)
        assert held.wait(10)

    def resume(self, close=False):
        """Lets a held slave go on; with `close`, it first closes its connection."""
        self._close_on_resume = close
        self._resume.set()

    def stop(self):
        """Stops the loop and joins the thread; again, does nothing."""
        loop = getattr(self, "loop", None)
        if loop is not None:
            loop.quit()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def run(self, func):
        """Call func(slave) in the slave's thread while this thread iterates its
        thread-default main context (where a master answers the slave's back-end
        requests); return what it returned, or raise what it raised."""
        done = threading.Event()
        result = []

        def call(*args):
            try:
                result.append((func(self.slave), None))
            except Exception as error:  # noqa: BLE001 - handed to the caller
                result.append((None, error))
            done.set()
            GLib.MainContext.default().wakeup()
            return GLib.SOURCE_REMOVE

        source = GLib.idle_source_new()
        source.set_callback(call)
        source.attach(self.context)
        deadline = time.monotonic() + 10
        while not done.is_set():
            GLib.MainContext.default().iteration(True)
            assert time.monotonic() < deadline
        value, error = result[0]
        if error is not None:
            raise error
        return value


def open_fds():
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def master_and_slave(thread_class):
    """A master connected over a socketpair to a slave served by thread_class;
    every fd is closed again once both are gone."""
    before = open_fds()
    a, b = socket.socketpair()
    slave = thread_class(a)
    master = Vhost.UserMaster.new_for_fd(b.detach())
    master.connect_backend()
    yield master, slave
    master.close()
    del master
    slave.stop()
    assert open_fds() == before
