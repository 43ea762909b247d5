/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Peer processes for tests and benchmarks: temp dirs, processes with their logs, sockets to wait for. */
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "fd-count.h"
#include "peer.h"

struct _VhostPeer
{
  GSubprocess *process;
  char *name;
  char *log_path;
};

char *
vhost_peer_make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("vhost-peer-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
vhost_peer_remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        vhost_peer_remove_dir (path);
      else
        g_unlink (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

/* A peer dies with the test process, even when an assertion aborts it. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

VhostPeer *
vhost_peer_start (const char *dir, const char *name, const char *package, const char *const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autofree char *program = g_find_program_in_path (argv[0]);
  g_autoptr(GError) error = NULL;
  g_autofree char *command = g_strjoinv (" ", (char **) argv);
  VhostPeer *peer;

  if (program == NULL)
    g_error ("%s is not installed: apt-get install %s (.ci/install-deps.sh does)", argv[0], package);
  peer = g_new0 (VhostPeer, 1);
  peer->name = g_strdup (name);
  peer->log_path = g_strdup_printf ("%s/%s.log", dir, name);
  g_subprocess_launcher_set_stdout_file_path (launcher, peer->log_path);
  g_subprocess_launcher_take_stderr_fd (launcher, -1);
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  /* In a test's log (a benchmark prints nothing of its own here). */
  if (g_test_initialized ())
    g_test_message ("starting %s: %s", name, command);
  peer->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return peer;
}

char *
vhost_peer_get_log (VhostPeer *peer)
{
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (peer->log_path, &contents, &length, NULL))
    return g_strdup ("");
  /* DPDK writes NUL bytes into its log. */
  for (gsize i = 0; i < length; i++)
    if (contents[i] == '\0')
      contents[i] = ' ';
  return contents;
}

void
vhost_peer_wait_for_socket (VhostPeer *peer, const char *path, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  struct stat st;

  while (g_get_monotonic_time () < deadline)
    {
      if (g_lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
        return;
      /* The identifier is NULL once GLib has reaped the peer. */
      if (g_subprocess_get_identifier (peer->process) == NULL)
        break;
      g_usleep (50 * 1000);
    }
  {
    g_autofree char *log = vhost_peer_get_log (peer);

    g_error ("%s did not create %s within %u ms; its log:\n%s", peer->name, path, timeout_ms, log);
  }
}

static gboolean
wait_timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef struct
{
  gboolean done;     /* the wait finished, one way or the other */
  gboolean exited;
} WaitState;

static void
wait_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  WaitState *state = data;

  state->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  state->done = TRUE;
}

gboolean
vhost_peer_wait_exit (VhostPeer *peer, guint timeout_ms, int *exit_status)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  WaitState state = { FALSE, FALSE };
  gboolean timed_out = FALSE;
  GSource *timeout;

  g_main_context_push_thread_default (context);
  g_subprocess_wait_async (peer->process, cancellable, wait_cb, &state);
  timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timeout, wait_timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!state.done && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  /* A wait that timed out is cancelled and finished here, so that nothing of it (the
   * context, its wake-up fd) outlives this call. */
  g_cancellable_cancel (cancellable);
  while (!state.done)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  if (state.exited && exit_status != NULL)
    *exit_status = g_subprocess_get_if_exited (peer->process) ? g_subprocess_get_exit_status (peer->process) : -1;
  return state.exited;
}

GPid
vhost_peer_get_pid (VhostPeer *peer)
{
  const char *pid = g_subprocess_get_identifier (peer->process);

  if (pid == NULL)
    g_error ("%s has exited; its log:\n%s", peer->name, vhost_peer_get_log (peer));
  return (GPid) g_ascii_strtoll (pid, NULL, 10);
}

guint
vhost_peer_count_fds (VhostPeer *peer)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (peer->process));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A "Key:   N kB" line of the running peer's /proc/PID/status, as a number. */
static guint64
status_field (VhostPeer *peer, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (peer->process));
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, key);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (key), NULL, 10);
}

guint64
vhost_peer_get_rss_kb (VhostPeer *peer)
{
  return status_field (peer, "\nVmRSS:");
}

guint
vhost_peer_count_threads (VhostPeer *peer)
{
  return status_field (peer, "\nThreads:");
}

guint
vhost_peer_default_workers (guint n_groups)
{
  cpu_set_t cpus;

  g_assert_cmpint (sched_getaffinity (0, sizeof cpus, &cpus), ==, 0);
  return MIN (n_groups, (guint) CPU_COUNT (&cpus));
}

