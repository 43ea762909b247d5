/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Counting this process's open fds, for tests that check that nothing leaks one. */
#include <dirent.h>
#include <string.h>

#include "fd-count.h"

gint
vhost_test_count_open_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  gint count = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      count++;
  closedir (dir);
  return count - 1; /* the directory's own fd */
}

/* Whether one of our fds is a pidfd (GLib's handle on a child it still watches). */
static gboolean
has_pidfd (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  gboolean found = FALSE;

  g_assert_nonnull (dir);
  while (!found && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      found = target != NULL && strcmp (target, "anon_inode:[pidfd]") == 0;
    }
  g_dir_close (dir);
  return found;
}

void
vhost_test_settle_fds (void)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  gint last = -1, count;

  while (g_get_monotonic_time () < deadline)
    {
      count = vhost_test_count_open_fds ();
      if (count == last && !has_pidfd ())
        return;
      last = count;
      g_usleep (20 * 1000);
    }
}

void
vhost_test_assert_fd_count (gint expected)
{
  g_autoptr(GString) list = NULL;
  GDir *dir;
  const char *name;

  if (vhost_test_count_open_fds () == expected)
    return;
  list = g_string_new (NULL);
  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      g_string_append_printf (list, " %s->%s", name, target != NULL ? target : "?");
    }
  g_dir_close (dir);
  g_error ("expected %d open fds, have %d:%s", expected, vhost_test_count_open_fds (), list->str);
}
