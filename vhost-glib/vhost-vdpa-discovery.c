/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vhost_vdpa_list_devices(): the devices' records (VhostVdpaDeviceInfo), the kernel's "vdpa"
 * generic netlink family asked through libmnl, its replies decoded by pure functions over bytes,
 * and the sysfs walk of /sys/bus/vdpa. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>

#include "vhost-vdpa-discovery-private.h"
#include "vhost-kernel-private.h"

/* The records */

struct _VhostVdpaDeviceInfo
{
  gatomicrefcount ref_count;
  char *name;        /* (owned) */
  guint32 device_id;
  guint32 vendor_id;
  char *mgmtdev;     /* (owned) (nullable) */
  char *device_path; /* (owned) (nullable) */
  char *driver;      /* (owned) (nullable) */
  guint max_vqs;
  guint max_vq_size;
};

G_DEFINE_BOXED_TYPE (VhostVdpaDeviceInfo, vhost_vdpa_device_info, vhost_vdpa_device_info_ref,
                     vhost_vdpa_device_info_unref)

static VhostVdpaDeviceInfo *
device_info_new (const char *name)
{
  VhostVdpaDeviceInfo *info = g_new0 (VhostVdpaDeviceInfo, 1);

  g_atomic_ref_count_init (&info->ref_count);
  info->name = g_strdup (name);
  return info;
}

/**
 * vhost_vdpa_device_info_ref:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @info
 */
VhostVdpaDeviceInfo *
vhost_vdpa_device_info_ref (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  g_atomic_ref_count_inc (&info->ref_count);
  return info;
}

/**
 * vhost_vdpa_device_info_unref:
 * @info: (transfer full): a #VhostVdpaDeviceInfo
 *
 * Drops a reference; the last one frees @info.
 */
void
vhost_vdpa_device_info_unref (VhostVdpaDeviceInfo *info)
{
  g_return_if_fail (info != NULL);
  if (!g_atomic_ref_count_dec (&info->ref_count))
    return;
  g_free (info->name);
  g_free (info->mgmtdev);
  g_free (info->device_path);
  g_free (info->driver);
  g_free (info);
}

/**
 * vhost_vdpa_device_info_get_name:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the device's name, as given to `vdpa dev add name NAME`.
 *
 * Returns: the name
 */
const char *
vhost_vdpa_device_info_get_name (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return info->name;
}

/**
 * vhost_vdpa_device_info_get_device_id:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the virtio device id (1 network, 2 block, ...).
 *
 * Returns: the device id, or 0 when the kernel did not say
 */
guint32
vhost_vdpa_device_info_get_device_id (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, 0);
  return info->device_id;
}

/**
 * vhost_vdpa_device_info_get_vendor_id:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the virtio vendor id.
 *
 * Returns: the vendor id, or 0 when the kernel did not say
 */
guint32
vhost_vdpa_device_info_get_vendor_id (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, 0);
  return info->vendor_id;
}

/**
 * vhost_vdpa_device_info_get_mgmtdev:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the management device that created the device, named as the `vdpa` tool
 * names it: "BUS/DEVICE" (such as "pci/0000:01:00.2"), or "DEVICE" for one on no
 * bus (such as "vdpasim_net").
 *
 * Returns: (nullable): the management device, or %NULL when the kernel did not say
 */
const char *
vhost_vdpa_device_info_get_mgmtdev (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return info->mgmtdev;
}

/**
 * vhost_vdpa_device_info_get_device_path:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the vhost-vdpa character device of the device, for vhost_vdpa_new().
 *
 * Returns: (nullable): a path such as /dev/vhost-vdpa-0, or %NULL when the device
 *   is not bound to the vhost_vdpa driver
 */
const char *
vhost_vdpa_device_info_get_device_path (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return info->device_path;
}

/**
 * vhost_vdpa_device_info_get_driver:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the driver the device is bound to: "vhost_vdpa" (user space drives it,
 * through the node of vhost_vdpa_device_info_get_device_path()) or
 * "virtio_vdpa" (the kernel's virtio drivers do).
 *
 * Returns: (nullable): the driver's name, or %NULL for an unbound device
 */
const char *
vhost_vdpa_device_info_get_driver (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return info->driver;
}

