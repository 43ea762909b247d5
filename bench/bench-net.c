/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Net echo packet rate: testpmd's virtio_user front-end against DPDK's vhost PMD and against the vhost-user-net
 * program's echo (--echo), each back-end a process pinned to CPU 1; and (--paced) a VhostDriver front-end offering
 * fractions of DPDK's peak to both, for their CPU use and latency at partial load. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <linux/virtio_net.h>
#include <glib/gstdio.h>
#include <vhost-glib/vhost-glib.h>

#include "bench-common.h"

static gint seconds = 5;
static gint busy_poll_us = -1; /* the mode's default: 1000 for the full-rate runs, the program's for --paced */
static gint coalesce_us = -1;  /* the program's default */
static gint rounds = 6;
static gboolean only_ours;
static gboolean only_packed;
static gboolean paced_mode;

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

/* vhost-user-net --echo on `socket_path`, pinned to CPU 1; `busy_poll` < 0 (and
 * --coalesce-us not given) leaves the program's default. */
static VhostPeer *
start_tool (const char *dir, const char *socket_path, gboolean packed, gint busy_poll)
{
  g_autofree char *busy_poll_arg = busy_poll >= 0 ? g_strdup_printf ("--busy-poll-us=%d", busy_poll) : NULL;
  g_autofree char *coalesce_arg = coalesce_us >= 0 ? g_strdup_printf ("--coalesce-us=%d", coalesce_us) : NULL;
  const char *argv[] = { bench_tool_path ("VHOST_USER_NET", VHOST_USER_NET_BUILT), "--socket-path", socket_path,
                         "--echo", coalesce_arg != NULL ? coalesce_arg : busy_poll_arg,
                         coalesce_arg != NULL ? busy_poll_arg : NULL, NULL };

  return bench_back_end_start (dir, packed ? "vhost-user-net-packed" : "vhost-user-net-split", "vhost-glib", argv,
                               socket_path, 30000);
}

/* Stop vhost-user-net with SIGTERM, after which it logs its counters; adds the frames
 * it dropped to `dropped`. */
