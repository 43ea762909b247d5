/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserMaster and VhostUserSlave in one process over a socketpair: every request, both channels. */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"

#define ALL_PROTOCOL_FEATURES G_GUINT64_CONSTANT (0xdffff) /* bits 0-19 without XEN_MMAP (17) */
#define INBAND_NEEDS (VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK)

typedef struct
{
  gint fds_before;
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;     /* (unowned) lives in the thread */
  VhostUserMaster *master;
  guint disconnects;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  int sv[2];
  g_autoptr(GError) error = NULL;

  f->fds_before = vhost_test_count_open_fds ();
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  f->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], NULL, NULL);
  f->device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (f->thread));
  f->master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->master);
  vhost_test_slave_thread_free (f->thread);
  vhost_test_assert_fd_count (f->fds_before);
}

/* The usual start of a session: features, owner, protocol features. */
static void
negotiate (Fixture *f, guint64 protocol_features)
{
  guint64 features = vhost_test_negotiate (f->master, protocol_features);

  g_assert_cmphex (features, ==, f->device->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, protocol_features);
  g_assert_cmphex (vhost_user_master_get_acked_features (f->master), ==, features);
}

/* A request with a reply: everything before it has been handled by the slave. */
static void
barrier (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, &error));
  g_assert_no_error (error);
}