/**
 * vhost_vdpa_device_info_get_max_vqs:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the number of virtqueues the device has.
 *
 * Returns: the number, or 0 when the kernel did not say
 */
guint
vhost_vdpa_device_info_get_max_vqs (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, 0);
  return info->max_vqs;
}

/**
 * vhost_vdpa_device_info_get_max_vq_size:
 * @info: a #VhostVdpaDeviceInfo
 *
 * Gets the largest queue size the device takes.
 *
 * Returns: the size, or 0 when the kernel did not say
 */
guint
vhost_vdpa_device_info_get_max_vq_size (VhostVdpaDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, 0);
  return info->max_vq_size;
}

GHashTable *
vhost_vdpa_device_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vhost_vdpa_device_info_unref);
}

/* Decoding the replies. Everything read is checked: libmnl walks the messages and their attributes
 * and validates the attributes' types; the callbacks below bound every message by the bytes
 * received and every attribute by its message, which libmnl does not do for lengths past
 * G_MAXINT or for the alignment padding of the last message. */

typedef enum
{
  REPLY_FAMILY,
  REPLY_DEV_GET,
} ReplyKind;

typedef struct
{
  guint16 type;
  enum mnl_attr_data_type data_type; /* MNL_TYPE_NUL_STRING, _U16 or _U32 */
  const char *name;
} AttrSpec;

/* The attributes read, by their index in these tables; any other is skipped (newer kernels add
 * some). */
enum
{
  FAMILY_ATTR_ID,
  FAMILY_ATTR_NAME,
  N_FAMILY_ATTRS
};

static const AttrSpec family_attrs[N_FAMILY_ATTRS] = {
  [FAMILY_ATTR_ID] = { CTRL_ATTR_FAMILY_ID, MNL_TYPE_U16, "CTRL_ATTR_FAMILY_ID" },
  [FAMILY_ATTR_NAME] = { CTRL_ATTR_FAMILY_NAME, MNL_TYPE_NUL_STRING, "CTRL_ATTR_FAMILY_NAME" },
};

enum
{
  DEV_ATTR_NAME,
  DEV_ATTR_BUS,
  DEV_ATTR_MGMTDEV,
  DEV_ATTR_ID,
  DEV_ATTR_VENDOR_ID,
  DEV_ATTR_MAX_VQS,
  DEV_ATTR_MAX_VQ_SIZE,
  N_DEV_ATTRS
};

static const AttrSpec dev_attrs[N_DEV_ATTRS] = {
  [DEV_ATTR_NAME] = { VDPA_ATTR_DEV_NAME, MNL_TYPE_NUL_STRING, "VDPA_ATTR_DEV_NAME" },
  [DEV_ATTR_BUS] = { VDPA_ATTR_MGMTDEV_BUS_NAME, MNL_TYPE_NUL_STRING, "VDPA_ATTR_MGMTDEV_BUS_NAME" },
  [DEV_ATTR_MGMTDEV] = { VDPA_ATTR_MGMTDEV_DEV_NAME, MNL_TYPE_NUL_STRING, "VDPA_ATTR_MGMTDEV_DEV_NAME" },
  [DEV_ATTR_ID] = { VDPA_ATTR_DEV_ID, MNL_TYPE_U32, "VDPA_ATTR_DEV_ID" },
  [DEV_ATTR_VENDOR_ID] = { VDPA_ATTR_DEV_VENDOR_ID, MNL_TYPE_U32, "VDPA_ATTR_DEV_VENDOR_ID" },
  [DEV_ATTR_MAX_VQS] = { VDPA_ATTR_DEV_MAX_VQS, MNL_TYPE_U32, "VDPA_ATTR_DEV_MAX_VQS" },
  [DEV_ATTR_MAX_VQ_SIZE] = { VDPA_ATTR_DEV_MAX_VQ_SIZE, MNL_TYPE_U16, "VDPA_ATTR_DEV_MAX_VQ_SIZE" },
};