static void
stop_tool (VhostPeer *be, const char *socket_path, guint64 *dropped)
{
  g_autoptr(GRegex) regex = g_regex_new ("dropped ([0-9]+) received and ([0-9]+) transmitted", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *log = NULL;

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
}

/* The echo of vhost-user-net for one front-end run: started, measured, stopped;
 * returns the rate and adds the frames it dropped to `dropped`. */
static double
run_tool (const char *dir, const char *socket_path, gboolean packed, guint64 *dropped)
{
  VhostPeer *be = start_tool (dir, socket_path, packed, busy_poll_us);
  double pps = run_front_end (dir, socket_path, packed, "vhost-user-net");

  stop_tool (be, socket_path, dropped);
  return pps;
}

/* DPDK's vhost PMD echoing: io forwarding on its single port sends each frame back;
 * its forwarding lcore on CPU 1. */
static VhostPeer *
start_dpdk (const char *dir, const char *socket_path, gboolean packed)
{
  g_autofree char *vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=1", socket_path);
  const char *argv[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", "--file-prefix=vhost-bench-be", "--no-pci",
                         "--no-huge", "-m", "512", "--vdev", vdev, "--", "--forward-mode=io", "--auto-start",
                         "--nb-cores=1", "--total-num-mbufs=8192", NULL };
  VhostPeer *be = vhost_peer_start (dir, packed ? "dpdk-vhost-packed" : "dpdk-vhost-split", "dpdk", argv);

  vhost_peer_wait_for_socket (be, socket_path, 60000);
  return be;
}

static void
stop_dpdk (VhostPeer *be, const char *socket_path)
{
  vhost_peer_free (be);
  g_unlink (socket_path);
}

/* --paced: VhostDriver is the front-end. It sends 64-byte frames on TX, each with a
 * sequence number, and takes them back on RX (both back-ends send each frame back
 * as it is), timing each from when it was due. */
#define RXQ 0
#define TXQ 1
#define NET_QUEUE_SIZE 256
#define HDR_LEN sizeof (struct virtio_net_hdr_mrg_rxbuf)
#define FRAME_LEN 64
#define TX_SLOT 128
#define RX_BUF 2048
/* Frames in flight in the closed-loop run that gives the peak. */
#define PEAK_WINDOW 64
/* Send times by sequence number modulo this: more than can be in flight (both rings). */
#define SEQ_SLOTS 4096

typedef struct
{
  double pps;         /* frames back per second */
  double p50_us, p99_us;
  double cpu_percent; /* the back-end's CPU use, in % of one core */
  double lost;        /* frames that did not come back */
} NetResult;

/* Every field a double: the medians go field by field (median_field()). */
G_STATIC_ASSERT (sizeof (NetResult) % sizeof (double) == 0);

typedef struct
{
  VhostDriver *driver;
  guint64 tx_addr, rx_addr;
  guint tx_free[NET_QUEUE_SIZE], n_tx_free;
  gint64 sent_at[SEQ_SLOTS];
  guint64 sent, received;
  guint64 first_timed; /* the sequence number of the run's first frame: the warm-up's are not timed */
} NetFront;

static void
check (gboolean ok, GError *error)
{
  if (!ok)
    g_error ("%s", error != NULL ? error->message : "failed");
}

static void
send_frame (NetFront *f, gint64 due_ns)
{
  g_autoptr(GError) error = NULL;
  guint slot = f->tx_free[--f->n_tx_free];
  guint64 addr = f->tx_addr + slot * TX_SLOT;
  guint8 *p = vhost_driver_get_host_address (f->driver, addr, HDR_LEN + FRAME_LEN);
  VhostDriverBuffer out = { addr, HDR_LEN + FRAME_LEN };
  guint32 seq = f->sent;

  memcpy (p + HDR_LEN + 14, &seq, sizeof seq);
  check (vhost_driver_submit (f->driver, TXQ, &out, 1, NULL, 0, slot, &error), error);
  f->sent_at[f->sent++ % SEQ_SLOTS] = due_ns;
}

static void
post_rx (NetFront *f, guint tag)
{
  g_autoptr(GError) error = NULL;
  VhostDriverBuffer in = { f->rx_addr + tag * RX_BUF, RX_BUF };

  check (vhost_driver_submit (f->driver, RXQ, NULL, 0, &in, 1, tag, &error), error);
}

/* Reap what came back: each frame timed (into `latencies` if not NULL) and its
 * buffer posted again; the sent chains' slots freed. */
static void
net_reap (NetFront *f, GArray *latencies)
{
  g_autoptr(GError) error = NULL;
  gboolean any = FALSE;
  guint64 tag;
  guint len;

  while (vhost_driver_reap (f->driver, TXQ, &tag, &len, &error))
    f->tx_free[f->n_tx_free++] = tag;
  check (error == NULL, error);
  while (vhost_driver_reap (f->driver, RXQ, &tag, &len, &error))
    {
      guint32 seq;

      memcpy (&seq, (guint8 *) vhost_driver_get_host_address (f->driver, f->rx_addr + tag * RX_BUF, RX_BUF) +
                      HDR_LEN + 14, sizeof seq);
      if (latencies != NULL && seq >= f->first_timed)
        bench_latency_record (latencies, (bench_now_ns () - f->sent_at[seq % SEQ_SLOTS]) / 1000.0);
      f->received++;
      post_rx (f, tag);
      any = TRUE;
    }
  check (error == NULL, error);
  if (any)
    vhost_driver_kick (f->driver, RXQ);
}

/* The run's frames not back yet (the warm-up's left out: DPDK drops some). */
static gint64
out_of_run (const NetFront *f, guint64 received_before)
{
  return (gint64) (f->sent - f->first_timed) - (gint64) (f->received - received_before);
}

/* A back-end may drop what comes before its port is ready (DPDK's vhost PMD does):
 * one frame at a time until one comes back. */
static void
net_warm_up (NetFront *f, const char *socket_path)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (f->received == 0)
    {
      gint64 wait_until = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;

      if (g_get_monotonic_time () > deadline)
        g_error ("%s: no frame came back within 30 s", socket_path);
      if (f->n_tx_free > 0)
        {
          send_frame (f, bench_now_ns ());
          vhost_driver_kick (f->driver, TXQ);
        }
      while (f->received == 0 && g_get_monotonic_time () < wait_until)
        net_reap (f, NULL);
    }
}

/* One run against the back-end at `socket_path` (process `pid`): frames at `rate`
 * per second, or (rate 0) PEAK_WINDOW of them in flight all along. */
