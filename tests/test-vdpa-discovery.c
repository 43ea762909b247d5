/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vDPA device discovery without a device: the sysfs walk over a fake tree in a temporary
 * directory, the decoders of the kernel's generic netlink replies over what Linux sent and over
 * crafted messages (well-formed, truncated, malformed), and vhost_vdpa_list_devices() on a host
 * without vDPA. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>

#include "test-support.h"
#include "vhost-glib/vhost-vdpa-discovery-private.h"

/* Replies as Linux 6.1 sent them (captured in the test guest of tests/vm/ with the simulators
 * of vdpa-guest-setup.sh: vdpa0 on vdpasim_net, vdpa1 on vdpasim_blk; the socket's port id was
 * 102): the reply to CTRL_CMD_GETFAMILY "vdpa" (family 0x20), to CTRL_CMD_GETFAMILY of a family
 * that does not exist, and the two datagrams of the VDPA_CMD_DEV_GET dump. */
#define KERNEL_PORTID 102
static const char kernel_family[] =
  "bc0000001000000001000000660000000102000009000200766470610000000006000100200000000800030001000000"
  "080004000000000008000500160000007c000600140001000800010002000000080002000e0000001400020008000100"
  "03000000080002000b000000140003000800010004000000080002000b00000014000400080001000500000008000200"
  "0e000000140005000800010006000000080002000e000000140006000800010007000000080002000b000000";
static const char kernel_family_enoent[] =
  "3c000000020000000100000066000000feffffff2800000010000100010000000000000003010000110002006e6f7375"
  "636866616d696c7900000000";
static const char kernel_dump_devices[] =
  "5800000020000200020000006600000003010000100002007664706173696d5f6e6574000a0004007664706130000000"
  "080005000100000008000600000000000800070003000000060008000001000006000900010000005800000020000200"
  "020000006600000003010000100002007664706173696d5f626c6b000a00040076647061310000000800050002000000"
  "0800060000000000080007000100000006000800000100000600090001000000";
static const char kernel_dump_done[] = "1400000003000200020000006600000000000000";

static GByteArray *
from_hex (const char *hex)
{
  GByteArray *bytes = g_byte_array_new ();

  g_assert_cmpuint (strlen (hex) % 2, ==, 0);
  for (gsize i = 0; hex[i] != '\0'; i += 2)
    {
      guint8 b = g_ascii_xdigit_value (hex[i]) << 4 | g_ascii_xdigit_value (hex[i + 1]);

      g_byte_array_append (bytes, &b, 1);
    }
  return bytes;
}

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

/* Starts a reply message of generic netlink command @cmd; returns its offset for end_message(). */
static gsize
begin_message (GByteArray *buf, guint16 type, guint8 cmd)
{
  struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI };
  struct genlmsghdr g = { .cmd = cmd, .version = VDPA_GENL_VERSION };
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
  gsize start = begin_message (buf, 0x20, VDPA_CMD_DEV_NEW);

  put_string (buf, VDPA_ATTR_DEV_NAME, name);
  if (bus != NULL)
    put_string (buf, VDPA_ATTR_MGMTDEV_BUS_NAME, bus);
  put_string (buf, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmt);
  put_u32 (buf, VDPA_ATTR_DEV_ID, id);
  put_u32 (buf, VDPA_ATTR_DEV_VENDOR_ID, 0);
  put_u32 (buf, VDPA_ATTR_DEV_MAX_VQS, max_vqs);
  put_u16 (buf, VDPA_ATTR_DEV_MAX_VQ_SIZE, max_vq_size);
  put_u32 (buf, VDPA_ATTR_MAX + 100, 7); /* unknown: skipped */
  end_message (buf, start);
}