/* The state of one decoding, which the libmnl callbacks share. */
typedef struct
{
  ReplyKind kind;
  const char *request;          /* names the request in errors */
  guint8 expected_cmd;          /* the generic netlink command of the reply's messages */
  const AttrSpec *specs;
  guint n_specs;

  const guint8 *buf;            /* the aligned copy of the bytes received */
  gsize len;
  gsize end;                    /* where the messages handed to a callback so far end */
  GError *error;                /* (owned) (nullable) */

  const struct nlmsghdr *msg;   /* the message whose attributes are read */
  gsize attrs_end;              /* where its attributes read so far end, from the message's start */
  const struct nlattr *attrs[N_DEV_ATTRS]; /* by index in specs */

  gboolean done;                /* NLMSG_DONE, an ack, or the family's message */
  gboolean have_family;
  guint16 family;
  GHashTable *by_name;          /* (unowned) for REPLY_DEV_GET */
} Reply;

G_STATIC_ASSERT ((int) N_FAMILY_ATTRS <= (int) N_DEV_ATTRS);

static int G_GNUC_PRINTF (2, 3)
reply_fail (Reply *r, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  if (r->error == NULL)
    g_set_error (&r->error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s reply: %s", r->request, what);
  return MNL_CB_ERROR;
}

/* An error number from NLMSG_ERROR or NLMSG_DONE: 0 ends the reply, a negative errno fails. */
static int
reply_status (Reply *r, gint32 status)
{
  if (status == 0)
    {
      r->done = TRUE;
      return MNL_CB_STOP;
    }
  if (status > 0 || status < -4095)
    return reply_fail (r, "an error message with the invalid error number %" G_GINT32_FORMAT, status);
  if (r->kind == REPLY_FAMILY && status == -ENOENT)
    {
      /* No such family: vdpa.ko is not loaded. */
      r->have_family = TRUE;
      r->family = 0;
      r->done = TRUE;
      return MNL_CB_STOP;
    }
  if (r->error == NULL)
    vhost_kernel_set_ioctl_error (&r->error, r->request, -status);
  return MNL_CB_ERROR;
}

/* Bounds @nlh by the bytes received (libmnl compares lengths as ints, so a length past G_MAXINT
 * passes its check). */
static gboolean
take_message (Reply *r, const struct nlmsghdr *nlh)
{
  gsize off = (const guint8 *) nlh - r->buf;

  if (nlh->nlmsg_len > r->len - off)
    {
      reply_fail (r, "a message of %" G_GUINT32_FORMAT " bytes at offset %" G_GSIZE_FORMAT " runs past the %"
                  G_GSIZE_FORMAT " bytes received", nlh->nlmsg_len, off, r->len);
      return FALSE;
    }
  r->end = off + MNL_ALIGN ((gsize) nlh->nlmsg_len);
  return TRUE;
}

static int
attr_cb (const struct nlattr *attr, void *data)
{
  Reply *r = data;
  gsize off = (const guint8 *) attr - (const guint8 *) r->msg;
  guint16 type = mnl_attr_get_type (attr);

  /* libmnl walks up to the message's aligned end: an attribute may reach into the padding. */
  if (off + mnl_attr_get_len (attr) > r->msg->nlmsg_len)
    return reply_fail (r, "attribute %u (%u bytes) runs past the end of its message", type,
                       mnl_attr_get_len (attr));
  r->attrs_end = off + MNL_ALIGN ((gsize) mnl_attr_get_len (attr));
  for (guint i = 0; i < r->n_specs; i++)
    {
      const AttrSpec *spec = &r->specs[i];

      if (spec->type != type)
        continue;
      if (mnl_attr_validate (attr, spec->data_type) < 0)
        {
          if (spec->data_type == MNL_TYPE_NUL_STRING)
            return reply_fail (r, "%s is not a NUL-terminated string", spec->name);
          return reply_fail (r, "%s has %u bytes, not %u", spec->name, mnl_attr_get_payload_len (attr),
                             spec->data_type == MNL_TYPE_U16 ? 2 : 4);
        }
      r->attrs[i] = attr;
      break;
    }
  return MNL_CB_OK;
}

static guint32
attr_u32 (Reply *r, guint index)
{
  return r->attrs[index] != NULL ? mnl_attr_get_u32 (r->attrs[index]) : 0;
}

static guint16
attr_u16 (Reply *r, guint index)
{
  return r->attrs[index] != NULL ? mnl_attr_get_u16 (r->attrs[index]) : 0;
}

static const char *
attr_string (Reply *r, guint index)
{
  return r->attrs[index] != NULL ? mnl_attr_get_str (r->attrs[index]) : NULL;
}

static int
take_family (Reply *r)
{
  const char *name = attr_string (r, FAMILY_ATTR_NAME);

  if (r->attrs[FAMILY_ATTR_ID] == NULL)
    return reply_fail (r, "a family without CTRL_ATTR_FAMILY_ID");
  if (name != NULL && strcmp (name, VDPA_GENL_NAME) != 0)
    return reply_fail (r, "the family is not \"" VDPA_GENL_NAME "\"");
  r->family = attr_u16 (r, FAMILY_ATTR_ID);
  if (r->family < NLMSG_MIN_TYPE)
    return reply_fail (r, "the family id %u is reserved", r->family);
  r->have_family = TRUE;
  r->done = TRUE;
  return MNL_CB_STOP;
}

static int
take_device (Reply *r)
{
  const char *name = attr_string (r, DEV_ATTR_NAME);
  const char *bus = attr_string (r, DEV_ATTR_BUS);
  const char *mgmtdev = attr_string (r, DEV_ATTR_MGMTDEV);
  VhostVdpaDeviceInfo *info;

  if (name == NULL)
    return reply_fail (r, "a device without VDPA_ATTR_DEV_NAME");
  /* The name is a directory of /sys/bus/vdpa/devices: a name that cannot be one is skipped. */
  if (name[0] == '\0' || name[0] == '.' || strchr (name, '/') != NULL)
    return MNL_CB_OK;
  info = device_info_new (name);
  info->device_id = attr_u32 (r, DEV_ATTR_ID);
  info->vendor_id = attr_u32 (r, DEV_ATTR_VENDOR_ID);
  info->max_vqs = attr_u32 (r, DEV_ATTR_MAX_VQS);
  info->max_vq_size = attr_u16 (r, DEV_ATTR_MAX_VQ_SIZE);
  if (mgmtdev != NULL)
    info->mgmtdev = bus != NULL ? g_strdup_printf ("%s/%s", bus, mgmtdev) : g_strdup (mgmtdev);
  g_hash_table_replace (r->by_name, info->name, info);
  return MNL_CB_OK;
}

/* A message of the family (a data message): a generic netlink header, then attributes. */
static int
data_cb (const struct nlmsghdr *nlh, void *data)
{
  Reply *r = data;
  const struct genlmsghdr *genl;

  if (!take_message (r, nlh))
    return MNL_CB_ERROR;
  if (mnl_nlmsg_get_payload_len (nlh) < GENL_HDRLEN)
    return reply_fail (r, "a message of %" G_GUINT32_FORMAT " bytes, too short for a generic netlink header",
                       nlh->nlmsg_len);
  genl = mnl_nlmsg_get_payload (nlh);
  if (genl->cmd != r->expected_cmd)
    return reply_fail (r, "a message of command %u, not %u", genl->cmd, r->expected_cmd);
  memset (r->attrs, 0, sizeof r->attrs);
  r->msg = nlh;
  r->attrs_end = NLMSG_HDRLEN + GENL_HDRLEN;
  if (mnl_attr_parse (nlh, GENL_HDRLEN, attr_cb, r) == MNL_CB_ERROR)
    return MNL_CB_ERROR;
  /* libmnl stops at the first attribute that does not fit, silently. */
  if (r->attrs_end < nlh->nlmsg_len)
    return reply_fail (r, "a malformed attribute at byte %" G_GSIZE_FORMAT " of a message of %" G_GUINT32_FORMAT
                       " bytes", r->attrs_end, nlh->nlmsg_len);
  return r->kind == REPLY_FAMILY ? take_family (r) : take_device (r);
}

/* A control message: NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN or a reserved type. */
static int
control_cb (const struct nlmsghdr *nlh, void *data)
{
  Reply *r = data;
  gint32 status = 0;

  if (!take_message (r, nlh))
    return MNL_CB_ERROR;
  switch (nlh->nlmsg_type)
    {
    case NLMSG_ERROR:
      if (mnl_nlmsg_get_payload_len (nlh) < sizeof (struct nlmsgerr))
        return reply_fail (r, "an error message of %" G_GUINT32_FORMAT " bytes, too short", nlh->nlmsg_len);
      memcpy (&status, mnl_nlmsg_get_payload (nlh), sizeof status);
      return reply_status (r, status);
    case NLMSG_DONE:
      /* The end of a dump, with the dump's own error number, if the kernel gave one. */
      if (mnl_nlmsg_get_payload_len (nlh) >= sizeof status)
        memcpy (&status, mnl_nlmsg_get_payload (nlh), sizeof status);
      return reply_status (r, status);
    case NLMSG_OVERRUN:
      return reply_fail (r, "an overrun: the kernel dropped messages");
    default:
      return MNL_CB_OK;
    }
}

static gboolean
parse_reply (Reply *r, const guint8 *buf, gsize len, guint32 seq, guint32 portid, GError **error)
{
  /* Every control message comes to control_cb (libmnl 1.0.4 takes the table as non-const). */
  mnl_cb_t control_cbs[NLMSG_MIN_TYPE] = { [0 ... NLMSG_MIN_TYPE - 1] = control_cb };
  g_autofree guint8 *copy = NULL;
  int ret;

  if (len > G_MAXINT - MNL_ALIGNTO)
    {
      reply_fail (r, "%" G_GSIZE_FORMAT " bytes, too many", len);
      g_propagate_error (error, g_steal_pointer (&r->error));
      return FALSE;
    }
  /* libmnl reads the headers and numbers in place, and walks a message's attributes up to its
   * aligned end: an aligned copy, padded with zeros to a multiple of 4, keeps those reads inside. */
  copy = g_malloc0 (MNL_ALIGN (len) + MNL_ALIGNTO);
  if (len > 0)
    memcpy (copy, buf, len);
  r->buf = copy;
  r->len = len;
  ret = mnl_cb_run2 (copy, len, seq, portid, data_cb, r, control_cbs, G_N_ELEMENTS (control_cbs));
  if (ret == MNL_CB_ERROR && r->error == NULL)
    {
      /* libmnl's own checks, before any callback. */
      int errsv = errno;

      if (errsv == ESRCH)
        reply_fail (r, "a message for another socket");
      else if (errsv == EPROTO)
        reply_fail (r, "a message of another request (sequence number)");
      else if (errsv == EINTR)
        reply_fail (r, "the dump was interrupted because the devices changed; list them again");
      else
        reply_fail (r, "%s", g_strerror (errsv));
    }
  else if (ret == MNL_CB_OK && r->end < len)
    {
      gsize left = len - r->end;
      guint32 msg_len = 0;

      if (left >= sizeof msg_len)
        memcpy (&msg_len, copy + r->end, sizeof msg_len);
      reply_fail (r, "%" G_GSIZE_FORMAT " bytes at offset %" G_GSIZE_FORMAT " are not a message (length %"
                  G_GUINT32_FORMAT ")", left, r->end, msg_len);
    }
  if (r->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r->error));
      return FALSE;
    }
  return TRUE;
}

