/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 4 KiB random I/O against the vhost-user-blk program and qemu-storage-daemon, each a process pinned to CPU 1, with
 * the same VhostDriver front-end: their null disks (IOPS and kick-to-completion latency), the same image file on
 * tmpfs and on disk (--files: IOPS, latency, the back-end's CPU time per request), and a paced load (--paced);
 * or the vhost-user-blk program's null disk without and with VIRTIO_F_ACCESS_PLATFORM (--iotlb) or an inflight area
 * (--inflight). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>
#include <glib/gstdio.h>
#include <vhost-glib/vhost-glib.h>

#include "bench-common.h"

#define BLOCK 4096
#define CAPACITY (G_GUINT64_CONSTANT (1) << 30)
#define QUEUE_SIZE 128
#define MAX_QUEUES 2
#define MAX_DEPTH 64
/* The depth of the closed-loop run that gives the peer's peak for --paced, and the
 * most requests a paced run keeps in flight. */
#define PACED_DEPTH 32

static gint seconds = 5;
static gint rounds = 3;
static gint busy_poll_us = -1; /* -1: the program's default */
static guint64 extra_features;
static gboolean indirect;
static gboolean iotlb;
static gint64 iotlb_page_size = 4096;
static gboolean inflight;
static gboolean files_mode;
static gboolean paced_mode;
static char *storage_list;
static char *cache_list;
static char *op_list;
static char *depth_list;
static char *queue_list;
static char *file_size_text;
static char *disk_dir;

#define MAX_ROUNDS 16

/* What the front-end offers in one run. */
typedef struct
{
  guint n_queues;     /* each back-end offers as many */
  guint depth;        /* requests in flight per queue; paced: at most */
  gboolean write;     /* random writes, else random reads */
  gboolean time_each; /* time every request; else only at depth 1 (the mean by Little's law) */
  double rate;        /* requests per second, evenly spread over the run and the queues; 0: closed loop */
  guint64 capacity;   /* bytes: the offsets fall below */
  gboolean access_platform; /* VIRTIO_F_ACCESS_PLATFORM: through the back-end's IOTLB (--iotlb-page-size) */
  gboolean no_inflight;     /* VhostDriver:inflight off: the back-end keeps no inflight area */
} Load;

/* Every field a double: the medians go field by field (RESULT_FIELD). */
typedef struct
{
  double iops;
  double mean_us, p50_us, p99_us;
  double cpu_us;      /* the back-end's CPU time per request */
  double cpu_percent; /* the back-end's CPU use over the run, in % of one core */
} Result;

#define RESULT_FIELD(result, k) (((double *) (result))[k])
#define RESULT_N_FIELDS (sizeof (Result) / sizeof (double))
G_STATIC_ASSERT (sizeof (Result) % sizeof (double) == 0);

typedef struct
{
  Result qsd, ours;
  double rtt_ns[3];
  BenchPlacement placement;
} Round;

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

/* The front-end's buffers: a 16-byte header with the status byte after it, and a
 * block of data, per request slot (queue * depth + tag). */
typedef struct
{
  VhostDriver *driver;
  const Load *load;
  guint64 hdr[MAX_QUEUES * MAX_DEPTH], data[MAX_QUEUES * MAX_DEPTH];
  gint64 started[MAX_QUEUES * MAX_DEPTH];
} Front;

static void
submit (Front *f, guint queue, guint tag)
{
  guint slot = queue * f->load->depth + tag;
  guint64 hdr = f->hdr[slot], data = f->data[slot];
  struct virtio_blk_outhdr *h = vhost_driver_get_host_address (f->driver, hdr, 17);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  h->type = f->load->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  h->ioprio = 0;
  h->sector = next_random () % (f->load->capacity / BLOCK) * (BLOCK / 512);
  if (f->load->write)
    {
      VhostDriverBuffer out[2] = { { hdr, 16 }, { data, BLOCK } };
      VhostDriverBuffer in = { hdr + 16, 1 };

      ok = vhost_driver_submit (f->driver, queue, out, 2, &in, 1, tag, &error);
    }
  else
    {
      VhostDriverBuffer out = { hdr, 16 };
      VhostDriverBuffer in[2] = { { data, BLOCK }, { hdr + 16, 1 } };

      ok = vhost_driver_submit (f->driver, queue, &out, 1, in, 2, tag, &error);
    }
  if (!ok)
    g_error ("%s", error->message);
}

/* A completion of `queue`, or FALSE; aborts on a request that failed. */
static gboolean
reap (Front *f, guint queue, guint *tag)
{
  g_autoptr(GError) error = NULL;
  guint64 t;
  guint len;

  if (!vhost_driver_reap (f->driver, queue, &t, &len, &error))
    {
      if (error != NULL)
        g_error ("%s", error->message);
      return FALSE;
    }
  *tag = t;
  if (*(guint8 *) vhost_driver_get_host_address (f->driver, f->hdr[queue * f->load->depth + t] + 16, 1) !=
      VIRTIO_BLK_S_OK)
    g_error ("a %s failed (status %u)", f->load->write ? "write" : "read",
             *(guint8 *) vhost_driver_get_host_address (f->driver, f->hdr[queue * f->load->depth + t] + 16, 1));
  return TRUE;
}

static guint
in_flight (Front *f)
{
  guint n = 0;

  for (guint q = 0; q < f->load->n_queues; q++)
    n += vhost_driver_get_in_flight (f->driver, q);
  return n;
}

/* Closed loop: `depth` requests in flight on every queue until `end_us`; each
 * completion is replaced at once. Returns the completions. */
static gint64
run_closed (Front *f, gint64 end_us, GArray *latencies)
{
  const Load *load = f->load;
  gboolean timed = load->time_each || load->depth == 1;
  gint64 completed = 0;

  /* Deeper runs without time_each read the clock every 1024 completions, so that
   * the front-end spends its time on requests. */
  for (guint q = 0; q < load->n_queues; q++)
    {
      for (guint i = 0; i < load->depth; i++)
        {
          submit (f, q, i);
          f->started[q * load->depth + i] = bench_now_ns ();
        }
      vhost_driver_kick (f->driver, q);
    }
  for (gboolean running = TRUE; running || in_flight (f) > 0;)
    for (guint q = 0; q < load->n_queues; q++)
      {
        gboolean any = FALSE;
        guint tag;

        while (reap (f, q, &tag))
          {
            guint slot = q * load->depth + tag;

            completed++;
            if (timed)
              bench_latency_record (latencies, (bench_now_ns () - f->started[slot]) / 1000.0);
            if (running && (timed || completed % 1024 == 0))
              running = g_get_monotonic_time () < end_us;
            if (running)
              {
                submit (f, q, tag);
                if (timed)
                  f->started[slot] = bench_now_ns ();
                any = TRUE;
              }
          }
        if (any)
          vhost_driver_kick (f->driver, q);
      }
  return completed;
}

/* Open loop: requests at `rate`, the queues in turn, at most `depth` in flight per
 * queue (a request due while its queue is full waits, and its wait counts). Each is
 * timed from when it was due. Returns the completions. */
static gint64
run_paced (Front *f, gint64 end_us, GArray *latencies)
{
  const Load *load = f->load;
  guint free_tags[MAX_QUEUES][MAX_DEPTH], n_free[MAX_QUEUES];
  guint next_queue = 0;
  gint64 completed = 0, end_ns = end_us * 1000;
  BenchPacer pacer;

  for (guint q = 0; q < load->n_queues; q++)
    {
      n_free[q] = load->depth;
      for (guint i = 0; i < load->depth; i++)
        free_tags[q][i] = i;
    }
  /* g_get_monotonic_time() and bench_now_ns() read the same clock. */
  bench_pacer_init (&pacer, load->rate, bench_now_ns ());
  for (;;)
    {
      gint64 now = bench_now_ns (), due;
      gboolean kick[MAX_QUEUES] = { FALSE };

      if (now >= end_ns && in_flight (f) == 0)
        break;
      while (now < end_ns && n_free[next_queue] > 0 && bench_pacer_take (&pacer, now, &due))
        {
          guint q = next_queue, tag = free_tags[q][--n_free[q]];

          submit (f, q, tag);
          f->started[q * load->depth + tag] = due;
          kick[q] = TRUE;
          next_queue = (next_queue + 1) % load->n_queues;
        }
      for (guint q = 0; q < load->n_queues; q++)
        {
          guint tag;

          if (kick[q])
            vhost_driver_kick (f->driver, q);
          while (reap (f, q, &tag))
            {
              bench_latency_record (latencies, (bench_now_ns () - f->started[q * load->depth + tag]) / 1000.0);
              free_tags[q][n_free[q]++] = tag;
              completed++;
            }
        }
    }
  return completed;
}

/* With ACCESS_PLATFORM and an IOTLB filled page by page, the misses of the rings
 * and of every buffer, answered while this thread's context runs: one request on
 * each buffer, before the timed run polls without the context. */
static void
warm_up (Front *f)
{
  for (guint q = 0; q < f->load->n_queues; q++)
    {
      for (guint i = 0; i < f->load->depth; i++)
        submit (f, q, i);
      vhost_driver_kick (f->driver, q);
    }
  while (in_flight (f) > 0)
    {
      guint tag;
      gboolean any = FALSE;

      for (guint q = 0; q < f->load->n_queues; q++)
        while (reap (f, q, &tag))
          any = TRUE;
      if (!any)
        g_main_context_iteration (NULL, FALSE);
    }
}

/* One run of the same VhostDriver front-end against the back-end at `socket_path`
 * (process `back_end`), reaping by polling. */
static Result
run (const char *socket_path, GPid back_end, const Load *load)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (socket_path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) latencies = bench_latency_samples_new ();
  Front f = { 0 };
  BenchCpuWindow cpu;
  gint64 start, completed;
  guint64 blocks;
  Result result = { 0 };
  BenchLatency latency;

  g_assert (load->n_queues <= MAX_QUEUES && load->depth <= MAX_DEPTH);
  if (!vhost_user_master_connect (master, NULL, &error) ||
      (driver = vhost_driver_new (VHOST_BACKEND (master), 16 * 1024 * 1024, &error)) == NULL)
    g_error ("%s: %s", socket_path, error->message);
  vhost_driver_set_access_platform (driver, load->access_platform);
  vhost_driver_set_iotlb_page_size (driver, iotlb_page_size);
  vhost_driver_set_inflight (driver, !load->no_inflight);
  if (!vhost_driver_start (driver, load->n_queues, QUEUE_SIZE,
                           VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                             VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                             (load->n_queues > 1 ? VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) : 0) | extra_features,
                           &error))
    g_error ("%s: %s", socket_path, error->message);
  if (load->access_platform &&
      !(vhost_driver_get_acked_features (driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM)))
    g_error ("%s: VIRTIO_F_ACCESS_PLATFORM was not negotiated", socket_path);
  if (inflight && !load->no_inflight &&
      !(vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
    g_error ("%s: VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD was not negotiated", socket_path);
  f.driver = driver;
  f.load = load;
  /* The data blocks aligned to a page, as a guest's are (O_DIRECT needs at least
   * the logical block size). */
  if (!vhost_driver_alloc (driver, (load->n_queues * load->depth + 1) * BLOCK, &blocks, &error))
    g_error ("%s", error->message);
  blocks = (blocks + BLOCK - 1) / BLOCK * BLOCK;
  for (guint i = 0; i < load->n_queues * load->depth; i++)
    {
      if (!vhost_driver_alloc (driver, 64, &f.hdr[i], &error))
        g_error ("%s", error->message);
      f.data[i] = blocks + i * BLOCK;
      /* Data to write that no back-end can take for zeroes. */
      for (guint k = 0; k < BLOCK / 8; k++)
        ((guint64 *) vhost_driver_get_host_address (driver, f.data[i], BLOCK))[k] = next_random ();
    }

  if (load->access_platform)
    warm_up (&f);

  bench_cpu_window_begin (&cpu, back_end);
  start = g_get_monotonic_time ();
  if (load->rate > 0)
    completed = run_paced (&f, start + seconds * G_USEC_PER_SEC, latencies);
  else
    completed = run_closed (&f, start + seconds * G_USEC_PER_SEC, latencies);
  result.iops = completed / ((g_get_monotonic_time () - start) / 1e6);
  bench_cpu_window_end (&cpu);
  result.cpu_us = completed > 0 ? cpu.cpu_s * 1e6 / completed : 0;
  result.cpu_percent = bench_cpu_window_percent (&cpu);
  latency = bench_latency_of (latencies);
  result.mean_us = latency.mean_us;
  result.p50_us = latency.p50_us;
  result.p99_us = latency.p99_us;
  if (latencies->len == 0)
    /* Little's law: the mean time in flight at a constant depth. */
    result.mean_us = load->n_queues * load->depth * 1e6 / result.iops;
  if (!vhost_driver_stop (driver, &error))
    g_error ("%s", error->message);
  return result;
}

/* The medians of `n_rounds` rounds taken with vCPU placement `p`, each back-end's
 * results field by field; the number of such rounds. */
static guint
median_of_placement (BenchPlacement p, const Round *all, guint n_rounds, Result *qsd, Result *ours)
{
  double values[2][RESULT_N_FIELDS][MAX_ROUNDS];
  guint n = 0;

  for (guint i = 0; i < n_rounds; i++)
    if (all[i].placement == p)
      {
        for (guint k = 0; k < RESULT_N_FIELDS; k++)
          {
            values[0][k][n] = RESULT_FIELD (&all[i].qsd, k);
            values[1][k][n] = RESULT_FIELD (&all[i].ours, k);
          }
        n++;
      }
  for (guint k = 0; n > 0 && k < RESULT_N_FIELDS; k++)
    {
      RESULT_FIELD (qsd, k) = bench_median (values[0][k], n);
      RESULT_FIELD (ours, k) = bench_median (values[1][k], n);
    }
  return n;
}

/* One line per placement seen: the medians of its rounds. Percentiles are measured
 * at depth 1 only; deeper runs give the mean by Little's law. */
/* With --iotlb or --inflight, "qsd" is vhost-user-blk without the feature and
 * "ours" the same program with it. */
static const char *
qsd_name (void)
{
  return iotlb || inflight ? "without" : "qsd";
}

static const char *
ours_name (void)
{
  return iotlb ? "with ACCESS_PLATFORM" : inflight ? "with the inflight area" : "vhost-user-blk";
}

static void
print_summary (guint depth, const Round *all, guint n_rounds)
{
  for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
    {
      Result qsd, ours;
      guint n = median_of_placement (p, all, n_rounds, &qsd, &ours);

      if (n == 0)
        continue;
      printf ("%-6u %-30s %6u %12.0f %12.0f %6.2f %8.2f %8.2f", depth, bench_placement_name (p), n, qsd.iops,
              ours.iops, ours.iops / qsd.iops, qsd.mean_us, ours.mean_us);
      if (depth == 1)
        printf (" %8.2f %8.2f\n", qsd.p99_us, ours.p99_us);
      else
        printf (" %8s %8s\n", "-", "-");
      /* The time each request costs the back-end, 1 / IOPS, with the feature
       * against without. */
      if (iotlb || inflight)
        printf ("%-6u per-request cost %s: %.3f times, %+.0f ns\n", depth, ours_name (), qsd.iops / ours.iops,
                1e9 / ours.iops - 1e9 / qsd.iops);
    }
}

/* The two back-ends of a round: qemu-storage-daemon and vhost-user-blk, or with
 * --iotlb or --inflight vhost-user-blk without and with the feature (both
 * "sockets" its). */
typedef struct
{
  const char *qsd_sock, *our_sock;
  GPid qsd_pid, our_pid;
  Load load;
} Pair;

/* Alternating rounds of `pair`'s load against both back-ends, the line round trip
 * taken before, between and after the two runs; a comment line per round. The
 * rounds whose placement changed. */
static guint
run_rounds (Round *all, const char *label, const Pair *pair)
{
  guint changed = 0;

  for (gint i = 0; i < rounds; i++)
    {
      Round *r = &all[i];

      Load without = pair->load, with = pair->load;

      without.no_inflight = inflight;
      with.access_platform = iotlb;
      r->rtt_ns[0] = bench_line_round_trip_ns (0, 1);
      r->qsd = run (pair->qsd_sock, pair->qsd_pid, &without);
      r->rtt_ns[1] = bench_line_round_trip_ns (0, 1);
      r->ours = run (pair->our_sock, pair->our_pid, &with);
      r->rtt_ns[2] = bench_line_round_trip_ns (0, 1);
      r->placement = bench_placement_of (r->rtt_ns, 3);
      changed += r->placement == BENCH_PLACEMENT_CHANGED;
      printf ("#   %s round %d: %s %.0f IOPS, %s %.0f IOPS; line round trip %.0f / %.0f / %.0f ns: %s\n", label, i + 1,
              qsd_name (), r->qsd.iops, ours_name (), r->ours.iops,
              r->rtt_ns[0], r->rtt_ns[1], r->rtt_ns[2], bench_placement_name (r->placement));
      fflush (stdout);
    }
  return changed;
}

/* How vhost-user-blk polls, for the headers. */
static const char *
busy_poll_label (void)
{
  static char label[64];

  if (busy_poll_us < 0)
    return "its default --busy-poll-us";
  g_snprintf (label, sizeof label, "--busy-poll-us=%d", busy_poll_us);
  return label;
}

/* Issue 3's benchmark: the null disks, depth 1 and 32, one queue. */
static void
bench_null (const char *dir)
{
  g_autofree char *qsd_sock = g_build_filename (dir, "qsd.sock", NULL);
  g_autofree char *our_sock = g_build_filename (dir, "vhost-user-blk.sock", NULL);
  g_autofree char *null_size = g_strdup_printf ("--null=%" G_GUINT64_FORMAT, CAPACITY);
  g_autofree char *busy_poll = busy_poll_us >= 0 ? g_strdup_printf ("--busy-poll-us=%d", busy_poll_us) : NULL;
  g_autofree char *blockdev = g_strdup_printf ("driver=null-co,node-name=d,size=%" G_GUINT64_FORMAT, CAPACITY);
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on", qsd_sock);
  /* Both back-ends on CPU 1 (bench_back_end_start()), the front-end on CPU 0. */
  const char *qsd_argv[] = { "qemu-storage-daemon", "--blockdev", blockdev, "--export", export, NULL };
  const char *our_argv[] = { bench_tool_path ("VHOST_USER_BLK", VHOST_USER_BLK_BUILT), "--socket-path", our_sock,
                             null_size, busy_poll, NULL };
  const guint depths[] = { 1, 32 };
  VhostPeer *qsd, *ours;
  Pair pair = { .qsd_sock = qsd_sock,
                .our_sock = our_sock,
                .load = { .n_queues = 1, .depth = 1, .capacity = CAPACITY } };

  qsd = iotlb || inflight ? NULL : bench_back_end_start (dir, "qemu-storage-daemon", "qemu-utils", qsd_argv, qsd_sock, 30000);
  ours = bench_back_end_start (dir, "vhost-user-blk", "vhost-glib", our_argv, our_sock, 30000);
  pair.our_pid = vhost_peer_get_pid (ours);
  if (iotlb || inflight)
    {
      pair.qsd_sock = our_sock;
      pair.qsd_pid = pair.our_pid;
    }
  else
    pair.qsd_pid = vhost_peer_get_pid (qsd);

  printf ("# 4 KiB random reads, one queue of 128, VhostDriver polling for completions, %d s per run\n", seconds);
  printf ("# vhost-user-blk: the built program, %s %s; %s\n", null_size, busy_poll_label (),
          iotlb      ? "first without, then with VIRTIO_F_ACCESS_PLATFORM"
          : inflight ? "first without, then with an inflight area (INFLIGHT_SHMFD)"
                     : "qemu-storage-daemon: null-co");
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
      g_autofree char *label = g_strdup_printf ("depth %u", depths[i]);
      Round all[MAX_ROUNDS];
      guint changed;

      pair.load.depth = depths[i];
      changed = run_rounds (all, label, &pair);
      if (iotlb || inflight)
        printf ("%-6s %-30s %6s %12s %12s %6s %8s %8s %8s %8s\n", "depth", "vCPU placement", "rounds", "plain IOPS",
                iotlb ? "iotlb IOPS" : "infl. IOPS", "ratio", "pl. mean", "with mean", "pl. p99", "with p99");
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
}

/* Where an image lives: a tmpfs file (memory speed: the back-ends' own costs show)
 * or a file on the machine's disk. */
typedef struct
{
  const char *name;
  char *dir;
} Storage;

/* A comma-separated list of words, each one of `allowed`; exits on another. */
static GStrv
parse_words (const char *option, const char *text, const char *const *allowed)
{
  GStrv words = g_strsplit (text, ",", 0);

  for (guint i = 0; words[i] != NULL; i++)
    if (!g_strv_contains (allowed, words[i]))
      {
        g_autofree char *choices = g_strjoinv (", ", (char **) allowed);

        g_printerr ("--%s: '%s' is not one of %s\n", option, words[i], choices);
        exit (2);
      }
  return words;
}

/* A comma-separated list of numbers in [1, max]; exits on another. */
static GArray *
parse_numbers (const char *option, const char *text, guint max)
{
  g_auto(GStrv) words = g_strsplit (text, ",", 0);
  GArray *numbers = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; words[i] != NULL; i++)
    {
      guint64 n;

      if (!g_ascii_string_to_unsigned (words[i], 10, 1, max, &n, NULL))
        {
          g_printerr ("--%s: '%s' is not a number from 1 to %u\n", option, words[i], max);
          exit (2);
        }
      g_array_append_val (numbers, (guint) { n });
    }
  return numbers;
}

