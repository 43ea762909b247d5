/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the back-end programs share: the vhost-user back-end program conventions
 * (--socket-path, --fd, --print-capabilities), signals, logging and exit codes. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

/* Exit codes of every tool. */
#define VHOST_TOOL_EXIT_OK 0      /* success, or shut down by SIGINT or SIGTERM */
#define VHOST_TOOL_EXIT_FAILURE 1 /* a run-time error: an image, a socket, a device */
#define VHOST_TOOL_EXIT_USAGE 2   /* a bad command line */

/* The longest --busy-poll-us (a second of polling after the last request) and
 * --coalesce-us. */
#define VHOST_TOOL_BUSY_POLL_US_MAX 1000000

typedef struct
{
  char *socket_path;           /* --socket-path: listen here */
  int fd;                      /* --fd: serve this connected socket; -1 if not given */
  gboolean print_capabilities; /* --print-capabilities */
  gboolean verbose;            /* --verbose: debug messages */
  int busy_poll_us;            /* --busy-poll-us, 0 to VHOST_TOOL_BUSY_POLL_US_MAX; -1 if not given */
  int coalesce_us;             /* --coalesce-us, 0 to VHOST_TOOL_BUSY_POLL_US_MAX; -1 if not given */
  char *pid_file;              /* --pid-file: write the pid here once ready */
} VhostToolOptions;

/* Free what the options own. */
void vhost_tool_options_clear (VhostToolOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VhostToolOptions, vhost_tool_options_clear)

/* Parse the command line: the common options above plus `entries` (the tool's own,
 * may be NULL). `summary` goes under the usage line of --help. Returns -1 when the
 * program goes on, or an exit code: after --help, or after a bad command line (a
 * one-line message on stderr). Sets the program name for messages. */
int vhost_tool_parse (int *argc,
                      char ***argv,
                      const char *summary,
                      const GOptionEntry *entries,
                      VhostToolOptions *options);

/* The common checks once the tool has looked at its own options: exactly one of
 * --socket-path and --fd, a socket path that fits a unix socket address. Returns -1
 * or VHOST_TOOL_EXIT_USAGE (with the message printed). */
int vhost_tool_check (const VhostToolOptions *options);

/* Print `{"type": type, "features": [...]}` for --print-capabilities (json-glib). */
void vhost_tool_print_capabilities (const char *type, const char *const *features);

/* Print "PROGRAM: message" on stderr and return `exit_code`. */
int vhost_tool_fail (int exit_code, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Serve `slave` as the options say until SIGINT or SIGTERM (or, with --fd, until the
 * front-end goes away), then close it, which removes the socket file. Once the socket
 * listens (or the fd is served), writes --pid-file and tells the service manager
 * READY=1 on $NOTIFY_SOCKET; removes the pid file at the end. Returns the exit code.
 * Runs the thread-default main context. */
int vhost_tool_run (VhostUserSlave *slave, const VhostToolOptions *options);

/* Parse the value `text` of the numeric option --`option`: a decimal integer from
 * `min` to `max`. Returns -1 with *value set, or VHOST_TOOL_EXIT_USAGE with a message
 * naming the option printed. */
int vhost_tool_parse_number (const char *option, const char *text, gint64 min, gint64 max, gint64 *value);

/* Parse --threads=`text` for `n_groups` groups of queues, each a `group` ("queue",
 * "queue pair") of the option `groups_option`, which allows up to `max`: 1 to
 * `max`, and no more than `n_groups`. Without --threads (`text` NULL), one thread per
 * group, but no more than the CPUs the process may run on when it starts (its
 * affinity mask, as taskset or a cpuset leaves it): more threads than CPUs only take
 * turns at polling. Returns -1 with *threads set, or VHOST_TOOL_EXIT_USAGE with a
 * message naming the option printed. */
int vhost_tool_parse_threads (const char *text, guint n_groups, guint max, const char *group,
                              const char *groups_option, guint *threads);

/* Parse a size with an optional K, M, G or T suffix (powers of 1024). */
gboolean vhost_tool_parse_size (const char *text, guint64 *size, GError **error);

G_END_DECLS
