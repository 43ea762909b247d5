/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Net echo packet rate: testpmd's virtio_user front-end against DPDK's vhost PMD and against vhost-glib's echo device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "bench-common.h"
#include "net-echo.h"

static gint seconds = 5;
static gint busy_poll_us = 1000;
static gint rounds = 3;

typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  VhostTestNetEcho *device;
  const char *socket_path;
  GMutex mutex;
  GCond cond;
  gboolean ready;
} Server;

static gpointer
server_thread (gpointer data)
{
  Server *server = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (server->context);
  server->device = g_object_new (VHOST_TYPE_TEST_NET_ECHO, NULL);
  vhost_user_slave_set_busy_poll_us (VHOST_USER_SLAVE (server->device), busy_poll_us);
  if (!vhost_user_slave_listen (VHOST_USER_SLAVE (server->device), server->socket_path, &error))
    g_error ("%s", error->message);
  g_mutex_lock (&server->mutex);
  server->ready = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->mutex);
  g_main_loop_run (server->loop);
  g_clear_object (&server->device);
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* The median of the front-end's "Rx-pps:" samples, the first two dropped (warm-up). */
static double
median_rx_pps (const char *log)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  const char *p = log;

  while ((p = strstr (p, "Rx-pps:")) != NULL)
    {
      double pps = g_ascii_strtod (p + strlen ("Rx-pps:"), NULL);

      g_array_append_val (samples, pps);
      p++;
    }
  /* The statistics print every port twice a period at most; drop the warm-up. */
  if (samples->len > 2)
    g_array_remove_range (samples, 0, 2);
  if (samples->len == 0)
    return 0;
  g_array_sort (samples, compare_double);
  return g_array_index (samples, double, samples->len / 2);
}

/* Run the front-end against `socket_path` for `seconds`; returns its receive rate. */
static double
run_front_end (const char *dir, const char *socket_path, gboolean packed, const char *label)
{
  g_autofree char *vdev = g_strdup_printf ("net_virtio_user0,path=%s,queues=1%s", socket_path,
                                           packed ? ",packed_vq=1" : "");
  g_autofree char *name = g_strdup_printf ("front-end-%s-%s", label, packed ? "packed" : "split");
  const char *argv[] = { "dpdk-testpmd", "--lcores", "0@1,1@0", "--file-prefix=vhost-bench-fe", "--no-pci",
                         "--no-huge", "-m", "512", "--vdev", vdev, "--", "--forward-mode=io", "--auto-start",
                         "--nb-cores=1", "--tx-first", "--total-num-mbufs=8192", "--stats-period", "1", NULL };
  BenchPeer *fe = bench_peer_start (dir, name, argv);
  g_autofree char *log = NULL;
  double pps;

  g_usleep (seconds * G_USEC_PER_SEC);
  log = bench_peer_get_log (fe);
  bench_peer_stop (fe, 10000);
  pps = median_rx_pps (log);
  if (pps == 0)
    g_error ("no Rx-pps from the front-end against %s; its log:\n%s", label, log);
  return pps;
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 5)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Runs per back-end, alternating (default 3, at most 16)", "N" },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us, "vhost-glib's worker busy-poll interval (default 1000)",
      "US" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- net echo packet rate: vhost-glib against DPDK's vhost PMD");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = bench_make_dir ();
  g_autofree char *dpdk_sock = g_build_filename (dir, "dpdk.sock", NULL);
  g_autofree char *our_sock = g_build_filename (dir, "vhost-glib.sock", NULL);
  g_autofree char *be_vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=1", dpdk_sock);
  /* DPDK's vhost PMD echoing: io forwarding on its single port sends each frame back. */
  const char *be_argv[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", "--file-prefix=vhost-bench-be", "--no-pci",
                            "--no-huge", "-m", "512", "--vdev", be_vdev, "--", "--forward-mode=io", "--auto-start",
                            "--nb-cores=1", "--total-num-mbufs=8192", NULL };
  Server server = { 0 };
  GThread *thread;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  rounds = CLAMP (rounds, 1, 16);

  /* vhost-glib's worker on CPU 1, where DPDK's back-end forwards. */
  bench_pin_to_cpu (1);
  server.context = g_main_context_new ();
  server.loop = g_main_loop_new (server.context, FALSE);
  server.socket_path = our_sock;
  g_mutex_init (&server.mutex);
  g_cond_init (&server.cond);
  thread = g_thread_new ("bench-server", server_thread, &server);
  g_mutex_lock (&server.mutex);
  while (!server.ready)
    g_cond_wait (&server.cond, &server.mutex);
  g_mutex_unlock (&server.mutex);

  printf ("# testpmd virtio_user front-end (io forwarding, --tx-first, forwarding lcore on CPU 0, --no-huge)\n");
  printf ("# against DPDK's vhost PMD (testpmd io forwarding, lcore on CPU 1) and vhost-glib's echo device\n");
  printf ("# (worker on CPU 1, busy-poll %d us); median Rx-pps of each %d s run, median of %d alternating runs\n",
          busy_poll_us, seconds, rounds);
  printf ("%-7s %16s %16s %8s\n", "ring", "DPDK vhost pps", "vhost-glib pps", "ratio");
  for (int packed = 0; packed <= 1; packed++)
    {
      double theirs[16], ours[16];

      /* Alternate the two back-ends, `rounds` runs each, and compare medians: this
       * machine's speed drifts over tens of seconds. */
      g_atomic_int_set (&server.device->dropped, 0);
      for (gint round = 0; round < rounds; round++)
        {
          BenchPeer *be = bench_peer_start (dir, packed ? "dpdk-vhost-packed" : "dpdk-vhost-split", be_argv);

          bench_peer_wait_for_socket (be, dpdk_sock, 60000);
          theirs[round] = run_front_end (dir, dpdk_sock, packed, "dpdk");
          bench_peer_stop (be, 10000);
          g_unlink (dpdk_sock);
          ours[round] = run_front_end (dir, our_sock, packed, "vhost-glib");
          printf ("#   %s round %d: DPDK %.0f, vhost-glib %.0f\n", packed ? "packed" : "split", round + 1,
                  theirs[round], ours[round]);
          fflush (stdout);
        }
      qsort (theirs, rounds, sizeof (double), (int (*) (const void *, const void *)) compare_double);
      qsort (ours, rounds, sizeof (double), (int (*) (const void *, const void *)) compare_double);
      printf ("%-7s %16.0f %16.0f %8.2f   (vhost-glib dropped %d frames without a receive buffer)\n",
              packed ? "packed" : "split", theirs[rounds / 2], ours[rounds / 2], ours[rounds / 2] / theirs[rounds / 2],
              g_atomic_int_get (&server.device->dropped));
      fflush (stdout);
    }

  g_main_loop_quit (server.loop);
  g_thread_join (thread);
  g_main_loop_unref (server.loop);
  g_main_context_unref (server.context);
  bench_remove_dir (dir);
  return 0;
}
