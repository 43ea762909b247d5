/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a configured queue of the tools costs while no front-end uses it: resident memory per queue within a
 * bound, before the first front-end and after front-ends used every queue; fds and memory flat over reconnects; the
 * queue workers as many as --threads says, or by default one per queue (pair) up to the CPUs the tool may use. */
#include "test-support.h"
#include "front.h"
#include "peer.h"

/* The most resident memory a configured queue may add to an idle tool. */
#define MAX_KB_PER_QUEUE 512
/* What RSS may grow over front-end cycles after the first (allocator noise). */
#define MAX_GROWTH_KB 256
#define CYCLES 3

typedef struct
{
  const char *name;
  const char *tool;       /* the environment variable with its path */
  const char *device;     /* the option that chooses the device; "@" is the test's directory */
  const char *count;      /* the option that sets the number of queues (or queue pairs) */
  guint max;              /* the most it allows */
  guint per_count;        /* queues per unit of `count` */
  VhostTestFrontKind kind;
  guint threads;          /* --threads; 0: the tool's default */
} Tool;

static const Tool tools[] = {
  { "blk", "VHOST_USER_BLK", "--blk-file=@/disk.img", "--num-queues", 64, 1, VHOST_TEST_FRONT_BLK, 0 },
  { "net", "VHOST_USER_NET", "--echo", "--queue-pairs", 8, 2, VHOST_TEST_FRONT_NET, 0 },
  { "net-one-thread", "VHOST_USER_NET", "--echo", "--queue-pairs", 8, 2, VHOST_TEST_FRONT_NET, 1 },
};

typedef struct
{
  guint64 rss_kb;
  guint fds;
  guint threads;
  guint workers;          /* the library's queue workers */
} Usage;

static void
usage_of (VhostPeer *peer, Usage *usage)
{
  usage->rss_kb = vhost_peer_get_rss_kb (peer);
  usage->fds = vhost_peer_count_fds (peer);
  usage->threads = vhost_peer_count_threads (peer);
  usage->workers = vhost_peer_count_threads_named (peer, "vhost-worker");
}

static VhostPeer *
start_tool (const Tool *t, const char *dir, const char *sock, guint count)
{
  g_auto(GStrv) parts = g_strsplit (t->device, "@", -1);
  g_autofree char *device = g_strjoinv (dir, parts);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autofree char *count_arg = g_strdup_printf ("%s=%u", t->count, count);
  g_autofree char *threads_arg = t->threads > 0 ? g_strdup_printf ("--threads=%u", t->threads) : NULL;
  const char *argv[] = { g_getenv (t->tool), socket_arg, device, count_arg, threads_arg, NULL };
  VhostPeer *peer;

  g_assert_nonnull (argv[0]);
  peer = vhost_peer_start (dir, t->name, "", argv);
  vhost_peer_wait_for_socket (peer, sock, 10000);
  return peer;
}

/* What the tool uses once the last front-end's connection is gone: a front-end that
 * only asks for the features is served after it (one at a time), and is there while
 * the tool is measured. */
static void
usage_after (const char *sock, VhostPeer *peer, Usage *usage)
{
  g_autoptr(VhostUserMaster) master = vhost_test_front_connect (sock);

  usage_of (peer, usage);
}

typedef struct
{
  Usage idle;     /* before any front-end */
  Usage used;     /* after the first front-end */
  Usage last;     /* after the last one */
} Figures;

static void
measure (const Tool *t, const char *dir, guint count, Figures *fig)
{
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  g_autoptr(VhostPeer) peer = start_tool (t, dir, sock, count);

  usage_of (peer, &fig->idle);
  for (guint cycle = 0; cycle < CYCLES; cycle++)
    {
      Usage now;

      /* Every queue up, used, stopped, up again and used, before the front-end goes. */
      vhost_test_front_cycle (sock, t->kind, count * t->per_count, 2);
      usage_after (sock, peer, &now);
      g_test_message ("%s, %u queue(s), after front-end %u: RSS %" G_GUINT64_FORMAT " KiB, %u fds, %u threads",
                      t->name, count * t->per_count, cycle + 1, now.rss_kb, now.fds, now.threads);
      if (cycle == 0)
        fig->used = now;
      fig->last = now;
    }
  vhost_peer_terminate (peer, SIGTERM, sock);
}

static void
test_idle (gconstpointer data)
{
  const Tool *t = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  guint queues[2] = { t->per_count, t->max * t->per_count };
  Figures fig[2];

  g_assert_true (g_file_set_contents (image, "", 0, NULL) && truncate (image, 16 * 1024 * 1024) == 0);
  measure (t, dir, 1, &fig[0]);
  measure (t, dir, t->max, &fig[1]);
  for (guint i = 0; i < 2; i++)
    g_test_message ("%s, %u queue(s): RSS idle %" G_GUINT64_FORMAT " KiB (%u fds, %u threads), after a front-end "
                    "%" G_GUINT64_FORMAT " KiB (%u fds, %u threads), after %u %" G_GUINT64_FORMAT " KiB (%u fds)",
                    t->name, queues[i], fig[i].idle.rss_kb, fig[i].idle.fds, fig[i].idle.threads, fig[i].used.rss_kb,
                    fig[i].used.fds, fig[i].used.threads, CYCLES, fig[i].last.rss_kb, fig[i].last.fds);
  {
    double idle = (double) (fig[1].idle.rss_kb - MIN (fig[1].idle.rss_kb, fig[0].idle.rss_kb)) / (queues[1] - queues[0]);
    double used = (double) (fig[1].last.rss_kb - MIN (fig[1].last.rss_kb, fig[0].last.rss_kb)) / (queues[1] - queues[0]);

    g_test_message ("%s: %.1f KiB per queue idle, %.1f KiB per queue once front-ends used them (at most %d)", t->name,
                    idle, used, MAX_KB_PER_QUEUE);
    if (VHOST_TEST_SANITIZED)
      g_test_message ("under AddressSanitizer the memory is not held to the bounds (its shadow and quarantine)");
    else
      {
        g_assert_cmpfloat (idle, <=, MAX_KB_PER_QUEUE);
        g_assert_cmpfloat (used, <=, MAX_KB_PER_QUEUE);
      }
  }
  /* Queues that start, stop and start again, and front-ends that come and go, leave
   * nothing behind: the fds are those of the first time, the memory stays. */
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpuint (fig[i].last.fds, ==, fig[i].used.fds);
      g_assert_cmpuint (fig[i].last.threads, ==, fig[i].used.threads);
      /* The workers once every queue ran: --threads, or the tool's default. */
      g_assert_cmpuint (fig[i].used.workers, ==,
                        t->threads > 0 ? t->threads : vhost_peer_default_workers (i == 0 ? 1 : t->max));
      if (!VHOST_TEST_SANITIZED)
        g_assert_cmpuint (fig[i].last.rss_kb, <=, fig[i].used.rss_kb + MAX_GROWTH_KB);
    }
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  /* The tools run as they do in production: meson sets MALLOC_PERTURB_ for tests,
   * which makes malloc() write every block it hands out, and so makes buffers that a
   * queue has not used yet resident. */
  g_unsetenv ("MALLOC_PERTURB_");
  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = g_strdup_printf ("/vhost/interop/idle/%s", tools[i].name);

      g_test_add_data_func (path, &tools[i], test_idle);
    }
  return g_test_run ();
}
