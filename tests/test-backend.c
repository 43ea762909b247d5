/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostBackend's defaults, seen by implementations that override only what they must, and the boxed records its calls take. */
#include <string.h>
#include <unistd.h>

#include "test-support.h"

/* A back-end with the required calls only, which counts the calls that reach it. */
#define TEST_TYPE_PLAIN_BACKEND (test_plain_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestPlainBackend, test_plain_backend, TEST, PLAIN_BACKEND, GObject)

struct _TestPlainBackend
{
  GObject parent_instance;

  guint calls; /* every call that reached an implementation */
};

static void test_plain_backend_iface_init (VhostBackendInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestPlainBackend, test_plain_backend, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND, test_plain_backend_iface_init))

static gboolean
plain_get_features (VhostBackend *backend, guint64 *features, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  /* Offers the bit that announces vhost-user protocol features, which a back-end
   * without them must still refuse to negotiate. */
  *features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
  return TRUE;
}

static gboolean
plain_no_fd (VhostBackend *backend, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_u64 (VhostBackend *backend, guint64 value, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_mem_table (VhostBackend *backend, VhostMemoryRegion **regions, guint n_regions, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_log_base (VhostBackend *backend, guint64 base, guint64 size, gint fd, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_fd (VhostBackend *backend, gint fd, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_vring_value (VhostBackend *backend, guint index, guint value, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static gboolean
plain_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  *base = 0;
  return TRUE;
}

static gboolean
plain_vring_fd (VhostBackend *backend, guint index, gint fd, GError **error)
{
  TEST_PLAIN_BACKEND (backend)->calls++;
  return TRUE;
}

static void
test_plain_backend_iface_init (VhostBackendInterface *iface)
{
  iface->get_features = plain_get_features;
  iface->set_features = plain_u64;
  iface->set_owner = plain_no_fd;
  iface->reset_owner = plain_no_fd;
  iface->set_mem_table = plain_mem_table;
  iface->set_log_base = plain_log_base;
  iface->set_log_fd = plain_fd;
  iface->set_vring_num = plain_vring_value;
  iface->set_vring_addr = plain_vring_addr;
  iface->set_vring_base = plain_vring_value;
  iface->get_vring_base = plain_get_vring_base;
  iface->set_vring_kick = plain_vring_fd;
  iface->set_vring_call = plain_vring_fd;
  iface->set_vring_err = plain_vring_fd;
}

static void
test_plain_backend_class_init (TestPlainBackendClass *klass)
{
}

static void
test_plain_backend_init (TestPlainBackend *self)
{
}

/* The same with a status: it overrides set_status and nothing else of the optional calls. */
#define TEST_TYPE_STATUS_BACKEND (test_status_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestStatusBackend, test_status_backend, TEST, STATUS_BACKEND, GObject)

struct _TestStatusBackend
{
  GObject parent_instance;

  guint8 status;
};

static void test_status_backend_iface_init (VhostBackendInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestStatusBackend, test_status_backend, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND, test_status_backend_iface_init))

static gboolean
status_set_status (VhostBackend *backend, guint8 status, GError **error)
{
  TEST_STATUS_BACKEND (backend)->status = status;
  return TRUE;
}

static void
test_status_backend_iface_init (VhostBackendInterface *iface)
{
  iface->set_status = status_set_status;
}

static void
test_status_backend_class_init (TestStatusBackendClass *klass)
{
}

static void
test_status_backend_init (TestStatusBackend *self)
{
}

/* Without an implementation, negotiate_protocol is NOT_SUPPORTED and reaches nothing,
 * whatever the virtio features offered; has_status is FALSE without set_status. */
static void
test_defaults_plain (void)
{
  g_autoptr(TestPlainBackend) plain = g_object_new (TEST_TYPE_PLAIN_BACKEND, NULL);
  VhostBackend *backend = VHOST_BACKEND (plain);
  g_autoptr(GError) error = NULL;
  guint64 features = 0, acked = 0x1234;

  g_assert_null (VHOST_BACKEND_GET_IFACE (backend)->negotiate_protocol);
  g_assert_nonnull (VHOST_BACKEND_GET_IFACE (backend)->has_status);
  g_assert_true (vhost_backend_get_features (backend, &features, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (plain->calls, ==, 1);

  g_assert_false (vhost_backend_negotiate_protocol (backend, G_MAXUINT64, &acked, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "TestPlainBackend"));
  g_clear_error (&error);
  g_assert_cmphex (acked, ==, 0x1234);
  /* (optional): NULL is fine. */
  g_assert_false (vhost_backend_negotiate_protocol (backend, 0, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpuint (plain->calls, ==, 1);

  g_assert_false (vhost_backend_has_status (backend));
  g_assert_false (vhost_backend_set_status (backend, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_cmpuint (plain->calls, ==, 1);
}

static void
test_defaults_status (void)
{
  g_autoptr(TestStatusBackend) with_status = g_object_new (TEST_TYPE_STATUS_BACKEND, NULL);
  VhostBackend *backend = VHOST_BACKEND (with_status);
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_backend_has_status (backend));
  g_assert_true (vhost_backend_set_status (backend, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (with_status->status, ==, VHOST_VIRTIO_STATUS_ACKNOWLEDGE);
  g_assert_false (vhost_backend_negotiate_protocol (backend, G_MAXUINT64, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
}

/* The records are shared by reference; the last unref closes the region's fd. */
static void
test_boxed_records (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  int memfd = vhost_test_memfd (4096);
  VhostMemoryRegion *region = vhost_memory_region_new (0x1000, 4096, 0x7f0000000000, memfd, 512);
  VhostMemoryRegion *copy;
  VhostVringAddr *addr = vhost_vring_addr_new (3, 1, 0x100, 0x300, 0x200, 0x4000);
  VhostVringAddr *addr_copy;

  /* The region keeps a duplicate of the fd. */
  close (memfd);
  vhost_test_assert_fd_count (fds_before + 1);
  g_assert_cmpint (vhost_memory_region_get_fd (region), >=, 0);
  g_assert_cmpuint (vhost_memory_region_get_guest_phys_addr (region), ==, 0x1000);
  g_assert_cmpuint (vhost_memory_region_get_size (region), ==, 4096);
  g_assert_cmpuint (vhost_memory_region_get_userspace_addr (region), ==, 0x7f0000000000);
  g_assert_cmpuint (vhost_memory_region_get_mmap_offset (region), ==, 512);
  copy = g_boxed_copy (VHOST_TYPE_MEMORY_REGION, region);
  g_assert_true (copy == region);
  g_assert_true (vhost_memory_region_ref (region) == region);
  vhost_memory_region_unref (region);
  g_boxed_free (VHOST_TYPE_MEMORY_REGION, copy);
  vhost_test_assert_fd_count (fds_before + 1);
  vhost_memory_region_unref (region);
  vhost_test_assert_fd_count (fds_before);

  /* Without an fd there is nothing to close. */
  region = vhost_memory_region_new (0, 4096, 0, -1, 0);
  g_assert_cmpint (vhost_memory_region_get_fd (region), ==, -1);
  vhost_memory_region_unref (region);

  addr_copy = g_boxed_copy (VHOST_TYPE_VRING_ADDR, addr);
  g_assert_true (addr_copy == addr);
  vhost_vring_addr_unref (addr);
  g_assert_cmpuint (vhost_vring_addr_get_index (addr_copy), ==, 3);
  g_assert_cmpuint (vhost_vring_addr_get_flags (addr_copy), ==, 1);
  g_assert_cmpuint (vhost_vring_addr_get_desc_user_addr (addr_copy), ==, 0x100);
  g_assert_cmpuint (vhost_vring_addr_get_used_user_addr (addr_copy), ==, 0x300);
  g_assert_cmpuint (vhost_vring_addr_get_avail_user_addr (addr_copy), ==, 0x200);
  g_assert_cmpuint (vhost_vring_addr_get_log_guest_addr (addr_copy), ==, 0x4000);
  g_assert_true (vhost_vring_addr_ref (addr_copy) == addr_copy);
  vhost_vring_addr_unref (addr_copy);
  g_boxed_free (VHOST_TYPE_VRING_ADDR, addr_copy);
  vhost_test_assert_fd_count (fds_before);
}

/* A driver brought up on a back-end that is not vhost-user has no back-end to
 * dial again. */
static void
test_driver_reconnect_refused (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(TestPlainBackend) plain = g_object_new (TEST_TYPE_PLAIN_BACKEND, NULL);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint calls;

  driver = vhost_driver_new (VHOST_BACKEND (plain), 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 1, 64, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &error));
  g_assert_no_error (error);
  calls = plain->calls;
  g_assert_false (vhost_driver_reconnect (driver, 0, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "TestPlainBackend"));
  g_assert_cmpuint (plain->calls, ==, calls);
  g_assert_true (vhost_driver_get_running (driver));
  g_clear_object (&driver);
  g_clear_object (&plain);
  vhost_test_assert_fd_count (fds_before);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/backend/defaults/plain", test_defaults_plain);
  g_test_add_func ("/vhost/backend/defaults/with-status", test_defaults_status);
  g_test_add_func ("/vhost/backend/boxed-records", test_boxed_records);
  g_test_add_func ("/vhost/backend/driver-reconnect-refused", test_driver_reconnect_refused);
  return g_test_run ();
}
