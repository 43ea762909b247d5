/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Peer processes for tests and benchmarks: temp dirs, processes with their logs, sockets to wait for.
 * A failure (a missing program, a socket that does not come) aborts with a message, in a test or not. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _VhostPeer VhostPeer;

/* A fresh private directory for one test; removed with its contents by vhost_peer_free(). */
char *vhost_peer_make_dir (void);

/* Start `argv` (argv[0] looked up in PATH; failing with the package to install if it is
 * missing) with stdout and stderr to `dir`/`name`.log and stdin a pipe kept open. */
VhostPeer *vhost_peer_start (const char *dir, const char *name, const char *package, const char *const *argv);

/* Wait until `path` exists as a socket, up to `timeout_ms`; fails the test (printing the
 * peer's log) if it does not, or if the peer exits first. */
void vhost_peer_wait_for_socket (VhostPeer *peer, const char *path, guint timeout_ms);

/* The peer's log so far. */
char *vhost_peer_get_log (VhostPeer *peer);

/* Wait up to `timeout_ms` for the peer to exit by itself; TRUE if it did, with its exit
 * code (-1 if a signal killed it). */
gboolean vhost_peer_wait_exit (VhostPeer *peer, guint timeout_ms, int *exit_status);

/* The running peer's process id (argv[0]'s, which keeps it through exec, as taskset does). */
GPid vhost_peer_get_pid (VhostPeer *peer);

/* How many fds the running peer has open. */
guint vhost_peer_count_fds (VhostPeer *peer);

/* The running peer's resident memory (VmRSS), in KiB. */
guint64 vhost_peer_get_rss_kb (VhostPeer *peer);

/* The number of threads of the running peer. */
guint vhost_peer_count_threads (VhostPeer *peer);

/* The number of threads of the running peer whose name begins with `prefix`
 * ("vhost-worker": the library's queue workers). */
guint vhost_peer_count_threads_named (VhostPeer *peer, const char *prefix);

/* The worker threads the tools run by default for `n_groups` queues (or queue pairs)
 * when this process starts them: one per group, but no more than the CPUs this
 * process may run on (the tool inherits its affinity). */
guint vhost_peer_default_workers (guint n_groups);

/* What each thread of the running peer is doing, a line each (name, state, the
 * kernel function it waits in, its system call): for the message of a test that
 * finds the peer stuck. "" once the peer has exited. */
char *vhost_peer_describe_threads (VhostPeer *peer);

/* Close the peer's stdin (testpmd exits on end of input, printing its statistics). */
void vhost_peer_close_stdin (VhostPeer *peer);

/* Whether the peer has exited (and GLib has reaped it); does not wait. */
gboolean vhost_peer_has_exited (VhostPeer *peer);

/* Send `signum` to the peer (if it has not been reaped yet). */
void vhost_peer_send_signal (VhostPeer *peer, int signum);

/* Send `signum` to the running peer now, from this thread: g_subprocess_send_signal()
 * (and so vhost_peer_send_signal()) sends it later, from GLib's worker thread. */
void vhost_peer_kill_now (VhostPeer *peer, int signum);

/* A back-end's clean shutdown: send `signum` (SIGTERM, SIGINT), then the peer must exit
 * with status 0 within 10 s, and `socket_path` (if not NULL) must be gone. */
void vhost_peer_terminate (VhostPeer *peer, int signum, const char *socket_path);

/* SIGTERM, then SIGKILL after a bound; always reaps; prints the log if the test failed;
 * then waits for GLib to close what it kept of the process (vhost_test_settle_fds()). */
void vhost_peer_free (VhostPeer *peer);

/* Remove a directory tree made by vhost_peer_make_dir(). */
void vhost_peer_remove_dir (const char *dir);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostPeer, vhost_peer_free)

G_END_DECLS
