/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vDPA device discovery without a device: the sysfs walk over a fake tree in a temporary
 * directory, the decoder of the "vdpa" generic netlink family's replies over crafted messages
 * (well-formed, truncated, errors), and vhost_vdpa_list_devices() on a host without vDPA. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>

#include "test-support.h"
#include "vhost-glib/vhost-vdpa-private.h"

/* Netlink message building. */

static void
put_attr (GByteArray *msg, guint16 type, const void *data, gsize len)
{
  struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };
  static const guint8 zeros[NLA_ALIGNTO] = { 0 };

  g_byte_array_append (msg, (const guint8 *) &a, sizeof a);
  g_byte_array_append (msg, data, len);
  g_byte_array_append (msg, zeros, NLA_ALIGN (len) - len);
}

static void
put_string (GByteArray *msg, guint16 type, const char *s)
{
  put_attr (msg, type, s, strlen (s) + 1);
}

static void
put_u32 (GByteArray *msg, guint16 type, guint32 v)
{
  put_attr (msg, type, &v, sizeof v);
}

static void
put_u16 (GByteArray *msg, guint16 type, guint16 v)
{
  put_attr (msg, type, &v, sizeof v);
}

/* Starts a VDPA_CMD_DEV_GET reply message; returns its offset for end_message(). */
static gsize
begin_message (GByteArray *buf, guint16 type)
{
  struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI };
  struct genlmsghdr g = { .cmd = VDPA_CMD_DEV_NEW, .version = VDPA_GENL_VERSION };
  gsize start = buf->len;

  g_byte_array_append (buf, (const guint8 *) &h, sizeof h);
  g_byte_array_append (buf, (const guint8 *) &g, sizeof g);
  return start;
}

static void
end_message (GByteArray *buf, gsize start)
{
  guint32 len = buf->len - start;

  memcpy (buf->data + start, &len, sizeof len);
}

static void
put_device (GByteArray *buf, const char *name, const char *bus, const char *mgmt, guint32 id, guint32 max_vqs,
            guint16 max_vq_size)
{
  gsize start = begin_message (buf, 0x20);

  put_string (buf, VDPA_ATTR_DEV_NAME, name);
  if (bus != NULL)
    put_string (buf, VDPA_ATTR_MGMTDEV_BUS_NAME, bus);
  put_string (buf, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmt);
  put_u32 (buf, VDPA_ATTR_DEV_ID, id);
  put_u32 (buf, VDPA_ATTR_DEV_VENDOR_ID, 0);
  put_u32 (buf, VDPA_ATTR_DEV_MAX_VQS, max_vqs);
  put_u16 (buf, VDPA_ATTR_DEV_MAX_VQ_SIZE, max_vq_size);
  put_u32 (buf, VDPA_ATTR_DEV_NEGOTIATED_FEATURES + 100, 7); /* unknown: skipped */
  end_message (buf, start);
}

static void
put_done (GByteArray *buf)
{
  struct nlmsghdr h = { .nlmsg_len = NLMSG_HDRLEN + 4, .nlmsg_type = NLMSG_DONE, .nlmsg_flags = NLM_F_MULTI };
  guint32 zero = 0;

  g_byte_array_append (buf, (const guint8 *) &h, sizeof h);
  g_byte_array_append (buf, (const guint8 *) &zero, sizeof zero);
}

static GHashTable *
new_table (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vhost_vdpa_device_info_unref);
}

static void
test_parse (void)
{
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  g_autoptr(GHashTable) table = new_table ();
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  VhostVdpaDeviceInfo *info;

  put_device (buf, "vdpa0", NULL, "vdpasim_net", 1, 3, 256);
  put_device (buf, "vdpa1", "pci", "0000:01:00.2", 2, 1, 512);
  g_assert_true (vhost_vdpa_parse_dev_dump (table, buf->data, buf->len, &done, &error));
  g_assert_no_error (error);
  g_assert_false (done);
  g_byte_array_set_size (buf, 0);
  put_done (buf);
  g_assert_true (vhost_vdpa_parse_dev_dump (table, buf->data, buf->len, &done, &error));
  g_assert_no_error (error);
  g_assert_true (done);

  g_assert_cmpuint (g_hash_table_size (table), ==, 2);
  info = g_hash_table_lookup (table, "vdpa0");
  g_assert_nonnull (info);
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 1);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "vdpasim_net");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (info), ==, 3);
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vq_size (info), ==, 256);
  info = g_hash_table_lookup (table, "vdpa1");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 2);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "pci/0000:01:00.2");
}