guint
vhost_peer_count_threads_named (VhostPeer *peer, const char *prefix)
{
  const char *pid = g_subprocess_get_identifier (peer->process);
  g_autofree char *path = pid != NULL ? g_strdup_printf ("/proc/%s/task", pid) : NULL;
  g_autoptr(GDir) dir = path != NULL ? g_dir_open (path, 0, NULL) : NULL;
  const char *tid;
  guint n = 0;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm = NULL, *comm_path = g_build_filename (path, tid, "comm", NULL);

      if (g_file_get_contents (comm_path, &comm, NULL, NULL) && g_str_has_prefix (comm, prefix))
        n++;
    }
  return n;
}

char *
vhost_peer_describe_threads (VhostPeer *peer)
{
  const char *pid = g_subprocess_get_identifier (peer->process);
  g_autofree char *path = pid != NULL ? g_strdup_printf ("/proc/%s/task", pid) : NULL;
  g_autoptr(GDir) dir = path != NULL ? g_dir_open (path, 0, NULL) : NULL;
  GString *out = g_string_new (NULL);
  const char *tid;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      static const char *const files[] = { "comm", "wchan", "syscall" };
      g_autofree char *stat = NULL, *stat_path = g_build_filename (path, tid, "stat", NULL);
      const char *state;

      /* The state follows the name in parentheses, which may hold spaces. */
      g_file_get_contents (stat_path, &stat, NULL, NULL);
      state = stat != NULL && strrchr (stat, ')') != NULL ? strrchr (stat, ')') + 2 : "?";
      g_string_append_printf (out, "  thread %s: state %c", tid, state[0]);
      for (guint i = 0; i < G_N_ELEMENTS (files); i++)
        {
          g_autofree char *text = NULL, *file = g_build_filename (path, tid, files[i], NULL);

          if (g_file_get_contents (file, &text, NULL, NULL))
            g_string_append_printf (out, ", %s %s", files[i], g_strstrip (text));
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

void
vhost_peer_close_stdin (VhostPeer *peer)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_close (g_subprocess_get_stdin_pipe (peer->process), NULL, &error);
  g_assert_no_error (error);
}

gboolean
vhost_peer_has_exited (VhostPeer *peer)
{
  /* The identifier is NULL once GLib has reaped the peer. */
  return g_subprocess_get_identifier (peer->process) == NULL;
}

void
vhost_peer_send_signal (VhostPeer *peer, int signum)
{
  if (g_subprocess_get_identifier (peer->process) != NULL)
    g_subprocess_send_signal (peer->process, signum);
}

void
vhost_peer_kill_now (VhostPeer *peer, int signum)
{
  const char *pid = g_subprocess_get_identifier (peer->process);

  if (pid == NULL)
    g_error ("%s exited before it was sent signal %d", peer->name, signum);
  g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), signum), ==, 0);
}

void
vhost_peer_terminate (VhostPeer *peer, int signum, const char *socket_path)
{
  int status = -1;

  vhost_peer_send_signal (peer, signum);
  if (!vhost_peer_wait_exit (peer, 10000, &status))
    g_error ("%s did not exit within 10 s of signal %d", peer->name, signum);
  g_assert_cmpint (status, ==, 0);
  if (socket_path != NULL)
    g_assert_false (g_file_test (socket_path, G_FILE_TEST_EXISTS));
}

void
vhost_peer_free (VhostPeer *peer)
{
  if (peer == NULL)
    return;
  if (g_subprocess_get_identifier (peer->process) != NULL)
    {
      g_subprocess_send_signal (peer->process, SIGTERM);
      if (!vhost_peer_wait_exit (peer, 10000, NULL))
        {
          g_subprocess_force_exit (peer->process);
          g_subprocess_wait (peer->process, NULL, NULL);
        }
    }
  if (g_test_initialized () && g_test_failed ())
    {
      g_autofree char *log = vhost_peer_get_log (peer);

      g_printerr ("--- log of %s ---\n%s\n---\n", peer->name, log);
    }
  /* Close our end of its stdin now: the GSubprocess itself may live on a little
   * in GLib's child-watch machinery, and fd counts must not depend on when. */
  if (!g_output_stream_is_closed (g_subprocess_get_stdin_pipe (peer->process)))
    g_output_stream_close (g_subprocess_get_stdin_pipe (peer->process), NULL, NULL);
  g_object_unref (peer->process);
  g_free (peer->name);
  g_free (peer->log_path);
  g_free (peer);
  vhost_test_settle_fds ();
}
