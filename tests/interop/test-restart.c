/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Back-end restart under load: tools/vhost-user-blk is killed with SIGKILL at random points of VhostDriver's
 * traffic, a new one takes the socket, the driver reconnects; every request completes exactly once and the data
 * hold, byte for byte; and a hundred restarts leave the front-end's fds and memory where they were. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "peer.h"
#include "vhost-glib/core/vhost-inflight.h"

/* AddressSanitizer keeps freed memory in quarantine, so the resident set grows
 * without a leak; LeakSanitizer looks for leaks instead, at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED FALSE
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED FALSE
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED TRUE
#endif

#define BLOCK_SIZE (32 * 1024)
#define SECTORS_PER_BLOCK (BLOCK_SIZE / 512)
#define N_BLOCKS 512
#define QUEUE_SIZE 128
#define SLOTS 32 /* requests in flight per queue, at most */
#define MEMORY_SIZE (16 * 1024 * 1024)
#define PROGRESS_TIMEOUT_MS 20000
#define RECONNECT_TIMEOUT_MS 20000
/* Kills that must find the back-end holding chains (the resubmission path), and
 * the most kills a run makes to get them. */
#define MIN_KILLS_WITH_CHAINS 4
#define MAX_KILLS 60

/* One combination of the ring's options, with its share of requests and kills. */
typedef struct
{
  gboolean packed;
  gboolean event_idx;
  gboolean indirect;
  guint n_queues;
  guint requests;
  guint kills;
} Combo;

/* A request slot: its buffers in driver memory and what is in flight there. */
typedef struct
{
  guint64 hdr_addr, data_addr, status_addr;
  guint8 *hdr, *data, *status;
  gboolean busy;
  gboolean write;
  gboolean split_data; /* the data in two buffers: a longer chain */
  guint block;
  guint32 gen;         /* written, or expected to be read */
  guint64 tag;
} Slot;

typedef struct
{
  const Combo *combo;
  char *dir;               /* (owned) logs and the socket */
  char *image_dir;         /* (owned) the image's directory, not in memory (make_image_dir()) */
  char *image;             /* (owned) */
  char *sock;              /* (owned) */
  VhostPeer *peer;         /* (owned) the back-end of the moment */
  VhostUserMaster *master; /* (owned) */
  VhostDriver *driver;     /* (owned) */
  Slot *slots;             /* (owned) n_queues * SLOTS */
  guint32 *gen;            /* (owned) per block: the generation of its content */
  gboolean *block_busy;    /* (owned) per block: a request is in flight on it */
  guint32 next_gen;
  guint64 next_serial;
  guint64 target;          /* requests to submit in all */
  guint64 submitted, completed, reads_checked;
  guint64 *last_serial;    /* (owned) per queue: the latest submission completed so far */
  guint64 out_of_order;    /* completions of a request submitted before one already completed */
  gboolean disconnected;
  guint kills;
  guint kills_with_chains_taken; /* the inflight area held chains when the back-end died */
  guint chains_taken;      /* summed over the kills */
  guint failed_replays;    /* a back-end killed before the driver's replay */
  const guint8 *inflight;  /* (owned) a read-only view of the driver's inflight area */
  gsize inflight_size;
} Run;

static const char *
tool_path (void)
{
  const char *path = g_getenv ("VHOST_USER_BLK");

  g_assert_nonnull (path);
  return path;
}

/* The content of `block` as written with generation `gen`: distinct for every pair. */
static void
fill_pattern (guint8 *buf, guint block, guint32 gen)
{
  guint64 x = (((guint64) block << 32) | gen) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + 1;

  for (guint i = 0; i < BLOCK_SIZE / 8; i++)
    {
      x ^= x >> 33;
      x *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
      x ^= x >> 29;
      x += i;
      memcpy (buf + 8 * i, &x, 8);
    }
}

