/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tools/vhost-user-blk as a user runs it: VhostDriver + VhostUserMaster send it every kind of
 * virtio-blk request, the image file is checked; signals, --fd, and the probe. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <json-glib/json-glib.h>

#include "test-support.h"
#include "peer.h"

#define IMAGE_SIZE (4 * 1024 * 1024)
#define SECTORS (IMAGE_SIZE / 512)
#define BUF_SIZE (64 * 1024)
#define SERIAL "test-serial-0042"

static const char *
tool_path (const char *name)
{
  const char *path = g_getenv (name);

  g_assert_nonnull (path);
  return path;
}

/* A front-end: VhostDriver over VhostUserMaster, with one header, data and status
 * buffer per queue. */
typedef struct
{
  VhostUserMaster *master;
  VhostDriver *driver;
  guint64 hdr_addr, data_addr, status_addr;
  guint8 *hdr, *data, *status;
  guint requests[2];   /* chains submitted per queue */
} Front;

static void
front_open (Front *f, const char *sock, guint n_queues, gboolean packed)
{
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_DISCARD) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_WRITE_ZEROES) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_RO) |
                     (packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0);

  f->master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);
  f->driver = vhost_driver_new (VHOST_BACKEND (f->master), 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (f->driver, n_queues, 128, features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_driver_alloc (f->driver, 64, &f->hdr_addr, &error));
  /* 4 KiB aligned for --direct: allocate one page more and round up. */
  g_assert_true (vhost_driver_alloc (f->driver, BUF_SIZE + 4096, &f->data_addr, &error));
  f->data_addr = (f->data_addr + 4095) & ~(guint64) 4095;
  g_assert_true (vhost_driver_alloc (f->driver, 64, &f->status_addr, &error));
  g_assert_no_error (error);
  f->hdr = vhost_driver_get_host_address (f->driver, f->hdr_addr, 64);
  f->data = vhost_driver_get_host_address (f->driver, f->data_addr, BUF_SIZE);
  f->status = vhost_driver_get_host_address (f->driver, f->status_addr, 1);
}

/* Stop the device; the driver stays, for its final vring bases. */
static void
front_close_keep (Front *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_stop (f->driver, &error));
  g_assert_no_error (error);
}

static void
front_close (Front *f)
{
  front_close_keep (f);
  g_clear_object (&f->driver);
  g_clear_object (&f->master);
  memset (f->requests, 0, sizeof f->requests);
}

/* One request: `out_len` bytes of f->data follow the header when `in_len` is 0,
 * else `in_len` bytes are read into f->data. Returns the status; *used the used length. */
static guint8
front_request (Front *f, guint queue, guint32 type, guint64 sector, gsize out_len, gsize in_len, guint *used)
{
  struct virtio_blk_outhdr hdr = { GUINT32_TO_LE (type), 0, GUINT64_TO_LE (sector) };
  VhostDriverBuffer out[2] = { { f->hdr_addr, sizeof hdr }, { f->data_addr, out_len } };
  VhostDriverBuffer in[2] = { { f->data_addr, in_len }, { f->status_addr, 1 } };
  g_autoptr(GError) error = NULL;
  guint64 tag;
  guint len;

  memcpy (f->hdr, &hdr, sizeof hdr);
  *f->status = 0xff;
  g_assert_true (vhost_driver_submit (f->driver, queue, out, out_len > 0 ? 2 : 1, in_len > 0 ? in : in + 1,
                                      in_len > 0 ? 2 : 1, 7, &error));
  g_assert_no_error (error);
  f->requests[queue]++;
  vhost_driver_kick (f->driver, queue);
  vhost_test_reap_one (f->driver, queue, 10000, &tag, &len);
  g_assert_cmpuint (tag, ==, 7);
  if (used != NULL)
    *used = len;
  return *f->status;
}

static guint8
front_range (Front *f, guint queue, guint32 type, guint64 sector, guint32 sectors, guint32 flags)
{
  struct virtio_blk_discard_write_zeroes range = { GUINT64_TO_LE (sector), GUINT32_TO_LE (sectors),
                                                   GUINT32_TO_LE (flags) };

  memcpy (f->data, &range, sizeof range);
  return front_request (f, queue, type, 0, sizeof range, 0, NULL);
}