static NetResult
net_run (const char *socket_path, GPid pid, gboolean packed, double rate)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (socket_path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) latencies = bench_latency_samples_new ();
  g_autofree NetFront *f = g_new0 (NetFront, 1);
  NetResult result = { 0 };
  BenchCpuWindow cpu;
  BenchPacer pacer;
  BenchLatency latency;
  gint64 end_ns, start_ns, stop_ns;
  guint64 received_before;

  check (vhost_user_master_connect (master, NULL, &error), error);
  driver = vhost_driver_new (VHOST_BACKEND (master), 4 * 1024 * 1024, &error);
  check (driver != NULL, error);
  check (vhost_driver_start (driver, 2, NET_QUEUE_SIZE,
                             VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                               VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) |
                               VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                               (packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0),
                             &error),
         error);
  f->driver = driver;
  check (vhost_driver_alloc (driver, NET_QUEUE_SIZE * TX_SLOT, &f->tx_addr, &error), error);
  check (vhost_driver_alloc (driver, NET_QUEUE_SIZE * RX_BUF, &f->rx_addr, &error), error);
  for (guint i = 0; i < NET_QUEUE_SIZE; i++)
    {
      guint8 *p = vhost_driver_get_host_address (driver, f->tx_addr + i * TX_SLOT, HDR_LEN + FRAME_LEN);

      /* No offloads in the header; a frame of the local experimental ethertype. */
      memset (p, 0, HDR_LEN + FRAME_LEN);
      memcpy (p + HDR_LEN, "\x52\x54\x00\x12\x34\x02\x52\x54\x00\x12\x34\x01\x88\xb5", 14);
      f->tx_free[f->n_tx_free++] = i;
      post_rx (f, i);
    }
  vhost_driver_kick (driver, RXQ);
  net_warm_up (f, socket_path);

  received_before = f->received;
  f->first_timed = f->sent;
  bench_cpu_window_begin (&cpu, pid);
  start_ns = bench_now_ns ();
  end_ns = start_ns + seconds * G_GINT64_CONSTANT (1000000000);
  if (rate > 0)
    bench_pacer_init (&pacer, rate, start_ns);
  for (gint64 now = start_ns; now < end_ns; now = bench_now_ns ())
    {
      gboolean any = FALSE;
      gint64 due = now;

      while (f->n_tx_free > 0 &&
             (rate > 0 ? bench_pacer_take (&pacer, now, &due) : out_of_run (f, received_before) < PEAK_WINDOW))
        {
          send_frame (f, rate > 0 ? due : now);
          any = TRUE;
        }
      if (any)
        vhost_driver_kick (driver, TXQ);
      net_reap (f, latencies);
    }
  stop_ns = bench_now_ns ();
  /* The frames still on their way: 100 ms for them to come back. */
  while (out_of_run (f, received_before) > 0 && bench_now_ns () < stop_ns + 100 * G_GINT64_CONSTANT (1000000))
    net_reap (f, latencies);
  bench_cpu_window_end (&cpu);

  result.pps = (f->received - received_before) / ((stop_ns - start_ns) / 1e9);
  result.cpu_percent = bench_cpu_window_percent (&cpu);
  result.lost = MAX (out_of_run (f, received_before), 0);
  latency = bench_latency_of (latencies);
  result.p50_us = latency.p50_us;
  result.p99_us = latency.p99_us;
  check (vhost_driver_stop (driver, &error), error);
  return result;
}

/* The wake-ups of the back-end's CPU, with no device: a thread on that CPU takes
 * due times from a ring of NET_QUEUE_SIZE slots and does nothing else, sleeping on
 * an eventfd whenever it finds the ring empty (the front-end writes the eventfd,
 * as a kick, when it sees the thread asleep). It wakes on the first due time, the
 * shortest wait a back-end that sleeps can give, so its latency is what the host's
 * wake-ups of an idle vCPU cost; a back-end that sleeps while frames come (which
 * half a core at 25 % of the peak takes) has that cost in its tail too. */
typedef struct
{
  gint64 due[NET_QUEUE_SIZE];
  guint head; /* the front-end's next slot */
  guint tail; /* the sleeper's next slot */
  gint asleep, stop;
  int kick_fd;
  GArray *latencies;
  double cpu_seconds;
} Sleeper;