static gboolean
matches_pattern (const guint8 *buf, guint block, guint32 gen)
{
  guint8 expected[BLOCK_SIZE];

  fill_pattern (expected, block, gen);
  return memcmp (buf, expected, BLOCK_SIZE) == 0;
}

/* A directory for the image on a file system that is not in memory: vhost-user-blk
 * serves an image on tmpfs or ramfs in its queues' threads, in order, and this test
 * needs io_uring, whose completions come out of order. The test's own directory, or
 * a new one in the current directory (meson runs the test in the build directory)
 * if that one is in memory. */
static char *
make_image_dir (const char *own)
{
  struct statfs st;
  g_autofree char *dir = NULL;

  g_assert_cmpint (statfs (own, &st), ==, 0);
  if (st.f_type != TMPFS_MAGIC && st.f_type != RAMFS_MAGIC)
    return g_strdup (own);
  dir = g_mkdtemp (g_strdup ("vhost-restart-XXXXXX"));
  g_assert_nonnull (dir);
  g_assert_cmpint (statfs (dir, &st), ==, 0);
  if (st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC)
    g_error ("%s and the current directory are on tmpfs: the image needs a disk", own);
  return g_canonicalize_filename (dir, NULL);
}

static void
start_backend (Run *run)
{
  g_autofree char *socket_arg = g_strdup_printf ("--socket-path=%s", run->sock);
  g_autofree char *file_arg = g_strdup_printf ("--blk-file=%s", run->image);
  g_autofree char *queues_arg = g_strdup_printf ("--num-queues=%u", run->combo->n_queues);
  const char *argv[] = { tool_path (), socket_arg, file_arg, queues_arg, NULL };

  g_assert_null (run->peer);
  run->peer = vhost_peer_start (run->dir, "vhost-user-blk", "vhost-glib", argv);
}

static void
on_disconnected (VhostUserMaster *master, GError *error, Run *run)
{
  g_assert_false (vhost_user_master_get_connected (master));
  run->disconnected = TRUE;
}

/* The driver's inflight area, found among our fds by the name the back-end gave it. */
static void
map_inflight (Run *run)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);
      struct stat st;
      int fd;
      void *map;

      if (target == NULL || !g_str_has_prefix (target, "/memfd:vhost-inflight"))
        continue;
      fd = atoi (name);
      g_assert_cmpint (fstat (fd, &st), ==, 0);
      g_assert_cmpint (st.st_size, ==,
                       vhost_inflight_region_size (QUEUE_SIZE, run->combo->packed) * run->combo->n_queues);
      map = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
      g_assert_true (map != MAP_FAILED);
      run->inflight = map;
      run->inflight_size = st.st_size;
      return;
    }
  g_error ("the driver holds no inflight area (memfd:vhost-inflight)");
}

/* The chains a dead back-end had taken and not completed, as its area says. */
static guint
count_chains_taken (Run *run)
{
  guint64 region = vhost_inflight_region_size (QUEUE_SIZE, run->combo->packed);
  guint n = 0;

  for (guint q = 0; q < run->combo->n_queues; q++)
    for (guint i = 0; i < QUEUE_SIZE; i++)
      {
        const guint8 *base = run->inflight + q * region;

        if (run->combo->packed)
          n += ((const VhostInflightPacked *) base)->desc[i].inflight == 1;
        else
          n += ((const VhostInflightSplit *) base)->desc[i].inflight == 1;
      }
  return n;
}

static Slot *
get_slot (Run *run, guint queue, guint index)
{
  return &run->slots[queue * SLOTS + index];
}