gboolean
vhost_vdpa_parse_family_reply (const guint8 *buf, gsize len, guint32 seq, guint32 portid, guint16 *family,
                               GError **error)
{
  Reply r = {
    .kind = REPLY_FAMILY,
    .request = "CTRL_CMD_GETFAMILY " VDPA_GENL_NAME,
    .expected_cmd = CTRL_CMD_NEWFAMILY,
    .specs = family_attrs,
    .n_specs = G_N_ELEMENTS (family_attrs),
  };

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (family != NULL, FALSE);

  if (!parse_reply (&r, buf, len, seq, portid, error))
    return FALSE;
  if (!r.have_family)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s reply: no family", r.request);
      return FALSE;
    }
  *family = r.family;
  return TRUE;
}

gboolean
vhost_vdpa_parse_dev_dump (GHashTable *by_name, const guint8 *buf, gsize len, guint32 seq, guint32 portid,
                           gboolean *done, GError **error)
{
  Reply r = {
    .kind = REPLY_DEV_GET,
    .request = "VDPA_CMD_DEV_GET",
    .expected_cmd = VDPA_CMD_DEV_NEW,
    .specs = dev_attrs,
    .n_specs = G_N_ELEMENTS (dev_attrs),
    .by_name = by_name,
  };

  g_return_val_if_fail (by_name != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (done != NULL, FALSE);

  if (!parse_reply (&r, buf, len, seq, portid, error))
    return FALSE;
  *done = r.done;
  return TRUE;
}

/* Asking the kernel, through libmnl. */

typedef struct mnl_socket MnlSocket;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MnlSocket, mnl_socket_close)