/* Check that `dir` is (or, for the disk, is not) on tmpfs. */
static void
check_file_system (const Storage *storage)
{
  struct statfs st;
  gboolean tmpfs;

  if (g_mkdir_with_parents (storage->dir, 0755) < 0 || statfs (storage->dir, &st) < 0)
    g_error ("%s: %s", storage->dir, g_strerror (errno));
  tmpfs = st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC;
  if (tmpfs != (strcmp (storage->name, "tmpfs") == 0))
    g_error ("%s is %son tmpfs: the %s image needs a directory %s (--disk-dir)", storage->dir, tmpfs ? "" : "not ",
             storage->name, tmpfs ? "on a disk" : "on tmpfs");
}

/* An image of `size` bytes of data (no holes: a hole reads without I/O), written
 * through to the device. */
static char *
create_image (const Storage *storage, guint64 size)
{
  char *path = g_strdup_printf ("%s/bench-blk-%s-%d.img", storage->dir, storage->name, (int) getpid ());
  g_autofree guint64 *chunk = g_new (guint64, 1024 * 1024 / 8);
  int fd;

  check_file_system (storage);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    g_error ("%s: %s", path, g_strerror (errno));
  for (guint64 done = 0; done < size; done += 1024 * 1024)
    {
      gsize n = MIN (size - done, 1024 * 1024);

      for (guint k = 0; k < 1024 * 1024 / 8; k++)
        chunk[k] = next_random ();
      if (write (fd, chunk, n) != (gssize) n)
        g_error ("writing %s: %s", path, g_strerror (errno));
    }
  if (fsync (fd) < 0 || close (fd) < 0)
    g_error ("%s: %s", path, g_strerror (errno));
  return path;
}