static void
on_completion (VhostDriver *driver, guint queue, guint64 tag, guint len, gpointer user_data)
{
  Run *run = user_data;
  guint index = tag & 0xff;
  Slot *slot;

  /* The tag names its slot; the slot says whether it is in flight with that tag. */
  g_assert_cmpuint ((tag >> 8) & 0xff, ==, queue);
  g_assert_cmpuint (index, <, SLOTS);
  slot = get_slot (run, queue, index);
  if (!slot->busy || slot->tag != tag)
    g_error ("queue %u: tag 0x%" G_GINT64_MODIFIER "x completed twice, or was never submitted", queue, tag);
  g_assert_cmpuint (*slot->status, ==, VIRTIO_BLK_S_OK);
  g_assert_cmpuint (len, ==, slot->write ? 1 : BLOCK_SIZE + 1);
  if (slot->write)
    run->gen[slot->block] = slot->gen;
  else
    {
      g_assert_cmpuint (run->gen[slot->block], ==, slot->gen);
      if (!matches_pattern (slot->data, slot->block, slot->gen))
        g_error ("queue %u: block %u read back wrong (expected generation %u)", queue, slot->block, slot->gen);
      run->reads_checked++;
    }
  run->block_busy[slot->block] = FALSE;
  slot->busy = FALSE;
  run->completed++;
  if (tag >> 16 < run->last_serial[queue])
    run->out_of_order++;
  run->last_serial[queue] = MAX (run->last_serial[queue], tag >> 16);
}

/* A write of a new pattern, or a read of a block written before, on a block with
 * nothing else in flight. */