static double
thread_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static gpointer
sleeper_thread (gpointer data)
{
  Sleeper *s = data;
  guint tail = 0;
  double cpu_start;

  bench_pin_to_cpu (atoi (BENCH_BACK_END_CPU));
  cpu_start = thread_cpu_seconds ();
  for (;;)
    {
      guint head = (guint) g_atomic_int_get (&s->head);
      guint64 count;

      if (tail != head)
        {
          for (; tail != head; tail++)
            bench_latency_record (s->latencies, (bench_now_ns () - s->due[tail % NET_QUEUE_SIZE]) / 1000.0);
          g_atomic_int_set (&s->tail, tail);
          continue;
        }
      if (g_atomic_int_get (&s->stop))
        break;
      /* Say so, then look again (both sequentially consistent): a due time the
       * front-end put after the look comes with a kick. */
      g_atomic_int_set (&s->asleep, 1);
      if ((guint) g_atomic_int_get (&s->head) != tail || g_atomic_int_get (&s->stop))
        {
          g_atomic_int_set (&s->asleep, 0);
          continue;
        }
      if (read (s->kick_fd, &count, sizeof count) < 0 && errno != EINTR)
        g_error ("sleeper: read: %s", g_strerror (errno));
      /* Awake: a kick left over from a look that found work (the front-end wrote
       * before the flag went back to 0) must not keep the front-end kicking. */
      g_atomic_int_set (&s->asleep, 0);
    }
  s->cpu_seconds = thread_cpu_seconds () - cpu_start;
  return NULL;
}

static void
sleeper_wake (Sleeper *s)
{
  guint64 one = 1;

  if (write (s->kick_fd, &one, sizeof one) < 0)
    g_error ("sleeper: write: %s", g_strerror (errno));
}

/* Due times at `rate` per second for the run's seconds, as net_run() sends frames. */
static NetResult
sleeper_run (double rate)
{
  g_autofree Sleeper *s = g_new0 (Sleeper, 1);
  g_autoptr(GArray) latencies = bench_latency_samples_new ();
  NetResult result = { 0 };
  GThread *thread;
  BenchPacer pacer;
  BenchLatency latency;
  gint64 start_ns, end_ns;

  s->kick_fd = eventfd (0, EFD_CLOEXEC);
  if (s->kick_fd < 0)
    g_error ("eventfd: %s", g_strerror (errno));
  s->latencies = latencies;
  thread = g_thread_new ("sleeper", sleeper_thread, s);
  start_ns = bench_now_ns ();
  end_ns = start_ns + seconds * G_GINT64_CONSTANT (1000000000);
  bench_pacer_init (&pacer, rate, start_ns);
  for (gint64 now = start_ns; now < end_ns; now = bench_now_ns ())
    {
      gboolean any = FALSE;
      gint64 due;

      while (s->head - (guint) g_atomic_int_get (&s->tail) < NET_QUEUE_SIZE && bench_pacer_take (&pacer, now, &due))
        {
          s->due[s->head % NET_QUEUE_SIZE] = due;
          g_atomic_int_set (&s->head, s->head + 1);
          any = TRUE;
        }
      if (any && g_atomic_int_exchange (&s->asleep, 0))
        sleeper_wake (s);
    }
  g_atomic_int_set (&s->stop, 1);
  sleeper_wake (s);
  g_thread_join (thread);
  close (s->kick_fd);
  latency = bench_latency_of (latencies);
  result.pps = latencies->len / ((end_ns - start_ns) / 1e9);
  result.cpu_percent = 100 * s->cpu_seconds / ((end_ns - start_ns) / 1e9);
  result.p50_us = latency.p50_us;
  result.p99_us = latency.p99_us;
  return result;
}

/* A paced round: DPDK's peak and each fraction of it offered to DPDK, then the same
 * rates offered to vhost-user-net; each back-end started for its half. */
typedef struct
{
  double peak, our_peak;
  NetResult dpdk[BENCH_N_PACED], ours[BENCH_N_PACED], sleeper[BENCH_N_PACED];
  double rtt_ns[3];
  BenchPlacement placement;
} PacedRound;

