/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A main() for a fuzz target: runs it once on every regular file of the directories and files given, so that its corpus is replayed as a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
replay_file (const char *path, guint *count)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  guint8 *copy;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return FALSE;
    }
  /* Exactly as long as the input (the file's contents carry a NUL after it), so
   * that AddressSanitizer catches a read past its end. */
  copy = malloc (len);
  g_assert_true (copy != NULL || len == 0);
  if (len > 0)
    memcpy (copy, contents, len);
  printf ("%s\n", path);
  fflush (stdout);
  LLVMFuzzerTestOneInput (copy, len);
  free (copy);
  (*count)++;
  return TRUE;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
replay_dir (const char *path, guint *count)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
  const char *name;

  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  /* In a fixed order, so that a failure reproduces as it was seen. */
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);

      if (g_file_test (file, G_FILE_TEST_IS_REGULAR) && !replay_file (file, count))
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint count = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s DIRECTORY-OR-FILE...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      gboolean ok = g_file_test (argv[i], G_FILE_TEST_IS_DIR) ? replay_dir (argv[i], &count)
                                                               : replay_file (argv[i], &count);

      if (!ok)
        return 1;
    }
  printf ("replayed %u inputs\n", count);
  return count > 0 ? 0 : 1;
}
