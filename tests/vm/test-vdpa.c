/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostVdpa against the kernel's vdpa_sim_net and vdpa_sim_blk, run inside a guest by
 * tests/vm/run-test.sh through vdpa-guest-setup.sh, which loads the modules built by
 * build-vdpa-modules.sh and creates vdpa0 (vdpasim_net, /dev/vhost-vdpa-0) and vdpa1
 * (vdpasim_blk, /dev/vhost-vdpa-1). VhostDriver brings each device up over VhostBackend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>

#include "test-support.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)
#define TIMEOUT_MS (TIMEOUT_US / 1000)
#define MEMORY_SIZE (4 * 1024 * 1024)
#define QUEUE_SIZE 64
#define NET_NODE "/dev/vhost-vdpa-0"
#define BLK_NODE "/dev/vhost-vdpa-1"
#define NET_RX 0
#define NET_TX 1
#define NET_HDR_LEN ((guint) sizeof (struct virtio_net_hdr_v1))
#define BLK_CAPACITY 0x40000 /* VDPASIM_BLK_CAPACITY in linux-6.1/drivers/vdpa/vdpa_sim/vdpa_sim_blk.c */
#define SECTOR 512

static const guint64 wanted_features =
  VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);

static guint8 net_mac[6];

/* Asserts that @call, which sets `error`, succeeded, showing the error if not. */
#define assert_ok(call)                \
  G_STMT_START                         \
  {                                    \
    gboolean ok_ = (call);             \
    g_assert_no_error (error);         \
    g_assert_true (ok_);               \
  }                                    \
  G_STMT_END

static VhostVdpa *
open_vdpa (const char *node)
{
  g_autoptr(GError) error = NULL;
  VhostVdpa *vdpa = vhost_vdpa_new (node, &error);

  g_assert_no_error (error);
  g_assert_nonnull (vdpa);
  return vdpa;
}

static guint8
get_status (VhostVdpa *vdpa)
{
  g_autoptr(GError) error = NULL;
  guint8 status = 0xff;

  assert_ok (vhost_vdpa_get_status (vdpa, &status, &error));
  return status;
}

static guint64
alloc (VhostDriver *driver, gsize size)
{
  g_autoptr(GError) error = NULL;
  guint64 addr = 0;

  assert_ok (vhost_driver_alloc (driver, size, &addr, &error));
  return addr;
}

static void
submit (VhostDriver *driver, guint queue, const VhostDriverBuffer *out, guint n_out,
        const VhostDriverBuffer *in, guint n_in, guint64 tag)
{
  g_autoptr(GError) error = NULL;

  assert_ok (vhost_driver_submit (driver, queue, out, n_out, in, n_in, tag, &error));
}

static VhostDriver *
start_driver (VhostVdpa *vdpa, guint n_queues)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostDriver) driver = vhost_driver_new (VHOST_BACKEND (vdpa), MEMORY_SIZE, &error);

  g_assert_no_error (error);
  assert_ok (vhost_driver_start (driver, n_queues, QUEUE_SIZE, wanted_features, &error));
  return g_steal_pointer (&driver);
}

/* Stops the driver's queues and resets the device, which must come back to status 0. */
static void
stop_and_reset (VhostVdpa *vdpa, VhostDriver *driver)
{
  g_autoptr(GError) error = NULL;

  assert_ok (vhost_driver_stop (driver, &error));
  assert_ok (vhost_vdpa_reset (vdpa, &error));
  g_assert_cmpuint (get_status (vdpa), ==, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Discovery */

static void
assert_node (const char *path, guint32 expected_id)
{
  g_autoptr(VhostVdpa) vdpa = open_vdpa (path);
  g_autoptr(GError) error = NULL;
  guint32 id = 0;
  struct stat st;

  g_assert_no_errno (stat (path, &st));
  g_assert_true (S_ISCHR (st.st_mode));
  assert_ok (vhost_vdpa_get_device_id (vdpa, &id, &error));
  g_assert_cmpuint (id, ==, expected_id);
}

static void
test_discovery (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = vhost_vdpa_list_devices (&error);
  VhostVdpaDeviceInfo *net, *blk;

  g_assert_no_error (error);
  g_assert_nonnull (devices);
  g_assert_cmpuint (devices->len, ==, 2);
  net = devices->pdata[0];
  blk = devices->pdata[1];

  g_assert_cmpstr (vhost_vdpa_device_info_get_name (net), ==, "vdpa0");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (net), ==, 1);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (net), ==, "vdpasim_net");
  g_assert_cmpstr (vhost_vdpa_device_info_get_device_path (net), ==, NET_NODE);
  g_assert_cmpstr (vhost_vdpa_device_info_get_driver (net), ==, "vhost_vdpa");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (net), >=, 2);
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vq_size (net), >=, QUEUE_SIZE);

  g_assert_cmpstr (vhost_vdpa_device_info_get_name (blk), ==, "vdpa1");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (blk), ==, 2);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (blk), ==, "vdpasim_blk");
  g_assert_cmpstr (vhost_vdpa_device_info_get_device_path (blk), ==, BLK_NODE);
  g_assert_cmpstr (vhost_vdpa_device_info_get_driver (blk), ==, "vhost_vdpa");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (blk), ==, 1);

  /* The nodes listed are the devices' own: their ioctl says the same device id. */
  assert_node (vhost_vdpa_device_info_get_device_path (net), 1);
  assert_node (vhost_vdpa_device_info_get_device_path (blk), 2);

  /* Listing opens nothing, so a device in use is listed too. */
  {
    g_autoptr(VhostVdpa) busy = open_vdpa (NET_NODE);
    g_autoptr(GPtrArray) again = vhost_vdpa_list_devices (&error);

    g_assert_no_error (error);
    g_assert_cmpuint (again->len, ==, 2);
    g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (again->pdata[0]), ==, 1);
  }
}