static void
paced_round (const char *dir, const char *dpdk_sock, const char *our_sock, gboolean packed, PacedRound *r,
             guint64 *dropped)
{
  VhostPeer *be;

  r->rtt_ns[0] = bench_line_round_trip_ns (0, 1);
  be = start_dpdk (dir, dpdk_sock, packed);
  r->peak = net_run (dpdk_sock, vhost_peer_get_pid (be), packed, 0).pps;
  for (guint k = 0; k < BENCH_N_PACED; k++)
    r->dpdk[k] = net_run (dpdk_sock, vhost_peer_get_pid (be), packed, r->peak * bench_paced_fractions[k]);
  stop_dpdk (be, dpdk_sock);
  r->rtt_ns[1] = bench_line_round_trip_ns (0, 1);
  be = start_tool (dir, our_sock, packed, busy_poll_us);
  r->our_peak = net_run (our_sock, vhost_peer_get_pid (be), packed, 0).pps;
  for (guint k = 0; k < BENCH_N_PACED; k++)
    r->ours[k] = net_run (our_sock, vhost_peer_get_pid (be), packed, r->peak * bench_paced_fractions[k]);
  stop_tool (be, our_sock, dropped);
  for (guint k = 0; k < BENCH_N_PACED; k++)
    r->sleeper[k] = sleeper_run (r->peak * bench_paced_fractions[k]);
  r->rtt_ns[2] = bench_line_round_trip_ns (0, 1);
  r->placement = bench_placement_of (r->rtt_ns, 3);
}

/* The median of field `offset` (a double) of `n` structs of `stride` bytes. */
static double
median_field (const void *first, gsize stride, gsize offset, guint n)
{
  double values[MAX_ROUNDS];

  for (guint i = 0; i < n; i++)
    values[i] = *(const double *) ((const guint8 *) first + i * stride + offset);
  return bench_median (values, n);
}

