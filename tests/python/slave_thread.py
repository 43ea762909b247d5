# SPDX-License-Identifier: GPL-2.0-or-later
# The Python tests' harness: a Vhost.UserSlave served from a thread and GMainContext of its own.
import threading

from gi.repository import GLib


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