static void
submit_one (Run *run, guint queue, guint index)
{
  Slot *slot = get_slot (run, queue, index);
  struct virtio_blk_outhdr hdr;
  VhostDriverBuffer out[3], in[3];
  guint n_out = 0, n_in = 0, half = BLOCK_SIZE / 2;
  g_autoptr(GError) error = NULL;

  do
    slot->block = g_test_rand_int_range (0, N_BLOCKS);
  while (run->block_busy[slot->block]);
  slot->write = g_test_rand_bit ();
  slot->split_data = g_test_rand_bit ();
  slot->gen = slot->write ? run->next_gen++ : run->gen[slot->block];
  slot->tag = (run->next_serial++ << 16) | (queue << 8) | index;
  hdr.type = GUINT32_TO_LE (slot->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
  hdr.ioprio = 0;
  hdr.sector = GUINT64_TO_LE ((guint64) slot->block * SECTORS_PER_BLOCK);
  memcpy (slot->hdr, &hdr, sizeof hdr);
  *slot->status = 0xff;
  out[n_out++] = (VhostDriverBuffer) { slot->hdr_addr, sizeof hdr };
  if (slot->write)
    fill_pattern (slot->data, slot->block, slot->gen);
  else
    memset (slot->data, 0xa5, BLOCK_SIZE);
  {
    VhostDriverBuffer *data = slot->write ? out : in;
    guint *n = slot->write ? &n_out : &n_in;

    if (slot->split_data)
      {
        data[(*n)++] = (VhostDriverBuffer) { slot->data_addr, half };
        data[(*n)++] = (VhostDriverBuffer) { slot->data_addr + half, BLOCK_SIZE - half };
      }
    else
      data[(*n)++] = (VhostDriverBuffer) { slot->data_addr, BLOCK_SIZE };
  }
  in[n_in++] = (VhostDriverBuffer) { slot->status_addr, 1 };
  g_assert_true (vhost_driver_submit (run->driver, queue, out, n_out, in, n_in, slot->tag, &error));
  g_assert_no_error (error);
  run->block_busy[slot->block] = TRUE;
  slot->busy = TRUE;
  run->submitted++;
}

/* Every free slot gets a request, while there are requests left; then the kicks. */
static void
fill (Run *run)
{
  for (guint q = 0; q < run->combo->n_queues; q++)
    {
      for (guint i = 0; i < SLOTS && run->submitted < run->target; i++)
        if (!get_slot (run, q, i)->busy)
          submit_one (run, q, i);
      vhost_driver_kick (run->driver, q);
    }
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterate until a request completes. */
static void
wait_for_completion (Run *run)
{
  guint64 completed = run->completed;
  gboolean timed_out = FALSE;
  GSource *timeout = g_timeout_source_new (PROGRESS_TIMEOUT_MS);

  g_source_set_callback (timeout, timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, NULL);
  while (!timed_out && run->completed == completed)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  if (timed_out)
    {
      g_autoptr(GString) state = g_string_new (NULL);

      for (guint q = 0; q < run->combo->n_queues; q++)
        g_string_append_printf (state, " queue %u: %u in flight;", q, vhost_driver_get_in_flight (run->driver, q));
      g_error ("no completion within %d ms (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " completed;%s)",
               PROGRESS_TIMEOUT_MS, run->completed, run->submitted, state->str);
    }
}

/* Kill the back-end the moment the master is connected again: the replay that
 * follows meets a dead peer. */
static void
kill_on_connect (VhostUserMaster *master, GParamSpec *pspec, Run *run)
{
  if (vhost_user_master_get_connected (master))
    vhost_peer_kill_now (run->peer, SIGKILL);
}

static void
reap_backend (Run *run)
{
  int status = 0;

  g_assert_true (vhost_peer_wait_exit (run->peer, 10000, &status));
  g_assert_cmpint (status, ==, -1); /* killed by the signal */
  g_clear_pointer (&run->peer, vhost_peer_free);
}

/* SIGKILL at a random instant, then a new back-end on the same socket, and the
 * driver brought up on it; sometimes with requests submitted while no back-end
 * runs, sometimes asynchronously, sometimes with a first new back-end that dies
 * before the replay. */
static void
kill_and_restart (Run *run, gboolean die_before_replay)
{
  g_autoptr(GError) error = NULL;
  gint64 spin_until;
  guint taken;

  /* Half of the kills (and those that must still find the back-end at work)
   * wait, up to 5 ms, until it holds a few chains: their instant falls in its
   * processing, between pops and pushes. */
  if (g_test_rand_bit () || run->kills_with_chains_taken < MIN_KILLS_WITH_CHAINS)
    {
      guint threshold = g_test_rand_int_range (1, SLOTS / 2);

      /* Sleeping, not spinning: the back-end may need this CPU. */
      spin_until = g_get_monotonic_time () + 5000;
      while (count_chains_taken (run) < threshold && g_get_monotonic_time () < spin_until)
        g_usleep (10);
    }
  else
    {
      spin_until = g_get_monotonic_time () + g_test_rand_int_range (0, 80);
      while (g_get_monotonic_time () < spin_until)
        ;
    }
  run->disconnected = FALSE;
  vhost_peer_kill_now (run->peer, SIGKILL);
  reap_backend (run);
  /* The master sees the hang-up on its main context. */
  vhost_test_wait_for_flag (&run->disconnected, PROGRESS_TIMEOUT_MS);
  taken = count_chains_taken (run);
  run->chains_taken += taken;
  run->kills_with_chains_taken += taken > 0;
  run->kills++;
  if (g_test_rand_bit ())
    fill (run);

  if (die_before_replay)
    {
      gulong handler = g_signal_connect (run->master, "notify::connected", G_CALLBACK (kill_on_connect), run);

      start_backend (run);
      g_assert_false (vhost_driver_reconnect (run->driver, RECONNECT_TIMEOUT_MS, NULL, &error));
      g_assert_nonnull (error);
      g_test_message ("a back-end killed before the replay: %s", error->message);
      g_clear_error (&error);
      g_signal_handler_disconnect (run->master, handler);
      g_assert_true (vhost_driver_get_running (run->driver));
      reap_backend (run);
      run->failed_replays++;
    }

  start_backend (run);
  if (g_test_rand_bit ())
    {
      g_assert_true (vhost_driver_reconnect (run->driver, RECONNECT_TIMEOUT_MS, NULL, &error));
      g_assert_no_error (error);
    }
  else
    {
      g_autoptr(GAsyncResult) result = NULL;

      vhost_driver_reconnect_async (run->driver, RECONNECT_TIMEOUT_MS, NULL, vhost_test_store_result, &result);
      vhost_test_wait_for_result (&result, 2 * RECONNECT_TIMEOUT_MS);
      g_assert_true (vhost_driver_reconnect_finish (run->driver, result, &error));
      g_assert_no_error (error);
    }
  g_assert_true (vhost_user_master_get_connected (run->master));
}

static guint64
combo_features (const Combo *combo)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) |
         (combo->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0) |
         (combo->event_idx ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) : 0) |
         (combo->indirect ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) : 0);
}