/* The largest datagram read: the kernel fills dump datagrams up to the size of the reads. */
#define NL_BUFFER_SIZE 32768

/* Sends a generic netlink request, with one string attribute if @attr_string is not %NULL. */
static gboolean
nl_request (MnlSocket *nl, guint16 type, guint16 flags, guint32 seq, guint8 cmd, guint8 version, guint16 attr_type,
            const char *attr_string, const char *request, GError **error)
{
  /* Aligned for the headers, zeroed for the padding (libmnl 1.0.4 leaves it); the only string
   * attribute is "vdpa". */
  guint32 buf[64] = { 0 };
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct genlmsghdr *genl;

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  genl = mnl_nlmsg_put_extra_header (nlh, sizeof *genl);
  genl->cmd = cmd;
  genl->version = version;
  if (attr_string != NULL)
    mnl_attr_put_strz (nlh, attr_type, attr_string);
  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    {
      g_autofree char *what = g_strdup_printf ("Sending %s", request);

      vhost_kernel_set_ioctl_error (error, what, errno);
      return FALSE;
    }
  return TRUE;
}

static gssize
nl_receive (MnlSocket *nl, guint8 *buf, const char *request, GError **error)
{
  ssize_t n;

  do
    n = mnl_socket_recvfrom (nl, buf, NL_BUFFER_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ENOSPC)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s reply: a datagram longer than %d bytes", request,
                 NL_BUFFER_SIZE);
  else if (n < 0)
    {
      g_autofree char *what = g_strdup_printf ("Receiving the reply to %s", request);

      vhost_kernel_set_ioctl_error (error, what, errno);
    }
  return n;
}

