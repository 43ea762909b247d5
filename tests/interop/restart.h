/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Back-end restarts under a live guest: a SIGKILL while the back-end holds I/O, a new process on
 * the same socket, and the front-end's reconnection, each seen from /proc. */
#pragma once

#include <glib.h>

#include "peer.h"

G_BEGIN_DECLS

/* Start the `generation`-th process of a back-end (0 for the first one) and return once
 * its socket is there. */
typedef VhostPeer *(*VhostRestartStartFunc) (guint generation, gpointer data);

/* Wait until the kernel holds a request of one of the peer's io_uring instances, then
 * stop the peer (SIGSTOP) and count the requests it submitted and has not reaped: chains
 * it took from the rings and has not given back. Tries again (SIGCONT) while that is 0,
 * up to `timeout_ms`. Returns the count; the peer is stopped. */
guint vhost_restart_stop_holding_io (VhostPeer *peer, guint timeout_ms);

/* Stop every thread of the peer with SIGSTOP and wait until they all are stopped. */
void vhost_restart_stop (VhostPeer *peer);

/* Whether a front-end is connected to the peer's listening socket `path`: an accepted
 * connection in /proc/PID/net/unix, or in this process's table if the front-end runs in
 * this process's network namespace and the peer in another one. */
gboolean vhost_restart_is_connected (VhostPeer *peer, const char *path);

/* Wait up to `timeout_ms` for a front-end to connect to the peer on `path`; fails the
 * test (with the peer's log) if none does or the peer exits. */
void vhost_restart_wait_connected (VhostPeer *peer, const char *path, guint timeout_ms);

/* Kill `peer` with SIGKILL (it must die of it) and free it, remove the socket file it
 * left at `path`, start process `generation` with `start`, and wait up to `timeout_ms`
 * for the front-end to connect to it. Returns the new process; `*reconnect_s` is the
 * time from the kill to the connection. */
VhostPeer *vhost_restart_peer (VhostPeer *peer,
                               const char *path,
                               VhostRestartStartFunc start,
                               guint generation,
                               gpointer data,
                               guint timeout_ms,
                               double *reconnect_s);

G_END_DECLS
