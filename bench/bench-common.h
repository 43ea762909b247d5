/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmarks share beside tests/support/peer.h (the peer processes): the back-ends' programs, CPU
 * pinning, where the host has put the vCPUs, medians, latency percentiles, a back-end's CPU time, paced load. */
#pragma once

#include <glib.h>

#include "peer.h"

G_BEGIN_DECLS

/* The back-ends are pinned to this CPU (the front-end runs on CPU 0). */
#define BENCH_BACK_END_CPU "1"

/* The path of one of the tools (vhost-user-blk, vhost-user-net): the environment
 * variable `variable` if set, else `built`, where the build put it. */
const char *bench_tool_path (const char *variable, const char *built);

/* Start a back-end's argv pinned to BENCH_BACK_END_CPU (with taskset), its log in
 * dir/name.log, and wait up to `timeout_ms` for it to create `socket_path`. Exits
 * the benchmark with a message if argv[0] is not there (`package` has it). */
VhostPeer *bench_back_end_start (const char *dir, const char *name, const char *package, const char *const *argv,
                                 const char *socket_path, guint timeout_ms);

/* Pin the calling thread (and the threads it creates later) to one CPU. */
void bench_pin_to_cpu (guint cpu);

/* How long a cache line takes to go from `cpu_a` to `cpu_b` and back, in ns: the
 * mean over many round trips of two threads that take turns writing one line.
 * On a VM it tells where the host has put the two vCPUs at the moment (siblings
 * of one core, one L3, two L3s), which sets the cost of every ring and buffer
 * line the two sides pass between them. */
double bench_line_round_trip_ns (guint cpu_a, guint cpu_b);

/* Where the host has put the two vCPUs, told by the line round trip between them. */
typedef enum
{
  BENCH_PLACEMENT_ONE_CORE,
  BENCH_PLACEMENT_ONE_L3,
  BENCH_PLACEMENT_TWO_L3S,
  BENCH_PLACEMENT_CHANGED, /* the round trips of one round disagree */
} BenchPlacement;

/* The placement of a round from the round trips taken before, between and after
 * its runs (`n` of them): BENCH_PLACEMENT_CHANGED unless they all agree. */
BenchPlacement bench_placement_of (const double *rtt_ns, guint n);
const char *bench_placement_name (BenchPlacement placement);
/* The same in a word, for wide tables: one-core, one-L3, two-L3s, changed. */
const char *bench_placement_short_name (BenchPlacement placement);
/* Prints (as `#` comment lines) how rounds are told apart by placement. */
void bench_print_placement_rule (void);

/* Orders two doubles (a GCompareFunc). */
int bench_compare_double (gconstpointer a, gconstpointer b);

/* The median of `n` values (sorted in place). */
double bench_median (double *values, guint n);

/* The monotonic clock in ns (latencies at depth 1 are well under a microsecond). */
gint64 bench_now_ns (void);

/* The CPU time (user and system, all its threads, those that have exited too) that the
 * process `pid` has used so far, in seconds, from /proc/PID/stat. */
double bench_process_cpu_seconds (GPid pid);

/* What a back-end process spent over a run: from bench_cpu_window_begin() to
 * bench_cpu_window_end(). */
typedef struct
{
  GPid pid;
  double cpu_s;   /* at the beginning, then the CPU seconds over the window */
  gint64 wall_ns; /* at the beginning, then the length of the window */
} BenchCpuWindow;

void bench_cpu_window_begin (BenchCpuWindow *window, GPid pid);
void bench_cpu_window_end (BenchCpuWindow *window);
/* The back-end's CPU use over the window, in % of one core. */
double bench_cpu_window_percent (const BenchCpuWindow *window);

/* Latency percentiles of samples in µs. */
typedef struct
{
  double mean_us, p50_us, p99_us;
} BenchLatency;

/* Room for this many samples per run; later ones are not recorded. */
#define BENCH_MAX_SAMPLES (16 * 1024 * 1024)

/* An array for a run's latency samples (doubles, µs), its memory allocated and
 * touched before the run: growing it during a run (copying tens of MB, faulting the
 * new pages in) stalled the front-end for 10 - 40 ms, a delay every frame then in
 * flight or due was timed with, which put both back-ends' p99 in milliseconds. */
GArray *bench_latency_samples_new (void);
/* Add `us` to `samples` if there is room. */
void bench_latency_record (GArray *samples, double us);
/* Summarize `samples` (sorted in place); all 0 without samples. */
BenchLatency bench_latency_of (GArray *samples);

/* The paced runs offer these fractions of the peer's peak rate, measured in the same run. */
#define BENCH_N_PACED 3
extern const double bench_paced_fractions[BENCH_N_PACED];

/* An open-loop schedule: one arrival every `interval_ns` from `start_ns` on. A request
 * is timed from when it was due, not from when it went out, so that a back-end that
 * falls behind sees the wait in its latency (no coordinated omission). */
typedef struct
{
  gint64 next_ns;
  double interval_ns;
  guint64 due;    /* arrivals so far: next_ns is start + due * interval_ns */
  gint64 start_ns;
} BenchPacer;

void bench_pacer_init (BenchPacer *pacer, double rate_per_s, gint64 start_ns);
/* TRUE if an arrival is due at `now_ns`: then *due_ns is when, and the schedule moves on. */
gboolean bench_pacer_take (BenchPacer *pacer, gint64 now_ns, gint64 *due_ns);

G_END_DECLS
