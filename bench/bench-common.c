/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmarks share beside tests/support/peer.h (the peer processes): the back-ends' programs, CPU
 * pinning, where the host has put the vCPUs, medians. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

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