static void
test_parse_bad (void)
{
  g_autoptr(GByteArray) good = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;

  put_device (good, "vdpa0", NULL, "vdpasim_net", 1, 3, 256);

  /* Every truncation: either an error or fewer devices, never a read past the end. */
  for (gsize len = 0; len < good->len; len++)
    {
      g_autoptr(GHashTable) table = new_table ();
      g_autofree guint8 *copy = g_memdup2 (good->data, len);

      if (!vhost_vdpa_parse_dev_dump (table, copy, len, &done, &error))
        {
          g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
          g_clear_error (&error);
        }
      g_assert_cmpuint (g_hash_table_size (table), ==, 0);
    }

  /* An attribute longer than its message. */
  {
    g_autoptr(GHashTable) table = new_table ();
    g_autoptr(GByteArray) bad = g_byte_array_new ();
    struct nlattr *a;

    g_byte_array_append (bad, good->data, good->len);
    a = (struct nlattr *) (bad->data + NLMSG_HDRLEN + GENL_HDRLEN);
    a->nla_len = 0xfff0;
    g_assert_false (vhost_vdpa_parse_dev_dump (table, bad->data, bad->len, &done, &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
    g_clear_error (&error);
  }

  /* A name without its NUL, and a name with a slash: the device is skipped. */
  {
    g_autoptr(GHashTable) table = new_table ();
    g_autoptr(GByteArray) bad = g_byte_array_new ();
    gsize start = begin_message (bad, 0x20);

    put_attr (bad, VDPA_ATTR_DEV_NAME, "abc", 3);
    end_message (bad, start);
    put_device (bad, "../x", NULL, "m", 1, 1, 1);
    g_assert_true (vhost_vdpa_parse_dev_dump (table, bad->data, bad->len, &done, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (table), ==, 0);
  }

  /* An error reply. */
  {
    g_autoptr(GHashTable) table = new_table ();
    g_autoptr(GByteArray) bad = g_byte_array_new ();
    struct nlmsghdr h = { .nlmsg_len = NLMSG_HDRLEN + sizeof (struct nlmsgerr), .nlmsg_type = NLMSG_ERROR };
    struct nlmsgerr e = { .error = -EPERM };

    g_byte_array_append (bad, (const guint8 *) &h, sizeof h);
    g_byte_array_append (bad, (const guint8 *) &e, sizeof e);
    g_assert_false (vhost_vdpa_parse_dev_dump (table, bad->data, bad->len, &done, &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
    g_assert_cmpstr (error->message, ==, "VDPA_CMD_DEV_GET: Operation not permitted");
    g_clear_error (&error);
  }
}

/* A fake /sys: vdpa0 bound to vhost_vdpa (vhost-vdpa-3 under it), vdpa1 bound to virtio_vdpa,
 * vdpa2 unbound and unknown to netlink; netlink also knows vdpa9, which sysfs does not. */
static void
test_sysfs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vdpa-sysfs-XXXXXX", &error);
  g_autofree char *devices = NULL, *cmd = NULL;
  g_autoptr(GHashTable) table = new_table ();
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  g_autoptr(GPtrArray) list = NULL;
  gboolean done = FALSE;
  VhostVdpaDeviceInfo *info;
  int status = 0;

  g_assert_no_error (error);
  devices = g_build_filename (root, "bus", "vdpa", "devices", NULL);
  cmd = g_strdup_printf ("set -e; cd '%s'; mkdir -p bus/vdpa/drivers/vhost_vdpa bus/vdpa/drivers/virtio_vdpa "
                         "devices/vdpa0/vhost-vdpa-3 devices/vdpa0/power devices/vdpa1/virtio0 devices/vdpa2 "
                         "devices/vdpa0/vhost-vdpa-x bus/vdpa/devices; "
                         "echo 246:3 > devices/vdpa0/vhost-vdpa-3/dev; "
                         "ln -s ../../../bus/vdpa/drivers/vhost_vdpa devices/vdpa0/driver; "
                         "ln -s ../../../bus/vdpa/drivers/virtio_vdpa devices/vdpa1/driver; "
                         "for d in vdpa0 vdpa1 vdpa2; do ln -s ../../../devices/$d bus/vdpa/devices/$d; done",
                         root);
  {
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, &error));
    g_assert_no_error (error);
  }

  put_device (buf, "vdpa0", NULL, "vdpasim_net", 1, 3, 256);
  put_device (buf, "vdpa1", NULL, "vdpasim_blk", 2, 1, 256);
  put_device (buf, "vdpa9", "pci", "0000:02:00.0", 1, 2, 1024);
  g_assert_true (vhost_vdpa_parse_dev_dump (table, buf->data, buf->len, &done, &error));
  g_assert_no_error (error);

  list = vhost_vdpa_list_devices_at (root, table, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 4);

  info = list->pdata[0];
  g_assert_cmpstr (vhost_vdpa_device_info_get_name (info), ==, "vdpa0");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 1);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "vdpasim_net");
  g_assert_cmpstr (vhost_vdpa_device_info_get_device_path (info), ==, "/dev/vhost-vdpa-3");
  g_assert_cmpstr (vhost_vdpa_device_info_get_driver (info), ==, "vhost_vdpa");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (info), ==, 3);
  g_assert_cmpuint (vhost_vdpa_device_info_get_vendor_id (info), ==, 0);

  info = list->pdata[1];
  g_assert_cmpstr (vhost_vdpa_device_info_get_name (info), ==, "vdpa1");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 2);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "vdpasim_blk");
  g_assert_null (vhost_vdpa_device_info_get_device_path (info));
  g_assert_cmpstr (vhost_vdpa_device_info_get_driver (info), ==, "virtio_vdpa");

  info = list->pdata[2];
  g_assert_cmpstr (vhost_vdpa_device_info_get_name (info), ==, "vdpa2");
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 0);
  g_assert_null (vhost_vdpa_device_info_get_mgmtdev (info));
  g_assert_null (vhost_vdpa_device_info_get_device_path (info));
  g_assert_null (vhost_vdpa_device_info_get_driver (info));

  info = list->pdata[3];
  g_assert_cmpstr (vhost_vdpa_device_info_get_name (info), ==, "vdpa9");
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "pci/0000:02:00.0");
  g_assert_null (vhost_vdpa_device_info_get_device_path (info));

  /* The boxed type copies by reference. */
  info = g_boxed_copy (VHOST_TYPE_VDPA_DEVICE_INFO, list->pdata[0]);
  g_assert_true (info == list->pdata[0]);
  g_boxed_free (VHOST_TYPE_VDPA_DEVICE_INFO, info);

  /* No sysfs tree at all: an empty list. */
  g_clear_pointer (&list, g_ptr_array_unref);
  {
    g_autofree char *missing = g_build_filename (root, "nothing", NULL);

    list = vhost_vdpa_list_devices_at (missing, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 0);
  }

  {
    g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", root);

    g_assert_true (g_spawn_command_line_sync (rm, NULL, NULL, &status, &error));
    g_assert_no_error (error);
  }
}

/* The host has no vDPA: the real listing is empty (no netlink family, no sysfs bus), not an error. */
static void
test_host (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  gint fds = vhost_test_count_open_fds ();

  list = vhost_vdpa_list_devices (&error);
  g_assert_no_error (error);
  g_assert_nonnull (list);
  if (!g_file_test ("/sys/bus/vdpa", G_FILE_TEST_EXISTS))
    g_assert_cmpuint (list->len, ==, 0);
  vhost_test_assert_fd_count (fds);
}

static void
test_open_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVdpa) vdpa = vhost_vdpa_new ("/nonexistent/vhost-vdpa-0", &error);

  g_assert_null (vdpa);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "Cannot open /nonexistent/vhost-vdpa-0: No such file or directory");
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  g_test_add_func ("/vhost/vdpa/discovery/netlink", test_parse);
  g_test_add_func ("/vhost/vdpa/discovery/netlink-bad", test_parse_bad);
  g_test_add_func ("/vhost/vdpa/discovery/sysfs", test_sysfs);
  g_test_add_func ("/vhost/vdpa/discovery/host", test_host);
  g_test_add_func ("/vhost/vdpa/open-missing", test_open_missing);

  return g_test_run ();
}
