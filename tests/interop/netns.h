/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test cases in a network namespace of their own: each runs in a subprocess, in a namespace and a
 * directory its parent makes and deletes whatever the outcome; commands run bounded in time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bound of every command run by vhost_netns_run(), in seconds. */
#define VHOST_NETNS_COMMAND_TIMEOUT_S "120"

/* A comment line in the TAP output, from a subprocess too (where g_test_message()
 * prints nothing). */
void vhost_netns_note (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Run `argv` under timeout(1); fails the test with its output unless it exits 0.
 * Returns its standard output. */
char *vhost_netns_run (const char *const *argv);

/* Run a shell command line in the namespace `netns`, as vhost_netns_run() does. */
char *vhost_netns_run_in (const char *netns, const char *command);

/* A test case in a namespace: `netns` exists, `dir` is an empty directory. */
typedef void (*VhostNetnsCaseFunc) (gconstpointer data, const char *netns, const char *dir);

/* Run `func` in a subprocess (up to `timeout_us`) in the namespace `prefix`PID (PID the
 * parent's) with the directory $TMPDIR/vhost-`prefix`PID; then delete both, printing
 * the files `logs` of the directory (NULL-terminated names) if the case failed.
 * Namespaces of earlier runs whose process is gone are deleted first. */
void vhost_netns_test (const char *prefix,
                       VhostNetnsCaseFunc func,
                       gconstpointer data,
                       const char *const *logs,
                       guint64 timeout_us);

G_END_DECLS
