/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a configured queue of the tools costs while no front-end uses it: resident memory per queue within a
 * bound, before the first front-end and after front-ends used every queue; fds and memory flat over reconnects. */
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>

#include "test-support.h"
#include "peer.h"

/* The most resident memory a configured queue may add to an idle tool. */
#define MAX_KB_PER_QUEUE 512
/* What RSS may grow over front-end cycles after the first (allocator noise). */
#define MAX_GROWTH_KB 256
#define CYCLES 3
#define QUEUE_SIZE 128
#define NET_HDR_LEN 12

typedef struct
{
  const char *name;
  const char *tool;       /* the environment variable with its path */
  const char *device;     /* the option that chooses the device; "@" is the test's directory */
  const char *count;      /* the option that sets the number of queues (or queue pairs) */
  guint max;              /* the most it allows */
  guint per_count;        /* queues per unit of `count` */
} Tool;

static const Tool tools[] = {
  { "blk", "VHOST_USER_BLK", "--blk-file=@/disk.img", "--num-queues", 64, 1 },
  { "net", "VHOST_USER_NET", "--echo", "--queue-pairs", 8, 2 },
};

typedef struct
{
  guint64 rss_kb;
  guint fds;
  guint threads;
} Usage;

static void
usage_of (VhostPeer *peer, Usage *usage)
{
  usage->rss_kb = vhost_peer_get_rss_kb (peer);
  usage->fds = vhost_peer_count_fds (peer);
  usage->threads = vhost_peer_count_threads (peer);
}

static VhostPeer *
start_tool (const Tool *t, const char *dir, const char *sock, guint count)
{
  g_auto(GStrv) parts = g_strsplit (t->device, "@", -1);
  g_autofree char *device = g_strjoinv (dir, parts);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autofree char *count_arg = g_strdup_printf ("%s=%u", t->count, count);
  const char *argv[] = { g_getenv (t->tool), socket_arg, device, count_arg, NULL };
  VhostPeer *peer;

  g_assert_nonnull (argv[0]);
  peer = vhost_peer_start (dir, t->name, "", argv);
  vhost_peer_wait_for_socket (peer, sock, 10000);
  return peer;
}

/* One read from every queue of a blk device. */
static void
use_blk (VhostDriver *driver, guint n_queues)
{
  g_autoptr(GError) error = NULL;
  guint64 hdr, data, status, tag;
  guint len;

  g_assert_true (vhost_driver_alloc (driver, sizeof (struct virtio_blk_outhdr), &hdr, &error));
  g_assert_true (vhost_driver_alloc (driver, 4096, &data, &error));
  g_assert_true (vhost_driver_alloc (driver, n_queues, &status, &error));
  g_assert_no_error (error);
  memset (vhost_driver_get_host_address (driver, hdr, sizeof (struct virtio_blk_outhdr)), 0,
          sizeof (struct virtio_blk_outhdr));
  for (guint q = 0; q < n_queues; q++)
    {
      VhostDriverBuffer out = { hdr, sizeof (struct virtio_blk_outhdr) };
      VhostDriverBuffer in[2] = { { data, 4096 }, { status + q, 1 } };

      g_assert_true (vhost_driver_submit (driver, q, &out, 1, in, 2, q, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, q);
    }
  for (guint q = 0; q < n_queues; q++)
    {
      vhost_test_reap_one (driver, q, 10000, &tag, &len);
      g_assert_cmpuint (len, ==, 4097);
      g_assert_cmpuint (*(guint8 *) vhost_driver_get_host_address (driver, status + q, 1), ==, VIRTIO_BLK_S_OK);
    }
}

/* One frame echoed by every queue pair of a net device. */
static void
use_net (VhostDriver *driver, guint n_queues)
{
  g_autoptr(GError) error = NULL;
  guint64 frame, rx, tag;
  guint len;

  g_assert_true (vhost_driver_alloc (driver, NET_HDR_LEN + 60, &frame, &error));
  g_assert_true (vhost_driver_alloc (driver, 2048 * n_queues / 2, &rx, &error));
  g_assert_no_error (error);
  memset (vhost_driver_get_host_address (driver, frame, NET_HDR_LEN + 60), 0x5a, NET_HDR_LEN + 60);
  for (guint pair = 0; pair < n_queues / 2; pair++)
    {
      VhostDriverBuffer out = { frame, NET_HDR_LEN + 60 };
      VhostDriverBuffer in = { rx + 2048 * pair, 2048 };

      g_assert_true (vhost_driver_submit (driver, 2 * pair, NULL, 0, &in, 1, pair, &error));
      g_assert_true (vhost_driver_submit (driver, 2 * pair + 1, &out, 1, NULL, 0, pair, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, 2 * pair);
      vhost_driver_kick (driver, 2 * pair + 1);
    }
  for (guint pair = 0; pair < n_queues / 2; pair++)
    {
      vhost_test_reap_one (driver, 2 * pair, 10000, &tag, &len);
      g_assert_cmpuint (len, ==, NET_HDR_LEN + 60);
      vhost_test_reap_one (driver, 2 * pair + 1, 10000, &tag, &len);
    }
}

/* A front-end that brings up every queue, moves data through each, stops them, and
 * starts and uses them again before it goes. */
static void
front_end_cycle (const Tool *t, const char *sock, guint n_queues)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (sock);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) |
                     VHOST_FEATURE_MASK (VIRTIO_NET_F_MQ);

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  driver = vhost_driver_new (VHOST_BACKEND (master), 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  for (guint round = 0; round < 2; round++)
    {
      g_assert_true (vhost_driver_start (driver, n_queues, QUEUE_SIZE, features, &error));
      g_assert_no_error (error);
      if (t->per_count == 1)
        use_blk (driver, n_queues);
      else
        use_net (driver, n_queues);
      g_assert_true (vhost_driver_stop (driver, &error));
      g_assert_no_error (error);
    }
}

/* What the tool uses once the last front-end's connection is gone: a front-end that
 * only asks for the features is served after it (one at a time), and is there while
 * the tool is measured. */
static void
usage_after (const char *sock, VhostPeer *peer, Usage *usage)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (sock);
  g_autoptr(GError) error = NULL;
  guint64 features;

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
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

      front_end_cycle (t, sock, count * t->per_count);
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
    g_assert_cmpfloat (idle, <=, MAX_KB_PER_QUEUE);
    g_assert_cmpfloat (used, <=, MAX_KB_PER_QUEUE);
  }
  /* Queues that start, stop and start again, and front-ends that come and go, leave
   * nothing behind: the fds are those of the first time, the memory stays. */
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpuint (fig[i].last.fds, ==, fig[i].used.fds);
      g_assert_cmpuint (fig[i].last.threads, ==, fig[i].used.threads);
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