static void
run_setup (Run *run, const Combo *combo, gboolean watch)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *contents = g_malloc (N_BLOCKS * BLOCK_SIZE);
  guint64 acked;

  memset (run, 0, sizeof *run);
  run->combo = combo;
  run->dir = vhost_peer_make_dir ();
  run->image_dir = make_image_dir (run->dir);
  run->image = g_build_filename (run->image_dir, "disk.img", NULL);
  run->sock = g_build_filename (run->dir, "blk.sock", NULL);
  run->gen = g_new0 (guint32, N_BLOCKS);
  run->block_busy = g_new0 (gboolean, N_BLOCKS);
  run->next_gen = 1;
  for (guint b = 0; b < N_BLOCKS; b++)
    fill_pattern (contents + (gsize) b * BLOCK_SIZE, b, 0);
  g_assert_true (g_file_set_contents (run->image, (char *) contents, N_BLOCKS * BLOCK_SIZE, &error));
  g_assert_no_error (error);

  start_backend (run);
  run->master = vhost_user_master_new (run->sock);
  g_signal_connect (run->master, "disconnected", G_CALLBACK (on_disconnected), run);
  /* The first dial waits for the back-end to listen, as a reconnection does. */
  g_assert_true (vhost_user_master_reconnect (run->master, RECONNECT_TIMEOUT_MS, NULL, &error));
  g_assert_no_error (error);
  run->driver = vhost_driver_new (VHOST_BACKEND (run->master), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (run->driver, combo->n_queues, QUEUE_SIZE, combo_features (combo), &error));
  g_assert_no_error (error);
  acked = vhost_driver_get_acked_features (run->driver);
  g_assert_cmphex (acked & combo_features (combo), ==, combo_features (combo));
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (run->master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
                   !=, 0);
  map_inflight (run);

  run->slots = g_new0 (Slot, combo->n_queues * SLOTS);
  run->last_serial = g_new0 (guint64, combo->n_queues);
  for (guint q = 0; q < combo->n_queues; q++)
    {
      for (guint i = 0; i < SLOTS; i++)
        {
          Slot *slot = get_slot (run, q, i);

          g_assert_true (vhost_driver_alloc (run->driver, 64, &slot->hdr_addr, &error));
          g_assert_true (vhost_driver_alloc (run->driver, BLOCK_SIZE, &slot->data_addr, &error));
          g_assert_true (vhost_driver_alloc (run->driver, 64, &slot->status_addr, &error));
          g_assert_no_error (error);
          slot->hdr = vhost_driver_get_host_address (run->driver, slot->hdr_addr, 64);
          slot->data = vhost_driver_get_host_address (run->driver, slot->data_addr, BLOCK_SIZE);
          slot->status = vhost_driver_get_host_address (run->driver, slot->status_addr, 1);
        }
      if (watch)
        vhost_driver_watch (run->driver, q, on_completion, run, NULL);
    }
}

/* Everything completed; the image holds what the model says, block by block. */
static void
run_check_image (Run *run)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (run->completed, ==, run->submitted);
  for (guint q = 0; q < run->combo->n_queues; q++)
    g_assert_cmpuint (vhost_driver_get_in_flight (run->driver, q), ==, 0);
  g_assert_true (g_file_get_contents (run->image, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, N_BLOCKS * BLOCK_SIZE);
  for (guint b = 0; b < N_BLOCKS; b++)
    if (!matches_pattern ((const guint8 *) contents + (gsize) b * BLOCK_SIZE, b, run->gen[b]))
      g_error ("block %u of the image does not hold generation %u", b, run->gen[b]);
}