static void
bench_paced (const char *dir, const char *dpdk_sock, const char *our_sock)
{
  printf ("# VhostDriver front-end (CPU 0, polling, 64-byte frames, queues of %d) against DPDK's vhost PMD (testpmd\n",
          NET_QUEUE_SIZE);
  printf ("# io forwarding, lcore on CPU 1, --no-huge) and vhost-user-net --echo (the built program, taskset -c 1, ");
  if (busy_poll_us >= 0)
    printf ("--busy-poll-us=%d", busy_poll_us);
  else
    printf ("its default busy poll");
  if (coalesce_us >= 0)
    printf (", --coalesce-us=%d);\n", coalesce_us);
  else
    printf ("\n# and coalescing);\n");
  printf ("# DPDK's peak (%d frames in flight) measured in each round, then 10/25/50 %% of it offered to each at\n",
          PEAK_WINDOW);
  printf ("# even intervals, for %d s per run; each frame timed from when it was due until it came back (us);\n",
          seconds);
  printf ("# cpu: the back-end process's CPU use in %% of one core; ratio: vhost-user-net's p99 over DPDK's.\n");
  printf ("# sleeper: the same rates into a ring of %d that a thread on CPU %s takes, sleeping whenever it finds it\n",
          NET_QUEUE_SIZE, BENCH_BACK_END_CPU);
  printf ("# empty (woken by an eventfd, as a kick) and doing nothing else: what the wake-ups of an idle vCPU cost\n");
  printf ("# a back-end that sleeps while frames come; s/D: its p99 over DPDK's.\n");
  bench_print_placement_rule ();
  for (int packed = only_packed ? 1 : 0; packed <= 1; packed++)
    {
      const char *ring = packed ? "packed" : "split";
      PacedRound all[MAX_ROUNDS];
      guint changed = 0;
      guint64 dropped = 0;

      for (gint i = 0; i < rounds; i++)
        {
          PacedRound *r = &all[i];

          paced_round (dir, dpdk_sock, our_sock, packed, r, &dropped);
          changed += r->placement == BENCH_PLACEMENT_CHANGED;
          printf ("#   %s round %d: DPDK's peak %.0f pps, vhost-user-net's %.0f; "
                  "line round trip %.0f / %.0f / %.0f ns: %s\n",
                  ring, i + 1, r->peak, r->our_peak, r->rtt_ns[0], r->rtt_ns[1], r->rtt_ns[2],
                  bench_placement_name (r->placement));
          for (guint k = 0; k < BENCH_N_PACED; k++)
            printf ("#     %.0f %%: CPU DPDK %.1f %%, vhost-user-net %.1f %%, sleeper %.1f %%; "
                    "p99 DPDK %.1f us, vhost-user-net %.1f us, sleeper %.1f us\n",
                    100 * bench_paced_fractions[k], r->dpdk[k].cpu_percent, r->ours[k].cpu_percent,
                    r->sleeper[k].cpu_percent, r->dpdk[k].p99_us, r->ours[k].p99_us, r->sleeper[k].p99_us);
          fflush (stdout);
        }
      printf ("%-7s %-9s %6s %5s %9s %9s %9s %6s %6s %7s %7s %7s %7s %5s %6s %6s %8s %5s\n", "ring", "placement",
              "rounds", "load", "offered", "DPDK pps", "our pps", "DPDK %", "our %", "DPDK 50", "our 50", "DPDK 99",
              "our 99", "ratio", "lost D", "lost o", "sleep 99", "s/D");
      for (BenchPlacement p = 0; p < BENCH_PLACEMENT_CHANGED; p++)
        for (guint k = 0; k < BENCH_N_PACED; k++)
          {
            NetResult dpdk[MAX_ROUNDS], ours[MAX_ROUNDS], sleeper[MAX_ROUNDS], d, o, f;
            double peaks[MAX_ROUNDS];
            guint n = 0;

            for (gint i = 0; i < rounds; i++)
              if (all[i].placement == p)
                {
                  dpdk[n] = all[i].dpdk[k];
                  ours[n] = all[i].ours[k];
                  sleeper[n] = all[i].sleeper[k];
                  peaks[n++] = all[i].peak;
                }
            if (n == 0)
              continue;
            for (gsize off = 0; off < sizeof (NetResult); off += sizeof (double))
              {
                *(double *) ((guint8 *) &d + off) = median_field (dpdk, sizeof (NetResult), off, n);
                *(double *) ((guint8 *) &o + off) = median_field (ours, sizeof (NetResult), off, n);
                *(double *) ((guint8 *) &f + off) = median_field (sleeper, sizeof (NetResult), off, n);
              }
            printf ("%-7s %-9s %6u %4.0f%% %9.0f %9.0f %9.0f %6.1f %6.1f %7.1f %7.1f %7.1f %7.1f %5.2f %6.0f %6.0f "
                    "%8.1f %5.2f\n",
                    ring, bench_placement_short_name (p), n, 100 * bench_paced_fractions[k],
                    bench_median (peaks, n) * bench_paced_fractions[k], d.pps, o.pps, d.cpu_percent, o.cpu_percent,
                    d.p50_us, o.p50_us, d.p99_us, o.p99_us, o.p99_us / d.p99_us, d.lost, o.lost, f.p99_us,
                    f.p99_us / d.p99_us);
          }
      printf ("%-7s %u of %d rounds not compared (the placement changed); vhost-user-net dropped %" G_GUINT64_FORMAT
              " frames\n",
              ring, changed, rounds, dropped);
      fflush (stdout);
    }
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 5)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Runs per back-end, alternating (default 6, at most 32)", "N" },
    { "only-vhost-glib", 0, 0, G_OPTION_ARG_NONE, &only_ours, "Skip DPDK's back-end (for profiling)", NULL },
    { "only-packed", 0, 0, G_OPTION_ARG_NONE, &only_packed, "Skip the split ring", NULL },
    { "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us,
      "vhost-user-net's --busy-poll-us (default 1000; --paced: the program's default)", "US" },
    { "coalesce-us", 0, 0, G_OPTION_ARG_INT, &coalesce_us,
      "vhost-user-net's --coalesce-us (default: the program's)", "US" },
    { "paced", 0, 0, G_OPTION_ARG_NONE, &paced_mode,
      "Offer 10, 25 and 50 % of DPDK's peak from a VhostDriver front-end: CPU use and latency", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("- net echo packet rate: vhost-user-net --echo against DPDK's vhost PMD");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *dpdk_sock = g_build_filename (dir, "dpdk.sock", NULL);
  g_autofree char *our_sock = g_build_filename (dir, "vhost-user-net.sock", NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  rounds = CLAMP (rounds, 1, MAX_ROUNDS);
  if (paced_mode)
    {
      bench_pin_to_cpu (0);
      bench_paced (dir, dpdk_sock, our_sock);
      vhost_peer_remove_dir (dir);
      return 0;
    }
  if (busy_poll_us < 0)
    busy_poll_us = 1000;

  printf ("# testpmd virtio_user front-end (io forwarding, --tx-first, forwarding lcore on CPU 0, --no-huge)\n");
  printf ("# against DPDK's vhost PMD (testpmd io forwarding, lcore on CPU 1) and vhost-user-net --echo\n");
  printf ("# (the built program, taskset -c 1, --busy-poll-us=%d", busy_poll_us);
  if (coalesce_us >= 0)
    printf (" --coalesce-us=%d", coalesce_us);
  printf ("); each back-end started for each run;\n");
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
              VhostPeer *be = start_dpdk (dir, dpdk_sock, packed);

              r->dpdk = run_front_end (dir, dpdk_sock, packed, "dpdk");
              stop_dpdk (be, dpdk_sock);
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