static char *
make_image (const char *dir, guint8 **contents)
{
  char *path = g_build_filename (dir, "disk.img", NULL);
  g_autoptr(GError) error = NULL;

  *contents = g_malloc (IMAGE_SIZE);
  for (gsize i = 0; i < IMAGE_SIZE; i++)
    (*contents)[i] = g_test_rand_int ();
  g_assert_true (g_file_set_contents (path, (char *) *contents, IMAGE_SIZE, &error));
  g_assert_no_error (error);
  return path;
}

static void
assert_image (const char *path, const guint8 *expected)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  g_assert_true (memcmp (contents, expected, IMAGE_SIZE) == 0);
}

/* The peer's fd count once it stopped changing (it closes a connection's fds shortly
 * after the front-end goes). */
static guint
settled_peer_fds (VhostPeer *peer)
{
  guint n = vhost_peer_count_fds (peer), same = 0;

  for (guint i = 0; i < 200 && same < 10; i++)
    {
      guint now;

      g_usleep (5000);
      now = vhost_peer_count_fds (peer);
      same = now == n ? same + 1 : 0;
      n = now;
    }
  return n;
}

/* The peer's fds come back to `expected` (it closes a connection's shortly after). */
static void
assert_peer_fds (VhostPeer *peer, guint expected)
{
  for (guint i = 0; i < 100 && vhost_peer_count_fds (peer) != expected; i++)
    g_usleep (10000);
  g_assert_cmpuint (vhost_peer_count_fds (peer), ==, expected);
}

/* SIGTERM or SIGINT: a clean exit 0 and the socket file gone. */
static void
stop_tool_with (VhostPeer *peer, const char *sock, int signum)
{
  g_assert_true (g_file_test (sock, G_FILE_TEST_EXISTS));
  vhost_peer_terminate (peer, signum, sock);
}

static void
stop_tool (VhostPeer *peer, const char *sock)
{
  stop_tool_with (peer, sock, SIGTERM);
}

static VhostPeer *
start_tool (const char *dir, const char *sock, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *socket_arg = g_strdup_printf ("--socket-path=%s", sock);
  VhostPeer *peer;

  g_ptr_array_add (argv, (gpointer) tool_path ("VHOST_USER_BLK"));
  g_ptr_array_add (argv, socket_arg);
  g_ptr_array_add (argv, "--verbose");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  peer = vhost_peer_start (dir, "vhost-user-blk", NULL, (const char *const *) argv->pdata);
  vhost_peer_wait_for_socket (peer, sock, 10000);
  return peer;
}

/* The queues stopped: each logged how many I/O operations went to its io_uring in
 * how many submissions. With O_DIRECT each operation went on its own, as soon as
 * its request was taken (the 32 writes above too, which went in one batch without
 * it); buffered, a batch per call of the handler. */
