/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Net echo packet rate: testpmd's virtio_user front-end against DPDK's vhost PMD and against the vhost-user-net
 * program's echo (--echo), each back-end a process pinned to CPU 1. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "bench-common.h"

static gint seconds = 5;
static gint busy_poll_us = 1000;
static gint rounds = 6;
static gboolean only_ours;
static gboolean only_packed;

#define MAX_ROUNDS 32

typedef struct
{
  double dpdk, ours;
  double rtt_ns[3];
  BenchPlacement placement;
} Round;

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
  /* The upper median: a short run has few samples, and one taken before the
   * traffic started (0) would pull the mean of the middle two down to half. */
  g_array_sort (samples, bench_compare_double);
  return g_array_index (samples, double, samples->len / 2);
}

/* Wait up to `timeout_ms` for the front-end's first statistics, printed once its port
 * forwards; FALSE if they do not come (or it exits). */
static gboolean
wait_for_first_sample (VhostPeer *fe, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < deadline && !vhost_peer_has_exited (fe))
    {
      g_autofree char *log = vhost_peer_get_log (fe);

      if (strstr (log, "Rx-pps:") != NULL)
        return TRUE;
      g_usleep (20 * 1000);
    }
  return FALSE;
}

/* Run the front-end against `socket_path` for `seconds` from its first statistics
 * (its start-up, which takes longer on a busy machine, is not part of the run);
 * returns its receive rate. */
static double
run_front_end (const char *dir, const char *socket_path, gboolean packed, const char *label)
{
  g_autofree char *vdev = g_strdup_printf ("net_virtio_user0,path=%s,queues=1%s", socket_path,
                                           packed ? ",packed_vq=1" : "");
  static guint runs;
  /* A log of its own per run. */
  g_autofree char *name = g_strdup_printf ("front-end-%s-%s-%u", label, packed ? "packed" : "split", ++runs);
  /* stdbuf: testpmd's statistics reach its log line by line, not when a stdio
   * buffer fills, so that the run can start at the first of them. */
  const char *argv[] = { "stdbuf", "-oL", "dpdk-testpmd", "--lcores", "0@1,1@0", "--file-prefix=vhost-bench-fe",
                         "--no-pci", "--no-huge", "-m", "512", "--vdev", vdev, "--", "--forward-mode=io",
                         "--auto-start", "--nb-cores=1", "--tx-first", "--total-num-mbufs=8192", "--stats-period",
                         "1", NULL };
  /* --tx-first sends one burst and forwards what comes back: if the back-end
   * drops that burst (its port not ready yet), nothing ever circulates. Such a
   * run shows no traffic at all; it is started again, at most three times. */
  for (guint attempt = 1;; attempt++)
    {
      VhostPeer *fe = vhost_peer_start (dir, name, "coreutils", argv);
      g_autofree char *log = NULL;
      double pps = 0;

      if (wait_for_first_sample (fe, 60000))
        {
          g_usleep (seconds * G_USEC_PER_SEC);
          vhost_peer_send_signal (fe, SIGINT);
          vhost_peer_wait_exit (fe, 10000, NULL);
        }
      log = vhost_peer_get_log (fe);
      vhost_peer_free (fe);
      pps = median_rx_pps (log);
      if (pps > 0)
        return pps;
      if (attempt == 3)
        g_error ("no Rx-pps from the front-end against %s in %u runs; the last log:\n%s", label, attempt, log);
      printf ("#   no traffic against %s (the first burst was lost); running the front-end again\n", label);
    }
}

/* The echo of vhost-user-net for one front-end run: started, measured, stopped with
 * SIGTERM, after which it logs its counters; returns the rate and adds the frames
 * it dropped to `dropped`. */