static void
run_teardown (Run *run)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_stop (run->driver, &error));
  g_assert_no_error (error);
  munmap ((void *) run->inflight, run->inflight_size);
  g_clear_object (&run->driver);
  g_clear_object (&run->master);
  g_clear_pointer (&run->peer, vhost_peer_free);
  g_unlink (run->image);
  if (g_strcmp0 (run->image_dir, run->dir) != 0)
    g_rmdir (run->image_dir);
  vhost_peer_remove_dir (run->dir);
  g_free (run->dir);
  g_free (run->image_dir);
  g_free (run->image);
  g_free (run->sock);
  g_free (run->slots);
  g_free (run->last_serial);
  g_free (run->gen);
  g_free (run->block_busy);
}

/* Requests to complete before the next kill: spread over what is left, and
 * sometimes none (the new back-end then dies while it resubmits). */
static guint64
kill_distance (Run *run)
{
  guint64 left = run->target - run->completed;
  guint kills_left = run->kills < run->combo->kills ? run->combo->kills - run->kills : 1;

  if (g_test_rand_int_range (0, 5) == 0)
    return 0;
  return g_test_rand_int_range (1, MAX (2, 2 * left / (kills_left + 1)));
}

static void
test_kills (gconstpointer data)
{
  const Combo *combo = data;
  gint fds_before = vhost_test_count_open_fds ();
  gint64 start = g_get_monotonic_time ();
  guint64 next_kill;
  Run run;

  run_setup (&run, combo, TRUE);
  run.target = combo->requests;
  next_kill = kill_distance (&run);
  while (run.completed < run.target || run.kills < combo->kills ||
         (run.kills_with_chains_taken < MIN_KILLS_WITH_CHAINS && run.kills < MAX_KILLS))
    {
      /* More requests, and kills, until enough kills found chains taken. */
      if (run.completed == run.target && run.kills_with_chains_taken < MIN_KILLS_WITH_CHAINS &&
          run.kills < MAX_KILLS)
        run.target += 200;
      fill (&run);
      if (run.kills < MAX_KILLS && (run.kills < combo->kills || run.kills_with_chains_taken < MIN_KILLS_WITH_CHAINS) &&
          (run.completed >= next_kill || run.completed == run.target))
        {
          kill_and_restart (&run, run.kills == combo->kills / 2);
          next_kill = run.completed + kill_distance (&run);
        }
      else if (run.completed < run.submitted)
        wait_for_completion (&run);
    }
  g_assert_cmpuint (run.kills, >=, combo->kills);
  run_check_image (&run);
  g_test_message ("%u kills (%u with chains taken by the back-end, %u chains in all), %u replays met a dead "
                  "back-end; %" G_GUINT64_FORMAT " requests (%" G_GUINT64_FORMAT " completed out of order), %"
                  G_GUINT64_FORMAT " reads checked, in %.1f s",
                  run.kills, run.kills_with_chains_taken, run.chains_taken, run.failed_replays, run.completed,
                  run.out_of_order, run.reads_checked, (g_get_monotonic_time () - start) / 1e6);
  /* The resubmission path ran: back-ends died holding chains; and the device
   * completed requests out of order. */
  g_assert_cmpuint (run.kills_with_chains_taken, >=, MIN_KILLS_WITH_CHAINS);
  g_assert_cmpuint (run.out_of_order, >, 0);
  run_teardown (&run);
  vhost_test_assert_fd_count (fds_before);
}

static gsize
vm_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