/* ---------------------------------------------------------------------------------------------
 * vdpa_sim_net */

static void
test_net_device (void)
{
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) mac = NULL;
  guint32 id = 0, config_size = 0;
  guint vqs = 0, max = 0, groups = 0, spaces = 0, group = G_MAXUINT;
  guint64 first = 1, last = 0, offered = 0, features = 0;
  guint64 wanted_backend = VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_MSG_V2) |
                           VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_BATCH) |
                           VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_ASID);

  g_assert_cmpstr (vhost_kernel_get_device_path (VHOST_KERNEL (vdpa)), ==, NET_NODE);
  g_assert_cmpint (vhost_kernel_get_fd (VHOST_KERNEL (vdpa)), >=, 0);
  assert_ok (vhost_vdpa_get_device_id (vdpa, &id, &error));
  g_assert_cmpuint (id, ==, 1);

  assert_ok (vhost_vdpa_get_config_size (vdpa, &config_size, &error));
  g_assert_cmpuint (config_size, >=, 6);
  mac = vhost_vdpa_get_config (vdpa, 0, 6, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (mac, NULL), g_bytes_get_size (mac), net_mac, sizeof net_mac);
  g_assert_null (vhost_vdpa_get_config (vdpa, config_size, 4, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_VDPA_GET_CONFIG: "));
  g_clear_error (&error);

  assert_ok (vhost_vdpa_get_vqs_count (vdpa, &vqs, &error));
  g_assert_cmpuint (vqs, ==, 3); /* RX, TX, control */
  assert_ok (vhost_vdpa_get_vring_num (vdpa, &max, &error));
  g_assert_cmpuint (max, >=, QUEUE_SIZE);
  assert_ok (vhost_vdpa_get_iova_range (vdpa, &first, &last, &error));
  g_assert_cmpuint (first, <=, last);

  assert_ok (vhost_backend_get_features (VHOST_BACKEND (vdpa), &features, &error));
  g_assert_cmpuint (features & wanted_features, ==, wanted_features);

  /* Every backend feature the kernel offers and the library knows is acked. */
  assert_ok (vhost_kernel_get_backend_features (VHOST_KERNEL (vdpa), &offered, &error));
  g_assert_cmpuint (offered & wanted_backend, ==, wanted_backend);
  g_assert_cmpuint (vhost_vdpa_get_acked_backend_features (vdpa) & wanted_backend, ==, wanted_backend);
  g_assert_cmpuint (vhost_vdpa_get_acked_backend_features (vdpa) & ~offered, ==, 0);
  {
    guint64 prop = 0;

    g_object_get (vdpa, "backend-features", &prop, NULL);
    g_assert_cmpuint (prop, ==, vhost_vdpa_get_acked_backend_features (vdpa));
  }

  /* vdpa_sim_net: data queues in group 0, the control queue in group 1, two address spaces.
   * Per-queue ioctls need the owner. */
  g_assert_false (vhost_vdpa_get_vring_group (vdpa, NET_TX, &group, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_VDPA_GET_VRING_GROUP: "));
  g_clear_error (&error);
  assert_ok (vhost_backend_set_owner (VHOST_BACKEND (vdpa), &error));
  assert_ok (vhost_vdpa_get_group_num (vdpa, &groups, &error));
  g_assert_cmpuint (groups, ==, 2);
  assert_ok (vhost_vdpa_get_as_num (vdpa, &spaces, &error));
  g_assert_cmpuint (spaces, ==, 2);
  assert_ok (vhost_vdpa_get_vring_group (vdpa, NET_TX, &group, &error));
  g_assert_cmpuint (group, ==, 0);
  assert_ok (vhost_vdpa_get_vring_group (vdpa, 2, &group, &error));
  g_assert_cmpuint (group, ==, 1);
  g_assert_false (vhost_vdpa_get_vring_group (vdpa, vqs, &group, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  assert_ok (vhost_vdpa_set_group_asid (vdpa, 1, 1, &error));
  assert_ok (vhost_vdpa_set_group_asid (vdpa, 1, 0, &error));
  g_assert_false (vhost_vdpa_set_group_asid (vdpa, 1, spaces, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* No dirty log on vDPA. */
  g_assert_false (vhost_backend_set_log_fd (VHOST_BACKEND (vdpa), -1, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
}

/* A frame for the simulator's loopback: the virtio-net header, then an Ethernet frame to the
 * device's own MAC (vdpa_sim_net drops frames to other unicast addresses). */
static GBytes *
make_frame (const guint8 *mac, guint frame_len, guint seed)
{
  guint8 *buf = g_malloc0 (NET_HDR_LEN + frame_len);
  guint8 *eth = buf + NET_HDR_LEN;
  struct virtio_net_hdr_v1 *hdr = (struct virtio_net_hdr_v1 *) buf;

  hdr->num_buffers = 0;
  memcpy (eth, mac, 6);
  memcpy (eth + 6, "\x02\x00\x00\x00\x00\x01", 6);
  eth[12] = 0x88;
  eth[13] = 0xb5;
  for (guint i = 14; i < frame_len; i++)
    eth[i] = (guint8) (i * 7 + seed * 13);
  return g_bytes_new_take (buf, NET_HDR_LEN + frame_len);
}

/* Sends each frame, to @mac, on TX and checks that it comes back on RX byte for byte. */
static void
net_echo_to (VhostDriver *driver, const guint8 *mac, const guint *frame_lens, guint n_frames, guint seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  guint64 rx_addr[8], tx_addr[8];
  const guint rx_len = 2048;

  g_assert_cmpuint (n_frames, <=, G_N_ELEMENTS (rx_addr));
  /* Receive buffers first: the simulator drops what it cannot place at once. */
  for (guint i = 0; i < n_frames; i++)
    {
      VhostDriverBuffer in;

      rx_addr[i] = alloc (driver, rx_len);
      memset (vhost_driver_get_host_address (driver, rx_addr[i], rx_len), 0xee, rx_len);
      in = (VhostDriverBuffer) { rx_addr[i], rx_len };
      submit (driver, NET_RX, NULL, 0, &in, 1, 100 + i);
    }
  vhost_driver_kick (driver, NET_RX);
  for (guint i = 0; i < n_frames; i++)
    {
      GBytes *frame = make_frame (mac, frame_lens[i], seed + i);
      VhostDriverBuffer out;

      g_ptr_array_add (frames, frame);
      tx_addr[i] = alloc (driver, g_bytes_get_size (frame));
      assert_ok (vhost_driver_write (driver, tx_addr[i], frame, &error));
      out = (VhostDriverBuffer) { tx_addr[i], g_bytes_get_size (frame) };
      submit (driver, NET_TX, &out, 1, NULL, 0, 200 + i);
      vhost_driver_kick (driver, NET_TX);
    }
  for (guint i = 0; i < n_frames; i++)
    {
      guint64 tag = 0;
      guint len = G_MAXUINT;

      vhost_test_reap_one (driver, NET_TX, TIMEOUT_MS, &tag, &len);
      g_assert_cmpuint (tag, ==, 200 + i);
      g_assert_cmpuint (len, ==, 0);
    }
  for (guint i = 0; i < n_frames; i++)
    {
      GBytes *frame = frames->pdata[i];
      g_autoptr(GBytes) got = NULL;
      guint64 tag = 0;
      guint len = 0;

      vhost_test_reap_one (driver, NET_RX, TIMEOUT_MS, &tag, &len);
      g_assert_cmpuint (tag, ==, 100 + i);
      g_assert_cmpuint (len, ==, g_bytes_get_size (frame));
      got = vhost_driver_read (driver, rx_addr[i], len, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), g_bytes_get_data (frame, NULL),
                       g_bytes_get_size (frame));
    }
  for (guint i = 0; i < n_frames; i++)
    {
      vhost_driver_free (driver, rx_addr[i]);
      vhost_driver_free (driver, tx_addr[i]);
    }
}

static void
net_echo (VhostDriver *driver, const guint *frame_lens, guint n_frames, guint seed)
{
  net_echo_to (driver, net_mac, frame_lens, n_frames, seed);
}

static const guint frame_lens[] = { 60, 64, 128, 333, 1000, 1514 };

static void
test_net_echo (void)
{
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint64 acked;

  driver = start_driver (vdpa, 2);
  acked = vhost_driver_get_acked_features (driver);
  g_assert_cmpuint (acked & wanted_features, ==, wanted_features);
  g_assert_cmpuint (get_status (vdpa), ==,
                    VHOST_VIRTIO_STATUS_ACKNOWLEDGE | VHOST_VIRTIO_STATUS_DRIVER | VHOST_VIRTIO_STATUS_FEATURES_OK |
                      VHOST_VIRTIO_STATUS_DRIVER_OK);
  g_assert_true (vhost_driver_get_running (driver));

  net_echo (driver, frame_lens, G_N_ELEMENTS (frame_lens), 1);
  net_echo (driver, frame_lens, 3, 7);

  stop_and_reset (vdpa, driver);
  g_clear_object (&driver);
  g_clear_object (&vdpa);
  vhost_test_assert_fd_count (fds);
}

/* A reset returns the status to 0, and the device comes up again (with new memory). */
static void
test_net_reset_restart (void)
{
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(VhostDriver) second = NULL;
  g_autoptr(GError) error = NULL;
  guint base = G_MAXUINT;

  driver = start_driver (vdpa, 2);
  net_echo (driver, frame_lens, 2, 3);
  assert_ok (vhost_driver_stop (driver, &error));

  /* Bringing it up again without a reset: the status cannot go back from DRIVER_OK. */
  second = vhost_driver_new (VHOST_BACKEND (vdpa), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  g_assert_false (vhost_driver_start (second, 2, QUEUE_SIZE, wanted_features, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_VDPA_SET_STATUS: "));
  g_clear_error (&error);
  g_clear_object (&second);

  assert_ok (vhost_vdpa_reset (vdpa, &error));
  g_assert_cmpuint (get_status (vdpa), ==, 0);
  g_clear_object (&driver);

  second = start_driver (vdpa, 2);
  g_assert_cmpuint (get_status (vdpa), ==, 0xf);
  net_echo (second, frame_lens, G_N_ELEMENTS (frame_lens), 11);

  /* Suspend, where the kernel offers it, keeps the queue state readable. */
  if (vhost_vdpa_get_acked_backend_features (vdpa) & VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_SUSPEND))
    {
      assert_ok (vhost_vdpa_suspend (vdpa, &error));
      assert_ok (vhost_backend_get_vring_base (VHOST_BACKEND (vdpa), NET_TX, &base, &error));
      g_assert_cmpuint (base, ==, G_N_ELEMENTS (frame_lens));
    }
  else
    {
      g_assert_false (vhost_vdpa_suspend (vdpa, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
    }
  if ((vhost_vdpa_get_acked_backend_features (vdpa) & VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_RESUME)) == 0)
    {
      g_assert_false (vhost_vdpa_resume (vdpa, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
    }

  /* reset_owner: a reset, and the memory table unmapped. */
  assert_ok (vhost_backend_reset_owner (VHOST_BACKEND (vdpa), &error));
  g_assert_cmpuint (get_status (vdpa), ==, 0);
}

/* VHOST_VDPA_SET_CONFIG: vdpa_sim_net takes a new MAC address in its configuration space, reads
 * it back, and loops back the frames sent to it from then on. */
static void
test_net_set_config (void)
{
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  static const guint8 new_mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };
  g_autoptr(GBytes) mac = g_bytes_new_static (new_mac, sizeof new_mac);
  g_autoptr(GBytes) old_mac = g_bytes_new (net_mac, sizeof net_mac);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  guint32 config_size = 0;

  assert_ok (vhost_vdpa_set_config (vdpa, 0, mac, &error));
  got = vhost_vdpa_get_config (vdpa, 0, 6, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, mac));
  g_clear_pointer (&got, g_bytes_unref);

  driver = start_driver (vdpa, 2);
  net_echo_to (driver, new_mac, frame_lens, G_N_ELEMENTS (frame_lens), 5);
  stop_and_reset (vdpa, driver);

  /* Ranges outside the configuration space: the kernel's EINVAL and E2BIG. */
  assert_ok (vhost_vdpa_get_config_size (vdpa, &config_size, &error));
  before = vhost_vdpa_get_config (vdpa, 0, config_size, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (before, NULL), 6, new_mac, 6);
  g_assert_false (vhost_vdpa_set_config (vdpa, config_size + 1, mac, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_VDPA_SET_CONFIG: ");
  g_clear_error (&error);
  g_assert_false (vhost_vdpa_set_config (vdpa, config_size - 2, mac, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_VDPA_SET_CONFIG: ");
  g_clear_error (&error);
  /* Neither changed a byte. */
  after = vhost_vdpa_get_config (vdpa, 0, config_size, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (after, before));

  /* The MAC the other cases expect. */
  assert_ok (vhost_vdpa_set_config (vdpa, 0, old_mac, &error));
  got = vhost_vdpa_get_config (vdpa, 0, 6, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, old_mac));
  g_clear_object (&driver);
  g_clear_object (&vdpa);
  vhost_test_assert_fd_count (fds);
}

/* VHOST_VDPA_SET_CONFIG_CALL: the kernel takes an eventfd for configuration changes (which the
 * simulators never make), before and while the device runs, refuses what is not one, and takes -1
 * to unbind it. */
static void
test_config_call (void)
{
  gint fds = vhost_test_count_open_fds ();
  const char *nodes[] = { NET_NODE, BLK_NODE };

  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    {
      g_autoptr(VhostVdpa) vdpa = open_vdpa (nodes[i]);
      g_autoptr(GError) error = NULL;
      int efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK), pipe_fds[2];

      g_assert_no_errno (efd);
      assert_ok (vhost_vdpa_set_config_call (vdpa, efd, &error));
      /* The kernel holds its own reference, so ours can go. */
      close (efd);
      g_assert_no_errno (pipe2 (pipe_fds, O_CLOEXEC));
      g_assert_false (vhost_vdpa_set_config_call (vdpa, pipe_fds[0], &error));
      vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_VDPA_SET_CONFIG_CALL: ");
      g_clear_error (&error);
      close (pipe_fds[0]);
      close (pipe_fds[1]);
      g_assert_false (vhost_vdpa_set_config_call (vdpa, pipe_fds[0], &error));
      vhost_test_assert_error_prefix (error, VHOST_ERROR_FDS, "VHOST_VDPA_SET_CONFIG_CALL: ");
      g_clear_error (&error);
      assert_ok (vhost_vdpa_set_config_call (vdpa, -1, &error));
      /* Bound again while the device runs. */
      efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      g_assert_no_errno (efd);
      {
        g_autoptr(VhostDriver) driver = start_driver (vdpa, i == 0 ? 2 : 1);

        assert_ok (vhost_vdpa_set_config_call (vdpa, efd, &error));
        stop_and_reset (vdpa, driver);
      }
      assert_ok (vhost_vdpa_set_config_call (vdpa, -1, &error));
      close (efd);
    }
  vhost_test_assert_fd_count (fds);
}

/* What Linux 6.1 lacks: VHOST_VDPA_GET_VRING_DESC_GROUP, VHOST_VDPA_GET_VRING_SIZE,
 * VHOST_VDPA_RESUME (6.3), the backend features after SUSPEND, and the worker ioctls (vhost-scsi's
 * alone on any kernel). Each call says NOT_SUPPORTED and names what it tried. */
static void
test_not_supported (void)
{
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostVdpa) vdpa = NULL;
  g_autoptr(GError) error = NULL;
  const guint64 newer = VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_RESUME) |
                        VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK) |
                        VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_DESC_ASID) |
                        VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_PERSIST);
  guint64 offered = 0, acked;
  guint value = G_MAXUINT;

  if (!vhost_test_kernel_older_than (6, 3))
    {
      g_test_skip ("This case checks the answers of Linux 6.1 (Debian 12's kernel)");
      return;
    }
  vdpa = open_vdpa (NET_NODE);
  /* Without the owner the kernel refuses before it looks at the ioctl. */
  g_assert_false (vhost_vdpa_get_vring_size (vdpa, NET_RX, &value, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_BROKEN, "VHOST_VDPA_GET_VRING_SIZE: ");
  g_clear_error (&error);

  assert_ok (vhost_backend_set_owner (VHOST_BACKEND (vdpa), &error));
  g_assert_false (vhost_vdpa_get_vring_size (vdpa, NET_RX, &value, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_VDPA_GET_VRING_SIZE: ");
  g_assert_nonnull (strstr (error->message, "does not have this ioctl"));
  g_clear_error (&error);
  g_assert_false (vhost_vdpa_get_vring_desc_group (vdpa, NET_RX, &value, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_VDPA_GET_VRING_DESC_GROUP: ");
  g_clear_error (&error);
  g_assert_cmpuint (value, ==, G_MAXUINT);
  /* The older per-queue ioctls work on the same queue. */
  assert_ok (vhost_vdpa_get_vring_group (vdpa, NET_RX, &value, &error));
  g_assert_cmpuint (value, ==, 0);

  /* RESUME needs its backend feature, which 6.1 offers on no device. */
  assert_ok (vhost_kernel_get_backend_features (VHOST_KERNEL (vdpa), &offered, &error));
  g_assert_cmphex (offered & newer, ==, 0);
  g_assert_cmphex (offered & VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_SUSPEND), !=, 0);
  acked = vhost_vdpa_get_acked_backend_features (vdpa);
  g_assert_cmphex (acked & newer, ==, 0);
  g_assert_false (vhost_vdpa_resume (vdpa, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_VDPA_RESUME: ");
  g_clear_error (&error);
  for (guint bit = VHOST_VDPA_BACKEND_F_RESUME; bit <= VHOST_VDPA_BACKEND_F_IOTLB_PERSIST; bit++)
    {
      g_assert_false (vhost_vdpa_set_backend_features (vdpa, acked | VHOST_FEATURE_MASK (bit), &error));
      vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_SET_BACKEND_FEATURES: ");
      g_clear_error (&error);
      g_assert_cmphex (vhost_vdpa_get_acked_backend_features (vdpa), ==, acked);
    }

  /* vhost-vdpa has no worker threads of its own. */
  g_assert_false (vhost_kernel_new_worker (VHOST_KERNEL (vdpa), &value, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_NEW_WORKER: ");
  g_clear_error (&error);
  g_assert_false (vhost_kernel_get_vring_worker (VHOST_KERNEL (vdpa), NET_RX, &value, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_GET_VRING_WORKER: ");
  g_clear_error (&error);

  /* None of it got in the way: the device comes up and echoes. */
  {
    g_autoptr(VhostDriver) driver = start_driver (vdpa, 2);

    net_echo (driver, frame_lens, 2, 9);
    stop_and_reset (vdpa, driver);
  }
  g_clear_object (&vdpa);
  vhost_test_assert_fd_count (fds);
}

/* ---------------------------------------------------------------------------------------------
 * The status state machine */

static void
test_status_order (void)
{
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  VhostBackend *backend = VHOST_BACKEND (vdpa);
  g_autoptr(GError) error = NULL;
  const guint8 ack = VHOST_VIRTIO_STATUS_ACKNOWLEDGE, drv = VHOST_VIRTIO_STATUS_DRIVER;
  const guint8 fok = VHOST_VIRTIO_STATUS_FEATURES_OK, dok = VHOST_VIRTIO_STATUS_DRIVER_OK;
  guint8 status = 0xff;
  guint64 features = 0;

  assert_ok (vhost_vdpa_reset (vdpa, &error));
  g_assert_cmpuint (get_status (vdpa), ==, 0);

  /* DRIVER before ACKNOWLEDGE. */
  g_assert_false (vhost_vdpa_set_status (vdpa, drv, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_assert_nonnull (strstr (error->message, "DRIVER needs ACKNOWLEDGE"));
  g_clear_error (&error);
  g_assert_cmpuint (get_status (vdpa), ==, 0);

  assert_ok (vhost_backend_set_status (backend, ack, &error));
  assert_ok (vhost_backend_set_status (backend, ack | drv, &error));

  /* DRIVER_OK before FEATURES_OK fails and leaves the device as it was. */
  g_assert_false (vhost_backend_set_status (backend, ack | drv | dok, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_VDPA_SET_STATUS: "));
  g_assert_nonnull (strstr (error->message, "DRIVER_OK needs FEATURES_OK"));
  g_clear_error (&error);
  assert_ok (vhost_backend_get_status (backend, &status, &error));
  g_assert_cmpuint (status, ==, ack | drv);

  /* ... and the device still comes up the right way. */
  assert_ok (vhost_backend_get_features (backend, &features, &error));
  assert_ok (vhost_backend_set_features (backend, features & wanted_features, &error));
  assert_ok (vhost_vdpa_set_status (vdpa, ack | drv | fok, &error));
  /* Features cannot change after FEATURES_OK: the kernel says EBUSY. */
  g_assert_false (vhost_backend_set_features (backend, features & wanted_features, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_SET_FEATURES: "));
  g_clear_error (&error);
  assert_ok (vhost_vdpa_set_status (vdpa, ack | drv | fok | dok, &error));
  g_assert_cmpuint (get_status (vdpa), ==, ack | drv | fok | dok);

  /* Bits go away only through a reset. */
  g_assert_false (vhost_vdpa_set_status (vdpa, ack | drv | fok, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_false (vhost_vdpa_set_status (vdpa, ack | drv | fok | dok | VHOST_VIRTIO_STATUS_NEEDS_RESET, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (get_status (vdpa), ==, ack | drv | fok | dok);

  assert_ok (vhost_backend_set_status (backend, 0, &error));
  g_assert_cmpuint (get_status (vdpa), ==, 0);
}

/* ---------------------------------------------------------------------------------------------
 * DMA mapping */

static void
test_dma_map (void)
{
  g_autoptr(VhostVdpa) vdpa = open_vdpa (NET_NODE);
  g_autoptr(GError) error = NULL;
  guint64 first = 0, last = 0;
  gsize size = 64 * 1024;
  g_autofree guint8 *mem = g_malloc0 (size + 4096);
  guint64 uaddr = ((guint64) (guintptr) mem + 4095) & ~(guint64) 4095;
  struct vhost_msg_v2 raw = { 0 };

  assert_ok (vhost_backend_set_owner (VHOST_BACKEND (vdpa), &error));
  /* A second SET_OWNER is a no-op: vhost-vdpa keeps its owner. */
  assert_ok (vhost_backend_set_owner (VHOST_BACKEND (vdpa), &error));
  assert_ok (vhost_vdpa_get_iova_range (vdpa, &first, &last, &error));

  /* Outside the IOVA range: refused before anything is sent. */
  g_assert_false (vhost_vdpa_dma_map (vdpa, 0, last - 4095, 8192, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_IOTLB_UPDATE: "));
  g_clear_error (&error);
  if (first > 0)
    {
      g_assert_false (vhost_vdpa_dma_map (vdpa, 0, first - 4096, 4096, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  if (last < G_MAXUINT64)
    {
      g_assert_false (vhost_vdpa_dma_map (vdpa, 0, last + 1, 4096, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_false (vhost_vdpa_dma_map (vdpa, 0, 0, 0, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The kernel refuses the same range itself (vhost reports any refused IOTLB message as EFAULT). */
  raw.type = VHOST_IOTLB_MSG_V2;
  raw.iotlb.type = VHOST_IOTLB_UPDATE;
  raw.iotlb.iova = last - 4095;
  raw.iotlb.size = 8192;
  raw.iotlb.uaddr = uaddr;
  raw.iotlb.perm = VHOST_ACCESS_RO;
  g_assert_cmpint (write (vhost_kernel_get_fd (VHOST_KERNEL (vdpa)), &raw, sizeof raw), ==, -1);
  g_assert_cmpint (errno, ==, EFAULT);

  /* Inside it: mapped once; an overlapping range is refused; unmapped, it maps again. */
  assert_ok (vhost_vdpa_dma_map (vdpa, 0, 0x100000, size, uaddr, VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE,
                                     &error));
  g_assert_false (vhost_vdpa_dma_map (vdpa, 0, 0x100000 + 4096, 4096, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "VHOST_IOTLB_UPDATE: Bad address");
  g_clear_error (&error);
  assert_ok (vhost_vdpa_dma_unmap (vdpa, 0, 0x100000, size, &error));
  assert_ok (vhost_vdpa_dma_map (vdpa, 0, 0x100000, size, uaddr, VHOST_IOTLB_ACCESS_READ, &error));

  /* A batch of updates and invalidates. */
  assert_ok (vhost_vdpa_dma_batch_begin (vdpa, 0, &error));
  g_assert_false (vhost_vdpa_dma_batch_begin (vdpa, 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  assert_ok (vhost_vdpa_dma_unmap (vdpa, 0, 0x100000, size, &error));
  for (guint i = 0; i < 4; i++)
    {
      assert_ok (vhost_vdpa_dma_map (vdpa, 0, 0x200000 + i * 0x10000, 16384, uaddr + i * 16384,
                                         VHOST_IOTLB_ACCESS_WRITE, &error));
    }
  assert_ok (vhost_vdpa_dma_batch_end (vdpa, &error));

  /* Address space 1 (the simulator has two) with IOTLB_ASID. */
  if (vhost_vdpa_get_acked_backend_features (vdpa) & VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_ASID))
    {
      assert_ok (vhost_vdpa_dma_map (vdpa, 1, 0x100000, 4096, uaddr, VHOST_IOTLB_ACCESS_READ, &error));
      assert_ok (vhost_vdpa_dma_unmap (vdpa, 1, 0x100000, 4096, &error));
    }
  g_assert_false (vhost_vdpa_dma_map (vdpa, 0, 0x300000, 4096, uaddr, 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* ---------------------------------------------------------------------------------------------
 * vdpa_sim_blk */

/* One request: header, @n_data buffers out (write) or in (read), the status byte. */
static guint8
blk_request (VhostDriver *driver, guint32 type, guint64 sector, const guint64 *data, guint n_data, guint data_len)
{
  g_autoptr(GError) error = NULL;
  struct virtio_blk_outhdr hdr = { .type = GUINT32_TO_LE (type), .sector = GUINT64_TO_LE (sector) };
  g_autoptr(GBytes) hdr_bytes = g_bytes_new (&hdr, sizeof hdr);
  VhostDriverBuffer out[9], in[9];
  guint n_out = 0, n_in = 0;
  guint64 hdr_addr = alloc (driver, sizeof hdr), status_addr = alloc (driver, 1);
  guint64 tag = 0;
  guint len = 0;
  guint8 status;

  g_assert_cmpuint (n_data, <=, 8);
  assert_ok (vhost_driver_write (driver, hdr_addr, hdr_bytes, &error));
  *(guint8 *) vhost_driver_get_host_address (driver, status_addr, 1) = 0xff;
  out[n_out++] = (VhostDriverBuffer) { hdr_addr, sizeof hdr };
  for (guint i = 0; i < n_data; i++)
    {
      if (type == VIRTIO_BLK_T_OUT)
        out[n_out++] = (VhostDriverBuffer) { data[i], data_len };
      else
        in[n_in++] = (VhostDriverBuffer) { data[i], data_len };
    }
  in[n_in++] = (VhostDriverBuffer) { status_addr, 1 };
  submit (driver, 0, out, n_out, in, n_in, 42);
  vhost_driver_kick (driver, 0);
  vhost_test_reap_one (driver, 0, TIMEOUT_MS, &tag, &len);
  g_assert_cmpuint (tag, ==, 42);
  status = *(guint8 *) vhost_driver_get_host_address (driver, status_addr, 1);
  if (status == VIRTIO_BLK_S_OK)
    g_assert_cmpuint (len, ==, 1 + (type == VIRTIO_BLK_T_IN ? n_data * data_len : 0));
  vhost_driver_free (driver, hdr_addr);
  vhost_driver_free (driver, status_addr);
  return status;
}

static void
fill_pattern (guint8 *p, gsize len, guint64 sector, guint seed)
{
  for (gsize i = 0; i < len; i++)
    p[i] = (guint8) ((sector * 31 + i / SECTOR * 17 + i * 3 + seed) & 0xff);
}

static void
test_blk_io (void)
{
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostVdpa) vdpa = open_vdpa (BLK_NODE);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = NULL;
  guint32 id = 0;
  guint64 capacity = 0;
  const guint64 sectors[] = { 0, 8, 1000, BLK_CAPACITY - 8 };
  const guint data_len = 4096; /* 8 sectors, the simulator's size_max */
  guint64 buf[4], rbuf[4];

  assert_ok (vhost_vdpa_get_device_id (vdpa, &id, &error));
  g_assert_cmpuint (id, ==, 2);
  config = vhost_vdpa_get_config (vdpa, 0, sizeof capacity, &error);
  g_assert_no_error (error);
  memcpy (&capacity, g_bytes_get_data (config, NULL), sizeof capacity);
  capacity = GUINT64_FROM_LE (capacity);
  g_assert_cmpuint (capacity, ==, BLK_CAPACITY);

  driver = start_driver (vdpa, 1);
  g_assert_cmpuint (get_status (vdpa), ==, 0xf);
  for (guint i = 0; i < 4; i++)
    {
      buf[i] = alloc (driver, data_len);
      rbuf[i] = alloc (driver, data_len);
    }

  /* Single-buffer writes at several places, the last sectors of the disk included. */
  for (guint s = 0; s < G_N_ELEMENTS (sectors); s++)
    {
      fill_pattern (vhost_driver_get_host_address (driver, buf[0], data_len), data_len, sectors[s], 1);
      g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_OUT, sectors[s], &buf[0], 1, data_len), ==,
                        VIRTIO_BLK_S_OK);
    }
  /* A write of four buffers (32 sectors) in one request. */
  for (guint i = 0; i < 4; i++)
    fill_pattern (vhost_driver_get_host_address (driver, buf[i], data_len), data_len, 5000 + i * 8, 2);
  g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_OUT, 5000, buf, 4, data_len), ==, VIRTIO_BLK_S_OK);

  /* Read everything back and compare. */
  for (guint s = 0; s < G_N_ELEMENTS (sectors); s++)
    {
      g_autofree guint8 *expect = g_malloc (data_len);

      memset (vhost_driver_get_host_address (driver, rbuf[0], data_len), 0, data_len);
      g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_IN, sectors[s], &rbuf[0], 1, data_len), ==,
                        VIRTIO_BLK_S_OK);
      fill_pattern (expect, data_len, sectors[s], 1);
      g_assert_cmpmem (vhost_driver_get_host_address (driver, rbuf[0], data_len), data_len, expect, data_len);
    }
  for (guint i = 0; i < 4; i++)
    memset (vhost_driver_get_host_address (driver, rbuf[i], data_len), 0, data_len);
  g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_IN, 5000, rbuf, 4, data_len), ==, VIRTIO_BLK_S_OK);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree guint8 *expect = g_malloc (data_len);

      fill_pattern (expect, data_len, 5000 + i * 8, 2);
      g_assert_cmpmem (vhost_driver_get_host_address (driver, rbuf[i], data_len), data_len, expect, data_len);
    }
  /* Unwritten sectors read as zeroes... */
  g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_IN, 20000, &rbuf[0], 1, data_len), ==, VIRTIO_BLK_S_OK);
  for (guint i = 0; i < data_len; i++)
    g_assert_cmpuint (((guint8 *) vhost_driver_get_host_address (driver, rbuf[0], data_len))[i], ==, 0);
  /* ... and past the end of the disk is an I/O error. */
  g_assert_cmpuint (blk_request (driver, VIRTIO_BLK_T_IN, BLK_CAPACITY - 4, &rbuf[0], 1, data_len), ==,
                    VIRTIO_BLK_S_IOERR);

  stop_and_reset (vdpa, driver);
  g_clear_object (&driver);
  g_clear_object (&vdpa);
  vhost_test_assert_fd_count (fds);
}

/* ---------------------------------------------------------------------------------------------
 * Opening */

static void
test_open_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVdpa) first = open_vdpa (BLK_NODE);
  VhostVdpa *vdpa;
  int fd;

  vdpa = vhost_vdpa_new ("/dev/vhost-vdpa-99", &error);
  g_assert_null (vdpa);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* One process at a time. */
  vdpa = vhost_vdpa_new (BLK_NODE, &error);
  g_assert_null (vdpa);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  g_clear_object (&first);

  /* An adopted fd. */
  fd = open (BLK_NODE, O_RDWR | O_CLOEXEC);
  g_assert_no_errno (fd);
  vdpa = vhost_vdpa_new_for_fd (fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vhost_kernel_get_fd (VHOST_KERNEL (vdpa)), ==, fd);
  g_assert_null (vhost_kernel_get_device_path (VHOST_KERNEL (vdpa)));
  g_object_unref (vdpa);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, -1);
}

static void
read_mac (void)
{
  const char *text = g_getenv ("VHOST_VDPA_TEST_MAC");
  unsigned int b[6];

  if (text == NULL || sscanf (text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    g_error ("VHOST_VDPA_TEST_MAC is not a MAC address: run this test through vdpa-guest-setup.sh");
  for (guint i = 0; i < 6; i++)
    net_mac[i] = b[i];
}

int
main (int argc, char **argv)
{
  struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

  vhost_test_init (&argc, &argv);

  if (!g_file_test (NET_NODE, G_FILE_TEST_EXISTS) || !g_file_test (BLK_NODE, G_FILE_TEST_EXISTS))
    g_error ("No " NET_NODE " and " BLK_NODE ": run this test in a guest (meson test --suite vm)");
  read_mac ();
  /* vhost-vdpa pins mapped pages against RLIMIT_MEMLOCK. */
  g_assert_no_errno (setrlimit (RLIMIT_MEMLOCK, &unlimited));

  g_test_add_func ("/vhost/vdpa/discovery", test_discovery);
  g_test_add_func ("/vhost/vdpa/open-errors", test_open_errors);
  g_test_add_func ("/vhost/vdpa/net/device", test_net_device);
  g_test_add_func ("/vhost/vdpa/net/echo", test_net_echo);
  g_test_add_func ("/vhost/vdpa/net/reset-restart", test_net_reset_restart);
  g_test_add_func ("/vhost/vdpa/net/set-config", test_net_set_config);
  g_test_add_func ("/vhost/vdpa/config-call", test_config_call);
  g_test_add_func ("/vhost/vdpa/not-supported", test_not_supported);
  g_test_add_func ("/vhost/vdpa/status/order", test_status_order);
  g_test_add_func ("/vhost/vdpa/dma/map", test_dma_map);
  g_test_add_func ("/vhost/vdpa/blk/io", test_blk_io);

  return g_test_run ();
}
