/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 4 KiB random-read IOPS and kick-to-completion latency: the vhost-user-blk program's null disk against
 * qemu-storage-daemon's null-co, each a process pinned to CPU 1, with the same VhostDriver front-end;
 * or (--iotlb) the vhost-user-blk program without and with VIRTIO_F_ACCESS_PLATFORM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_blk.h>
#include <vhost-glib/vhost-glib.h>

#include "bench-common.h"

#define BLOCK 4096
#define CAPACITY (G_GUINT64_CONSTANT (1) << 30)

static gint seconds = 5;
static gint rounds = 3;
static gint busy_poll_us = 32;
static guint64 extra_features;
static gboolean indirect;
static gboolean iotlb;
static gint64 iotlb_page_size = 4096;

#define MAX_ROUNDS 16

typedef struct
{
  double iops;
  double mean_us, p50_us, p99_us;
} Result;

/* The two back-ends of a round: qemu-storage-daemon and vhost-user-blk, or with
 * --iotlb vhost-user-blk without and with ACCESS_PLATFORM. */
typedef struct
{
  Result qsd, ours;
  double rtt_ns[3];
  BenchPlacement placement;
} Round;

/* Nanoseconds: latencies at depth 1 are well under a microsecond. */
static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* xorshift64: cheaper than g_random_*, which takes a lock. */
static guint64
next_random (void)
{
  static guint64 x = 88172645463325252ull;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

static void
submit (VhostDriver *driver, guint64 hdr, guint64 data, guint tag)
{
  struct virtio_blk_outhdr *h = vhost_driver_get_host_address (driver, hdr, 17);
  VhostDriverBuffer out = { hdr, 16 };
  VhostDriverBuffer in[2] = { { data, BLOCK }, { hdr + 16, 1 } };
  g_autoptr(GError) error = NULL;

  h->type = VIRTIO_BLK_T_IN;
  h->ioprio = 0;
  h->sector = next_random () % (CAPACITY / BLOCK) * (BLOCK / 512);
  if (!vhost_driver_submit (driver, 0, &out, 1, in, 2, tag, &error))
    g_error ("%s", error->message);
}

/* With ACCESS_PLATFORM and an IOTLB filled page by page, the misses of the
 * rings and of every buffer, answered while this thread's context runs: one
 * read on each buffer, before the timed run polls without the context. */
static void
warm_up (VhostDriver *driver, const guint64 *hdr, const guint64 *data, guint depth)
{
  g_autoptr(GError) error = NULL;
  guint64 tag;
  guint len;

  for (guint i = 0; i < depth; i++)
    submit (driver, hdr[i], data[i], i);
  vhost_driver_kick (driver, 0);
  while (vhost_driver_get_in_flight (driver, 0) > 0)
    if (!vhost_driver_reap (driver, 0, &tag, &len, &error))
      {
        if (error != NULL)
          g_error ("%s", error->message);
        g_main_context_iteration (NULL, FALSE);
      }
}

/* The same VhostDriver front-end for both back-ends: random 4 KiB reads with
 * `depth` in flight for `seconds`, reaping by polling. With `access_platform`
 * the device goes through the back-end's IOTLB (--iotlb-page-size). */
static Result
run (const char *socket_path, guint depth, gboolean access_platform)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (socket_path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  guint64 hdr[64], data[64];
  gint64 started[64], start, end, completed = 0;
  Result result = { 0 };

  if (!vhost_user_master_connect (master, NULL, &error) ||
      (driver = vhost_driver_new (VHOST_BACKEND (master), 16 * 1024 * 1024, &error)) == NULL)
    g_error ("%s: %s", socket_path, error->message);
  vhost_driver_set_access_platform (driver, access_platform);
  vhost_driver_set_iotlb_page_size (driver, iotlb_page_size);
  if (!vhost_driver_start (driver, 1, 128,
                           VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                             VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | extra_features,
                           &error))
    g_error ("%s: %s", socket_path, error->message);
  if (access_platform &&
      !(vhost_driver_get_acked_features (driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM)))
    g_error ("%s: VIRTIO_F_ACCESS_PLATFORM was not negotiated", socket_path);
  for (guint i = 0; i < depth; i++)
    if (!vhost_driver_alloc (driver, 64, &hdr[i], &error) || !vhost_driver_alloc (driver, BLOCK, &data[i], &error))
      g_error ("%s", error->message);
  if (access_platform)
    warm_up (driver, hdr, data, depth);

  /* Latency is timed at depth 1 only; deeper runs read the clock every 1024
   * completions, so that the front-end spends its time on requests. */
  start = g_get_monotonic_time ();
  end = start + seconds * G_USEC_PER_SEC;
  for (guint i = 0; i < depth; i++)
    {
      submit (driver, hdr[i], data[i], i);
      started[i] = now_ns ();
    }
  vhost_driver_kick (driver, 0);
  for (gboolean running = TRUE; running || vhost_driver_get_in_flight (driver, 0) > 0;)
    {
      guint64 tag;
      guint len;
      gboolean any = FALSE;

      while (vhost_driver_reap (driver, 0, &tag, &len, &error))
        {
          if (*(guint8 *) vhost_driver_get_host_address (driver, hdr[tag] + 16, 1) != VIRTIO_BLK_S_OK)
            g_error ("a read failed");
          completed++;
          if (depth == 1)
            {
              double us = (now_ns () - started[tag]) / 1000.0;

              if (latencies->len < 4000000)
                g_array_append_val (latencies, us);
            }
          if (running && (depth == 1 || completed % 1024 == 0))
            running = g_get_monotonic_time () < end;
          if (running)
            {
              submit (driver, hdr[tag], data[tag], tag);
              if (depth == 1)
                started[tag] = now_ns ();
              any = TRUE;
            }
        }
      if (error != NULL)
        g_error ("%s", error->message);
      if (any)
        vhost_driver_kick (driver, 0);
    }
  result.iops = completed / ((g_get_monotonic_time () - start) / 1e6);
  if (latencies->len > 0)
    {
      g_array_sort (latencies, bench_compare_double);
      for (guint i = 0; i < latencies->len; i++)
        result.mean_us += g_array_index (latencies, double, i) / latencies->len;
      result.p50_us = g_array_index (latencies, double, latencies->len / 2);
      result.p99_us = g_array_index (latencies, double, latencies->len * 99 / 100);
    }
  else
    /* Little's law: the mean time in flight at a constant depth. */
    result.mean_us = depth * 1e6 / result.iops;
  if (!vhost_driver_stop (driver, &error))
    g_error ("%s", error->message);
  return result;
}

/* One line per placement seen: the medians of its rounds. Percentiles are measured
 * at depth 1 only; deeper runs give the mean by Little's law. */
static void
print_summary (guint depth, const Round *all, guint n_rounds)
{
  for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
    {
      /* IOPS, mean and p99 latency; qsd's then ours. */
      double values[6][MAX_ROUNDS], m[6];
      guint n = 0;

      for (guint i = 0; i < n_rounds; i++)
        if (all[i].placement == p)
          {
            const Result *res[2] = { &all[i].qsd, &all[i].ours };

            for (guint b = 0; b < 2; b++)
              {
                values[b][n] = res[b]->iops;
                values[2 + b][n] = res[b]->mean_us;
                values[4 + b][n] = res[b]->p99_us;
              }
            n++;
          }
      if (n == 0)
        continue;
      for (guint k = 0; k < 6; k++)
        m[k] = bench_median (values[k], n);
      printf ("%-6u %-30s %6u %12.0f %12.0f %6.2f %8.2f %8.2f", depth, bench_placement_name (p), n, m[0], m[1],
              m[1] / m[0], m[2], m[3]);
      if (depth == 1)
        printf (" %8.2f %8.2f\n", m[4], m[5]);
      else
        printf (" %8s %8s\n", "-", "-");
      /* The time the back-end gives each request: 1 / IOPS. */
      if (iotlb)
        printf ("%-6u per-request cost with ACCESS_PLATFORM: %.3f times, %+.0f ns\n", depth, m[0] / m[1],
                1e9 / m[1] - 1e9 / m[0]);
    }
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 5)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Runs per back-end and depth, alternating (default 3, at most 16)",
      "N" },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us,
      "vhost-user-blk's --busy-poll-us (default 32, the library's default)", "US" },
    { "indirect", 0, 0, G_OPTION_ARG_NONE, &indirect, "Ask for VIRTIO_F_INDIRECT_DESC", NULL },
    { "iotlb", 0, 0, G_OPTION_ARG_NONE, &iotlb,
      "Compare vhost-user-blk without and with VIRTIO_F_ACCESS_PLATFORM (instead of qemu-storage-daemon)", NULL },
    { "iotlb-page-size", 0, 0, G_OPTION_ARG_INT64, &iotlb_page_size,
      "With --iotlb: the IOTLB entries' size in bytes, one sent per miss (default 4096; 0: one entry for the "
      "whole memory, sent at start)", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("- vhost-user-blk IOPS: the vhost-user-blk program against qemu-storage-daemon");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *qsd_sock = g_build_filename (dir, "qsd.sock", NULL);
  g_autofree char *our_sock = g_build_filename (dir, "vhost-user-blk.sock", NULL);
  g_autofree char *null_size = g_strdup_printf ("--null=%" G_GUINT64_FORMAT, CAPACITY);
  g_autofree char *busy_poll = NULL;
  g_autofree char *blockdev = g_strdup_printf ("driver=null-co,node-name=d,size=%" G_GUINT64_FORMAT, CAPACITY);
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on", qsd_sock);
  /* Both back-ends on CPU 1 (bench_back_end_start()), the front-end on CPU 0. */
  const char *qsd_argv[] = { "qemu-storage-daemon", "--blockdev", blockdev, "--export", export, NULL };
  const char *our_argv[] = { bench_tool_path ("VHOST_USER_BLK", VHOST_USER_BLK_BUILT), "--socket-path", our_sock,
                             null_size, NULL, NULL };
  const guint depths[] = { 1, 32 };
  VhostPeer *qsd, *ours;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  rounds = CLAMP (rounds, 1, MAX_ROUNDS);
  iotlb_page_size = MAX (iotlb_page_size, 0);
  if (indirect)
    extra_features |= VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC);

  busy_poll = g_strdup_printf ("--busy-poll-us=%d", busy_poll_us);
  our_argv[4] = busy_poll;

  qsd = iotlb ? NULL : bench_back_end_start (dir, "qemu-storage-daemon", "qemu-utils", qsd_argv, qsd_sock, 30000);
  ours = bench_back_end_start (dir, "vhost-user-blk", "vhost-glib", our_argv, our_sock, 30000);
  bench_pin_to_cpu (0);

  printf ("# 4 KiB random reads, one queue of 128, VhostDriver polling for completions, %d s per run\n", seconds);
  printf ("# vhost-user-blk: the built program, %s %s; %s\n", null_size, busy_poll,
          iotlb ? "first without, then with VIRTIO_F_ACCESS_PLATFORM" : "qemu-storage-daemon: null-co");
  if (iotlb && iotlb_page_size > 0)
    printf ("# ACCESS_PLATFORM: the driver answers each IOTLB miss with a %" G_GINT64_FORMAT "-byte entry\n",
            iotlb_page_size);
  else if (iotlb)
    printf ("# ACCESS_PLATFORM: one IOTLB entry maps the driver's whole memory\n");
  printf ("# front-end on CPU 0, each back-end on CPU 1; event idx%s\n", indirect ? ", indirect descriptors" : "");
  printf ("# medians per placement of IOPS and of latency in us (mean; p99 at depth 1 only)\n");
  bench_print_placement_rule ();
  for (guint i = 0; i < G_N_ELEMENTS (depths); i++)
    {
      Round all[MAX_ROUNDS];
      guint changed = 0;

      for (gint round = 0; round < rounds; round++)
        {
          Round *r = &all[round];

          r->rtt_ns[0] = bench_line_round_trip_ns (0, 1);
          r->qsd = iotlb ? run (our_sock, depths[i], FALSE) : run (qsd_sock, depths[i], FALSE);
          r->rtt_ns[1] = bench_line_round_trip_ns (0, 1);
          r->ours = run (our_sock, depths[i], iotlb);
          r->rtt_ns[2] = bench_line_round_trip_ns (0, 1);
          r->placement = bench_placement_of (r->rtt_ns, 3);
          changed += r->placement == BENCH_PLACEMENT_CHANGED;
          printf ("#   depth %u round %d: %s %.0f IOPS, %s %.0f IOPS; line round trip %.0f / %.0f / %.0f ns: %s\n",
                  depths[i], round + 1, iotlb ? "without" : "qsd", r->qsd.iops,
                  iotlb ? "with ACCESS_PLATFORM" : "vhost-user-blk", r->ours.iops, r->rtt_ns[0], r->rtt_ns[1],
                  r->rtt_ns[2], bench_placement_name (r->placement));
          fflush (stdout);
        }
      if (iotlb)
        printf ("%-6s %-30s %6s %12s %12s %6s %8s %8s %8s %8s\n", "depth", "vCPU placement", "rounds", "plain IOPS",
                "iotlb IOPS", "ratio", "pl. mean", "io. mean", "pl. p99", "io. p99");
      else
        printf ("%-6s %-30s %6s %12s %12s %6s %8s %8s %8s %8s\n", "depth", "vCPU placement", "rounds", "qsd IOPS",
                "our IOPS", "ratio", "qsd mean", "our mean", "qsd p99", "our p99");
      print_summary (depths[i], all, rounds);
      printf ("%-6u %u of %d rounds not compared (the placement changed)\n", depths[i], changed, rounds);
      fflush (stdout);
    }

  vhost_peer_terminate (ours, SIGTERM, our_sock);
  vhost_peer_free (ours);
  if (qsd != NULL)
    vhost_peer_free (qsd);
  vhost_peer_remove_dir (dir);
  return 0;
}