/* Complete everything in flight by polling, as a program without a main loop does. */
static void
reap_all (Run *run)
{
  gint64 deadline = g_get_monotonic_time () + PROGRESS_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (run->completed < run->submitted)
    for (guint q = 0; q < run->combo->n_queues; q++)
      {
        g_autoptr(GError) error = NULL;
        guint64 tag;
        guint len;

        while (vhost_driver_reap (run->driver, q, &tag, &len, &error))
          on_completion (run->driver, q, tag, len, run);
        g_assert_no_error (error);
        if (run->completed < run->submitted)
          {
            vhost_driver_wait (run->driver, q, 10, NULL);
            if (g_get_monotonic_time () > deadline)
              g_error ("no completion within %d ms", PROGRESS_TIMEOUT_MS);
          }
      }
}

/* A hundred kill-and-reconnect cycles: the front-end's fds come back exactly and
 * its memory nearly, to where they were after the first. */
static void
test_leaks (void)
{
  static const Combo combo = { TRUE, TRUE, TRUE, 2, 0, 100 };
  gint fds_before = vhost_test_count_open_fds ();
  gint fds_started = -1;
  gsize rss_started = 0, rss_now;
  Run run;

  run_setup (&run, &combo, FALSE);
  for (guint cycle = 0; cycle <= combo.kills; cycle++)
    {
      if (cycle == 1)
        {
          /* After one cycle, everything created once for good exists (GLib's
           * worker threads, the child watch, the master's socket client types). */
          vhost_test_settle_fds ();
          fds_started = vhost_test_count_open_fds ();
          rss_started = vm_rss_kib ();
        }
      run.target = run.submitted + 2 * SLOTS;
      fill (&run);
      kill_and_restart (&run, FALSE);
      reap_all (&run);
    }
  vhost_test_settle_fds ();
  rss_now = vm_rss_kib ();
  g_test_message ("after %u restarts: %d fds (%d after the first), VmRSS %" G_GSIZE_FORMAT " KiB (%" G_GSIZE_FORMAT
                  " KiB after the first)", combo.kills, vhost_test_count_open_fds (), fds_started, rss_now,
                  rss_started);
  g_assert_cmpint (vhost_test_count_open_fds (), ==, fds_started);
  if (RSS_CHECKED)
    g_assert_cmpuint (rss_now, <=, rss_started + 4 * 1024);
  else
    g_test_message ("VmRSS not compared: AddressSanitizer's quarantine keeps freed memory");
  run_check_image (&run);
  run_teardown (&run);
  vhost_test_assert_fd_count (fds_before);
}

/* Each option's values in several combinations: half of the 16, every pair of
 * options with each of its four value pairs (the queue count is the parity of the
 * other three). */
static const Combo kill_combos[] = {
  { FALSE, FALSE, FALSE, 1, 2000, 12 },
  { FALSE, FALSE, TRUE, 4, 3000, 12 },
  { FALSE, TRUE, FALSE, 4, 3000, 12 },
  { FALSE, TRUE, TRUE, 1, 2000, 12 },
  { TRUE, FALSE, FALSE, 4, 3000, 12 },
  { TRUE, FALSE, TRUE, 1, 2000, 12 },
  { TRUE, TRUE, FALSE, 1, 2000, 12 },
  { TRUE, TRUE, TRUE, 4, 3000, 12 },
};

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  for (guint i = 0; i < G_N_ELEMENTS (kill_combos); i++)
    {
      const Combo *c = &kill_combos[i];
      g_autofree char *path = g_strdup_printf ("/restart/kills/%s/%s/%s/%u-queue%s", c->packed ? "packed" : "split",
                                               c->event_idx ? "event-idx" : "no-event-idx",
                                               c->indirect ? "indirect" : "no-indirect", c->n_queues,
                                               c->n_queues > 1 ? "s" : "");

      g_test_add_data_func (path, c, test_kills);
    }
  g_test_add_func ("/restart/leaks", test_leaks);
  return g_test_run ();
}