/* What the kernel says about each vDPA device, by name: an empty table when the kernel has no
 * generic netlink or no "vdpa" family. */
static GHashTable *
query_netlink (GError **error)
{
  g_autoptr(GHashTable) by_name = vhost_vdpa_device_table_new ();
  g_autoptr(MnlSocket) nl = NULL;
  g_autofree guint8 *buf = NULL;
  const char *request = "CTRL_CMD_GETFAMILY " VDPA_GENL_NAME;
  guint32 portid;
  guint16 family = 0;
  gboolean done = FALSE;
  gssize n;

  nl = mnl_socket_open2 (NETLINK_GENERIC, SOCK_CLOEXEC);
  if (nl == NULL)
    {
      int errsv = errno;

      /* No generic netlink at all: nothing to add to what sysfs says. */
      if (errsv == EAFNOSUPPORT || errsv == EPROTONOSUPPORT)
        return g_steal_pointer (&by_name);
      vhost_kernel_set_ioctl_error (error, "Opening a generic netlink socket", errsv);
      return NULL;
    }
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      vhost_kernel_set_ioctl_error (error, "Binding a generic netlink socket", errno);
      return NULL;
    }
  portid = mnl_socket_get_portid (nl);
  buf = g_malloc (NL_BUFFER_SIZE);

  if (!nl_request (nl, GENL_ID_CTRL, NLM_F_REQUEST, VHOST_VDPA_SEQ_FAMILY, CTRL_CMD_GETFAMILY, 1,
                   CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME, request, error))
    return NULL;
  n = nl_receive (nl, buf, request, error);
  if (n < 0 || !vhost_vdpa_parse_family_reply (buf, n, VHOST_VDPA_SEQ_FAMILY, portid, &family, error))
    return NULL;
  if (family == 0)
    return g_steal_pointer (&by_name);

  request = "VDPA_CMD_DEV_GET";
  if (!nl_request (nl, family, NLM_F_REQUEST | NLM_F_DUMP, VHOST_VDPA_SEQ_DEV_GET, VDPA_CMD_DEV_GET,
                   VDPA_GENL_VERSION, 0, NULL, request, error))
    return NULL;
  while (!done)
    {
      n = nl_receive (nl, buf, request, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s reply: it ends without NLMSG_DONE", request);
          return NULL;
        }
      if (!vhost_vdpa_parse_dev_dump (by_name, buf, n, VHOST_VDPA_SEQ_DEV_GET, portid, &done, error))
        return NULL;
    }
  return g_steal_pointer (&by_name);
}