/* A control message: NLMSG_ERROR or NLMSG_DONE with @status, or another type. */
static void
put_control (GByteArray *buf, guint16 type, gint32 status)
{
  struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI };
  gsize start = buf->len;

  g_byte_array_append (buf, (const guint8 *) &h, sizeof h);
  g_byte_array_append (buf, (const guint8 *) &status, sizeof status);
  if (type == NLMSG_ERROR)
    {
      struct nlmsghdr request = { .nlmsg_len = NLMSG_HDRLEN };

      g_byte_array_append (buf, (const guint8 *) &request, sizeof request);
    }
  end_message (buf, start);
}

static void
put_done (GByteArray *buf)
{
  put_control (buf, NLMSG_DONE, 0);
}

static gboolean
parse_dump (GHashTable *table, GByteArray *buf, gboolean *done, GError **error)
{
  return vhost_vdpa_parse_dev_dump (table, buf->data, buf->len, 0, 0, done, error);
}

static void
test_parse (void)
{
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  g_autoptr(GHashTable) table = vhost_vdpa_device_table_new ();
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  VhostVdpaDeviceInfo *info;

  put_device (buf, "vdpa0", NULL, "vdpasim_net", 1, 3, 256);
  put_device (buf, "vdpa1", "pci", "0000:01:00.2", 2, 1, 512);
  g_assert_true (parse_dump (table, buf, &done, &error));
  g_assert_no_error (error);
  g_assert_false (done);
  g_byte_array_set_size (buf, 0);
  put_done (buf);
  g_assert_true (parse_dump (table, buf, &done, &error));
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
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vq_size (info), ==, 512);

  /* An ack ends a reply too, and anything after the end is not read. */
  g_byte_array_set_size (buf, 0);
  done = FALSE;
  put_control (buf, NLMSG_ERROR, 0);
  g_byte_array_append (buf, (const guint8 *) "garbage", 7);
  g_assert_true (parse_dump (table, buf, &done, &error));
  g_assert_no_error (error);
  g_assert_true (done);

  /* Names that cannot be directories of /sys/bus/vdpa/devices: skipped. */
  {
    g_autoptr(GHashTable) skipped = vhost_vdpa_device_table_new ();

    g_byte_array_set_size (buf, 0);
    put_device (buf, "", NULL, "m", 1, 1, 1);
    put_device (buf, ".hidden", NULL, "m", 1, 1, 1);
    put_device (buf, "../x", NULL, "m", 1, 1, 1);
    put_device (buf, "ok", NULL, "m", 1, 1, 1);
    g_assert_true (parse_dump (skipped, buf, &done, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (skipped), ==, 1);
    g_assert_true (g_hash_table_contains (skipped, "ok"));
  }

  /* NLMSG_NOOP is skipped. */
  {
    g_autoptr(GHashTable) other = vhost_vdpa_device_table_new ();

    g_byte_array_set_size (buf, 0);
    put_control (buf, NLMSG_NOOP, 0);
    put_device (buf, "vdpa7", NULL, "m", 1, 1, 1);
    g_assert_true (parse_dump (other, buf, &done, &error));
    g_assert_no_error (error);
    g_assert_true (g_hash_table_contains (other, "vdpa7"));
  }
}