static void
assert_submissions (VhostPeer *peer, gboolean direct)
{
  g_autoptr(GRegex) regex = g_regex_new ("Queue ([0-9]+): ([0-9]+) I/O operations in ([0-9]+) io_uring submissions",
                                         0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *log = vhost_peer_get_log (peer);
  guint lines = 0;

  for (g_regex_match (regex, log, 0, &match); g_match_info_matches (match); g_match_info_next (match, NULL))
    {
      g_autofree char *queue = g_match_info_fetch (match, 1);
      g_autofree char *operations = g_match_info_fetch (match, 2);
      g_autofree char *submissions = g_match_info_fetch (match, 3);
      guint64 ops = g_ascii_strtoull (operations, NULL, 10), subs = g_ascii_strtoull (submissions, NULL, 10);

      g_test_message ("queue %s: %" G_GUINT64_FORMAT " I/O operations in %" G_GUINT64_FORMAT " submissions", queue,
                      ops, subs);
      if (direct)
        g_assert_cmpuint (subs, ==, ops);
      else
        g_assert_cmpuint (subs, <=, ops);
      lines++;
    }
  g_assert_cmpuint (lines, >=, 2);
}

/* Every request type on a file image, through both queues, split or packed, with
 * and without O_DIRECT, and on tmpfs (served without io_uring), the queues in one
 * thread each or ("threads") both in one; the image file holds what was written. */
static void
test_file_io (gconstpointer data)
{
  const char *mode = data;
  gboolean packed = strstr (mode, "packed") != NULL, direct = strstr (mode, "direct") != NULL;
  gboolean tmpfs = strstr (mode, "tmpfs") != NULL, one_thread = strstr (mode, "threads") != NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  g_autofree char *image_dir = tmpfs ? g_strdup ("/dev/shm/vhost-blk-tool-XXXXXX") : g_strdup (dir);
  g_autofree guint8 *model = NULL;
  g_autofree char *image = make_image (tmpfs ? g_mkdtemp (image_dir) : image_dir, &model);
  g_autofree char *file_arg = g_strdup_printf ("--blk-file=%s", image);
  const char *args[6] = { file_arg, "--num-queues=2", "--serial=" SERIAL }; /* the rest NULL */
  const char **arg = args + 3;
  g_autoptr(VhostPeer) peer = NULL;
  Front f = { 0 };
  guint used, fds, threads = one_thread ? 1 : vhost_peer_default_workers (2);

  if (direct)
    *arg++ = "--direct";
  if (one_thread)
    *arg++ = "--threads=1";
  peer = start_tool (dir, sock, args);

  front_open (&f, sock, 2, packed);
  g_assert_false (vhost_driver_get_acked_features (f.driver) & VHOST_FEATURE_MASK (VIRTIO_BLK_F_RO));
  {
    g_autofree char *log = vhost_peer_get_log (peer);
    g_autofree char *expected = g_strdup_printf ("2 queues in %u thread%s, polling for up to 16 us after a request",
                                                 threads, threads > 1 ? "s" : "");

    /* The tool's default busy poll (the library's is 32). */
    g_assert_nonnull (strstr (log, expected));
  }
  if (tmpfs)
    {
      g_autofree char *log = vhost_peer_get_log (peer);

      g_assert_nonnull (strstr (log, "is in memory (tmpfs or ramfs)"));
    }

  /* Writes of 1 to 128 sectors at random places, each read back, on both queues. */
  for (guint i = 0; i < 200; i++)
    {
      guint queue = i % 2;
      guint32 sectors = g_test_rand_int_range (1, BUF_SIZE / 512 + 1);
      guint64 sector = g_test_rand_int_range (0, SECTORS - sectors + 1);
      gsize len = sectors * 512;

      for (gsize j = 0; j < len; j++)
        f.data[j] = g_test_rand_int ();
      memcpy (model + sector * 512, f.data, len);
      g_assert_cmpuint (front_request (&f, queue, VIRTIO_BLK_T_OUT, sector, len, 0, &used), ==, VIRTIO_BLK_S_OK);
      g_assert_cmpuint (used, ==, 1);
      memset (f.data, 0, len);
      g_assert_cmpuint (front_request (&f, 1 - queue, VIRTIO_BLK_T_IN, sector, 0, len, &used), ==, VIRTIO_BLK_S_OK);
      g_assert_cmpuint (used, ==, len + 1);
      g_assert_true (memcmp (f.data, model + sector * 512, len) == 0);
    }
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), ==, VIRTIO_BLK_S_OK);
  /* Both queues ran: their workers are there. */
  g_assert_cmpuint (vhost_peer_count_threads_named (peer, "vhost-worker"), ==, threads);

  /* GET_ID: the serial, padded with NULs. */
  g_assert_cmpuint (front_request (&f, 1, VIRTIO_BLK_T_GET_ID, 0, 0, VIRTIO_BLK_ID_BYTES, &used), ==, VIRTIO_BLK_S_OK);
  g_assert_cmpuint (used, ==, VIRTIO_BLK_ID_BYTES + 1);
  g_assert_cmpstr ((char *) f.data, ==, SERIAL);

  /* Discard and write zeroes (with and without UNMAP) read back as zeroes. */
  g_assert_cmpuint (front_range (&f, 0, VIRTIO_BLK_T_DISCARD, 64, 64, 0), ==, VIRTIO_BLK_S_OK);
  memset (model + 64 * 512, 0, 64 * 512);
  g_assert_cmpuint (front_range (&f, 1, VIRTIO_BLK_T_WRITE_ZEROES, 1000, 24, 0), ==, VIRTIO_BLK_S_OK);
  memset (model + 1000 * 512, 0, 24 * 512);
  g_assert_cmpuint (front_range (&f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 3000, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), ==,
                    VIRTIO_BLK_S_OK);
  memset (model + 3000 * 512, 0, 8 * 512);
  g_assert_cmpuint (front_request (&f, 1, VIRTIO_BLK_T_IN, 1000, 0, 24 * 512, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_true (memcmp (f.data, model + 1000 * 512, 24 * 512) == 0);

  /* Bad requests: an error status, and the device goes on. */
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, SECTORS, 0, 512, NULL), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_OUT, SECTORS - 1, 1024, 0, NULL), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, G_MAXUINT64 - 1, 0, 1024, NULL), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_OUT, 0, 100, 0, NULL), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 1, 77, 0, 0, 0, NULL), ==, VIRTIO_BLK_S_UNSUPP);
  /* With a writable buffer before the status: the used length reaches the
   * status byte (a migration's dirty log covers what the length says). */
  g_assert_cmpuint (front_request (&f, 1, 77, 0, 0, 512, &used), ==, VIRTIO_BLK_S_UNSUPP);
  g_assert_cmpuint (used, ==, 512 + 1);
  g_assert_cmpuint (front_range (&f, 0, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), ==,
                    VIRTIO_BLK_S_UNSUPP);
  g_assert_cmpuint (front_range (&f, 0, VIRTIO_BLK_T_DISCARD, SECTORS - 4, 8, 0), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 1, VIRTIO_BLK_T_IN, 8, 0, 512, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_true (memcmp (f.data, model + 8 * 512, 512) == 0);

  /* 32 writes in flight on queue 0 when the front-end stops it (split ring: the base
   * counts the chains the tool took). Every chain it took is finished before it
   * answers GET_VRING_BASE, and its data is in the image; the rest stay untouched
   * for the next start. */
  if (!packed)
    {
      struct virtio_blk_outhdr *hdrs = (struct virtio_blk_outhdr *) f.data;
      guint8 *payload = f.data + 32 * sizeof *hdrs;
      guint64 payload_addr = f.data_addr + 32 * sizeof *hdrs;
      g_autoptr(GError) error = NULL;
      guint taken;

      for (guint i = 0; i < 32; i++)
        {
          VhostDriverBuffer out[2] = { { f.data_addr + i * sizeof *hdrs, sizeof *hdrs },
                                       { payload_addr + i * 512, 512 } };
          VhostDriverBuffer in = { f.status_addr, 1 };

          hdrs[i] = (struct virtio_blk_outhdr) { GUINT32_TO_LE (VIRTIO_BLK_T_OUT), 0, GUINT64_TO_LE (2000 + 3 * i) };
          memset (payload + i * 512, i + 1, 512);
          g_assert_true (vhost_driver_submit (f.driver, 0, out, 2, &in, 1, i, &error));
          g_assert_no_error (error);
        }
      vhost_driver_kick (f.driver, 0);
      g_usleep (g_test_rand_int_range (0, 2000));
      front_close_keep (&f);
      taken = vhost_driver_get_vring_base (f.driver, 0) - f.requests[0];
      g_test_message ("the tool took %u of the 32 writes before the queue stopped", taken);
      g_assert_cmpuint (taken, <=, 32);
      for (guint i = 0; i < taken; i++)
        memset (model + (2000 + 3 * i) * 512, i + 1, 512);
      g_clear_object (&f.driver);
      g_clear_object (&f.master);
      memset (f.requests, 0, sizeof f.requests);
    }
  else
    front_close (&f);
  assert_image (image, model);
  if (!tmpfs)
    assert_submissions (peer, direct);

  /* A second front-end after the first one went: the listening tool takes it, and
   * keeps none of its fds (the queues' worker threads, with their epoll and eventfd,
   * stay from the first connection). */
  fds = settled_peer_fds (peer);
  front_open (&f, sock, 1, packed);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, 0, 0, BUF_SIZE, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_true (memcmp (f.data, model, BUF_SIZE) == 0);
  front_close (&f);
  assert_peer_fds (peer, fds);
  stop_tool (peer, sock);
  vhost_peer_remove_dir (dir);
  if (tmpfs)
    vhost_peer_remove_dir (image_dir);
}

