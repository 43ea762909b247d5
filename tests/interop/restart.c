/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Back-end restarts under a live guest: kills while I/O is in flight, new processes, reconnections. */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "restart.h"

/* The value of `key` ("SqHead:") in an io_uring fdinfo text. */
static gboolean
fdinfo_value (const char *text, const char *key, guint32 *value)
{
  const char *p = strstr (text, key);

  if (p == NULL)
    return FALSE;
  *value = (guint32) g_ascii_strtoull (p + strlen (key), NULL, 10);
  return TRUE;
}

/* The fdinfo files of the peer's io_uring instances. */
static GPtrArray *
find_io_urings (GPid pid)
{
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (fd_dir, 0, NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (g_strcmp0 (target, "anon_inode:[io_uring]") == 0)
        g_ptr_array_add (paths, g_strdup_printf ("/proc/%d/fdinfo/%s", (int) pid, name));
    }
  return paths;
}

/* Sum over the io_uring instances of counter `later` minus counter `earlier`. */
static guint
count_between (GPtrArray *fdinfos, const char *later, const char *earlier)
{
  guint n = 0;

  for (guint i = 0; i < fdinfos->len; i++)
    {
      g_autofree char *text = NULL;
      guint32 a, b;

      if (g_file_get_contents (fdinfos->pdata[i], &text, NULL, NULL) && fdinfo_value (text, later, &a) &&
          fdinfo_value (text, earlier, &b))
        n += a - b;
    }
  return n;
}

/* Whether every thread of the process is stopped (state T). */
static gboolean
all_threads_stopped (GPid pid)
{
  g_autofree char *task_dir = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (task_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/stat", task_dir, name);
      g_autofree char *stat = NULL;
      const char *state;

      /* "pid (comm) S ...": the state follows the last parenthesis. */
      if (!g_file_get_contents (path, &stat, NULL, NULL) || (state = strrchr (stat, ')')) == NULL)
        continue;
      if (state[1] != ' ' || (state[2] != 'T' && state[2] != 't'))
        return FALSE;
    }
  return TRUE;
}

void
vhost_restart_stop (VhostPeer *peer)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  vhost_peer_send_signal (peer, SIGSTOP);
  while (!all_threads_stopped (vhost_peer_get_pid (peer)))
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("the back-end did not stop within 5 s of SIGSTOP");
      g_usleep (100);
    }
}

guint
vhost_restart_stop_holding_io (VhostPeer *peer, guint timeout_ms)
{
  g_autoptr(GPtrArray) fdinfos = find_io_urings (vhost_peer_get_pid (peer));
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  g_assert_cmpuint (fdinfos->len, >, 0);
  for (;;)
    {
      guint held;

      /* The kernel holds a request (one to a file takes 100 us or more; the polls
       * leave the two cores to QEMU and the back-end). */
      while (count_between (fdinfos, "SqHead:", "CqTail:") == 0 && g_get_monotonic_time () < deadline)
        g_usleep (50);
      vhost_restart_stop (peer);
      /* Stopped, the back-end holds what it submitted and has not reaped yet. */
      held = count_between (fdinfos, "SqHead:", "CqHead:");
      if (held > 0 || g_get_monotonic_time () >= deadline)
        return held;
      /* It completed and gave back the request before it stopped: again. */
      vhost_peer_send_signal (peer, SIGCONT);
    }
}

/* Whether the table (a /proc/.../net/unix) lists an accepted connection on `path`:
 * "Num RefCount Protocol Flags Type St Inode Path", an accepted socket carrying the
 * listener's path, in state 03 (connected). */
static gboolean
unix_table_has_connection (const char *table, const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (table, &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (lines[i], " ", -1);
      g_autoptr(GPtrArray) words = g_ptr_array_new ();

      for (guint j = 0; fields[j] != NULL; j++)
        if (fields[j][0] != '\0')
          g_ptr_array_add (words, fields[j]);
      if (words->len == 8 && strcmp (words->pdata[5], "03") == 0 && strcmp (words->pdata[7], path) == 0)
        return TRUE;
    }
  return FALSE;
}

gboolean
vhost_restart_is_connected (VhostPeer *peer, const char *path)
{
  g_autofree char *table = g_strdup_printf ("/proc/%d/net/unix", (int) vhost_peer_get_pid (peer));

  /* An accepted socket belongs to the network namespace of the process that
   * connected: the peer's or, if the peer runs in a namespace of its own, perhaps
   * this process's. */
  return unix_table_has_connection (table, path) || unix_table_has_connection ("/proc/self/net/unix", path);
}

void
vhost_restart_wait_connected (VhostPeer *peer, const char *path, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (!vhost_restart_is_connected (peer, path))
    {
      if (vhost_peer_has_exited (peer) || g_get_monotonic_time () >= deadline)
        {
          g_autofree char *log = vhost_peer_get_log (peer);

          g_error ("no front-end connected to %s %s; the back-end's log:\n%s", path,
                   vhost_peer_has_exited (peer) ? "before the back-end exited" : "in time", log);
        }
      g_usleep (10 * 1000);
    }
}

VhostPeer *
vhost_restart_peer (VhostPeer *peer, const char *path, VhostRestartStartFunc start, guint generation, gpointer data,
                    guint timeout_ms, double *reconnect_s)
{
  gint64 killed;
  int status = 0;
  VhostPeer *next;

  vhost_peer_send_signal (peer, SIGKILL);
  killed = g_get_monotonic_time ();
  g_assert_true (vhost_peer_wait_exit (peer, 10000, &status));
  g_assert_cmpint (status, ==, -1);
  /* A killed back-end leaves its socket file behind: the next one must not be taken
   * for ready before it listens. */
  g_unlink (path);
  next = start (generation, data);
  vhost_restart_wait_connected (next, path, timeout_ms);
  *reconnect_s = (g_get_monotonic_time () - killed) / (double) G_TIME_SPAN_SECOND;
  /* Not before: it waits for GLib to let go of the process. */
  vhost_peer_free (peer);
  return next;
}
