/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserMaster and VhostDriver against qemu-storage-daemon's vhost-user-blk export: config, queues, I/O. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "test-support.h"
#include "peer.h"

#define IMAGE_SIZE (64 * 1024 * 1024 + 7 * 512)

/* qemu-storage-daemon exporting `image` (raw) as vhost-user-blk with two queues on
 * `sock`; returns once the socket is there. */
static VhostPeer *
start_qsd (const char *dir, const char *image, const char *sock)
{
  g_autofree char *file = g_strdup_printf ("driver=file,node-name=f,filename=%s", image);
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on,num-queues=2", sock);
  const char *argv[] = { "qemu-storage-daemon", "--blockdev", file, "--blockdev", "driver=raw,node-name=d,file=f",
                         "--export", export, NULL };
  VhostPeer *peer = vhost_peer_start (dir, "qemu-storage-daemon", "qemu-utils", argv);

  vhost_peer_wait_for_socket (peer, sock, 30000);
  return peer;
}

static void
test_qsd_blk_export (void)
{
  gint fds_before;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-blk.sock", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autoptr(GError) error = NULL;
  guint64 features = 0, protocol = 0, queues = 0, capacity = 0;
  VhostPeer *peer;
  FILE *f;

  f = fopen (image, "w");
  g_assert_nonnull (f);
  g_assert_cmpint (ftruncate (fileno (f), IMAGE_SIZE), ==, 0);
  fclose (f);

  peer = start_qsd (dir, image, sock);
  fds_before = vhost_test_count_open_fds ();

  master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES), !=, 0);
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_true (vhost_user_master_get_protocol_features (master, &protocol, &error));
  g_assert_no_error (error);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_CONFIG, !=, 0);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_MQ, !=, 0);
  g_assert_true (vhost_user_master_set_protocol_features (master,
                                                          protocol & (VHOST_USER_PROTOCOL_F_CONFIG |
                                                                      VHOST_USER_PROTOCOL_F_MQ |
                                                                      VHOST_USER_PROTOCOL_F_REPLY_ACK |
                                                                      VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
                                                          &error));
  g_assert_no_error (error);

  g_assert_true (vhost_user_master_get_queue_num (master, &queues, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (queues, ==, 2);

  /* struct virtio_blk_config starts with the capacity in 512-byte sectors. */
  config = vhost_user_master_get_config (master, 0, 60, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (config), ==, 60);
  memcpy (&capacity, g_bytes_get_data (config, NULL), sizeof capacity);
  g_assert_cmpuint (capacity, ==, IMAGE_SIZE / 512);

  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_master_get_connected (master));

  vhost_user_master_close (master);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

#define IO_IMAGE_SIZE (4 * 1024 * 1024)
#define IO_BLOCK 4096
#define IO_DEPTH 16

typedef struct
{
  guint64 hdr;   /* struct virtio_blk_outhdr, then the status byte at +16 */
  guint64 data;  /* IO_BLOCK bytes */
  guint64 sector;
  gboolean write;
  gboolean busy;
} BlkSlot;

static void
blk_submit (VhostDriver *driver, guint queue, BlkSlot *slot, guint tag, guint32 type, guint64 sector)
{
  struct virtio_blk_outhdr *hdr = vhost_driver_get_host_address (driver, slot->hdr, 17);
  VhostDriverBuffer out[2] = { { slot->hdr, sizeof *hdr } }, in[2];
  guint n_out = 1, n_in = 0;
  g_autoptr(GError) error = NULL;

  hdr->type = type;
  hdr->ioprio = 0;
  hdr->sector = sector;
  ((guint8 *) hdr)[16] = 0xff;
  if (type == VIRTIO_BLK_T_OUT)
    out[n_out++] = (VhostDriverBuffer) { slot->data, IO_BLOCK };
  else if (type == VIRTIO_BLK_T_IN)
    in[n_in++] = (VhostDriverBuffer) { slot->data, IO_BLOCK };
  in[n_in++] = (VhostDriverBuffer) { slot->hdr + 16, 1 };
  g_assert_true (vhost_driver_submit (driver, queue, out, n_out, in, n_in, tag, &error));
  g_assert_no_error (error);
  slot->sector = sector;
  slot->write = type == VIRTIO_BLK_T_OUT;
  slot->busy = TRUE;
}

/* Wait for one completion on `queue`; check its status; return its tag. */
static guint
blk_reap (VhostDriver *driver, guint queue, BlkSlot *slots)
{
  g_autoptr(GError) error = NULL;
  guint64 tag;
  guint len;

  while (!vhost_driver_reap (driver, queue, &tag, &len, &error))
    {
      g_assert_no_error (error);
      g_assert_true (vhost_driver_wait (driver, queue, 30000, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (((guint8 *) vhost_driver_get_host_address (driver, slots[tag].hdr + 16, 1))[0], ==,
                    VIRTIO_BLK_S_OK);
  /* The used length counts at least the status byte. (qemu-storage-daemon 7.2
   * reports 1 for reads too, so the data itself is what the test checks.) */
  g_assert_cmpuint (len, >=, 1);
  g_assert_cmpuint (len, <=, (slots[tag].write ? 1 : IO_BLOCK + 1));
  slots[tag].busy = FALSE;
  return tag;
}

/* VhostDriver brings the export up and moves data: random 4 KiB writes on both
 * queues, IO_DEPTH in flight, reads that must return what was written, a flush,
 * and the image file read back on the host. */
static void
test_qsd_blk_io (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-blk.sock", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  const guint n_blocks = IO_IMAGE_SIZE / IO_BLOCK;
  g_autofree guint8 *expected = g_malloc (IO_IMAGE_SIZE);
  g_autofree guint8 *written = g_malloc0 (n_blocks);
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  BlkSlot slots[2][IO_DEPTH];
  gsize length;
  gint fds_before;
  VhostPeer *peer;

  for (gsize i = 0; i < IO_IMAGE_SIZE; i += 4)
    *(guint32 *) (expected + i) = g_test_rand_int ();
  g_assert_true (g_file_set_contents (image, (const char *) expected, IO_IMAGE_SIZE, &error));
  peer = start_qsd (dir, image, sock);
  fds_before = vhost_test_count_open_fds ();

  master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  driver = vhost_driver_new (VHOST_BACKEND (master), 8 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 2, 128,
                                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                                       VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH),
                                     &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_driver_get_acked_features (driver) & VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH), !=, 0);

  for (guint q = 0; q < 2; q++)
    for (guint i = 0; i < IO_DEPTH; i++)
      {
        g_assert_true (vhost_driver_alloc (driver, 64, &slots[q][i].hdr, &error));
        g_assert_true (vhost_driver_alloc (driver, IO_BLOCK, &slots[q][i].data, &error));
        g_assert_no_error (error);
        slots[q][i].busy = FALSE;
      }

  /* Writes: 256 per queue, each to a block no other in-flight request touches
   * (queue q writes the blocks with q == block % 2). */
  for (guint q = 0; q < 2; q++)
    {
      guint done = 0, issued = 0;

      while (done < 256)
        {
          for (guint i = 0; i < IO_DEPTH && issued < 256; i++)
            if (!slots[q][i].busy)
              {
                guint block = (g_test_rand_int_range (0, n_blocks / 2) * 2 + q);
                guint8 *data = vhost_driver_get_host_address (driver, slots[q][i].data, IO_BLOCK);
                gboolean clash = FALSE;

                for (guint j = 0; j < IO_DEPTH; j++)
                  clash |= slots[q][j].busy && slots[q][j].sector == (guint64) block * (IO_BLOCK / 512);
                if (clash)
                  continue;
                for (guint k = 0; k < IO_BLOCK; k++)
                  data[k] = g_test_rand_int ();
                memcpy (expected + (gsize) block * IO_BLOCK, data, IO_BLOCK);
                written[block] = 1;
                blk_submit (driver, q, &slots[q][i], i, VIRTIO_BLK_T_OUT, (guint64) block * (IO_BLOCK / 512));
                issued++;
              }
          vhost_driver_kick (driver, q);
          blk_reap (driver, q, slots[q]);
          done++;
        }
    }

  /* Reads of every block, written or not, through queue 0 then queue 1. */
  for (guint block = 0; block < n_blocks; block++)
    {
      guint q = block % 2;
      guint tag;

      blk_submit (driver, q, &slots[q][0], 0, VIRTIO_BLK_T_IN, (guint64) block * (IO_BLOCK / 512));
      vhost_driver_kick (driver, q);
      tag = blk_reap (driver, q, slots[q]);
      g_assert_cmpuint (tag, ==, 0);
      if (memcmp (vhost_driver_get_host_address (driver, slots[q][0].data, IO_BLOCK),
                  expected + (gsize) block * IO_BLOCK, IO_BLOCK) != 0)
        g_error ("block %u (%s) read back wrong", block, written[block] ? "written" : "untouched");
    }

  /* Flush, then the image on the host holds every write. */
  blk_submit (driver, 0, &slots[0][0], 0, VIRTIO_BLK_T_FLUSH, 0);
  vhost_driver_kick (driver, 0);
  blk_reap (driver, 0, slots[0]);
  g_assert_true (g_file_get_contents (image, &contents, &length, &error));
  g_assert_cmpuint (length, ==, IO_IMAGE_SIZE);
  g_assert_true (memcmp (contents, expected, IO_IMAGE_SIZE) == 0);

  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/qemu-storage-daemon/blk-export", test_qsd_blk_export);
  g_test_add_func ("/vhost/interop/qemu-storage-daemon/blk-io", test_qsd_blk_io);
  return g_test_run ();
}
