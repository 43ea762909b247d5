/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A main() for a libFuzzer target without libFuzzer: calls LLVMFuzzerTestOneInput() once on every
 * regular file named on the command line or found directly in a directory named there, so that a
 * target's corpus (its crash reproducers included) is replayed as an ordinary test. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
replay_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *data = NULL;
  size_t size = 0, capacity = 0, n;

  if (f == NULL)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  do
    {
      if (size == capacity)
        {
          capacity = capacity == 0 ? 4096 : capacity * 2;
          data = realloc (data, capacity);
          if (data == NULL)
            abort ();
        }
      n = fread (data + size, 1, capacity - size, f);
      size += n;
    }
  while (n > 0);
  if (ferror (f))
    {
      fprintf (stderr, "replay: %s: read error\n", path);
      fclose (f);
      free (data);
      return -1;
    }
  fclose (f);
  /* An exact-size copy, so that a read past the end is caught (ASan, valgrind). */
  {
    uint8_t *input = malloc (size > 0 ? size : 1);

    if (input == NULL)
      abort ();
    memcpy (input, data, size);
    free (data);
    printf ("replay: %s (%zu bytes)\n", path, size);
    fflush (stdout);
    LLVMFuzzerTestOneInput (input, size);
    free (input);
  }
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Replays the regular files of @dir in name order; returns how many, or -1. */
static int
replay_dir (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char **paths = NULL;
  size_t n_paths = 0;
  int count = 0;

  if (d == NULL)
    {
      fprintf (stderr, "replay: %s: %s\n", dir, strerror (errno));
      return -1;
    }
  while ((e = readdir (d)) != NULL)
    {
      char *path;
      struct stat st;

      if (asprintf (&path, "%s/%s", dir, e->d_name) < 0)
        abort ();
      if (stat (path, &st) == 0 && S_ISREG (st.st_mode))
        {
          paths = realloc (paths, (n_paths + 1) * sizeof *paths);
          if (paths == NULL)
            abort ();
          paths[n_paths++] = path;
        }
      else
        free (path);
    }
  closedir (d);
  qsort (paths, n_paths, sizeof *paths, compare_names);
  for (size_t i = 0; i < n_paths; i++)
    {
      if (count >= 0 && replay_file (paths[i]) < 0)
        count = -1;
      else if (count >= 0)
        count++;
      free (paths[i]);
    }
  free (paths);
  return count;
}

int
main (int argc, char **argv)
{
  int total = 0;

  for (int i = 1; i < argc; i++)
    {
      struct stat st;
      int n;

      if (stat (argv[i], &st) < 0)
        {
          fprintf (stderr, "replay: %s: %s\n", argv[i], strerror (errno));
          return 1;
        }
      n = S_ISDIR (st.st_mode) ? replay_dir (argv[i]) : replay_file (argv[i]) == 0 ? 1 : -1;
      if (n < 0)
        return 1;
      total += n;
    }
  /* Nothing replayed is a broken test set-up, not a pass. */
  if (total == 0)
    {
      fprintf (stderr, "replay: no input files\n");
      return 1;
    }
  printf ("replay: %d inputs, no crash\n", total);
  return 0;
}
