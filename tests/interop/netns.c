/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test cases in a network namespace of their own, run in a subprocess; commands bounded in time. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "netns.h"
#include "peer.h"

void
vhost_netns_note (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("# %s\n", message);
}

char *
vhost_netns_run (const char *const *argv)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *command = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = -1;

  g_ptr_array_add (args, (gpointer) "timeout");
  g_ptr_array_add (args, (gpointer) VHOST_NETNS_COMMAND_TIMEOUT_S);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);
  command = g_strjoinv (" ", (char **) argv);
  vhost_netns_note ("running %s", command);
  g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed (%s):\n%s", command, error->message, out);
  return out;
}

char *
vhost_netns_run_in (const char *netns, const char *command)
{
  const char *argv[] = { "ip", "netns", "exec", netns, "sh", "-c", command, NULL };

  return vhost_netns_run (argv);
}

/* The namespaces in `ip netns list`. */
static GStrv
list_netns (void)
{
  const char *argv[] = { "ip", "netns", "list", NULL };
  g_autofree char *out = vhost_netns_run (argv);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *space = strchr (lines[i], ' ');

      if (space != NULL)
        *space = '\0'; /* "NAME (id: N)" */
      if (lines[i][0] != '\0')
        g_strv_builder_add (names, lines[i]);
    }
  return g_strv_builder_end (names);
}

static void
netns_delete (const char *name)
{
  const char *argv[] = { "ip", "netns", "delete", name, NULL };

  g_free (vhost_netns_run (argv));
}

static char *
netns_dir (const char *netns)
{
  return g_strdup_printf ("%s/vhost-%s", g_get_tmp_dir (), netns);
}

/* Namespaces left by runs that were killed (their process is gone). */
static void
delete_stale_netns (const char *prefix)
{
  g_auto(GStrv) names = list_netns ();

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *proc = NULL;

      if (!g_str_has_prefix (names[i], prefix))
        continue;
      proc = g_strdup_printf ("/proc/%s", names[i] + strlen (prefix));
      if (!g_file_test (proc, G_FILE_TEST_EXISTS))
        {
          g_autofree char *dir = netns_dir (names[i]);

          vhost_netns_note ("deleting the stale network namespace %s", names[i]);
          netns_delete (names[i]);
          vhost_peer_remove_dir (dir);
        }
    }
}

void
vhost_netns_test (const char *prefix, VhostNetnsCaseFunc func, gconstpointer data, const char *const *logs,
                  guint64 timeout_us)
{
  g_autofree char *netns = NULL;
  g_autofree char *dir = NULL;
  g_auto(GStrv) left = NULL;
  const char *argv[] = { "ip", "netns", "add", NULL, NULL };

  /* Named after the parent's pid, which the subprocess knows too. */
  netns = g_strdup_printf ("%s%d", prefix, (int) (g_test_subprocess () ? getppid () : getpid ()));
  dir = netns_dir (netns);
  if (g_test_subprocess ())
    {
      func (data, netns, dir);
      return;
    }
  if (!g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    g_error ("/dev/net/tun is missing: vhost-user-net needs the tun module");
  delete_stale_netns (prefix);
  argv[3] = netns;
  g_free (vhost_netns_run (argv));
  vhost_peer_remove_dir (dir);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_test_trap_subprocess (NULL, timeout_us, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
  netns_delete (netns);
  left = list_netns ();
  g_assert_false (g_strv_contains ((const char *const *) left, netns));
  /* A case that failed half-way could not show the logs of the programs it ran. */
  for (guint i = 0; !g_test_trap_has_passed () && logs != NULL && logs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dir, logs[i], NULL);
      g_autofree char *contents = NULL;

      if (g_file_get_contents (path, &contents, NULL, NULL))
        g_printerr ("--- %s ---\n%s\n---\n", logs[i], contents);
    }
  vhost_peer_remove_dir (dir);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_test_trap_assert_passed ();
}