/* --read-only: VIRTIO_BLK_F_RO offered, no discard; writes fail, reads work, the
 * image is unchanged. */
static void
test_read_only (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  g_autofree guint8 *model = NULL;
  g_autofree char *image = make_image (dir, &model);
  g_autofree char *file_arg = g_strdup_printf ("--blk-file=%s", image);
  const char *args[] = { file_arg, "--read-only", NULL };
  g_autoptr(VhostPeer) peer = NULL;
  Front f = { 0 };

  g_assert_cmpint (chmod (image, 0444), ==, 0);
  peer = start_tool (dir, sock, args);
  front_open (&f, sock, 1, FALSE);
  g_assert_true (vhost_driver_get_acked_features (f.driver) & VHOST_FEATURE_MASK (VIRTIO_BLK_F_RO));
  g_assert_false (vhost_driver_get_acked_features (f.driver) & VHOST_FEATURE_MASK (VIRTIO_BLK_F_DISCARD));
  memset (f.data, 0x55, 4096);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_OUT, 0, 4096, 0, NULL), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_range (&f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), ==, VIRTIO_BLK_S_IOERR);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, 0, 0, 4096, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_true (memcmp (f.data, model, 4096) == 0);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), ==, VIRTIO_BLK_S_OK);
  front_close (&f);
  assert_image (image, model);
  stop_tool (peer, sock);
  vhost_peer_remove_dir (dir);
}

