/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmarks share: peer processes with logs, waiting for sockets, CPU pinning, a null virtio-blk device. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/virtio_blk.h>
#include <glib/gstdio.h>

#include "bench-common.h"

char *
bench_make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("vhost-bench-XXXXXX", &error);

  if (dir == NULL)
    g_error ("%s", error->message);
  return dir;
}

void
bench_remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

/* A peer dies with the benchmark, even when it aborts. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

BenchPeer *
bench_peer_start (const char *dir, const char *name, const char *const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *program = g_find_program_in_path (argv[0]);
  g_autoptr(GError) error = NULL;
  BenchPeer *peer;

  if (program == NULL)
    g_error ("%s is not installed (.ci/install-deps.sh installs it)", argv[0]);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  peer = g_new0 (BenchPeer, 1);
  peer->log_path = g_strdup_printf ("%s/%s.log", dir, name);
  g_subprocess_launcher_set_stdout_file_path (launcher, peer->log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  peer->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (peer->process == NULL)
    g_error ("%s: %s", argv[0], error->message);
  return peer;
}

char *
bench_peer_get_log (BenchPeer *peer)
{
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (peer->log_path, &contents, &length, NULL))
    return g_strdup ("");
  for (gsize i = 0; i < length; i++)
    if (contents[i] == '\0')
      contents[i] = ' ';
  return contents;
}

void
bench_peer_wait_for_socket (BenchPeer *peer, const char *path, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  struct stat st;

  while (g_get_monotonic_time () < deadline)
    {
      if (g_lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
        return;
      g_usleep (50 * 1000);
    }
  {
    g_autofree char *log = bench_peer_get_log (peer);

    g_error ("no socket %s after %u ms; the peer's log:\n%s", path, timeout_ms, log);
  }
}

void
bench_peer_stop (BenchPeer *peer, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  g_output_stream_close (g_subprocess_get_stdin_pipe (peer->process), NULL, NULL);
  g_subprocess_send_signal (peer->process, SIGINT);
  while (g_subprocess_get_identifier (peer->process) != NULL && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  if (g_subprocess_get_identifier (peer->process) != NULL)
    g_subprocess_force_exit (peer->process);
  g_subprocess_wait (peer->process, NULL, NULL);
  g_object_unref (peer->process);
  g_free (peer->log_path);
  g_free (peer);
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

struct _BenchServer
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  VhostUserSlave *slave;
  char *socket_path;
  guint cpu;
  guint busy_poll_us;
  BenchServerCreate create;
  gpointer data;
  GMutex mutex;
  GCond cond;
  gboolean ready;
};

static gpointer
server_thread (gpointer data)
{
  BenchServer *server = data;
  g_autoptr(GError) error = NULL;

  bench_pin_to_cpu (server->cpu);
  g_main_context_push_thread_default (server->context);
  server->slave = server->create (server->data);
  vhost_user_slave_set_busy_poll_us (server->slave, server->busy_poll_us);
  if (!vhost_user_slave_listen (server->slave, server->socket_path, &error))
    g_error ("%s", error->message);
  g_mutex_lock (&server->mutex);
  server->ready = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->mutex);
  g_main_loop_run (server->loop);
  g_clear_object (&server->slave);
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

BenchServer *
bench_server_start (const char *socket_path, guint cpu, guint busy_poll_us, BenchServerCreate create, gpointer data)
{
  BenchServer *server = g_new0 (BenchServer, 1);

  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->socket_path = g_strdup (socket_path);
  server->cpu = cpu;
  server->busy_poll_us = busy_poll_us;
  server->create = create;
  server->data = data;
  g_mutex_init (&server->mutex);
  g_cond_init (&server->cond);
  server->thread = g_thread_new ("bench-server", server_thread, server);
  g_mutex_lock (&server->mutex);
  while (!server->ready)
    g_cond_wait (&server->cond, &server->mutex);
  g_mutex_unlock (&server->mutex);
  return server;
}

VhostUserSlave *
bench_server_get_slave (BenchServer *server)
{
  return server->slave;
}

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

void
bench_server_stop (BenchServer *server)
{
  /* Quit from inside the loop: a quit before it runs would be lost. */
  g_main_context_invoke (server->context, quit_cb, server->loop);
  g_thread_join (server->thread);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_mutex_clear (&server->mutex);
  g_cond_clear (&server->cond);
  g_free (server->socket_path);
  g_free (server);
}

struct _BenchBlkNull
{
  VhostUserSlave parent_instance;
};

G_DEFINE_FINAL_TYPE (BenchBlkNull, bench_blk_null, VHOST_TYPE_USER_SLAVE)

static void
null_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[130];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      guint32 in_len = 0;
      struct iovec *status;

      for (guint i = elem.n_out; i < elem.n_out + elem.n_in; i++)
        in_len += iov[i].iov_len;
      if (elem.n_in == 0)
        {
          vhost_virtqueue_push (queue, &elem, 0);
          continue;
        }
      /* The status is the last writable byte. */
      status = &iov[elem.n_out + elem.n_in - 1];
      ((guint8 *) status->iov_base)[status->iov_len - 1] = VIRTIO_BLK_S_OK;
      vhost_virtqueue_push (queue, &elem, in_len);
    }
}

static guint64
null_get_features (VhostUserSlave *slave)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) |
         VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH);
}

static void
bench_blk_null_init (BenchBlkNull *self)
{
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), 0), null_handler, NULL, NULL);
}

static void
bench_blk_null_class_init (BenchBlkNullClass *klass)
{
  VHOST_USER_SLAVE_CLASS (klass)->get_features = null_get_features;
}

BenchBlkNull *
bench_blk_null_new (guint64 capacity_bytes)
{
  BenchBlkNull *self = g_object_new (BENCH_TYPE_BLK_NULL, NULL);
  struct virtio_blk_config config = { 0 };
  g_autoptr(GBytes) bytes = NULL;

  config.capacity = capacity_bytes / 512;
  config.blk_size = 512;
  bytes = g_bytes_new (&config, sizeof config);
  vhost_user_slave_set_config_space (VHOST_USER_SLAVE (self), bytes);
  return self;
}
