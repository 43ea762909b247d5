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
        context = GLib.MainContext.new()
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
        del self.loop

    def stop(self):
        """Stops the loop and joins the thread; again, does nothing."""
        loop = getattr(self, "loop", None)
        if loop is not None:
            loop.quit()
        self.thread.join(10)
        assert not self.thread.is_alive()