/* What Linux sent, decoded: the family, and the two devices of the guest test. */
static void
test_kernel_replies (void)
{
  g_autoptr(GByteArray) family_reply = from_hex (kernel_family);
  g_autoptr(GByteArray) enoent = from_hex (kernel_family_enoent);
  g_autoptr(GByteArray) devices = from_hex (kernel_dump_devices);
  g_autoptr(GByteArray) done_reply = from_hex (kernel_dump_done);
  g_autoptr(GHashTable) table = vhost_vdpa_device_table_new ();
  g_autoptr(GError) error = NULL;
  guint16 family = 0;
  gboolean done = FALSE;
  VhostVdpaDeviceInfo *info;

  g_assert_true (vhost_vdpa_parse_family_reply (family_reply->data, family_reply->len, VHOST_VDPA_SEQ_FAMILY,
                                                KERNEL_PORTID, &family, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (family, ==, 0x20);
  family = 7;
  g_assert_true (
    vhost_vdpa_parse_family_reply (enoent->data, enoent->len, VHOST_VDPA_SEQ_FAMILY, KERNEL_PORTID, &family, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (family, ==, 0);

  /* The kernel's datagram starts at a page boundary; the decoder takes any alignment. */
  {
    g_autofree guint8 *unaligned = g_malloc (devices->len + 1);

    memcpy (unaligned + 1, devices->data, devices->len);
    g_assert_true (vhost_vdpa_parse_dev_dump (table, unaligned + 1, devices->len, VHOST_VDPA_SEQ_DEV_GET,
                                              KERNEL_PORTID, &done, &error));
  }
  g_assert_no_error (error);
  g_assert_false (done);
  g_assert_true (vhost_vdpa_parse_dev_dump (table, done_reply->data, done_reply->len, VHOST_VDPA_SEQ_DEV_GET,
                                            KERNEL_PORTID, &done, &error));
  g_assert_no_error (error);
  g_assert_true (done);

  g_assert_cmpuint (g_hash_table_size (table), ==, 2);
  info = g_hash_table_lookup (table, "vdpa0");
  g_assert_nonnull (info);
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 1);
  g_assert_cmpuint (vhost_vdpa_device_info_get_vendor_id (info), ==, 0);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "vdpasim_net");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (info), ==, 3);
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vq_size (info), ==, 256);
  g_assert_null (vhost_vdpa_device_info_get_device_path (info));
  g_assert_null (vhost_vdpa_device_info_get_driver (info));
  info = g_hash_table_lookup (table, "vdpa1");
  g_assert_nonnull (info);
  g_assert_cmpuint (vhost_vdpa_device_info_get_device_id (info), ==, 2);
  g_assert_cmpstr (vhost_vdpa_device_info_get_mgmtdev (info), ==, "vdpasim_blk");
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vqs (info), ==, 1);
  g_assert_cmpuint (vhost_vdpa_device_info_get_max_vq_size (info), ==, 256);

  /* The same bytes for another socket, or for another request: refused. */
  g_assert_false (vhost_vdpa_parse_dev_dump (table, devices->data, devices->len, VHOST_VDPA_SEQ_DEV_GET,
                                             KERNEL_PORTID + 1, &done, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "VDPA_CMD_DEV_GET reply: a message for another socket");
  g_clear_error (&error);
  g_assert_false (vhost_vdpa_parse_family_reply (family_reply->data, family_reply->len, VHOST_VDPA_SEQ_DEV_GET,
                                                 KERNEL_PORTID, &family, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "CTRL_CMD_GETFAMILY vdpa reply: a message of another request (sequence number)");
  g_clear_error (&error);
}

/* Every truncation of what the kernel sent: accepted exactly at the boundaries of its messages
 * (with the devices of the whole messages), refused elsewhere, never read past the end (the
 * copy is exactly as long as the truncation, for valgrind and ASan). */
static void
test_truncations (void)
{
  g_autoptr(GByteArray) devices = from_hex (kernel_dump_devices);
  g_autoptr(GByteArray) family_reply = from_hex (kernel_family);
  g_autoptr(GError) error = NULL;

  for (gsize len = 0; len <= devices->len; len++)
    {
      g_autoptr(GHashTable) table = vhost_vdpa_device_table_new ();
      g_autofree guint8 *copy = g_memdup2 (devices->data, len);
      gboolean done = FALSE;
      gboolean boundary = len == 0 || len == 88 || len == 176;

      if (boundary)
        {
          g_assert_true (vhost_vdpa_parse_dev_dump (table, copy, len, 0, 0, &done, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (g_hash_table_size (table), ==, len / 88);
        }
      else
        {
          g_assert_false (vhost_vdpa_parse_dev_dump (table, copy, len, 0, 0, &done, &error));
          g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
          g_clear_error (&error);
        }
      g_assert_false (done);
    }
  for (gsize len = 0; len < family_reply->len; len++)
    {
      g_autofree guint8 *copy = g_memdup2 (family_reply->data, len);
      guint16 family = 0;

      g_assert_false (vhost_vdpa_parse_family_reply (copy, len, 0, 0, &family, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL);
      g_clear_error (&error);
    }
}

/* Malformed replies, each refused with an error that names what is wrong: a reply that Linux
 * sent, patched, cut or extended with zeros, and the error expected, as data.
 *
 * The first message of kernel_dump_devices (vdpa0, 88 bytes): the netlink header (length at 0,
 * type at 4, flags at 6, sequence number at 8, port id at 12), the generic netlink header
 * (command at 16), then the attributes: VDPA_ATTR_MGMTDEV_DEV_NAME at 20 ("vdpasim_net"),
 * VDPA_ATTR_DEV_NAME at 36 ("vdpa0", its NUL at 45), VDPA_ATTR_DEV_ID at 48,
 * VDPA_ATTR_DEV_VENDOR_ID at 56, VDPA_ATTR_DEV_MAX_VQS at 64, VDPA_ATTR_DEV_MAX_VQ_SIZE at 72 and
 * VDPA_ATTR_DEV_MIN_VQ_SIZE at 80 (each a 2-byte length, a 2-byte type, the value). In
 * kernel_family: CTRL_ATTR_FAMILY_NAME at 20 ("vdpa" at 24), CTRL_ATTR_FAMILY_ID at 32 (the id
 * at 36). kernel_family_enoent is an NLMSG_ERROR (error number at 16), kernel_dump_done an
 * NLMSG_DONE (status at 16). */

typedef struct
{
  const char *path;
  gboolean family;   /* decoded as the reply to CTRL_CMD_GETFAMILY, not as the dump */
  const char *reply; /* in hex */
  gsize offset;      /* where patch goes */
  const char *patch; /* (nullable) */
  gsize patch_len;
  gsize len;         /* the length to cut or extend (with zeros) the reply to; 0: as it is */
  guint32 seq;       /* given to the decoder (0: any) */
  guint32 portid;
  VhostError code;
  const char *message;
} BadReply;

#define PATCH(at, bytes) .offset = (at), .patch = (bytes), .patch_len = sizeof (bytes) - 1
#define DEV "VDPA_CMD_DEV_GET reply: "
#define FAM "CTRL_CMD_GETFAMILY vdpa reply: "
#define PROTOCOL VHOST_ERROR_PROTOCOL

static const BadReply bad_replies[] = {
  { .path = "attr-past-message", .reply = kernel_dump_devices, PATCH (20, "\xf0\xff"),
    .code = PROTOCOL, .message = DEV "a malformed attribute at byte 20 of a message of 88 bytes" },
  { .path = "attr-zero-length", .reply = kernel_dump_devices, PATCH (36, "\0\0"),
    .code = PROTOCOL, .message = DEV "a malformed attribute at byte 36 of a message of 88 bytes" },
  { .path = "name-without-nul", .reply = kernel_dump_devices, PATCH (45, "x"),
    .code = PROTOCOL, .message = DEV "VDPA_ATTR_DEV_NAME is not a NUL-terminated string" },
  { .path = "u32-short", .reply = kernel_dump_devices, PATCH (48, "\x06"),
    .code = PROTOCOL, .message = DEV "VDPA_ATTR_DEV_ID has 2 bytes, not 4" },
  { .path = "u16-long", .reply = kernel_dump_devices, PATCH (72, "\x08"),
    .code = PROTOCOL, .message = DEV "VDPA_ATTR_DEV_MAX_VQ_SIZE has 4 bytes, not 2" },
  { .path = "no-name", .reply = kernel_dump_devices, PATCH (38, "\x7f"),
    .code = PROTOCOL, .message = DEV "a device without VDPA_ATTR_DEV_NAME" },
  { .path = "message-past-end", .reply = kernel_dump_devices, PATCH (0, "\x60"), .len = 88,
    .code = PROTOCOL, .message = DEV "88 bytes at offset 0 are not a message (length 96)" },
  /* Lengths that libmnl, which compares them as ints, takes for negative numbers. */
  { .path = "message-length-max", .reply = kernel_dump_devices, PATCH (0, "\xff\xff\xff\xff"),
    .code = PROTOCOL, .message = DEV "a message of 4294967295 bytes at offset 0 runs past the 176 bytes received" },
  { .path = "message-length-2g", .reply = kernel_dump_devices, PATCH (88, "\0\0\0\x80"),
    .code = PROTOCOL, .message = DEV "a message of 2147483648 bytes at offset 88 runs past the 176 bytes received" },
  { .path = "short-genl-header", .reply = kernel_dump_devices, PATCH (0, "\x12"), .len = 20,
    .code = PROTOCOL, .message = DEV "a message of 18 bytes, too short for a generic netlink header" },
  { .path = "command", .reply = kernel_dump_devices, PATCH (16, "\x01"),
    .code = PROTOCOL, .message = DEV "a message of command 1, not 3" },
  { .path = "trailing-bytes", .reply = kernel_dump_devices, .len = 181,
    .code = PROTOCOL, .message = DEV "5 bytes at offset 176 are not a message (length 0)" },
  /* The last attribute ends in the padding of a message whose length is not a multiple of 4, up
   * to which libmnl walks. */
  { .path = "attr-in-padding", .reply = kernel_dump_devices, PATCH (0, "\x55"), .len = 85,
    .code = PROTOCOL, .message = DEV "attribute 9 (6 bytes) runs past the end of its message" },
  { .path = "error-truncated", .reply = kernel_family_enoent, PATCH (0, "\x14"), .len = 20,
    .code = PROTOCOL, .message = DEV "an error message of 20 bytes, too short" },
  { .path = "error-eperm", .reply = kernel_family_enoent, PATCH (16, "\xff\xff\xff\xff"),
    .code = VHOST_ERROR_BROKEN, .message = "VDPA_CMD_DEV_GET: Operation not permitted" },
  { .path = "error-min", .reply = kernel_family_enoent, PATCH (16, "\0\0\0\x80"),
    .code = PROTOCOL, .message = DEV "an error message with the invalid error number -2147483648" },
  { .path = "error-positive", .reply = kernel_family_enoent, PATCH (16, "\x01\0\0\0"),
    .code = PROTOCOL, .message = DEV "an error message with the invalid error number 1" },
  { .path = "done-enomem", .reply = kernel_dump_done, PATCH (16, "\xf4\xff\xff\xff"),
    .code = VHOST_ERROR_IO, .message = "VDPA_CMD_DEV_GET: Cannot allocate memory" },
  { .path = "overrun", .reply = kernel_dump_done, PATCH (4, "\x04"),
    .code = PROTOCOL, .message = DEV "an overrun: the kernel dropped messages" },
  { .path = "seq", .reply = kernel_dump_devices, .seq = 3,
    .code = PROTOCOL, .message = DEV "a message of another request (sequence number)" },
  { .path = "portid", .reply = kernel_dump_devices, .seq = 2, .portid = 103,
    .code = PROTOCOL, .message = DEV "a message for another socket" },
  { .path = "dump-interrupted", .reply = kernel_dump_devices, PATCH (6, "\x12"), .seq = 2,
    .code = PROTOCOL, .message = DEV "the dump was interrupted because the devices changed; list them again" },
  { .path = "family-error-eperm", .family = TRUE, .reply = kernel_family_enoent, PATCH (16, "\xff\xff\xff\xff"),
    .code = VHOST_ERROR_BROKEN, .message = "CTRL_CMD_GETFAMILY vdpa: Operation not permitted" },
  { .path = "family-without-id", .family = TRUE, .reply = kernel_family, PATCH (34, "\x7f"),
    .code = PROTOCOL, .message = FAM "a family without CTRL_ATTR_FAMILY_ID" },
  { .path = "family-other", .family = TRUE, .reply = kernel_family, PATCH (24, "vdpb"),
    .code = PROTOCOL, .message = FAM "the family is not \"vdpa\"" },
  { .path = "family-reserved", .family = TRUE, .reply = kernel_family, PATCH (36, "\x03"),
    .code = PROTOCOL, .message = FAM "the family id 3 is reserved" },
  { .path = "family-id-u32", .family = TRUE, .reply = kernel_family, PATCH (32, "\x08"),
    .code = PROTOCOL, .message = FAM "CTRL_ATTR_FAMILY_ID has 4 bytes, not 2" },
  { .path = "family-device", .family = TRUE, .reply = kernel_dump_devices,
    .code = PROTOCOL, .message = FAM "a message of command 3, not 1" },
  { .path = "family-nothing", .family = TRUE, .reply = "",
    .code = PROTOCOL, .message = FAM "no family" },
  { .path = "family-done", .family = TRUE, .reply = kernel_dump_done,
    .code = PROTOCOL, .message = FAM "no family" },
};

static void
test_bad_reply (gconstpointer data)
{
  const BadReply *bad = data;
  g_autoptr(GByteArray) buf = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *copy = NULL;
  gboolean ok;

  buf = from_hex (bad->reply);
  if (bad->patch != NULL)
    memcpy (buf->data + bad->offset, bad->patch, bad->patch_len);
  if (bad->len != 0)
    {
      gsize old_len = buf->len;

      g_byte_array_set_size (buf, bad->len);
      if (bad->len > old_len)
        memset (buf->data + old_len, 0, bad->len - old_len);
    }
  copy = g_memdup2 (buf->data, buf->len); /* exactly as long as the reply */
  if (bad->family)
    {
      guint16 family = 0;

      ok = vhost_vdpa_parse_family_reply (copy, buf->len, bad->seq, bad->portid, &family, &error);
    }
  else
    {
      g_autoptr(GHashTable) table = vhost_vdpa_device_table_new ();
      gboolean done = FALSE;

      ok = vhost_vdpa_parse_dev_dump (table, copy, buf->len, bad->seq, bad->portid, &done, &error);
    }
  g_assert_false (ok);
  g_assert_error (error, VHOST_ERROR, (gint) bad->code);
  g_assert_cmpstr (error->message, ==, bad->message);
}

/* A fake /sys: vdpa0 bound to vhost_vdpa (vhost-vdpa-3 under it), vdpa1 bound to virtio_vdpa,
 * vdpa2 unbound and unknown to netlink; netlink also knows vdpa9, which sysfs does not. */
static void
test_sysfs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vdpa-sysfs-XXXXXX", &error);
  g_autofree char *devices = NULL, *cmd = NULL;
  g_autoptr(GHashTable) table = vhost_vdpa_device_table_new ();
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
  g_assert_true (parse_dump (table, buf, &done, &error));
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
  g_test_add_func ("/vhost/vdpa/discovery/netlink-kernel", test_kernel_replies);
  g_test_add_func ("/vhost/vdpa/discovery/netlink-truncated", test_truncations);
  for (guint i = 0; i < G_N_ELEMENTS (bad_replies); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/vdpa/discovery/netlink-bad/", bad_replies[i].path, NULL);

      g_test_add_data_func (path, &bad_replies[i], test_bad_reply);
    }
  g_test_add_func ("/vhost/vdpa/discovery/sysfs", test_sysfs);
  g_test_add_func ("/vhost/vdpa/discovery/host", test_host);
  g_test_add_func ("/vhost/vdpa/open-missing", test_open_missing);

  return g_test_run ();
}
