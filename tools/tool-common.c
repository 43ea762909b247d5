/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the back-end programs share: the vhost-user back-end program conventions, signals,
 * logging and exit codes. */
#include <errno.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "tool-common.h"

/* Messages carry the program's name as their domain, like the program's own. */
#define tool_message(...) g_log (g_get_prgname (), G_LOG_LEVEL_MESSAGE, __VA_ARGS__)

static const char *
program_name (void)
{
  const char *name = g_get_prgname ();

  return name != NULL ? name : "vhost-tool";
}

int
vhost_tool_fail (int exit_code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", program_name (), message);
  return exit_code;
}

void
vhost_tool_options_clear (VhostToolOptions *options)
{
  g_clear_pointer (&options->socket_path, g_free);
  g_clear_pointer (&options->pid_file, g_free);
}

int
vhost_tool_parse_number (const char *option, const char *text, gint64 min, gint64 max, gint64 *value)
{
  g_autoptr(GError) error = NULL;

  /* Decimal only, an optional sign, nothing around it. */
  if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, value, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--%s=%s: not a number", option, text);
  if (*value < min || *value > max)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--%s=%s: not between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                            option, text, min, max);
  return -1;
}

/* An option given as `text` (NULL if it was not): a number from 0 to `max` into
 * `value`. Returns -1, or an exit code after a message. */
static int
parse_optional (const char *option, const char *text, gint64 max, int *value)
{
  gint64 number;
  int code;

  if (text == NULL)
    return -1;
  code = vhost_tool_parse_number (option, text, 0, max, &number);
  if (code < 0)
    *value = number;
  return code;
}

int
vhost_tool_parse (int *argc, char ***argv, const char *summary, const GOptionEntry *entries,
                  VhostToolOptions *options)
{
  g_autofree char *fd = NULL, *busy_poll_us = NULL, *coalesce_us = NULL;
  int code;
  const GOptionEntry common[] = {
    { "socket-path", 's', 0, G_OPTION_ARG_FILENAME, &options->socket_path,
      "Listen for the front-end on the UNIX socket PATH (incompatible with --fd)", "PATH" },
    { "fd", 0, 0, G_OPTION_ARG_STRING, &fd,
      "Serve the front-end on the connected UNIX socket FD (incompatible with --socket-path)", "FD" },
    { "print-capabilities", 0, 0, G_OPTION_ARG_NONE, &options->print_capabilities,
      "Print the back-end's capabilities as JSON and exit", NULL },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_STRING, &busy_poll_us,
      "Poll the rings for at most US microseconds after the last request before sleeping (shorter while requests "
      "come further apart), 0 to 1000000 (0: never poll)",
      "US" },
    { "coalesce-us", 0, 0, G_OPTION_ARG_STRING, &coalesce_us,
      "While polling, nap for at most US microseconds between rounds when requests come one at a time far below "
      "the worker's speed, so that they are taken in batches; 0 to 1000000 (0: never nap)",
      "US" },
    { "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &options->pid_file,
      "Write the process id to PATH once the socket listens (removed at exit)", "PATH" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Log debug messages", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *basename = g_path_get_basename ((*argv)[0]);

  setlocale (LC_ALL, "");
  g_set_prgname (basename);
  options->fd = -1;
  options->busy_poll_us = -1;
  options->coalesce_us = -1;
  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "%s (try --help)", error->message);
  if (*argc > 1)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "unexpected argument '%s' (try --help)", (*argv)[1]);
  if ((code = parse_optional ("fd", fd, G_MAXINT, &options->fd)) >= 0 ||
      (code = parse_optional ("busy-poll-us", busy_poll_us, VHOST_TOOL_BUSY_POLL_US_MAX, &options->busy_poll_us)) >= 0 ||
      (code = parse_optional ("coalesce-us", coalesce_us, VHOST_TOOL_BUSY_POLL_US_MAX, &options->coalesce_us)) >= 0)
    return code;
  if (options->verbose)
    g_log_set_debug_enabled (TRUE);
  return -1;
}

int
vhost_tool_check (const VhostToolOptions *options)
{
  struct sockaddr_un address;

  if (options->socket_path != NULL && options->fd >= 0)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--socket-path and --fd cannot be used together");
  if (options->socket_path == NULL && options->fd < 0)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--socket-path or --fd is required (try --help)");
  /* A unix socket address holds sizeof sun_path - 1 bytes and a NUL; an empty
   * one would be an abstract socket. */
  if (options->socket_path != NULL && options->socket_path[0] == '\0')
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--socket-path: the path is empty");
  if (options->socket_path != NULL && strlen (options->socket_path) >= sizeof address.sun_path)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE,
                            "--socket-path=%s: the path is %" G_GSIZE_FORMAT " bytes long, more than the %"
                            G_GSIZE_FORMAT " a unix socket address holds",
                            options->socket_path, strlen (options->socket_path), sizeof address.sun_path - 1);
  return -1;
}

void
vhost_tool_print_capabilities (const char *type, const char *const *features)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "features");
  json_builder_begin_array (builder);
  for (guint i = 0; features != NULL && features[i] != NULL; i++)
    json_builder_add_string_value (builder, features[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

/* The service manager's notification protocol (what sd_notify() does): `state`, lines
 * of VAR=VALUE, in one datagram to the unix socket $NOTIFY_SOCKET names, a path or,
 * starting with '@', an abstract name. Without $NOTIFY_SOCKET, nothing. A failure is
 * logged: the service manager then sees no readiness, the program goes on. */
static void
notify_service_manager (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  size_t length;
  int fd, saved_errno;

  if (path == NULL || path[0] == '\0')
    return;
  length = strlen (path);
  if ((path[0] != '/' && path[0] != '@') || length < 2 || length >= sizeof address.sun_path)
    {
      tool_message ("NOTIFY_SOCKET=%s is not a unix socket path or abstract name: not notifying", path);
      return;
    }
  memcpy (address.sun_path, path, length);
  if (path[0] == '@')
    address.sun_path[0] = '\0';
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &address,
                        offsetof (struct sockaddr_un, sun_path) + length) < 0)
    {
      saved_errno = errno;
      tool_message ("Notifying the service manager on %s: %s", path, g_strerror (saved_errno));
    }
  if (fd >= 0)
    close (fd);
}