static double
run_tool (const char *dir, const char *socket_path, gboolean packed, guint64 *dropped)
{
  g_autofree char *busy_poll = g_strdup_printf ("--busy-poll-us=%d", busy_poll_us);
  const char *argv[] = { bench_tool_path ("VHOST_USER_NET", VHOST_USER_NET_BUILT), "--socket-path", socket_path,
                         "--echo", busy_poll, NULL };
  VhostPeer *be = bench_back_end_start (dir, packed ? "vhost-user-net-packed" : "vhost-user-net-split", "vhost-glib",
                                        argv, socket_path, 30000);
  g_autoptr(GRegex) regex = g_regex_new ("dropped ([0-9]+) received and ([0-9]+) transmitted", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *log = NULL;
  double pps = run_front_end (dir, socket_path, packed, "vhost-user-net");

  vhost_peer_terminate (be, SIGTERM, socket_path);
  log = vhost_peer_get_log (be);
  if (!g_regex_match (regex, log, 0, &match))
    g_error ("no counters in vhost-user-net's log:\n%s", log);
  for (guint i = 1; i <= 2; i++)
    {
      g_autofree char *count = g_match_info_fetch (match, i);

      *dropped += g_ascii_strtoull (count, NULL, 10);
    }
  vhost_peer_free (be);
  return pps;
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 5)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Runs per back-end, alternating (default 6, at most 32)", "N" },
    { "only-vhost-glib", 0, 0, G_OPTION_ARG_NONE, &only_ours, "Skip DPDK's back-end (for profiling)", NULL },
    { "only-packed", 0, 0, G_OPTION_ARG_NONE, &only_packed, "Skip the split ring", NULL },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us, "vhost-user-net's --busy-poll-us (default 1000)",
      "US" },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("- net echo packet rate: vhost-user-net --echo against DPDK's vhost PMD");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *dpdk_sock = g_build_filename (dir, "dpdk.sock", NULL);
  g_autofree char *our_sock = g_build_filename (dir, "vhost-user-net.sock", NULL);
  g_autofree char *be_vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=1", dpdk_sock);
  /* DPDK's vhost PMD echoing: io forwarding on its single port sends each frame back. */
  const char *be_argv[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", "--file-prefix=vhost-bench-be", "--no-pci",
                            "--no-huge", "-m", "512", "--vdev", be_vdev, "--", "--forward-mode=io", "--auto-start",
                            "--nb-cores=1", "--total-num-mbufs=8192", NULL };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  rounds = CLAMP (rounds, 1, MAX_ROUNDS);

  printf ("# testpmd virtio_user front-end (io forwarding, --tx-first, forwarding lcore on CPU 0, --no-huge)\n");
  printf ("# against DPDK's vhost PMD (testpmd io forwarding, lcore on CPU 1) and vhost-user-net --echo\n");
  printf ("# (the built program, taskset -c 1, --busy-poll-us=%d); each back-end started for each run;\n",
          busy_poll_us);
  printf ("# median Rx-pps of each %d s run, %d alternating runs each.\n", seconds, rounds);
  bench_print_placement_rule ();
  for (int packed = only_packed ? 1 : 0; packed <= 1; packed++)
    {
      const char *ring = packed ? "packed" : "split";
      Round all[MAX_ROUNDS];
      guint changed = 0;
      guint64 dropped = 0;

      for (gint round = 0; round < rounds; round++)
        {
          Round *r = &all[round];

          r->dpdk = 0;
          r->rtt_ns[0] = bench_line_round_trip_ns (0, 1);
          if (!only_ours)
            {
              VhostPeer *be = vhost_peer_start (dir, packed ? "dpdk-vhost-packed" : "dpdk-vhost-split", "dpdk",
                                                be_argv);

              vhost_peer_wait_for_socket (be, dpdk_sock, 60000);
              r->dpdk = run_front_end (dir, dpdk_sock, packed, "dpdk");
              vhost_peer_free (be);
              g_unlink (dpdk_sock);
            }
          r->rtt_ns[1] = bench_line_round_trip_ns (0, 1);
          r->ours = run_tool (dir, our_sock, packed, &dropped);
          r->rtt_ns[2] = bench_line_round_trip_ns (0, 1);
          r->placement = bench_placement_of (r->rtt_ns, 3);
          changed += r->placement == BENCH_PLACEMENT_CHANGED;
          printf ("#   %s round %d: DPDK %.0f, vhost-user-net %.0f; line round trip %.0f / %.0f / %.0f ns: %s\n",
                  ring, round + 1, r->dpdk, r->ours, r->rtt_ns[0], r->rtt_ns[1], r->rtt_ns[2],
                  bench_placement_name (r->placement));
          fflush (stdout);
        }
      printf ("%-7s %-30s %6s %14s %18s %7s\n", "ring", "vCPU placement", "rounds", "DPDK vhost pps",
              "vhost-user-net pps", "ratio");
      for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
        {
          double dpdk[MAX_ROUNDS], ours[MAX_ROUNDS], theirs, mine;
          g_autofree char *ratio = NULL;
          guint n = 0;

          for (gint round = 0; round < rounds; round++)
            if (all[round].placement == p)
              {
                dpdk[n] = all[round].dpdk;
                ours[n++] = all[round].ours;
              }
          if (n == 0)
            continue;
          theirs = bench_median (dpdk, n);
          mine = bench_median (ours, n);
          ratio = only_ours ? g_strdup ("-") : g_strdup_printf ("%.2f", mine / theirs);
          printf ("%-7s %-30s %6u %14.0f %18.0f %7s\n", ring, bench_placement_name (p), n, theirs, mine, ratio);
        }
      printf ("%-7s %u of %d rounds not compared (the placement changed); vhost-user-net dropped %" G_GUINT64_FORMAT
              " frames\n",
              ring, changed, rounds, dropped);
      fflush (stdout);
    }

  vhost_peer_remove_dir (dir);
  return 0;
}
