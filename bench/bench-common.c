/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmarks share beside tests/support/peer.h (the peer processes): the back-ends' programs, CPU
 * pinning, where the host has put the vCPUs, medians, latency percentiles, a back-end's CPU time, paced load. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"

const char *
bench_tool_path (const char *variable, const char *built)
{
  const char *path = g_getenv (variable);

  return path != NULL && path[0] != '\0' ? path : built;
}

VhostPeer *
bench_back_end_start (const char *dir, const char *name, const char *package, const char *const *argv,
                      const char *socket_path, guint timeout_ms)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *program = g_find_program_in_path (argv[0]);
  g_auto(GStrv) pinned = NULL;
  VhostPeer *peer;

  if (program == NULL)
    g_error ("%s is not installed (%s)", argv[0], package);
  g_strv_builder_add_many (builder, "taskset", "-c", BENCH_BACK_END_CPU, NULL);
  g_strv_builder_addv (builder, (const char **) argv);
  pinned = g_strv_builder_end (builder);
  peer = vhost_peer_start (dir, name, "util-linux", (const char *const *) pinned);
  vhost_peer_wait_for_socket (peer, socket_path, timeout_ms);
  return peer;
}

void
bench_pin_to_cpu (guint cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) < 0)
    g_warning ("cannot pin to CPU %u: %s", cpu, g_strerror (errno));
}

typedef struct
{
  guint cpu;
  gint64 *line;
  gint64 first; /* the value this side waits for first; then every second one */
  guint rounds;
  gint64 elapsed_ns; /* measured by the side that starts */
} PingPongSide;

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

static gpointer
ping_pong_thread (gpointer data)
{
  PingPongSide *side = data;
  gint64 start = 0;

  bench_pin_to_cpu (side->cpu);
  for (guint i = 0; i < side->rounds; i++)
    {
      gint64 expect = side->first + 2 * (gint64) i;

      while (__atomic_load_n (side->line, __ATOMIC_ACQUIRE) != expect)
        cpu_relax ();
      /* The starter times from its first write, after the other side is running. */
      if (i == 1 && side->first == 0)
        start = g_get_monotonic_time ();
      __atomic_store_n (side->line, expect + 1, __ATOMIC_RELEASE);
    }
  if (side->first == 0)
    side->elapsed_ns = (g_get_monotonic_time () - start) * 1000;
  return NULL;
}

double
bench_line_round_trip_ns (guint cpu_a, guint cpu_b)
{
  /* One line of its own, so that nothing else shares it. */
  struct
  {
    gint64 value;
  } __attribute__ ((aligned (64))) line = { 0 };
  PingPongSide a = { cpu_a, &line.value, 0, 50000, 0 }, b = { cpu_b, &line.value, 1, 50000, 0 };
  GThread *ta = g_thread_new ("bench-ping", ping_pong_thread, &a);
  GThread *tb = g_thread_new ("bench-pong", ping_pong_thread, &b);

  g_thread_join (ta);
  g_thread_join (tb);
  return (double) a.elapsed_ns / (a.rounds - 2);
}

static BenchPlacement
placement_of_one (double rtt_ns)
{
  return rtt_ns < 45 ? BENCH_PLACEMENT_ONE_CORE : rtt_ns < 150 ? BENCH_PLACEMENT_ONE_L3 : BENCH_PLACEMENT_TWO_L3S;
}

BenchPlacement
bench_placement_of (const double *rtt_ns, guint n)
{
  BenchPlacement placement = placement_of_one (rtt_ns[0]);

  for (guint i = 1; i < n; i++)
    if (placement_of_one (rtt_ns[i]) != placement)
      return BENCH_PLACEMENT_CHANGED;
  return placement;
}

const char *
bench_placement_name (BenchPlacement placement)
{
  static const char *const names[] = {
    "one core (round trip < 45 ns)",
    "one L3 (45 - 150 ns)",
    "two L3s (> 150 ns)",
    "changed during the round",
  };

  return names[placement];
}

const char *
bench_placement_short_name (BenchPlacement placement)
{
  static const char *const names[] = { "one-core", "one-L3", "two-L3s", "changed" };

  return names[placement];
}

void
bench_print_placement_rule (void)
{
  printf ("# A round counts where the CPU 0 <-> 1 line round trip, taken before, between and after its two\n");
  printf ("# runs, put the vCPUs in the same place all along; the rounds are compared by placement.\n");
}

int
bench_compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

double
bench_median (double *values, guint n)
{
  qsort (values, n, sizeof (double), bench_compare_double);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

double
bench_process_cpu_seconds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &text, NULL, &error))
    g_error ("%s", error->message);
  /* The command name, in parentheses, may hold spaces: the fields start after its
   * last ')'. utime and stime are fields 14 and 15, the 12th and 13th after it. */
  after_name = strrchr (text, ')');
  if (after_name == NULL)
    g_error ("%s: no command name in '%s'", path, text);
  fields = g_strsplit (after_name + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    g_error ("%s: too few fields in '%s'", path, text);
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / sysconf (_SC_CLK_TCK);
}

void
bench_cpu_window_begin (BenchCpuWindow *window, GPid pid)
{
  window->pid = pid;
  window->wall_ns = bench_now_ns ();
  window->cpu_s = bench_process_cpu_seconds (pid);
}

void
bench_cpu_window_end (BenchCpuWindow *window)
{
  window->cpu_s = bench_process_cpu_seconds (window->pid) - window->cpu_s;
  window->wall_ns = bench_now_ns () - window->wall_ns;
}

double
bench_cpu_window_percent (const BenchCpuWindow *window)
{
  return window->wall_ns > 0 ? 100 * window->cpu_s / (window->wall_ns / 1e9) : 0;
}

GArray *
bench_latency_samples_new (void)
{
  GArray *samples = g_array_sized_new (FALSE, FALSE, sizeof (double), BENCH_MAX_SAMPLES);

  memset (samples->data, 0, (gsize) BENCH_MAX_SAMPLES * sizeof (double));
  return samples;
}

void
bench_latency_record (GArray *samples, double us)
{
  if (samples->len < BENCH_MAX_SAMPLES)
    g_array_append_val (samples, us);
}

BenchLatency
bench_latency_of (GArray *samples)
{
  BenchLatency latency = { 0 };

  if (samples->len == 0)
    return latency;
  g_array_sort (samples, bench_compare_double);
  for (guint i = 0; i < samples->len; i++)
    latency.mean_us += g_array_index (samples, double, i) / samples->len;
  latency.p50_us = g_array_index (samples, double, samples->len / 2);
  latency.p99_us = g_array_index (samples, double, (gsize) samples->len * 99 / 100);
  return latency;
}

const double bench_paced_fractions[BENCH_N_PACED] = { 0.10, 0.25, 0.50 };

void
bench_pacer_init (BenchPacer *pacer, double rate_per_s, gint64 start_ns)
{
  pacer->interval_ns = 1e9 / rate_per_s;
  pacer->start_ns = pacer->next_ns = start_ns;
  pacer->due = 0;
}

gboolean
bench_pacer_take (BenchPacer *pacer, gint64 now_ns, gint64 *due_ns)
{
  if (now_ns < pacer->next_ns)
    return FALSE;
  *due_ns = pacer->next_ns;
  pacer->due++;
  /* From the start, not by adding: no rounding error piles up. */
  pacer->next_ns = pacer->start_ns + (gint64) (pacer->due * pacer->interval_ns);
  return TRUE;
}