static gint
compare_infos (gconstpointer a, gconstpointer b)
{
  const VhostVdpaDeviceInfo *x = *(VhostVdpaDeviceInfo *const *) a;
  const VhostVdpaDeviceInfo *y = *(VhostVdpaDeviceInfo *const *) b;

  return strcmp (x->name, y->name);
}

GPtrArray *
vhost_vdpa_list_devices_at (const char *sysfs_root, GHashTable *netlink_infos, GError **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify) vhost_vdpa_device_info_unref);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *bus_dir = g_build_filename (sysfs_root, "bus", "vdpa", "devices", NULL);
  g_autoptr(GDir) dir = NULL;
  GError *local = NULL;
  GHashTableIter iter;
  gpointer value;
  const char *name;

  dir = g_dir_open (bus_dir, 0, &local);
  if (dir == NULL && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot list the vDPA devices: %s", local->message);
      g_error_free (local);
      return NULL;
    }
  g_clear_error (&local);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *dev_dir = g_build_filename (bus_dir, name, NULL);
      g_autofree char *driver_link = g_build_filename (dev_dir, "driver", NULL);
      g_autofree char *driver_target = g_file_read_link (driver_link, NULL);
      g_autoptr(GDir) children = g_dir_open (dev_dir, 0, NULL);
      VhostVdpaDeviceInfo *known = netlink_infos != NULL ? g_hash_table_lookup (netlink_infos, name) : NULL;
      VhostVdpaDeviceInfo *info = device_info_new (name);
      const char *child;

      if (known != NULL)
        {
          info->device_id = known->device_id;
          info->vendor_id = known->vendor_id;
          info->max_vqs = known->max_vqs;
          info->max_vq_size = known->max_vq_size;
          info->mgmtdev = g_strdup (known->mgmtdev);
        }
      if (driver_target != NULL)
        info->driver = g_path_get_basename (driver_target);
      /* vhost_vdpa's character device is a child device named vhost-vdpa-N. */
      while (children != NULL && (child = g_dir_read_name (children)) != NULL)
        if (g_str_has_prefix (child, "vhost-vdpa-") && child[strlen ("vhost-vdpa-")] != '\0' &&
            strspn (child + strlen ("vhost-vdpa-"), "0123456789") == strlen (child + strlen ("vhost-vdpa-")))
          {
            g_free (info->device_path);
            info->device_path = g_strconcat ("/dev/", child, NULL);
          }
      g_ptr_array_add (result, info);
      g_hash_table_add (seen, info->name);
    }
  /* Devices that netlink knows and sysfs does not (sysfs not mounted, say). */
  if (netlink_infos != NULL)
    {
      g_hash_table_iter_init (&iter, netlink_infos);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          VhostVdpaDeviceInfo *known = value;

          if (!g_hash_table_contains (seen, known->name))
            g_ptr_array_add (result, vhost_vdpa_device_info_ref (known));
        }
    }
  g_ptr_array_sort (result, compare_infos);
  return g_steal_pointer (&result);
}

/**
 * vhost_vdpa_list_devices:
 * @error: return location for a #GError
 *
 * Lists the vDPA devices of the system, for management daemons: their names and
 * drivers from sysfs (/sys/bus/vdpa/devices), the vhost-vdpa character device of
 * each one bound to vhost_vdpa (the vhost-vdpa-N device under it), and the
 * virtio device id, the vendor id, the queue limits and the management device
 * from the kernel's "vdpa" generic netlink family (what `vdpa dev show` prints).
 * Nothing is opened, so devices in use by other processes are listed too.
 *
 * Returns: (transfer full) (element-type VhostVdpaDeviceInfo): the devices sorted
 *   by name, empty when the kernel has no vDPA support loaded; %NULL with @error
 *   set when sysfs or netlink fail
 */
GPtrArray *
vhost_vdpa_list_devices (GError **error)
{
  g_autoptr(GHashTable) infos = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  infos = query_netlink (error);
  if (infos == NULL)
    return NULL;
  return vhost_vdpa_list_devices_at ("/sys", infos, error);
}