/* --ram: what is written reads back; --null: the right capacity, I/O succeeds. */
static void
test_ram_and_null (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  const char *ram_args[] = { "--ram=2M", NULL };
  const char *null_args[] = { "--null=1G", NULL };
  g_autoptr(VhostPeer) peer = start_tool (dir, sock, ram_args);
  g_autofree guint8 *pattern = g_malloc (8192);
  Front f = { 0 };

  front_open (&f, sock, 1, TRUE);
  for (guint i = 0; i < 8192; i++)
    pattern[i] = f.data[i] = g_test_rand_int ();
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_OUT, 4096 - 16, 8192, 0, NULL), ==, VIRTIO_BLK_S_OK);
  memset (f.data, 0, 8192);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, 4096 - 16, 0, 8192, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_true (memcmp (f.data, pattern, 8192) == 0);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, 4096, 0, 512, NULL), ==, VIRTIO_BLK_S_IOERR);
  front_close (&f);
  stop_tool_with (peer, sock, SIGINT);
  g_clear_pointer (&peer, vhost_peer_free);

  peer = start_tool (dir, sock, null_args);
  front_open (&f, sock, 1, FALSE);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, (1u << 21) - 8, 0, 4096, NULL), ==, VIRTIO_BLK_S_OK);
  g_assert_cmpuint (front_request (&f, 0, VIRTIO_BLK_T_IN, 1u << 21, 0, 512, NULL), ==, VIRTIO_BLK_S_IOERR);
  front_close (&f);
  stop_tool (peer, sock);
  vhost_peer_remove_dir (dir);
}

/* --fd: the tool serves a socket it inherited, and exits 0 when the front-end goes,
 * 1 when the connection broke on a bad message. */