static void
test_negotiate (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 num = 0, slots = 0;

  negotiate (f, ALL_PROTOCOL_FEATURES);
  barrier (f);
  g_assert_cmphex (vhost_user_slave_get_acked_protocol_features (VHOST_USER_SLAVE (f->device)), ==,
                   ALL_PROTOCOL_FEATURES);
  g_assert_cmphex (vhost_user_slave_get_acked_features (VHOST_USER_SLAVE (f->device)), ==,
                   f->device->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  g_assert_true (vhost_user_master_get_queue_num (f->master, &num, &error));
  g_assert_cmpuint (num, ==, 4);
  g_assert_true (vhost_user_master_get_max_mem_slots (f->master, &slots, &error));
  g_assert_cmpuint (slots, >=, 8);
  g_assert_no_error (error);
}

static void
copy_disconnect_error (VhostUserSlave *slave, gpointer data)
{
  GError **copy = data;

  g_assert_nonnull (VHOST_TEST_DEVICE (slave)->disconnect_error);
  *copy = g_error_copy (VHOST_TEST_DEVICE (slave)->disconnect_error);
}

static void
test_features_not_offered (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) slave_error = NULL;

  /* Bit 40 was not offered: the slave ends the session, naming the request. */
  g_assert_false (vhost_backend_set_features (VHOST_BACKEND (f->master), VHOST_FEATURE_MASK (40), &error) &&
                  vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_assert_false (vhost_user_master_get_connected (f->master));
  /* The slave's error names the bit and the way out. */
  vhost_test_slave_thread_run (f->thread, copy_disconnect_error, &slave_error);
  g_assert_error (slave_error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (slave_error->message, "SET_FEATURES: the front-end acked features that the device did "
                                                  "not offer: RING_RESET (bit 40)."));
  g_assert_nonnull (strstr (slave_error->message, "get_features virtual function"));
}

static void
test_protocol_features_not_offered (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) slave_error = NULL;

  /* XEN_MMAP, which the library does not implement, and bit 30, which no specification defines. */
  guint64 acked = VHOST_USER_PROTOCOL_F_XEN_MMAP | (G_GUINT64_CONSTANT (1) << 30);
  g_autoptr(GBytes) payload = g_bytes_new (&acked, sizeof acked);
  g_autoptr(GBytes) reply = NULL;

  /* Sent raw: the master itself refuses to set what it does not implement. */
  reply = vhost_user_master_send_request (f->master, VHOST_USER_SET_PROTOCOL_FEATURES, payload, NULL, NULL, NULL,
                                          &error);
  g_assert_no_error (error);
  g_assert_false (vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  vhost_test_slave_thread_run (f->thread, copy_disconnect_error, &slave_error);
  g_assert_nonnull (strstr (slave_error->message, "SET_PROTOCOL_FEATURES: the front-end acked protocol features that "
                                                  "the device did not offer: XEN_MMAP (bit 17), protocol feature bit "
                                                  "30."));
}

/* What a device that overrides nothing offers: the ring features the library
 * implements, and only the protocol features it backs. */
static void
set_config_space (VhostUserSlave *slave, gpointer data)
{
  if (data != NULL)
    vhost_user_slave_set_config_space (slave, data);
}

static void
test_default_offer (gconstpointer data)
{
  gboolean with_config = GPOINTER_TO_INT (data);
  g_autoptr(GBytes) config = g_bytes_new_static ("\1\2\3\4", 4);
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  VhostTestSlaveThread *thread;
  guint64 features = 0, protocol = 0;
  gint fds_before = vhost_test_count_open_fds ();
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_USER_SLAVE, sv[0], set_config_space, with_config ? config : NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_cmphex (features, ==,
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  g_assert_true (vhost_user_master_get_protocol_features (master, &protocol, &error));
  g_assert_no_error (error);
  g_assert_cmphex (protocol, ==,
                   VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_BACKEND_REQ |
                   VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD | VHOST_USER_PROTOCOL_F_HOST_NOTIFIER |
                   VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD | VHOST_USER_PROTOCOL_F_RESET_DEVICE |
                   VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS | VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS |
                   VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_SHARED_OBJECT |
                   VHOST_USER_PROTOCOL_F_LOG_SHMFD | VHOST_USER_PROTOCOL_F_PAGEFAULT |
                   VHOST_USER_PROTOCOL_F_DEVICE_STATE | VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT |
                   (with_config ? VHOST_USER_PROTOCOL_F_CONFIG : 0));
  /* QEMU's vhost-user-rng acks INDIRECT_DESC and EVENT_IDX whatever was offered: accepted now. */
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_true (vhost_user_master_set_protocol_features (master, protocol, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), NULL, &error));
  g_assert_no_error (error);
  if (with_config)
    {
      g_autoptr(GBytes) bytes = vhost_user_master_get_config (master, 0, 4, 0, &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (bytes, config));
    }
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

static void
test_config (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) update = g_bytes_new_static ("\xaa\xbb\xcc", 3);

  negotiate (f, VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_REPLY_ACK);
  bytes = vhost_user_master_get_config (f->master, 4, 16, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), 16, f->device->config + 4, 16);

  /* Read-only: the device refuses and REPLY_ACK brings the failure back. */
  g_assert_false (vhost_user_master_set_config (f->master, 8, update, 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_assert_nonnull (strstr (error->message, "SET_CONFIG"));
  g_clear_error (&error);
  g_assert_true (vhost_user_master_get_connected (f->master));

  f->device->config_writable = TRUE;
  g_assert_true (vhost_user_master_set_config (f->master, 8, update, 0, &error));
  g_assert_no_error (error);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = vhost_user_master_get_config (f->master, 8, 3, 0, &error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), 3, "\xaa\xbb\xcc", 3);

  /* Out of range: an empty GET_CONFIG reply, REJECTED, and the session goes on. */
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = vhost_user_master_get_config (f->master, 60, 16, 0, &error);
  g_assert_null (bytes);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

static void
test_mem_table (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd0 = vhost_test_memfd (1 << 20), fd1 = vhost_test_memfd (3 << 20), fd2 = vhost_test_memfd (1 << 16);
  g_autoptr(VhostMemoryRegion) r0 = vhost_memory_region_new (0, 1 << 20, 0x7f0000000000, fd0, 0);
  g_autoptr(VhostMemoryRegion) r1 = vhost_memory_region_new (1 << 30, 2 << 20, 0x7f1000000000, fd1, 1 << 20);
  g_autoptr(VhostMemoryRegion) r2 = vhost_memory_region_new (2u << 30, 1 << 16, 0x7f2000000000, fd2, 0);
  VhostMemoryRegion *regions[] = { r0, r1 };
  const char *p;

  negotiate (f, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  g_assert_cmpint (pwrite (fd0, "region zero", 11, 100), ==, 11);
  g_assert_cmpint (pwrite (fd1, "region one", 10, (1 << 20) + 4096), ==, 10);
  g_assert_true (vhost_backend_set_mem_table (VHOST_BACKEND (f->master), regions, 2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 2);
  /* The slave maps the same memory: what was written through the fd is there. */
  p = vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), 100, 11);
  g_assert_nonnull (p);
  g_assert_cmpmem (p, 11, "region zero", 11);
  p = vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), (1 << 30) + 4096, 10);
  g_assert_nonnull (p);
  g_assert_cmpmem (p, 10, "region one", 10);
  g_assert_null (vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), (1 << 20) - 4, 8));
  g_assert_null (vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), (1 << 30) + (2 << 20) - 1, 2));

  g_assert_true (vhost_user_master_add_mem_region (f->master, r2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 3);
  /* The same region again (QEMU adds it once per vhost device: one per queue pair of a
   * vhost-user-net) is counted, not mapped twice; it goes when removed as many times. */
  g_assert_true (vhost_user_master_add_mem_region (f->master, r2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 3);
  g_assert_true (vhost_user_master_remove_mem_region (f->master, r2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 3);
  g_assert_nonnull (vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), 2u << 30, 16));
  g_assert_true (vhost_user_master_remove_mem_region (f->master, r2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 2);
  g_assert_null (vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), 2u << 30, 16));
  g_assert_true (vhost_user_master_add_mem_region (f->master, r2, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 3);
  g_assert_true (vhost_user_master_remove_mem_region (f->master, r0, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (VHOST_USER_SLAVE (f->device)), ==, 2);
  g_assert_null (vhost_user_slave_translate (VHOST_USER_SLAVE (f->device), 100, 11));
  close (fd0);
  close (fd1);
  close (fd2);
}

static void
test_vrings (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVringAddr) addr = vhost_vring_addr_new (2, 0, 0x1000, 0x3000, 0x2000, 0x3000);
  int kick = eventfd (0, EFD_CLOEXEC), call = eventfd (0, EFD_CLOEXEC), err = eventfd (0, EFD_CLOEXEC);
  guint num = 0, base = 0;
  gboolean started = TRUE, enabled = TRUE;
  guint64 value = 0;
  int slave_kick;

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  g_assert_true (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 2, 256, &error));
  g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (f->master), addr, &error));
  g_assert_true (vhost_backend_set_vring_base (VHOST_BACKEND (f->master), 2, 17, &error));
  g_assert_true (vhost_backend_set_vring_call (VHOST_BACKEND (f->master), 2, call, &error));
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (f->master), 2, err, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_get_vring_state (VHOST_USER_SLAVE (f->device), 2, &num, &base, &started, &enabled));
  g_assert_cmpuint (num, ==, 256);
  g_assert_cmpuint (base, ==, 17);
  g_assert_false (started);
  g_assert_true (vhost_backend_set_vring_kick (VHOST_BACKEND (f->master), 2, kick, &error));
  g_assert_true (vhost_user_master_set_vring_enable (f->master, 2, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_get_vring_state (VHOST_USER_SLAVE (f->device), 2, NULL, NULL, &started, &enabled));
  g_assert_true (started);
  g_assert_true (enabled);

  /* The slave holds the same eventfds: a kick written here is read there. */
  value = 5;
  g_assert_cmpint (write (kick, &value, 8), ==, 8);
  slave_kick = vhost_user_slave_get_vring_fd (VHOST_USER_SLAVE (f->device), 2, VHOST_USER_SET_VRING_KICK);
  g_assert_cmpint (slave_kick, >=, 0);
  value = 0;
  g_assert_cmpint (read (slave_kick, &value, 8), ==, 8);
  g_assert_cmpuint (value, ==, 5);
  value = 9;
  g_assert_cmpint (write (vhost_user_slave_get_vring_fd (VHOST_USER_SLAVE (f->device), 2, VHOST_USER_SET_VRING_CALL),
                          &value, 8), ==, 8);
  g_assert_cmpint (read (call, &value, 8), ==, 8);
  g_assert_cmpuint (value, ==, 9);

  /* Polling mode: no fd. */
  g_assert_true (vhost_backend_set_vring_call (VHOST_BACKEND (f->master), 1, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_slave_get_vring_fd (VHOST_USER_SLAVE (f->device), 1, VHOST_USER_SET_VRING_CALL), ==, -1);

  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (f->master), 2, &base, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (base, ==, 17);
  g_assert_true (vhost_user_slave_get_vring_state (VHOST_USER_SLAVE (f->device), 2, NULL, NULL, &started, NULL));
  g_assert_false (started);
  g_assert_cmpint (vhost_user_slave_get_vring_fd (VHOST_USER_SLAVE (f->device), 2, VHOST_USER_SET_VRING_KICK), ==, -1);
  g_assert_cmpuint (f->device->vring_changes, >=, 3);

  /* Index out of range with REPLY_ACK: refused, the session goes on. */
  g_assert_false (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 9, 256, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_assert_true (vhost_user_master_get_connected (f->master));
  close (kick);
  close (call);
  close (err);
}

static void
test_log (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int log = vhost_test_memfd (8192), log_call = eventfd (0, EFD_CLOEXEC);

  negotiate (f, VHOST_USER_PROTOCOL_F_LOG_SHMFD);
  g_assert_true (vhost_backend_set_log_base (VHOST_BACKEND (f->master), 4096, 4096, log, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_has_log (VHOST_USER_SLAVE (f->device)));
  g_assert_true (vhost_backend_set_log_fd (VHOST_BACKEND (f->master), log_call, &error));
  g_assert_no_error (error);
  barrier (f);
  close (log);
  close (log_call);
}

static void
test_inflight (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 size = 0, offset = 1;
  int fd;

  negotiate (f, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
  fd = vhost_user_master_get_inflight_fd (f->master, 2, 128, &size, &offset, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (size, >=, 2 * 128 * 16);
  g_assert_cmpuint (offset, ==, 0);
  g_assert_cmpint (lseek (fd, 0, SEEK_END), >=, (off_t) size);
  g_assert_true (vhost_user_master_set_inflight_fd (f->master, fd, size, 0, 2, 128, &error));
  g_assert_no_error (error);
  barrier (f);
  close (fd);
}

static void
test_status_reset (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint8 status = 0;

  negotiate (f, VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_RESET_DEVICE);
  g_assert_true (vhost_user_master_set_status (f->master, 0x0b, &error));
  g_assert_true (vhost_user_master_get_status (f->master, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 0x0b);
  g_assert_true (vhost_user_master_reset_device (f->master, &error));
  g_assert_true (vhost_user_master_get_status (f->master, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 0);
  g_assert_cmpuint (f->device->resets, ==, 1);
}

static gboolean
device_handled (VhostTestDevice *device, VhostUserRequest request)
{
  for (guint i = 0; i < device->handled->len; i++)
    if (g_array_index (device->handled, guint, i) == request)
      return TRUE;
  return FALSE;
}

/* VhostBackend's protocol step on a master: nothing before the back-end offered
 * PROTOCOL_FEATURES; then GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES with what
 * both sides have, and a status exactly when STATUS was acked. */
static void
test_backend_negotiate_protocol (Fixture *f, gconstpointer data)
{
  VhostBackend *backend = VHOST_BACKEND (f->master);
  g_autoptr(GError) error = NULL;
  const guint64 offered = VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |
                          VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_LOG_SHMFD;
  const guint64 wanted = VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |
                         VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_CONFIG | G_GUINT64_CONSTANT (1) << 63;
  guint64 acked = 0x1234, num = 0;
  guint8 status = 0;

  f->device->protocol_features = offered;
  g_assert_false (vhost_backend_has_status (backend));
  /* Before GET_FEATURES the master does not know that the back-end has them. */
  g_assert_false (vhost_backend_negotiate_protocol (backend, wanted, &acked, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "GET_PROTOCOL_FEATURES"));
  g_clear_error (&error);
  g_assert_cmphex (acked, ==, 0x1234);
  barrier (f);
  g_assert_false (device_handled (f->device, VHOST_USER_GET_PROTOCOL_FEATURES));
  g_assert_true (vhost_user_master_get_connected (f->master));

  /* barrier() read the features: the offer has PROTOCOL_FEATURES. The master acks
   * what both want, never a feature the library lacks (bit 63). */
  g_assert_true (vhost_backend_negotiate_protocol (backend, wanted, &acked, &error));
  g_assert_no_error (error);
  g_assert_cmphex (acked, ==, offered & wanted);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, offered & wanted);
  barrier (f);
  g_assert_true (device_handled (f->device, VHOST_USER_GET_PROTOCOL_FEATURES));
  g_assert_cmphex (vhost_user_slave_get_acked_protocol_features (VHOST_USER_SLAVE (f->device)), ==, offered & wanted);
  g_assert_true (vhost_backend_has_status (backend));
  g_assert_true (vhost_backend_set_status (backend, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, &error));
  g_assert_true (vhost_backend_get_status (backend, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, VHOST_VIRTIO_STATUS_ACKNOWLEDGE);
  g_assert_true (vhost_user_master_get_queue_num (f->master, &num, &error));
  g_assert_no_error (error);

  /* Again without STATUS: no status any more, and SET_STATUS is refused unsent. */
  g_assert_true (vhost_backend_negotiate_protocol (backend, VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK,
                                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==,
                   VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK);
  g_assert_false (vhost_backend_has_status (backend));
  g_assert_false (vhost_backend_set_status (backend, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

static void
test_device_requests (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  static const guint8 mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
  static const guint8 uuid_bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (uuid_bytes, 16);
  VhostTestRecord *record;
  char buf[8] = { 0 };
  int pipe_fds[2];
  int out_fd = 0, fd;

  negotiate (f, ALL_PROTOCOL_FEATURES);

  g_assert_true (vhost_user_master_send_rarp (f->master, mac, &error));
  g_assert_no_error (error);
  record = vhost_test_device_find (f->device, VHOST_USER_SEND_RARP);
  g_assert_nonnull (record);
  g_assert_cmpmem (g_bytes_get_data (record->payload, NULL), 6, mac, 6);

  g_assert_true (vhost_user_master_net_set_mtu (f->master, 9000, &error));
  record = vhost_test_device_find (f->device, VHOST_USER_NET_SET_MTU);
  g_assert_cmpuint (*(const guint64 *) g_bytes_get_data (record->payload, NULL), ==, 9000);

  g_assert_true (vhost_user_master_set_vring_endian (f->master, 1, TRUE, &error));
  record = vhost_test_device_find (f->device, VHOST_USER_SET_VRING_ENDIAN);
  g_assert_cmpuint (((const guint32 *) g_bytes_get_data (record->payload, NULL))[1], ==, 1);

  /* IOTLB_MSG goes to the slave's device IOTLB, not to the device: without
   * VIRTIO_F_ACCESS_PLATFORM it fails (tests/test-iotlb.c has the rest). */
  g_assert_false (vhost_user_master_iotlb_msg (f->master, 0x1000, 0x2000, 0x7f00000000,
                                               VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE,
                                               VHOST_IOTLB_MESSAGE_UPDATE, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_clear_error (&error);
  g_assert_null (vhost_test_device_find (f->device, VHOST_USER_IOTLB_MSG));

  g_assert_true (vhost_user_master_vring_kick (f->master, 3, &error));
  g_assert_no_error (error);
  {
    gboolean started = FALSE;

    g_assert_true (vhost_user_slave_get_vring_state (VHOST_USER_SLAVE (f->device), 3, NULL, NULL, &started, NULL));
    g_assert_true (started);
  }

  fd = vhost_user_master_get_shared_object (f->master, uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, buf, 6, 0), ==, 6);
  g_assert_cmpmem (buf, 6, "shared", 6);
  close (fd);
  record = vhost_test_device_find (f->device, VHOST_USER_GET_SHARED_OBJECT);
  g_assert_cmpmem (g_bytes_get_data (record->payload, NULL), 16, uuid_bytes, 16);

  /* Device state: the library's own, through our pipe. Saved... */
  {
    g_autoptr(GByteArray) state = g_byte_array_new ();
    gssize n;

    g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
    g_assert_true (vhost_user_master_set_device_state_fd (f->master, VHOST_DEVICE_STATE_DIRECTION_SAVE,
                                                          VHOST_DEVICE_STATE_PHASE_STOPPED, pipe_fds[1], &out_fd, &error));
    g_assert_no_error (error);
    g_assert_cmpint (out_fd, ==, -1);
    close (pipe_fds[1]);
    while ((n = read (pipe_fds[0], buf, sizeof buf)) > 0)
      g_byte_array_append (state, (guint8 *) buf, n);
    g_assert_cmpint (n, ==, 0);
    close (pipe_fds[0]);
    g_assert_cmpuint (state->len, >, 16);
    g_assert_cmpmem (state->data, 16, "vhost-glib-state", 16);
    g_assert_true (vhost_user_master_check_device_state (f->master, &error));
    g_assert_no_error (error);
    g_assert_null (vhost_test_device_find (f->device, VHOST_USER_SET_DEVICE_STATE_FD));

    /* ...loaded back... */
    g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
    g_assert_true (vhost_user_master_set_device_state_fd (f->master, VHOST_DEVICE_STATE_DIRECTION_LOAD,
                                                          VHOST_DEVICE_STATE_PHASE_STOPPED, pipe_fds[0], &out_fd, &error));
    g_assert_no_error (error);
    close (pipe_fds[0]);
    g_assert_cmpint (write (pipe_fds[1], state->data, state->len), ==, (gssize) state->len);
    close (pipe_fds[1]);
    g_assert_true (vhost_user_master_check_device_state (f->master, &error));
    g_assert_no_error (error);

    /* ...and a state that is not one refused at the check, the session going on. */
    g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
    g_assert_true (vhost_user_master_set_device_state_fd (f->master, VHOST_DEVICE_STATE_DIRECTION_LOAD,
                                                          VHOST_DEVICE_STATE_PHASE_STOPPED, pipe_fds[0], &out_fd, &error));
    close (pipe_fds[0]);
    g_assert_cmpint (write (pipe_fds[1], "garbage", 7), ==, 7);
    close (pipe_fds[1]);
    g_assert_false (vhost_user_master_check_device_state (f->master, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_true (vhost_user_master_get_connected (f->master));
  }

  /* The rest through the generic request API. */
  {
    guint8 session[40];
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GBytes) reply = NULL;
    g_autoptr(GUnixFDList) out_fds = NULL;
    g_autoptr(GUnixFDList) in_fds = g_unix_fd_list_new ();
    guint64 id = 7;
    int gpu[2];

    for (guint i = 0; i < sizeof session; i++)
      session[i] = i;
    payload = g_bytes_new (session, sizeof session);
    reply = vhost_user_master_send_request (f->master, VHOST_USER_CREATE_CRYPTO_SESSION, payload, NULL, NULL, NULL,
                                            &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (reply, payload));
    g_clear_pointer (&payload, g_bytes_unref);
    g_clear_pointer (&reply, g_bytes_unref);

    payload = g_bytes_new (&id, sizeof id);
    reply = vhost_user_master_send_request (f->master, VHOST_USER_CLOSE_CRYPTO_SESSION, payload, NULL, NULL, NULL,
                                            &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (reply), ==, 0);
    g_clear_pointer (&reply, g_bytes_unref);

    reply = vhost_user_master_send_request (f->master, VHOST_USER_POSTCOPY_ADVISE, NULL, NULL, &out_fds, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (out_fds);
    g_assert_cmpint (g_unix_fd_list_get_length (out_fds), ==, 1);
    g_clear_pointer (&reply, g_bytes_unref);
    reply = vhost_user_master_send_request (f->master, VHOST_USER_POSTCOPY_LISTEN, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_clear_pointer (&reply, g_bytes_unref);
    reply = vhost_user_master_send_request (f->master, VHOST_USER_POSTCOPY_END, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (reply), ==, 8);
    g_clear_pointer (&reply, g_bytes_unref);

    g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gpu), ==, 0);
    g_unix_fd_list_append (in_fds, gpu[1], NULL);
    reply = vhost_user_master_send_request (f->master, VHOST_USER_GPU_SET_SOCKET, NULL, in_fds, NULL, NULL, &error);
    g_assert_no_error (error);
    record = vhost_test_device_find (f->device, VHOST_USER_GPU_SET_SOCKET);
    g_assert_cmpuint (record->n_fds, ==, 1);
    g_assert_cmpint (write (record->fd, "gpu", 3), ==, 3);
    g_assert_cmpint (read (gpu[0], buf, 3), ==, 3);
    g_assert_cmpmem (buf, 3, "gpu", 3);
    close (gpu[0]);
    close (gpu[1]);

    /* A request the generic API validates before sending. */
    g_clear_pointer (&payload, g_bytes_unref);
    payload = g_bytes_new_static ("abc", 3);
    g_assert_null (vhost_user_master_send_request (f->master, VHOST_USER_SET_FEATURES, payload, NULL, NULL, NULL,
                                                   &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE);
    g_assert_true (vhost_user_master_get_connected (f->master));
  }
}

/* Back-end requests, sent from the slave's thread while this thread runs the master's context. */
typedef struct
{
  gboolean config_changed;
  guint notifier_index;
  char notifier_data[8];
  guint64 iotlb_iova;
  guint vring_call;
  guint vring_err;
  gboolean added, removed;
  int lookup_fd;
} BackendSeen;

static void
on_config_changed (VhostUserMaster *m, BackendSeen *seen)
{
  seen->config_changed = TRUE;
}

static void
on_host_notifier (VhostUserMaster *m, guint index, gint fd, guint64 size, guint64 offset, BackendSeen *seen)
{
  seen->notifier_index = index;
  g_assert_cmpuint (size, ==, 4096);
  g_assert_cmpint (pread (fd, seen->notifier_data, 6, offset), ==, 6);
}

static void
on_iotlb (VhostUserMaster *m, guint64 iova, guint64 size, guint64 uaddr, guint perm, guint type, BackendSeen *seen)
{
  seen->iotlb_iova = iova;
  g_assert_cmpuint (type, ==, 1);
}

static void
on_vring_call (VhostUserMaster *m, guint index, BackendSeen *seen)
{
  seen->vring_call = index;
}

static void
on_vring_err (VhostUserMaster *m, guint index, BackendSeen *seen)
{
  seen->vring_err = index;
}

static void
on_added (VhostUserMaster *m, GBytes *uuid, BackendSeen *seen)
{
  g_assert_cmpuint (g_bytes_get_size (uuid), ==, 16);
  seen->added = TRUE;
}

static void
on_removed (VhostUserMaster *m, GBytes *uuid, BackendSeen *seen)
{
  seen->removed = TRUE;
}

static gint
on_lookup (VhostUserMaster *m, GBytes *uuid, BackendSeen *seen)
{
  return ((const guint8 *) g_bytes_get_data (uuid, NULL))[0] == 1 ? seen->lookup_fd : -1;
}

/* A memfd that holds "blob", the shared object the front-end hands out. */
static int
blob_memfd (void)
{
  int fd = vhost_test_memfd (4096);

  g_assert_cmpint (pwrite (fd, "blob", 4, 0), ==, 4);
  return fd;
}

/* The back-end looks `uuid` up and gets the blob. */
static void
assert_lookup_blob (VhostUserSlave *slave, GBytes *uuid)
{
  g_autoptr(GError) error = NULL;
  char buf[4] = { 0 };
  int fd;

  fd = vhost_user_slave_shared_object_lookup (slave, uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, buf, 4, 0), ==, 4);
  g_assert_cmpmem (buf, 4, "blob", 4);
  close (fd);
}

static void
send_backend_requests (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;
  static const guint8 uuid_bytes[16] = { 1 };
  static const guint8 unknown_bytes[16] = { 2 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (uuid_bytes, 16);
  g_autoptr(GBytes) unknown = g_bytes_new_static (unknown_bytes, 16);
  int area = vhost_test_memfd (8192);

  g_assert_cmpint (pwrite (area, "notify", 6, 4096), ==, 6);
  g_assert_true (vhost_user_slave_notify_config_change (slave, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_set_host_notifier (slave, 3, area, 4096, 4096, &error));
  g_assert_no_error (error);
  close (area);
  g_assert_true (vhost_user_slave_send_iotlb_msg (slave, 0xabc000, 4096, 0, 1, 1, &error));
  g_assert_true (vhost_user_slave_vring_call (slave, 2, &error));
  g_assert_true (vhost_user_slave_vring_err (slave, 1, &error));
  g_assert_true (vhost_user_slave_shared_object_add (slave, uuid, &error));
  g_assert_true (vhost_user_slave_shared_object_remove (slave, uuid, &error));
  g_assert_no_error (error);
  assert_lookup_blob (slave, uuid);
  g_assert_cmpint (vhost_user_slave_shared_object_lookup (slave, unknown, &error), ==, -1);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
}

static void
test_backend_requests (Fixture *f, gconstpointer data)
{
  BackendSeen seen = { 0 };

  seen.lookup_fd = blob_memfd ();
  g_signal_connect (f->master, "config-changed", G_CALLBACK (on_config_changed), &seen);
  g_signal_connect (f->master, "host-notifier", G_CALLBACK (on_host_notifier), &seen);
  g_signal_connect (f->master, "iotlb-message", G_CALLBACK (on_iotlb), &seen);
  g_signal_connect (f->master, "vring-call", G_CALLBACK (on_vring_call), &seen);
  g_signal_connect (f->master, "vring-err", G_CALLBACK (on_vring_err), &seen);
  g_signal_connect (f->master, "shared-object-add", G_CALLBACK (on_added), &seen);
  g_signal_connect (f->master, "shared-object-remove", G_CALLBACK (on_removed), &seen);
  g_signal_connect (f->master, "shared-object-lookup", G_CALLBACK (on_lookup), &seen);

  negotiate (f, ALL_PROTOCOL_FEATURES);
  barrier (f);
  vhost_test_slave_thread_run_iterating (f->thread, send_backend_requests, NULL);
  g_assert_true (seen.config_changed);
  g_assert_cmpuint (seen.notifier_index, ==, 3);
  g_assert_cmpmem (seen.notifier_data, 6, "notify", 6);
  g_assert_cmpuint (seen.iotlb_iova, ==, 0xabc000);
  g_assert_cmpuint (seen.vring_call, ==, 2);
  g_assert_cmpuint (seen.vring_err, ==, 1);
  g_assert_true (seen.added);
  g_assert_true (seen.removed);
  close (seen.lookup_fd);
}

typedef struct
{
  guint declined, answered, after;
  int fd;
} LookupSeen;

static gint
lookup_declines (VhostUserMaster *m, GBytes *uuid, LookupSeen *seen)
{
  seen->declined++;
  return -1;
}

static gint
lookup_answers (VhostUserMaster *m, GBytes *uuid, LookupSeen *seen)
{
  seen->answered++;
  return seen->fd;
}

static gint
lookup_after (VhostUserMaster *m, GBytes *uuid, LookupSeen *seen)
{
  seen->after++;
  return -1;
}

static void
lookup_blob (VhostUserSlave *slave, gpointer data)
{
  static const guint8 uuid_bytes[16] = { 7 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (uuid_bytes, 16);

  assert_lookup_blob (slave, uuid);
}

/* shared-object-lookup: a handler that does not know the object (-1) lets the next
 * one answer, and the handlers after the answer are not called. */
static void
test_lookup_handlers (Fixture *f, gconstpointer data)
{
  LookupSeen seen = { 0 };

  seen.fd = blob_memfd ();
  g_signal_connect (f->master, "shared-object-lookup", G_CALLBACK (lookup_declines), &seen);
  g_signal_connect (f->master, "shared-object-lookup", G_CALLBACK (lookup_answers), &seen);
  g_signal_connect (f->master, "shared-object-lookup", G_CALLBACK (lookup_after), &seen);
  negotiate (f, VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_SHARED_OBJECT);
  barrier (f);
  vhost_test_slave_thread_run_iterating (f->thread, lookup_blob, NULL);
  g_assert_cmpuint (seen.declined, ==, 1);
  g_assert_cmpuint (seen.answered, ==, 1);
  g_assert_cmpuint (seen.after, ==, 0);
  close (seen.fd);
}

static void
backend_without_channel (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (vhost_user_slave_notify_config_change (slave, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
}

static void
test_backend_not_negotiated (Fixture *f, gconstpointer data)
{
  negotiate (f, VHOST_USER_PROTOCOL_F_CONFIG);
  barrier (f);
  vhost_test_slave_thread_run (f->thread, backend_without_channel, NULL);
}

/* Each protocol feature, on and off: the request it gates works, or is refused
 * by the master without being sent. */
typedef gboolean (*GatedRequest) (VhostUserMaster *master, GError **error);

static gboolean
gated_mq (VhostUserMaster *m, GError **error)
{
  guint64 n;
  return vhost_user_master_get_queue_num (m, &n, error);
}

static gboolean
gated_config (VhostUserMaster *m, GError **error)
{
  g_autoptr(GBytes) b = vhost_user_master_get_config (m, 0, 8, 0, error);
  return b != NULL;
}

static gboolean
gated_status (VhostUserMaster *m, GError **error)
{
  guint8 s;
  return vhost_user_master_get_status (m, &s, error);
}

static gboolean
gated_slots (VhostUserMaster *m, GError **error)
{
  guint64 n;
  return vhost_user_master_get_max_mem_slots (m, &n, error);
}

static gboolean
gated_reset (VhostUserMaster *m, GError **error)
{
  return vhost_user_master_reset_device (m, error);
}

static gboolean
gated_inflight (VhostUserMaster *m, GError **error)
{
  int fd = vhost_user_master_get_inflight_fd (m, 1, 64, NULL, NULL, error);

  if (fd >= 0)
    close (fd);
  return fd >= 0;
}

static gboolean
gated_rarp (VhostUserMaster *m, GError **error)
{
  static const guint8 mac[6] = { 2, 0, 0, 0, 0, 1 };
  return vhost_user_master_send_rarp (m, mac, error);
}

static gboolean
gated_mtu (VhostUserMaster *m, GError **error)
{
  return vhost_user_master_net_set_mtu (m, 1500, error);
}

static gboolean
gated_endian (VhostUserMaster *m, GError **error)
{
  return vhost_user_master_set_vring_endian (m, 0, FALSE, error);
}

static gboolean
gated_inband (VhostUserMaster *m, GError **error)
{
  return vhost_user_master_vring_kick (m, 0, error);
}

static gboolean
gated_shared (VhostUserMaster *m, GError **error)
{
  static const guint8 u[16] = { 9 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (u, 16);
  int fd = vhost_user_master_get_shared_object (m, uuid, error);

  if (fd >= 0)
    close (fd);
  return fd >= 0;
}

/* A whole save: SET_DEVICE_STATE_FD, the state read to its end, CHECK_DEVICE_STATE. */
static gboolean
gated_device_state (VhostUserMaster *m, GError **error)
{
  int pipe_fds[2];
  char buf[256];
  gboolean ok;

  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  ok = vhost_user_master_set_device_state_fd (m, VHOST_DEVICE_STATE_DIRECTION_SAVE, VHOST_DEVICE_STATE_PHASE_STOPPED,
                                              pipe_fds[1], NULL, error);
  close (pipe_fds[1]);
  while (ok && read (pipe_fds[0], buf, sizeof buf) > 0)
    ;
  close (pipe_fds[0]);
  return ok && vhost_user_master_check_device_state (m, error);
}

static gboolean
gated_crypto (VhostUserMaster *m, GError **error)
{
  guint64 id = 1;
  g_autoptr(GBytes) payload = g_bytes_new (&id, 8);
  g_autoptr(GBytes) reply = vhost_user_master_send_request (m, VHOST_USER_CLOSE_CRYPTO_SESSION, payload, NULL, NULL,
                                                            NULL, error);
  return reply != NULL;
}

/* POSTCOPY_ADVISE: the back-end answers with a userfaultfd. */
static gboolean
gated_pagefault (VhostUserMaster *m, GError **error)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) reply = vhost_user_master_send_request (m, VHOST_USER_POSTCOPY_ADVISE, NULL, NULL, &fds, NULL,
                                                            error);

  if (reply == NULL)
    return FALSE;
  g_assert_nonnull (fds);
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 1);
  return TRUE;
}

static gboolean
gated_log (VhostUserMaster *m, GError **error)
{
  int fd = vhost_test_memfd (4096);
  gboolean ok = vhost_backend_set_log_base (VHOST_BACKEND (m), 0, 4096, fd, error);

  close (fd);
  return ok;
}

typedef struct
{
  const char *name;
  guint64 feature;
  GatedRequest request;
} GatedCase;

static const GatedCase gated_cases[] = {
  { "mq", VHOST_USER_PROTOCOL_F_MQ, gated_mq },
  { "log-shmfd", VHOST_USER_PROTOCOL_F_LOG_SHMFD, gated_log },
  { "rarp", VHOST_USER_PROTOCOL_F_RARP, gated_rarp },
  { "net-mtu", VHOST_USER_PROTOCOL_F_NET_MTU, gated_mtu },
  { "cross-endian", VHOST_USER_PROTOCOL_F_CROSS_ENDIAN, gated_endian },
  { "crypto-session", VHOST_USER_PROTOCOL_F_CRYPTO_SESSION, gated_crypto },
  { "pagefault", VHOST_USER_PROTOCOL_F_PAGEFAULT, gated_pagefault },
  { "config", VHOST_USER_PROTOCOL_F_CONFIG, gated_config },
  { "inflight-shmfd", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, gated_inflight },
  { "reset-device", VHOST_USER_PROTOCOL_F_RESET_DEVICE, gated_reset },
  { "inband-notifications", VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS, gated_inband },
  { "configure-mem-slots", VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, gated_slots },
  { "status", VHOST_USER_PROTOCOL_F_STATUS, gated_status },
  { "shared-object", VHOST_USER_PROTOCOL_F_SHARED_OBJECT, gated_shared },
  { "device-state", VHOST_USER_PROTOCOL_F_DEVICE_STATE, gated_device_state },
};

static void
test_gated (Fixture *f, gconstpointer data)
{
  const GatedCase *gc = data;
  g_autoptr(GError) error = NULL;
  gboolean reply_ack = g_str_has_suffix (g_test_get_path (), "/with-reply-ack");
  guint64 base = reply_ack ? VHOST_USER_PROTOCOL_F_REPLY_ACK : 0;

  guint64 off = base | (ALL_PROTOCOL_FEATURES & ~gc->feature & ~VHOST_USER_PROTOCOL_F_REPLY_ACK);
  guint64 on = base | gc->feature;

  /* In-band notifications go only with the back-end channel and REPLY_ACK. */
  if ((off & INBAND_NEEDS) != INBAND_NEEDS)
    off &= ~(guint64) VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS;
  if (gc->feature == VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)
    on |= INBAND_NEEDS;

  /* Off: refused locally, nothing sent, the session goes on. */
  negotiate (f, off);
  g_assert_false (gc->request (f->master, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "not negotiated"));
  g_clear_error (&error);
  g_assert_true (vhost_user_master_get_connected (f->master));

  /* On: it works. */
  g_assert_true (vhost_user_master_set_protocol_features (f->master, on, &error));
  g_assert_no_error (error);
  g_assert_true (gc->request (f->master, &error));
  g_assert_no_error (error);
  barrier (f);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* REPLY_ACK on and off for a request the slave refuses. */
static void
test_reply_ack_on (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  g_assert_false (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 0, 1000, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_assert_nonnull (strstr (error->message, "SET_VRING_NUM"));
  g_clear_error (&error);
  g_assert_true (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 0, 1024, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

static void
on_disconnected (VhostUserMaster *m, GError *error, Fixture *f)
{
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  f->disconnects++;
}

static void
test_reply_ack_off (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_signal_connect (f->master, "disconnected", G_CALLBACK (on_disconnected), f);
  negotiate (f, 0);
  /* Without an acknowledgement the request "succeeds"; the slave ends the session. */
  g_assert_true (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 0, 1000, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_false (vhost_user_master_get_connected (f->master));
}

/* INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK: the master refuses to
 * send it; sent anyway, the back-end closes the connection, as the specification
 * asks, even when the front-end asked for an acknowledgement. */
static void
test_inband_needs (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS;
  g_autoptr(GBytes) payload = g_bytes_new (&features, sizeof features);
  g_autoptr(GBytes) reply = NULL;

  g_signal_connect (f->master, "disconnected", G_CALLBACK (on_disconnected), f);
  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  g_assert_false (vhost_user_master_set_protocol_features (f->master, features, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "INBAND_NOTIFICATIONS needs BACKEND_REQ"));
  g_clear_error (&error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  barrier (f);
  g_assert_true (vhost_user_master_get_connected (f->master));

  reply = vhost_user_master_send_request (f->master, VHOST_USER_SET_PROTOCOL_FEATURES, payload, NULL, NULL, NULL,
                                          &error);
  g_assert_null (reply);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_false (vhost_user_master_get_connected (f->master));
  vhost_test_slave_thread_wait_disconnect (f->thread);
  g_assert_error (f->device->disconnect_error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (f->device->disconnect_error->message, "BACKEND_REQ and REPLY_ACK"));
}

static void
async_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  GBytes **out = data;
  g_autoptr(GError) error = NULL;

  *out = vhost_user_master_send_request_finish (VHOST_USER_MASTER (source), result, NULL, &error);
  g_assert_no_error (error);
}

static void
test_async (Fixture *f, gconstpointer data)
{
  GBytes *features = NULL, *ack = NULL;
  gboolean done = FALSE;

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  vhost_user_master_send_request_async (f->master, VHOST_USER_GET_FEATURES, NULL, NULL, NULL, async_cb, &features);
  vhost_user_master_send_request_async (f->master, VHOST_USER_SET_OWNER, NULL, NULL, NULL, async_cb, &ack);
  while (features == NULL || ack == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (g_bytes_get_size (features), ==, 8);
  g_assert_cmphex (*(const guint64 *) g_bytes_get_data (features, NULL), ==,
                   f->device->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  g_assert_cmpuint (g_bytes_get_size (ack), ==, 0);
  g_bytes_unref (features);
  g_bytes_unref (ack);
  (void) done;
}

/* Listening slave, path-based master, async connect, reconnect. */
static void
listen_setup (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_slave_listen (slave, data, &error));
  g_assert_no_error (error);
}

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_master_connect_finish (VHOST_USER_MASTER (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

static void
test_listen (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, listen_setup, path);
  g_autoptr(GError) error = NULL;
  gboolean connected = FALSE;
  guint64 features = 0;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(VhostUserMaster) master = vhost_user_master_new (path);

      g_assert_cmpstr (vhost_user_master_get_socket_path (master), ==, path);
      connected = FALSE;
      vhost_user_master_connect_async (master, NULL, connect_cb, &connected);
      vhost_test_wait_for_flag (&connected, 5000);
      g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
      g_assert_no_error (error);
      g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), !=, 0);
      vhost_user_master_close (master);
      g_assert_false (vhost_user_master_get_connected (master));
    }
  vhost_test_slave_thread_free (thread);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* The socket path: a live one is not taken over, a stale one is replaced, a path no
 * unix address holds is refused, and only the slave's own file is removed. */
static void
test_listen_paths (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  g_autofree char *stale = g_build_filename (dir, "stale", NULL);
  g_autofree char *long_path = g_strdup_printf ("%s/%0120d", dir, 0);
  g_autoptr(VhostTestDevice) first = vhost_test_device_new ();
  g_autoptr(VhostTestDevice) second = vhost_test_device_new ();
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autoptr(GError) error = NULL;
  struct stat st_first, st_second;
  int fd;

  g_assert_true (vhost_user_slave_listen (VHOST_USER_SLAVE (first), path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (path, &st_first), ==, 0);
  /* Someone answers there. */
  g_assert_false (vhost_user_slave_listen (VHOST_USER_SLAVE (second), path, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_cmpint (lstat (path, &st_second), ==, 0);
  g_assert_cmpuint (st_second.st_ino, ==, st_first.st_ino);
  g_assert_false (vhost_user_slave_listen (VHOST_USER_SLAVE (second), "", &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vhost_user_slave_listen (VHOST_USER_SLAVE (second), long_path, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "107"));
  g_clear_error (&error);
  g_assert_false (g_file_test (long_path, G_FILE_TEST_EXISTS));
  /* The first one's file replaced by hand: the first leaves the second's alone. */
  g_assert_cmpint (unlink (path), ==, 0);
  g_assert_true (vhost_user_slave_listen (VHOST_USER_SLAVE (second), path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (path, &st_second), ==, 0);
  vhost_user_slave_close (VHOST_USER_SLAVE (first));
  g_assert_cmpint (lstat (path, &st_first), ==, 0);
  g_assert_cmpuint (st_first.st_ino, ==, st_second.st_ino);
  vhost_user_slave_close (VHOST_USER_SLAVE (second));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  /* A socket file nobody listens on: replaced. */
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_strlcpy (address.sun_path, stale, sizeof address.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  close (fd);
  g_assert_true (vhost_user_slave_listen (VHOST_USER_SLAVE (first), stale, &error));
  g_assert_no_error (error);
  g_clear_object (&first);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_clear_object (&second);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* What a peer can make a device log goes out at a bounded rate, per queue and reason:
 * a burst of 10 (the rate itself is tested on a clock of its own in test-log-limit). */
static void
test_log_rate (void)
{
  g_autoptr(VhostTestDevice) device = vhost_test_device_new ();
  VhostUserSlave *slave = VHOST_USER_SLAVE (device);
  g_autoptr(GPtrArray) lines = NULL;
  VhostVirtqueue *queue0 = vhost_user_slave_get_virtqueue (slave, 0);
  gint64 start = g_get_monotonic_time ();
  guint extra;

  vhost_test_log_capture_start ("vhost-test-rate");
  for (guint i = 0; i < 50; i++)
    {
      vhost_virtqueue_log (queue0, "vhost-test-rate", G_LOG_LEVEL_MESSAGE, "bad chain", "chain %u", i);
      vhost_virtqueue_log_message (queue0, "vhost-test-rate", G_LOG_LEVEL_INFO, "other reason", "other");
      vhost_user_slave_log (slave, "vhost-test-rate", G_LOG_LEVEL_MESSAGE, "went away", "gone %u", i);
      vhost_user_slave_log_message (slave, "vhost-test-rate", G_LOG_LEVEL_MESSAGE, "went away", "gone");
    }
  /* One more message per reason for each second this took (none on a normal day),
   * with its count line. */
  extra = 2 * (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  lines = vhost_test_log_capture_take ();
  vhost_test_log_capture_stop ();
  g_assert_cmpuint (lines->len, >=, 30);
  g_assert_cmpuint (lines->len, <=, 30 + 3 * extra);
  g_assert_cmpstr (g_ptr_array_index (lines, 0), ==, "M chain 0");
  g_assert_cmpstr (g_ptr_array_index (lines, 1), ==, "I other");
  g_assert_cmpstr (g_ptr_array_index (lines, 2), ==, "M gone 0");
  g_assert_cmpstr (g_ptr_array_index (lines, 3), ==, "M gone");
  g_assert_cmpstr (g_ptr_array_index (lines, 29), ==, "I other");
}

static void
test_connect_errors (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = vhost_user_master_new ("/nonexistent/vhost.sock");
  g_autoptr(GError) error = NULL;

  g_assert_false (vhost_user_master_connect (master, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/vhost.sock"));
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_assert_nonnull (strstr (error->message, "SET_OWNER"));
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* Client mode: the slave connects to a front-end that listens. */
static void
client_setup (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_slave_connect_to (slave, data, NULL, &error));
  g_assert_no_error (error);
}

static void
test_client_mode (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  g_autoptr(GSocket) listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) accepted = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  VhostTestSlaveThread *thread;
  guint64 num = 0;

  g_assert_true (g_socket_bind (listener, address, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, client_setup, path);
  accepted = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
  master = vhost_user_master_new_for_fd (dup (g_socket_get_fd (accepted)));
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_user_master_set_protocol_features (master, VHOST_USER_PROTOCOL_F_MQ, &error));
  g_assert_true (vhost_user_master_get_queue_num (master, &num, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (num, ==, 4);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  g_socket_close (accepted, NULL);
  g_socket_close (listener, NULL);
  g_clear_object (&accepted);
  g_clear_object (&listener);
  g_unlink (path);
  g_rmdir (dir);
  vhost_test_assert_fd_count (fds_before);
}

/* Reconnecting: a back-end goes away and another one comes on the same path. */
typedef struct
{
  guint connected_notifies;
  guint features_notifies;
  guint disconnects;
  gboolean disconnected;
} ReconnectSeen;

static void
on_reconnect_notify (GObject *object, GParamSpec *pspec, ReconnectSeen *seen)
{
  if (g_str_equal (pspec->name, "connected"))
    seen->connected_notifies++;
  else
    seen->features_notifies++;
}

static void
on_reconnect_disconnected (VhostUserMaster *master, GError *error, ReconnectSeen *seen)
{
  g_assert_false (vhost_user_master_get_connected (master));
  seen->disconnects++;
  seen->disconnected = TRUE;
}

static VhostUserMaster *
reconnect_master_new (const char *path, ReconnectSeen *seen)
{
  VhostUserMaster *master = vhost_user_master_new (path);

  g_signal_connect (master, "notify::connected", G_CALLBACK (on_reconnect_notify), seen);
  g_signal_connect (master, "notify::acked-features", G_CALLBACK (on_reconnect_notify), seen);
  g_signal_connect (master, "notify::acked-protocol-features", G_CALLBACK (on_reconnect_notify), seen);
  g_signal_connect (master, "disconnected", G_CALLBACK (on_reconnect_disconnected), seen);
  return master;
}

/* Features and protocol features acked, then a request that needs the back-end. */
static void
reconnect_negotiate (VhostUserMaster *master)
{
  g_autoptr(GError) error = NULL;
  guint64 features = 0, num = 0;

  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_true (vhost_user_master_set_protocol_features (master, VHOST_USER_PROTOCOL_F_MQ, &error));
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_true (vhost_user_master_get_queue_num (master, &num, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (num, ==, 4);
  g_assert_cmphex (vhost_user_master_get_acked_features (master), ==, features);
}

/* The state of a master that a new back-end has just taken. */
static void
assert_fresh_connection (VhostUserMaster *master)
{
  g_autoptr(GError) error = NULL;
  guint64 num = 0;

  g_assert_true (vhost_user_master_get_connected (master));
  g_assert_cmphex (vhost_user_master_get_acked_features (master), ==, 0);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master), ==, 0);
  /* Nothing negotiated: GET_QUEUE_NUM is refused unsent. */
  g_assert_false (vhost_user_master_get_queue_num (master, &num, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  reconnect_negotiate (master);
}

typedef struct
{
  const char *path;
  VhostTestSlaveThread *thread;
} LateListener;

/* A back-end that starts listening a little later than the front-end dials. */
static gpointer
late_listener_main (gpointer data)
{
  LateListener *late = data;

  g_usleep (150 * 1000);
  late->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, listen_setup, (gpointer) late->path);
  return NULL;
}

static void
test_reconnect (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, listen_setup, path);
  ReconnectSeen seen = { 0 };
  g_autoptr(VhostUserMaster) master = reconnect_master_new (path, &seen);
  g_autoptr(GError) error = NULL;
  LateListener late = { path, NULL };
  GThread *starter;

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  reconnect_negotiate (master);
  g_assert_cmpuint (seen.connected_notifies, ==, 1);
  g_assert_cmpuint (seen.features_notifies, ==, 2);

  /* The back-end goes away (its socket file with it); another comes later. */
  vhost_test_slave_thread_free (thread);
  vhost_test_wait_for_flag (&seen.disconnected, 5000);
  g_assert_cmpuint (seen.connected_notifies, ==, 2);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  starter = g_thread_new ("late-listener", late_listener_main, &late);
  g_assert_true (vhost_user_master_reconnect (master, 10000, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (starter);
  g_assert_cmpuint (seen.connected_notifies, ==, 3);
  /* Both feature sets went back to 0, each with a notification. */
  g_assert_cmpuint (seen.features_notifies, ==, 4);
  assert_fresh_connection (master);

  /* Reconnecting a live connection: closed without ::disconnected, then dialed again;
   * the listening back-end takes the next front-end. */
  g_assert_true (vhost_user_master_reconnect (master, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seen.connected_notifies, ==, 5);
  assert_fresh_connection (master);
  g_assert_cmpuint (seen.disconnects, ==, 1);

  g_clear_object (&master);
  vhost_test_slave_thread_free (late.thread);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* Start vhost_user_master_reconnect_async(), wait for it and finish it. */
static gboolean
reconnect_async_waiting (VhostUserMaster *master, gint timeout_ms, GCancellable *cancellable, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  vhost_user_master_reconnect_async (master, timeout_ms, cancellable, vhost_test_store_result, &result);
  g_assert_null (result);
  vhost_test_wait_for_result (&result, 15000);
  return vhost_user_master_reconnect_finish (master, result, error);
}

static gboolean
start_listener_cb (gpointer data)
{
  LateListener *late = data;

  late->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, listen_setup, (gpointer) late->path);
  return G_SOURCE_REMOVE;
}

static void
test_reconnect_async (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  ReconnectSeen seen = { 0 };
  g_autoptr(VhostUserMaster) master = reconnect_master_new (path, &seen);
  LateListener late = { path, NULL };
  g_autoptr(GError) error = NULL;

  /* No back-end at first: the master dials on timers of this thread's context,
   * which also starts the back-end after 150 ms. */
  g_timeout_add (150, start_listener_cb, &late);
  g_assert_true (reconnect_async_waiting (master, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (late.thread);
  g_assert_cmpuint (seen.connected_notifies, ==, 1);
  assert_fresh_connection (master);

  /* Again over a live connection. */
  g_assert_true (reconnect_async_waiting (master, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seen.connected_notifies, ==, 3);
  g_assert_cmpuint (seen.disconnects, ==, 0);
  assert_fresh_connection (master);

  g_clear_object (&master);
  vhost_test_slave_thread_free (late.thread);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* A socket file nobody listens on, as a killed back-end leaves it. */
static char *
make_stale_socket (const char *dir)
{
  char *path = g_build_filename (dir, "stale", NULL);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_bind (socket, address, TRUE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  g_assert_true (g_socket_close (socket, &error));
  g_assert_no_error (error);
  return path;
}

static void
test_reconnect_timeout (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *stale = make_stale_socket (dir);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  const char *const paths[] = { stale, missing };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(VhostUserMaster) master = vhost_user_master_new (paths[i]);
      g_autoptr(GError) error = NULL;
      gint64 start = g_get_monotonic_time ();

      g_assert_false (vhost_user_master_reconnect (master, 300, NULL, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, paths[i]));
      g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
      g_assert_false (vhost_user_master_get_connected (master));

      g_clear_error (&error);
      start = g_get_monotonic_time ();
      g_assert_false (reconnect_async_waiting (master, 300, NULL, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, paths[i]));
      g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
    }
  g_assert_cmpint (g_unlink (stale), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* A failure that waiting does not cure ends at once; a master on an fd has no path. */
static void
test_reconnect_errors (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = vhost_user_master_new ("/dev/null/vhost.sock");
  g_autoptr(VhostUserMaster) adopted = NULL;
  g_autoptr(GError) error = NULL;
  int sv[2];

  g_assert_false (vhost_user_master_reconnect (master, -1, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/dev/null/vhost.sock"));
  g_clear_error (&error);
  g_assert_false (reconnect_async_waiting (master, -1, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_IO);
  g_clear_error (&error);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  close (sv[0]);
  adopted = vhost_user_master_new_for_fd (sv[1]);
  g_assert_false (vhost_user_master_reconnect (adopted, -1, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_object (&master);
  g_clear_object (&adopted);
  vhost_test_assert_fd_count (fds_before);
}

static gpointer
cancel_later_main (gpointer data)
{
  g_usleep (100 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_reconnect_cancel (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (path);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *canceller = g_thread_new ("canceller", cancel_later_main, cancellable);

  /* No limit but the cancellable. */
  g_assert_false (vhost_user_master_reconnect (master, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_thread_join (canceller);

  g_cancellable_reset (cancellable);
  g_timeout_add (100, cancel_cb, cancellable);
  g_clear_error (&error);
  g_assert_false (reconnect_async_waiting (master, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (vhost_user_master_get_connected (master));
  g_clear_object (&master);
  g_clear_object (&cancellable);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* A device that implements the device requests through their typed virtual
 * functions, and records what it was given. */
G_DECLARE_FINAL_TYPE (TestTypedDevice, test_typed_device, TEST, TYPED_DEVICE, VhostUserSlave)

struct _TestTypedDevice
{
  VhostUserSlave parent_instance;
  guint8 mac[6];
  guint mtu;
  guint endian_index;
  gboolean big_endian;
};

G_DEFINE_FINAL_TYPE (TestTypedDevice, test_typed_device, VHOST_TYPE_USER_SLAVE)

static gboolean
typed_send_rarp (VhostUserSlave *slave, const guint8 *mac, GError **error)
{
  memcpy (TEST_TYPED_DEVICE (slave)->mac, mac, 6);
  return TRUE;
}

static gboolean
typed_net_set_mtu (VhostUserSlave *slave, guint mtu, GError **error)
{
  TEST_TYPED_DEVICE (slave)->mtu = mtu;
  return TRUE;
}

static gboolean
typed_set_vring_endian (VhostUserSlave *slave, guint index, gboolean big_endian, GError **error)
{
  TEST_TYPED_DEVICE (slave)->endian_index = index;
  TEST_TYPED_DEVICE (slave)->big_endian = big_endian;
  return TRUE;
}

static gint
typed_get_shared_object (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  int fd;

  if (g_bytes_get_size (uuid) != 16 || ((const guint8 *) g_bytes_get_data (uuid, NULL))[15] != 16)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_FOUND, "no such object");
      return -1;
    }
  fd = vhost_test_memfd (4096);
  g_assert_cmpint (pwrite (fd, "object", 6, 0), ==, 6);
  return fd;
}

static void
test_typed_device_class_init (TestTypedDeviceClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  slave_class->send_rarp = typed_send_rarp;
  slave_class->net_set_mtu = typed_net_set_mtu;
  slave_class->set_vring_endian = typed_set_vring_endian;
  slave_class->get_shared_object = typed_get_shared_object;
}

static void
test_typed_device_init (TestTypedDevice *self)
{
}

static void
copy_typed_device (VhostUserSlave *slave, gpointer data)
{
  memcpy (data, slave, sizeof (TestTypedDevice));
}

/* The device requests reach the device decoded, with the specification's enumerations. */
static void
test_typed_device_requests (void)
{
  static const guint8 mac[6] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };
  static const guint8 uuid_bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (uuid_bytes, 16);
  static const guint8 other_uuid_bytes[16] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
  g_autoptr(GBytes) other_uuid = g_bytes_new_static (other_uuid_bytes, 16);
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  VhostTestSlaveThread *thread;
  TestTypedDevice seen;
  guint64 protocol = 0, bad_iotlb[4] = { 0x1000, 0x1000, 0, 9 << 8 };
  gint fds_before = vhost_test_count_open_fds ();
  int sv[2], fd;
  char buf[8];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (test_typed_device_get_type (), sv[0], NULL, NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), NULL, &error));
  g_assert_true (vhost_user_master_get_protocol_features (master, &protocol, &error));
  g_assert_no_error (error);
  /* Offered because the device implements them (test_default_offer checks that
   * a device without them does not offer them). */
  g_assert_cmphex (protocol & (VHOST_USER_PROTOCOL_F_RARP | VHOST_USER_PROTOCOL_F_NET_MTU |
                               VHOST_USER_PROTOCOL_F_CROSS_ENDIAN),
                   ==, VHOST_USER_PROTOCOL_F_RARP | VHOST_USER_PROTOCOL_F_NET_MTU |
                         VHOST_USER_PROTOCOL_F_CROSS_ENDIAN);
  g_assert_true (vhost_user_master_set_protocol_features (master, protocol, &error));

  g_assert_true (vhost_user_master_send_rarp (master, mac, &error));
  g_assert_true (vhost_user_master_net_set_mtu (master, 9000, &error));
  g_assert_true (vhost_user_master_set_vring_endian (master, 0, TRUE, &error));
  g_assert_no_error (error);
  /* A vring the device does not have, and an IOTLB message (the engine's, which refuses
   * it without ACCESS_PLATFORM). */
  g_assert_false (vhost_user_master_set_vring_endian (master, 7, TRUE, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) payload = g_bytes_new (bad_iotlb, sizeof bad_iotlb);
    g_autoptr(GBytes) reply = vhost_user_master_send_request (master, VHOST_USER_IOTLB_MSG, payload, NULL, NULL,
                                                              NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (*(const guint64 *) g_bytes_get_data (reply, NULL), !=, 0);
  }

  fd = vhost_user_master_get_shared_object (master, uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pread (fd, buf, 6, 0), ==, 6);
  g_assert_cmpmem (buf, 6, "object", 6);
  close (fd);
  g_assert_cmpint (vhost_user_master_get_shared_object (master, other_uuid, &error), <, 0);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_clear_error (&error);

  vhost_test_slave_thread_run (thread, copy_typed_device, &seen);
  g_assert_cmpmem (seen.mac, 6, mac, 6);
  g_assert_cmpuint (seen.mtu, ==, 9000);
  g_assert_cmpuint (seen.endian_index, ==, 0);
  g_assert_true (seen.big_endian);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* The polling properties: defaults, and a notification for each change only. */
static void
test_poll_properties (void)
{
  g_autoptr(VhostUserSlave) slave = g_object_new (VHOST_TYPE_TEST_DEVICE, NULL);
  guint notified = 0, value = 1;

  g_assert_cmpuint (vhost_user_slave_get_busy_poll_us (slave), ==, 32);
  g_assert_cmpuint (vhost_user_slave_get_coalesce_us (slave), ==, 0);
  g_signal_connect (slave, "notify::coalesce-us", G_CALLBACK (count_notify), &notified);
  g_object_set (slave, "coalesce-us", 100, NULL);
  g_object_get (slave, "coalesce-us", &value, NULL);
  g_assert_cmpuint (value, ==, 100);
  g_assert_cmpuint (notified, ==, 1);
  vhost_user_slave_set_coalesce_us (slave, 100);
  g_assert_cmpuint (notified, ==, 1);
  vhost_user_slave_set_coalesce_us (slave, 0);
  g_assert_cmpuint (vhost_user_slave_get_coalesce_us (slave), ==, 0);
  g_assert_cmpuint (notified, ==, 2);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

#define ADD(path, func) g_test_add ("/vhost/user/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("negotiate", test_negotiate);
  ADD ("features-not-offered", test_features_not_offered);
  ADD ("protocol-features-not-offered", test_protocol_features_not_offered);
  ADD ("config", test_config);
  ADD ("mem-table", test_mem_table);
  ADD ("vrings", test_vrings);
  ADD ("log", test_log);
  ADD ("inflight", test_inflight);
  ADD ("status-reset", test_status_reset);
  ADD ("backend-negotiate-protocol", test_backend_negotiate_protocol);
  ADD ("device-requests", test_device_requests);
  ADD ("backend-requests", test_backend_requests);
  ADD ("backend-not-negotiated", test_backend_not_negotiated);
  ADD ("backend-requests/lookup-handlers", test_lookup_handlers);
  ADD ("reply-ack/on", test_reply_ack_on);
  ADD ("reply-ack/off", test_reply_ack_off);
  ADD ("inband-needs-backend-req-and-reply-ack", test_inband_needs);
  ADD ("async", test_async);
#undef ADD
  for (guint i = 0; i < G_N_ELEMENTS (gated_cases); i++)
    for (guint ack = 0; ack < 2; ack++)
      {
        g_autofree char *path = g_strdup_printf ("/vhost/user/protocol-feature/%s/%s", gated_cases[i].name,
                                                 ack ? "with-reply-ack" : "without-reply-ack");
        g_test_add (path, Fixture, &gated_cases[i], fixture_setup, test_gated, fixture_teardown);
      }
  g_test_add_data_func ("/vhost/user/default-offer/without-config", GINT_TO_POINTER (FALSE), test_default_offer);
  g_test_add_data_func ("/vhost/user/default-offer/with-config", GINT_TO_POINTER (TRUE), test_default_offer);
  g_test_add_func ("/vhost/user/typed-device-requests", test_typed_device_requests);
  g_test_add_func ("/vhost/user/poll-properties", test_poll_properties);
  g_test_add_func ("/vhost/user/listen", test_listen);
  g_test_add_func ("/vhost/user/listen/paths", test_listen_paths);
  g_test_add_func ("/vhost/user/log-rate", test_log_rate);
  g_test_add_func ("/vhost/user/connect-errors", test_connect_errors);
  g_test_add_func ("/vhost/user/client-mode", test_client_mode);
  g_test_add_func ("/vhost/user/reconnect", test_reconnect);
  g_test_add_func ("/vhost/user/reconnect/async", test_reconnect_async);
  g_test_add_func ("/vhost/user/reconnect/timeout", test_reconnect_timeout);
  g_test_add_func ("/vhost/user/reconnect/errors", test_reconnect_errors);
  g_test_add_func ("/vhost/user/reconnect/cancel", test_reconnect_cancel);
  return g_test_run ();
}