/* --pid-file: the pid and a newline, written whole (a temporary file renamed). */
static gboolean
write_pid_file (const char *path, GError **error)
{
  g_autofree char *text = g_strdup_printf ("%d\n", (int) getpid ());

  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

typedef struct
{
  GMainLoop *loop;
  gboolean own_connection; /* --fd: no other front-end will come */
  int exit_code;
} RunState;

static gboolean
on_signal (gpointer data)
{
  RunState *state = data;

  tool_message ("Shutting down on a signal");
  g_main_loop_quit (state->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_disconnected (VhostUserSlave *slave, const GError *error, gpointer data)
{
  RunState *state = data;
  gboolean hung_up = error == NULL || g_error_matches (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);

  /* A front-end can connect and go away in a loop: rate-limited. */
  if (hung_up)
    vhost_user_slave_log (slave, g_get_prgname (), G_LOG_LEVEL_MESSAGE, "front-end went away",
                          "The front-end went away");
  else
    vhost_user_slave_log (slave, g_get_prgname (), G_LOG_LEVEL_MESSAGE, "connection ended on an error",
                          "The connection to the front-end ended: %s", error->message);
  if (!state->own_connection)
    return;
  /* Served until the front-end hung up, or broken by a bad request. */
  if (!hung_up)
    state->exit_code = VHOST_TOOL_EXIT_FAILURE;
  g_main_loop_quit (state->loop);
}

int
vhost_tool_run (VhostUserSlave *slave, const VhostToolOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (g_main_context_get_thread_default (), FALSE);
  RunState state = { loop, options->socket_path == NULL, VHOST_TOOL_EXIT_OK };
  guint sigint, sigterm;
  gulong handler = 0;
  int code = -1;

  signal (SIGPIPE, SIG_IGN);
  /* Before the socket listens: whoever sees it listen may send SIGTERM at once. */
  sigint = g_unix_signal_add (SIGINT, on_signal, &state);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &state);
  if (options->busy_poll_us >= 0)
    vhost_user_slave_set_busy_poll_us (slave, options->busy_poll_us);
  if (options->coalesce_us >= 0)
    vhost_user_slave_set_coalesce_us (slave, options->coalesce_us);
  if (options->socket_path != NULL && !vhost_user_slave_listen (slave, options->socket_path, &error))
    code = vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s", error->message);
  else if (options->socket_path == NULL && !vhost_user_slave_serve_fd (slave, options->fd, &error))
    code = vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "--fd=%d: %s", options->fd, error->message);
  else if (options->pid_file != NULL && !write_pid_file (options->pid_file, &error))
    code = vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "--pid-file: %s", error->message);
  if (code >= 0)
    {
      g_source_remove (sigint);
      g_source_remove (sigterm);
      vhost_user_slave_close (slave);
      return code;
    }
  if (options->socket_path != NULL)
    tool_message ("Listening on %s", options->socket_path);
  handler = g_signal_connect (slave, "disconnected", G_CALLBACK (on_disconnected), &state);
  notify_service_manager ("READY=1\nSTATUS=Serving the front-end");
  g_main_loop_run (loop);
  notify_service_manager ("STOPPING=1");
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_signal_handler_disconnect (slave, handler);
  vhost_user_slave_close (slave);
  if (options->pid_file != NULL)
    g_unlink (options->pid_file);
  return state.exit_code;
}

static guint
default_threads (guint n_groups)
{
  cpu_set_t cpus;
  int n_cpus;

  if (sched_getaffinity (0, sizeof cpus, &cpus) < 0 || (n_cpus = CPU_COUNT (&cpus)) < 1)
    return n_groups;
  return MIN (n_groups, (guint) n_cpus);
}

int
vhost_tool_parse_threads (const char *text, guint n_groups, guint max, const char *group, const char *groups_option,
                          guint *threads)
{
  gint64 value;
  int code;

  if (text == NULL)
    {
      *threads = default_threads (n_groups);
      return -1;
    }
  if ((code = vhost_tool_parse_number ("threads", text, 1, max, &value)) >= 0)
    return code;
  if (value > n_groups)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--threads=%s: more than the %u %s%s of %s", text, n_groups, group,
                            n_groups > 1 ? "s" : "", groups_option);
  *threads = value;
  return -1;
}

gboolean
vhost_tool_parse_size (const char *text, guint64 *size, GError **error)
{
  static const char suffixes[] = "KMGT";
  guint64 value;
  char *end;
  const char *s;

  errno = 0;
  if (text == NULL || !g_ascii_isdigit (text[0]) || ((value = g_ascii_strtoull (text, &end, 10)), errno != 0))
    goto bad;
  if (*end != '\0')
    {
      if ((s = strchr (suffixes, g_ascii_toupper (*end))) == NULL || end[1] != '\0')
        goto bad;
      for (const char *p = suffixes; p <= s; p++)
        {
          if (value > G_MAXUINT64 / 1024)
            goto bad;
          value *= 1024;
        }
    }
  *size = value;
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "'%s' is not a size (a number of bytes, with an optional K, M, G or T suffix)", text);
  return FALSE;
}