static void
test_fd (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_subprocess_launcher_take_fd (launcher, sv[0], 3);
  process = g_subprocess_launcher_spawn (launcher, &error, tool_path ("VHOST_USER_BLK"), "--fd=3", "--ram=1M", NULL);
  g_assert_no_error (error);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  driver = vhost_driver_new (VHOST_BACKEND (master), 1024 * 1024, &error);
  g_assert_true (vhost_driver_start (driver, 1, 16, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&master);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&process);
  g_clear_object (&launcher);

  /* A front-end that sends garbage: the connection ends, and so does the tool, with 1. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_subprocess_launcher_take_fd (launcher, sv[0], 3);
  process = g_subprocess_launcher_spawn (launcher, &error, tool_path ("VHOST_USER_BLK"), "--fd=3", "--ram=1M", NULL);
  g_assert_no_error (error);
  g_assert_cmpint (write (sv[1], "garbage, not a vhost-user message header", 40), ==, 40);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  close (sv[1]);
  vhost_peer_remove_dir (dir);
}

/* vhost-user-probe reads what the tool offers. */
static void
test_probe (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  const char *args[] = { "--null=64M", "--num-queues=3", "--read-only", NULL };
  g_autoptr(VhostPeer) peer = start_tool (dir, sock, args);
  const char *argv[] = { tool_path ("VHOST_USER_PROBE"), "--json", "--socket-path", sock, "--type", "blk", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *config;
  JsonArray *names;
  gboolean ro = FALSE;
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 3);
  names = json_object_get_array_member (json_object_get_object_member (root, "features"), "names");
  for (guint i = 0; i < json_array_get_length (names); i++)
    ro |= g_str_equal (json_array_get_string_element (names, i), "ro");
  g_assert_true (ro);
  config = json_object_get_object_member (root, "config");
  g_assert_cmpint (json_object_get_int_member (config, "capacity"), ==, 64 * 1024 * 1024 / 512);
  g_assert_cmpint (json_object_get_int_member (config, "num-queues"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (config, "seg-max"), ==, 126);
  g_assert_cmpint (json_object_get_int_member (config, "size-max"), ==, 1024 * 1024);
  g_assert_cmpint (json_object_get_int_member (config, "blk-size"), ==, 512);
  stop_tool (peer, sock);
  vhost_peer_remove_dir (dir);
}

#define FLOOD_SECONDS 3
#define FLOOD_REASON "chain without a writable status byte"

/* The seconds of a GLib log line's time stamp ("[(process:PID): ]PROGRAM-WARNING **:
 * HH:MM:SS.mmm: ..."), or -1 if it has none. */
static gint64
line_second (const char *line)
{
  g_autoptr(GRegex) regex = g_regex_new ("([0-9]{2}):([0-9]{2}):([0-9]{2})\\.[0-9]{3}: ", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  gint64 second = 0;

  if (!g_regex_match (regex, line, 0, &match))
    return -1;
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *part = g_match_info_fetch (match, i);

      second = second * 60 + g_ascii_strtoll (part, NULL, 10);
    }
  return second;
}

/* A front-end that resubmits chains without a writable status byte as fast as it can:
 * the tool's stderr stays within a burst and about two lines a second, and what it
 * does not print it counts; every malformed chain is printed or counted once. */
static void
test_log_flood (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  g_autofree char *socket_arg = g_strdup_printf ("--socket-path=%s", sock);
  const char *argv[] = { tool_path ("VHOST_USER_BLK"), socket_arg, "--null=64M", NULL };
  g_autoptr(VhostPeer) peer = vhost_peer_start (dir, "vhost-user-blk", NULL, argv);
  g_autoptr(GArray) seconds = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *log = NULL;
  guint64 sent = 0, shown = 0, counted = 0, in_flight = 0, tag;
  guint len, max_per_second = 0, n_lines = 0;
  gint64 start, end;
  Front f = { 0 };

  vhost_peer_wait_for_socket (peer, sock, 10000);
  front_open (&f, sock, 1, FALSE);
  *(struct virtio_blk_outhdr *) f.hdr = (struct virtio_blk_outhdr) { GUINT32_TO_LE (VIRTIO_BLK_T_IN), 0, 0 };
  start = g_get_monotonic_time ();
  end = start + FLOOD_SECONDS * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    {
      VhostDriverBuffer out = { f.hdr_addr, sizeof (struct virtio_blk_outhdr) };

      /* A header and nothing writable, 64 at a time. */
      while (in_flight < 64)
        {
          g_assert_true (vhost_driver_submit (f.driver, 0, &out, 1, NULL, 0, sent, &error));
          g_assert_no_error (error);
          sent++;
          in_flight++;
        }
      vhost_driver_kick (f.driver, 0);
      g_assert_true (vhost_driver_wait (f.driver, 0, 10000, &error));
      g_assert_no_error (error);
      while (vhost_driver_reap (f.driver, 0, &tag, &len, &error))
        {
          g_assert_cmpuint (len, ==, 0);
          in_flight--;
        }
      g_assert_no_error (error);
    }
  while (in_flight > 0)
    {
      vhost_test_reap_one (f.driver, 0, 10000, &tag, &len);
      in_flight--;
    }
  /* The rate window reopens: stopping the queue then prints the last count. */
  while (g_get_monotonic_time () < end + G_USEC_PER_SEC + 100000)
    g_usleep (50000);
  front_close (&f);
  stop_tool (peer, sock);

  log = vhost_peer_get_log (peer);
  g_test_message ("the tool's log:\n%s", log);
  lines = g_strsplit (log, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *count = strstr (lines[i], "Queue 0: ");
      gint64 second = line_second (lines[i]);

      if (lines[i][0] == '\0')
        continue;
      n_lines++;
      if (strstr (lines[i], "Queue 0: a chain (head ") != NULL)
        shown++;
      else if (count != NULL && strstr (count, " similar messages suppressed (" FLOOD_REASON ")") != NULL)
        counted += g_ascii_strtoull (count + strlen ("Queue 0: "), NULL, 10);
      if (second >= 0)
        g_array_append_val (seconds, second);
    }
  /* The most lines in one second of the clock (the lines come in time order). */
  for (guint i = 0, run = 0; i < seconds->len; i++)
    {
      run = i > 0 && g_array_index (seconds, gint64, i) == g_array_index (seconds, gint64, i - 1) ? run + 1 : 1;
      max_per_second = MAX (max_per_second, run);
    }
  g_test_message ("%" G_GUINT64_FORMAT " malformed chains in %d s; the tool printed %u lines (at most %u in one "
                  "second): %" G_GUINT64_FORMAT " warnings, and %" G_GUINT64_FORMAT " more counted as suppressed",
                  sent, FLOOD_SECONDS, n_lines, max_per_second, shown, counted);
  g_assert_cmpuint (sent, >=, 1000);
  /* Each one printed or counted, once. */
  g_assert_cmpuint (shown + counted, ==, sent);
  g_assert_cmpuint (counted, >, 0);
  /* The burst of 10, then one warning and one count line a second at most. */
  g_assert_cmpuint (shown, <=, 10 + FLOOD_SECONDS + 2);
  g_assert_cmpuint (max_per_second, <=, 10 + 2 * 2 + 2);
  /* Besides them: the start, the listening, the front-end going away, the shutdown. */
  g_assert_cmpuint (n_lines, <=, 10 + 2 * (FLOOD_SECONDS + 2) + 6);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_data_func ("/vhost/interop/blk-tool/file/split", "split", test_file_io);
  g_test_add_data_func ("/vhost/interop/blk-tool/file/packed", "packed", test_file_io);
  g_test_add_data_func ("/vhost/interop/blk-tool/file/direct", "split direct", test_file_io);
  g_test_add_data_func ("/vhost/interop/blk-tool/file/tmpfs", "split tmpfs", test_file_io);
  g_test_add_data_func ("/vhost/interop/blk-tool/file/one-thread", "packed direct threads", test_file_io);
  g_test_add_func ("/vhost/interop/blk-tool/read-only", test_read_only);
  g_test_add_func ("/vhost/interop/blk-tool/ram-and-null", test_ram_and_null);
  g_test_add_func ("/vhost/interop/blk-tool/fd", test_fd);
  g_test_add_func ("/vhost/interop/blk-tool/probe", test_probe);
  g_test_add_func ("/vhost/interop/blk-tool/log-flood", test_log_flood);
  return g_test_run ();
}