/* Whether `path` opens with O_DIRECT (tmpfs takes it since Linux 6.6). */
static gboolean
direct_works (const char *path)
{
  int fd = open (path, O_RDONLY | O_DIRECT | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

/* Both back-ends on the same image, with `n_queues` queues. qemu-storage-daemon
 * serves it from an iothread (QEMU's adaptive polling) with aio=io_uring, or with
 * aio=native and cache.direct=on for O_DIRECT; vhost-user-blk through io_uring,
 * buffered or --direct. */
static void
start_file_back_ends (const char *dir, const char *image, gboolean direct, guint n_queues, Pair *pair,
                      VhostPeer **qsd, VhostPeer **ours)
{
  static guint serial;
  g_autofree char *qsd_sock = g_strdup_printf ("%s/qsd-%u.sock", dir, ++serial);
  g_autofree char *our_sock = g_strdup_printf ("%s/vhost-user-blk-%u.sock", dir, serial);
  g_autofree char *file = g_strdup_printf ("driver=file,node-name=f,filename=%s,aio=%s,cache.direct=%s", image,
                                           direct ? "native" : "io_uring", direct ? "on" : "off");
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on,num-queues=%u,iothread=iothread0", qsd_sock, n_queues);
  g_autofree char *queues = g_strdup_printf ("--num-queues=%u", n_queues);
  g_autofree char *busy_poll = busy_poll_us >= 0 ? g_strdup_printf ("--busy-poll-us=%d", busy_poll_us) : NULL;
  const char *qsd_argv[] = { "qemu-storage-daemon", "--object", "iothread,id=iothread0", "--blockdev", file,
                             "--blockdev", "driver=raw,node-name=d,file=f", "--export", export, NULL };
  const char *our_argv[] = { bench_tool_path ("VHOST_USER_BLK", VHOST_USER_BLK_BUILT), "--socket-path", our_sock,
                             "--blk-file", image, queues, direct ? "--direct" : busy_poll, direct ? busy_poll : NULL,
                             NULL };

  *qsd = bench_back_end_start (dir, "qemu-storage-daemon", "qemu-utils", qsd_argv, qsd_sock, 30000);
  *ours = bench_back_end_start (dir, "vhost-user-blk", "vhost-glib", our_argv, our_sock, 30000);
  pair->qsd_sock = g_intern_string (qsd_sock);
  pair->our_sock = g_intern_string (our_sock);
  pair->qsd_pid = vhost_peer_get_pid (*qsd);
  pair->our_pid = vhost_peer_get_pid (*ours);
}

static void
stop_back_ends (const Pair *pair, VhostPeer *qsd, VhostPeer *ours)
{
  vhost_peer_terminate (ours, SIGTERM, pair->our_sock);
  vhost_peer_free (ours);
  vhost_peer_free (qsd);
}

static const char *const storage_names[] = { "tmpfs", "disk", NULL };
static const char *const cache_names[] = { "buffered", "direct", NULL };
static const char *const op_names[] = { "read", "write", NULL };

/* What --files and --paced go through. */
typedef struct
{
  GStrv storages, caches, ops;
  GArray *depths, *queues;
  guint64 size;
} Matrix;

static void
matrix_clear (Matrix *m)
{
  g_strfreev (m->storages);
  g_strfreev (m->caches);
  g_strfreev (m->ops);
  g_array_unref (m->depths);
  g_array_unref (m->queues);
}

/* For each storage and cache mode of the matrix: an image, then `func` for each
 * number of queues with both back-ends started on it. */
typedef void (*MatrixFunc) (const Matrix *m, const char *storage, const char *cache, Pair *pair);

static void
for_each_back_end_pair (const char *dir, const Matrix *m, MatrixFunc func)
{
  for (guint s = 0; m->storages[s] != NULL; s++)
    {
      Storage storage = { m->storages[s], g_strdup (strcmp (m->storages[s], "tmpfs") == 0 ? "/dev/shm" : disk_dir) };
      g_autofree char *image = create_image (&storage, m->size);

      for (guint c = 0; m->caches[c] != NULL; c++)
        {
          gboolean direct = strcmp (m->caches[c], "direct") == 0;

          if (direct && !direct_works (image))
            {
              printf ("# %s: O_DIRECT is refused on %s: no direct runs\n", storage.name, storage.dir);
              continue;
            }
          for (guint q = 0; q < m->queues->len; q++)
            {
              Pair pair = { 0 };
              VhostPeer *qsd, *ours;

              pair.load.n_queues = g_array_index (m->queues, guint, q);
              pair.load.capacity = m->size;
              pair.load.time_each = TRUE;
              start_file_back_ends (dir, image, direct, pair.load.n_queues, &pair, &qsd, &ours);
              func (m, storage.name, m->caches[c], &pair);
              stop_back_ends (&pair, qsd, ours);
            }
        }
      g_unlink (image);
      g_free (storage.dir);
    }
}

static void
files_one_pair (const Matrix *m, const char *storage, const char *cache, Pair *pair)
{
  for (guint o = 0; m->ops[o] != NULL; o++)
    for (guint d = 0; d < m->depths->len; d++)
      {
        g_autofree char *label = NULL;
        Round all[MAX_ROUNDS];
        guint changed;

        pair->load.write = strcmp (m->ops[o], "write") == 0;
        pair->load.depth = g_array_index (m->depths, guint, d);
        label = g_strdup_printf ("%s %s %s %u queue(s) depth %u", storage, cache, m->ops[o], pair->load.n_queues,
                                 pair->load.depth);
        changed = run_rounds (all, label, pair);
        for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
          {
            Result qsd, ours;
            guint n = median_of_placement (p, all, rounds, &qsd, &ours);

            if (n == 0)
              continue;
            printf ("%-6s %-8s %-5s %6u %5u %-9s %6u %9.0f %9.0f %5.2f %8.1f %8.1f %5.2f %8.1f %8.1f %5.2f %7.2f %7.2f "
                    "%5.2f\n",
                    storage, cache, m->ops[o], pair->load.n_queues, pair->load.depth, bench_placement_short_name (p), n,
                    qsd.iops, ours.iops, ours.iops / qsd.iops, qsd.mean_us, ours.mean_us, ours.mean_us / qsd.mean_us,
                    qsd.p99_us, ours.p99_us, ours.p99_us / qsd.p99_us, qsd.cpu_us, ours.cpu_us,
                    ours.cpu_us / qsd.cpu_us);
          }
        if (changed > 0)
          printf ("#   %u of %d rounds not compared (the placement changed)\n", changed, rounds);
        fflush (stdout);
      }
}

/* --files: the same image file served by both back-ends. */
static void
bench_files (const char *dir, const Matrix *m)
{
  printf ("# 4 KiB random I/O on an image of %" G_GUINT64_FORMAT " MiB, queues of %u, VhostDriver polling for "
          "completions, %d s per run, every request timed\n",
          m->size >> 20, QUEUE_SIZE, seconds);
  printf ("# vhost-user-blk: the built program, --blk-file (io_uring), buffered or --direct, %s, its default\n",
          busy_poll_label ());
  printf ("# threads (one per queue, at most one per CPU it may run on: one here);\n");
  printf ("# qemu-storage-daemon: an iothread, aio=io_uring (buffered) or aio=native,cache.direct=on (direct)\n");
  printf ("# tmpfs: /dev/shm; disk: %s; front-end on CPU 0, each back-end on CPU 1; event idx%s\n", disk_dir,
          indirect ? ", indirect descriptors" : "");
  printf ("# depth is per queue; medians per placement; latency in us; cpu: the back-end's CPU time per\n");
  printf ("# request in us (utime + stime of the process over the run); each ratio is vhost-user-blk's over\n");
  printf ("# qemu-storage-daemon's\n");
  bench_print_placement_rule ();
  printf ("%-6s %-8s %-5s %6s %5s %-9s %6s %9s %9s %5s %8s %8s %5s %8s %8s %5s %7s %7s %5s\n", "file", "cache", "op",
          "queues", "depth", "placement", "rounds", "qsd IOPS", "our IOPS", "ratio", "qsd mean", "our mean", "ratio",
          "qsd p99", "our p99", "ratio", "qsd cpu", "our cpu", "ratio");
  fflush (stdout);
  for_each_back_end_pair (dir, m, files_one_pair);
}

/* A paced round: the peer's peak (closed loop), then each fraction of it offered
 * to both back-ends in turn. */
typedef struct
{
  double peak;
  Round at[BENCH_N_PACED];
  double rtt_ns[3];
  BenchPlacement placement;
} PacedRound;

static void
paced_one_pair (const Matrix *m, const char *storage, const char *cache, Pair *pair)
{
  for (guint o = 0; m->ops[o] != NULL; o++)
    {
      PacedRound all[MAX_ROUNDS];
      Load peak_load;

      pair->load.write = strcmp (m->ops[o], "write") == 0;
      pair->load.depth = PACED_DEPTH;
      peak_load = pair->load;
      for (gint i = 0; i < rounds; i++)
        {
          PacedRound *r = &all[i];

          r->rtt_ns[0] = bench_line_round_trip_ns (0, 1);
          r->peak = run (pair->qsd_sock, pair->qsd_pid, &peak_load).iops;
          r->rtt_ns[1] = bench_line_round_trip_ns (0, 1);
          for (guint k = 0; k < BENCH_N_PACED; k++)
            {
              pair->load.rate = r->peak * bench_paced_fractions[k];
              r->at[k].qsd = run (pair->qsd_sock, pair->qsd_pid, &pair->load);
              r->at[k].ours = run (pair->our_sock, pair->our_pid, &pair->load);
            }
          pair->load.rate = 0;
          r->rtt_ns[2] = bench_line_round_trip_ns (0, 1);
          r->placement = bench_placement_of (r->rtt_ns, 3);
          printf ("#   %s %s %s round %d: qsd's peak %.0f IOPS; line round trip %.0f / %.0f / %.0f ns: %s\n", storage,
                  cache, m->ops[o], i + 1, r->peak, r->rtt_ns[0], r->rtt_ns[1], r->rtt_ns[2],
                  bench_placement_name (r->placement));
          for (guint k = 0; k < BENCH_N_PACED; k++)
            printf ("#     %.0f %%: CPU qsd %.1f %%, vhost-user-blk %.1f %%; p99 qsd %.1f us, vhost-user-blk %.1f us\n",
                    100 * bench_paced_fractions[k], r->at[k].qsd.cpu_percent, r->at[k].ours.cpu_percent,
                    r->at[k].qsd.p99_us, r->at[k].ours.p99_us);
          fflush (stdout);
        }
      for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
        for (guint k = 0; k < BENCH_N_PACED; k++)
          {
            Round at[MAX_ROUNDS];
            double peaks[MAX_ROUNDS];
            Result qsd, ours;
            guint n = 0;

            for (gint i = 0; i < rounds; i++)
              {
                at[i] = all[i].at[k];
                at[i].placement = all[i].placement;
                if (all[i].placement == p)
                  peaks[n++] = all[i].peak;
              }
            if (n == 0)
              continue;
            median_of_placement (p, at, rounds, &qsd, &ours);
            printf ("%-6s %-8s %-5s %-9s %6u %4.0f%% %9.0f %9.0f %9.0f %6.1f %6.1f %7.2f %7.2f %5.2f %7.1f %7.1f "
                    "%7.1f %7.1f %5.2f\n",
                    storage, cache, m->ops[o], bench_placement_short_name (p), n, 100 * bench_paced_fractions[k],
                    bench_median (peaks, n) * bench_paced_fractions[k], qsd.iops, ours.iops, qsd.cpu_percent,
                    ours.cpu_percent, qsd.cpu_us, ours.cpu_us, ours.cpu_us / qsd.cpu_us, qsd.p50_us, ours.p50_us,
                    qsd.p99_us, ours.p99_us, ours.p99_us / qsd.p99_us);
          }
      fflush (stdout);
    }
}

/* --paced: 10, 25 and 50 % of qemu-storage-daemon's peak, offered to both. */
static void
bench_paced (const char *dir, const Matrix *m)
{
  printf ("# paced 4 KiB random I/O on an image of %" G_GUINT64_FORMAT " MiB, one queue of %u, %d s per run:\n",
          m->size >> 20, QUEUE_SIZE, seconds);
  printf ("# qemu-storage-daemon's peak (closed loop, depth %d) measured in each round, then each fraction of it\n",
          PACED_DEPTH);
  printf ("# offered to both back-ends at even intervals (at most %d in flight), each request timed from when it\n",
          PACED_DEPTH);
  printf ("# was due; back-ends as for --files (vhost-user-blk with %s); cpu%%: the back-end's CPU use in\n",
          busy_poll_label ());
  printf ("# %% of one core; cpu/req in us; latency in us; each ratio is vhost-user-blk's over\n");
  printf ("# qemu-storage-daemon's\n");
  bench_print_placement_rule ();
  printf ("%-6s %-8s %-5s %-9s %6s %5s %9s %9s %9s %6s %6s %7s %7s %5s %7s %7s %7s %7s %5s\n", "file", "cache", "op",
          "placement", "rounds", "load", "offered", "qsd IOPS", "our IOPS", "qsd %", "our %", "qsd cpu", "our cpu",
          "ratio", "qsd p50", "our p50", "qsd p99", "our p99", "ratio");
  fflush (stdout);
  for_each_back_end_pair (dir, m, paced_one_pair);
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 5)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Runs per back-end and depth, alternating (default 3, at most 16)",
      "N" },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us,
      "vhost-user-blk's --busy-poll-us (default: the program's)", "US" },
    { "indirect", 0, 0, G_OPTION_ARG_NONE, &indirect, "Ask for VIRTIO_F_INDIRECT_DESC", NULL },
    { "iotlb", 0, 0, G_OPTION_ARG_NONE, &iotlb,
      "Compare vhost-user-blk's null disk without and with VIRTIO_F_ACCESS_PLATFORM (instead of qemu-storage-daemon)",
      NULL },
    { "iotlb-page-size", 0, 0, G_OPTION_ARG_INT64, &iotlb_page_size,
      "With --iotlb: the IOTLB entries' size in bytes, one sent per miss (default 4096; 0: one entry for the "
      "whole memory, sent at start)", "BYTES" },
    { "inflight", 0, 0, G_OPTION_ARG_NONE, &inflight,
      "Compare vhost-user-blk's null disk without and with an inflight area (instead of qemu-storage-daemon)", NULL },
    { "files", 0, 0, G_OPTION_ARG_NONE, &files_mode,
      "Serve the same image file from both back-ends (not their null disks)", NULL },
    { "paced", 0, 0, G_OPTION_ARG_NONE, &paced_mode,
      "Offer 10, 25 and 50 % of qemu-storage-daemon's peak to both, on an image file", NULL },
    { "storage", 0, 0, G_OPTION_ARG_STRING, &storage_list,
      "Where the images live: tmpfs, disk (default both; --paced: tmpfs)", "LIST" },
    { "cache", 0, 0, G_OPTION_ARG_STRING, &cache_list,
      "buffered, direct (O_DIRECT) (default both; --paced: buffered)", "LIST" },
    { "ops", 0, 0, G_OPTION_ARG_STRING, &op_list, "read, write (default both; --paced: read)", "LIST" },
    { "depths", 0, 0, G_OPTION_ARG_STRING, &depth_list, "Requests in flight per queue, --files (default 1,32)",
      "LIST" },
    { "queues", 0, 0, G_OPTION_ARG_STRING, &queue_list, "Numbers of queues, 1 or 2 (default 1,2; --paced: 1)",
      "LIST" },
    { "file-size", 0, 0, G_OPTION_ARG_STRING, &file_size_text, "Bytes per image, K, M, G suffixes (default 1G)",
      "SIZE" },
    { "disk-dir", 0, 0, G_OPTION_ARG_FILENAME, &disk_dir,
      "The directory of the disk image, not on tmpfs (default: bench-data in the build directory)", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("- vhost-user-blk IOPS: the vhost-user-blk program against qemu-storage-daemon");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  Matrix m = { 0 };
  guint64 size = CAPACITY;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  rounds = CLAMP (rounds, 1, MAX_ROUNDS);
  if (indirect)
    extra_features |= VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC);
  if (files_mode + paced_mode + iotlb + inflight > 1)
    {
      g_printerr ("--files, --paced, --iotlb and --inflight are separate benchmarks\n");
      return 2;
    }
  if (iotlb_page_size < 0)
    {
      g_printerr ("--iotlb-page-size: %" G_GINT64_FORMAT " is negative\n", iotlb_page_size);
      return 2;
    }
  if (file_size_text != NULL)
    {
      char *end;

      size = g_ascii_strtoull (file_size_text, &end, 10);
      for (const char *units = "KMG"; *end != '\0' && *units != '\0'; units++)
        if (g_ascii_toupper (*end) == *units)
          size <<= 10 * (units - "KMG" + 1), end++;
      if (*end != '\0' || size < 1024 * 1024 || size % (1024 * 1024) != 0)
        {
          g_printerr ("--file-size: '%s' is not a whole number of MiB\n", file_size_text);
          return 2;
        }
    }
  if (disk_dir == NULL)
    disk_dir = g_strdup (BENCH_DISK_DIR);
  m.storages = parse_words ("storage", storage_list != NULL ? storage_list : paced_mode ? "tmpfs" : "tmpfs,disk",
                            storage_names);
  m.caches = parse_words ("cache", cache_list != NULL ? cache_list : paced_mode ? "buffered" : "buffered,direct",
                          cache_names);
  m.ops = parse_words ("ops", op_list != NULL ? op_list : paced_mode ? "read" : "read,write", op_names);
  m.depths = parse_numbers ("depths", depth_list != NULL ? depth_list : "1,32", MAX_DEPTH);
  m.queues = parse_numbers ("queues", queue_list != NULL ? queue_list : paced_mode ? "1" : "1,2", MAX_QUEUES);
  m.size = size;

  bench_pin_to_cpu (0);
  if (files_mode)
    bench_files (dir, &m);
  else if (paced_mode)
    bench_paced (dir, &m);
  else
    bench_null (dir);
  matrix_clear (&m);
  vhost_peer_remove_dir (dir);
  return 0;
}
