/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Idle cost of the tools: resident memory, fds and threads of vhost-user-blk (an image file) and vhost-user-net
 * (--echo) with 1 to 64 configured queues, before any front-end connects; per queue, what each adds. */
#include <signal.h>
#include <stdio.h>
#include <glib/gstdio.h>

#include "bench-common.h"

typedef struct
{
  const char *name;
  const char *variable;   /* the environment variable that may name the program */
  const char *built;
  const char *device;     /* "@" stands for the benchmark's directory */
  const char *count;      /* the option that sets the number of queues (or pairs) */
  guint per_count;        /* queues per unit of it */
  guint counts[4];
} Tool;

static const Tool tools[] = {
  { "vhost-user-blk", "VHOST_USER_BLK", VHOST_USER_BLK_BUILT, "--blk-file=@/disk.img", "--num-queues", 1,
    { 1, 4, 16, 64 } },
  { "vhost-user-net", "VHOST_USER_NET", VHOST_USER_NET_BUILT, "--echo", "--queue-pairs", 2, { 1, 2, 4, 8 } },
};

int
main (int argc, char **argv)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);

  /* As in production: MALLOC_PERTURB_ (which meson sets for benchmarks too) makes
   * malloc() write every block it hands out, and so every buffer resident. */
  g_unsetenv ("MALLOC_PERTURB_");
  if (!g_file_set_contents (image, "", 0, NULL) || truncate (image, 64 * 1024 * 1024) < 0)
    g_error ("cannot create %s", image);
  printf ("# Idle cost: each program started with N queues, measured once its socket listens,\n");
  printf ("# before any front-end connects (VmRSS and Threads of /proc/PID/status, /proc/PID/fd).\n");
  printf ("# per queue: what a queue adds to the RSS of the program with the fewest queues.\n");
  printf ("%-16s %7s %10s %14s %5s %8s\n", "program", "queues", "RSS KiB", "KiB per queue", "fds", "threads");
  for (guint t = 0; t < G_N_ELEMENTS (tools); t++)
    {
      const Tool *tool = &tools[t];
      g_auto(GStrv) parts = g_strsplit (tool->device, "@", -1);
      g_autofree char *device = g_strjoinv (dir, parts);
      guint64 first_rss = 0;
      guint first_queues = 0;

      for (guint i = 0; i < G_N_ELEMENTS (tool->counts); i++)
        {
          g_autofree char *count_arg = g_strdup_printf ("%s=%u", tool->count, tool->counts[i]);
          const char *args[] = { bench_tool_path (tool->variable, tool->built), socket_arg, device, count_arg, NULL };
          guint queues = tool->counts[i] * tool->per_count;
          VhostPeer *peer = vhost_peer_start (dir, tool->name, "", args);
          guint64 rss;
          guint fds, threads;
          g_autofree char *per_queue = NULL;

          vhost_peer_wait_for_socket (peer, sock, 10000);
          rss = vhost_peer_get_rss_kb (peer);
          fds = vhost_peer_count_fds (peer);
          threads = vhost_peer_count_threads (peer);
          if (i == 0)
            {
              first_rss = rss;
              first_queues = queues;
              per_queue = g_strdup ("-");
            }
          else
            per_queue = g_strdup_printf ("%.1f", ((double) rss - first_rss) / (queues - first_queues));
          printf ("%-16s %7u %10" G_GUINT64_FORMAT " %14s %5u %8u\n", tool->name, queues, rss, per_queue, fds, threads);
          fflush (stdout);
          vhost_peer_terminate (peer, SIGTERM, sock);
          vhost_peer_free (peer);
        }
    }
  vhost_peer_remove_dir (dir);
  return 0;
}
