/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostDriver as bindings make it: from its properties with g_object_new(), addresses returned, byte arrays in and out. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"

static void
count_handler (VhostVirtqueue *queue, gpointer user_data)
{
}

static void
setup_device (VhostUserSlave *slave, gpointer data)
{
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, 0), count_handler, NULL, NULL);
}

/* g_object_new() with the properties gives a driver that works, as vhost_driver_new() does. */
static void
test_properties (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint8 *data = NULL;
  VhostTestSlaveThread *thread;
  guint64 a, b;
  gsize len = 1;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_device, NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);

  driver = g_object_new (VHOST_TYPE_DRIVER, "backend", master, "memory-size", (guint64) 1 << 20, "n-regions", 2,
                         NULL);
  g_assert_cmpint (vhost_driver_get_memory_fd (driver), >=, 0);
  g_assert_true (g_initable_init (G_INITABLE (driver), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 1, 16, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (vhost_test_slave_thread_get_slave (thread)), ==, 2);

  /* The address comes back; a second allocation is elsewhere. */
  a = vhost_driver_alloc_address (driver, 100, &error);
  g_assert_no_error (error);
  b = vhost_driver_alloc_address (driver, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (b, >=, a + 100);
  g_assert_cmpuint (a % 64, ==, 0);

  /* Byte arrays in and out, the same memory as the GBytes forms. */
  g_assert_true (vhost_driver_write_data (driver, a, (const guint8 *) "hello", 5, &error));
  g_assert_no_error (error);
  data = vhost_driver_read_data (driver, a, 5, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (data, len, "hello", 5);
  bytes = vhost_driver_read (driver, a, 5, &error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "hello", 5);
  g_clear_pointer (&data, g_free);
  data = vhost_driver_read_data (driver, a, 0, &len, &error);
  g_assert_nonnull (data);
  g_assert_cmpuint (len, ==, 0);
  g_clear_pointer (&data, g_free);

  /* Outside the memory: an error, nothing copied. */
  g_assert_false (vhost_driver_write_data (driver, (1 << 20) - 2, (const guint8 *) "abc", 3, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "[0xffffe, +3)");
  g_clear_error (&error);
  data = vhost_driver_read_data (driver, 1 << 20, 1, &len, &error);
  g_assert_null (data);
  g_assert_cmpuint (len, ==, 0);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_driver_alloc_address (driver, 2 << 20, &error), ==, 0);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NO_SPACE);
  g_clear_error (&error);

  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* A driver from properties that cannot make its memory says why: in
 * g_initable_init(), and in every call that needs the memory. */
static void
test_properties_errors (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = vhost_user_master_new ("/nonexistent/vhost.sock");
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 1;

  driver = g_object_new (VHOST_TYPE_DRIVER, "memory-size", (guint64) 4096, NULL);
  g_assert_false (g_initable_init (G_INITABLE (driver), NULL, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "A VhostDriver needs a backend");
  g_clear_error (&error);
  g_assert_cmpint (vhost_driver_get_memory_fd (driver), ==, -1);
  g_assert_cmpuint (vhost_driver_alloc_address (driver, 64, &error), ==, 0);
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT,
                                  "The driver has no guest memory: A VhostDriver needs a backend");
  g_clear_error (&error);
  g_assert_false (vhost_driver_write_data (driver, 0, (const guint8 *) "x", 1, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (vhost_driver_read_data (driver, 0, 1, &len, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_object (&driver);

  driver = g_object_new (VHOST_TYPE_DRIVER, "backend", master, "memory-size", (guint64) 4097, NULL);
  g_assert_false (vhost_driver_start (driver, 1, 16, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT,
                                  "The driver has no guest memory: The memory size 4097 is not a positive multiple");
  g_clear_error (&error);
  g_assert_false (vhost_driver_get_running (driver));
  g_clear_object (&driver);

  /* g_initable_new() and vhost_driver_new() give the error and no driver. */
  g_assert_null (g_initable_new (VHOST_TYPE_DRIVER, NULL, &error, "backend", master, "memory-size", (guint64) 8192,
                                 "n-regions", 3, NULL));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_INVALID_ARGUMENT, "The memory size 8192");
  g_clear_error (&error);
  g_assert_null (vhost_driver_new (VHOST_BACKEND (master), 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/driver/properties", test_properties);
  g_test_add_func ("/vhost/driver/properties-errors", test_properties_errors);
  return g_test_run ();
}
