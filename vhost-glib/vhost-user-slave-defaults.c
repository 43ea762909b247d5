/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave's defaults: the virtual functions a device does not override, the typed device requests decoded from the wire, and the explanation of features acked but not offered. */
#include <string.h>
#include <unistd.h>

#include "vhost-enum-types.h"
#include "vhost-user-slave-internal.h"

/* "RING_EVENT_IDX (bit 29), device feature bit 3": the names of the bits of a
 * virtio feature set or (protocol) of a protocol feature set. */
static char *
feature_bit_names (guint64 bits, gboolean protocol)
{
  GEnumClass *virtio = g_type_class_ref (VHOST_TYPE_VIRTIO_FEATURE);
  GFlagsClass *flags = g_type_class_ref (VHOST_TYPE_USER_PROTOCOL_FEATURES);
  GString *names = g_string_new (NULL);

  for (guint bit = 0; bit < 64; bit++)
    {
      const char *name = NULL;

      if (!(bits & VHOST_FEATURE_MASK (bit)))
        continue;
      if (names->len > 0)
        g_string_append (names, ", ");
      if (protocol && bit < 32)
        {
          GFlagsValue *value = g_flags_get_first_value (flags, 1u << bit);

          if (value != NULL && value->value == 1u << bit)
            name = value->value_name + strlen ("VHOST_USER_PROTOCOL_F_");
        }
      else if (!protocol)
        {
          GEnumValue *value = g_enum_get_value (virtio, bit);

          if (value != NULL)
            name = value->value_name + strlen ("VHOST_VIRTIO_F_");
        }
      if (name != NULL)
        g_string_append_printf (names, "%s (bit %u)", name, bit);
      else
        g_string_append_printf (names, "%s bit %u", protocol ? "protocol feature" : "device feature", bit);
    }
  g_type_class_unref (flags);
  g_type_class_unref (virtio);
  return g_string_free (names, FALSE);
}

/* SET_FEATURES or SET_PROTOCOL_FEATURES refused for bits the device did not
 * offer: say which, and how to make them agree. */
void
vhost_user_slave_explain_unoffered (VhostUserSlave *self, const VhostUserMsg *msg, GError **error)
{
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  gboolean protocol = msg->hdr.request == VHOST_USER_SET_PROTOCOL_FEATURES;
  guint64 offered, unoffered;
  g_autofree char *names = NULL;

  if ((msg->hdr.request != VHOST_USER_SET_FEATURES && !protocol) || msg->hdr.size != sizeof (guint64) ||
      !g_error_matches (*error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT))
    return;
  if (protocol)
    offered = klass->get_protocol_features (self) & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED;
  else
    offered = klass->get_features (self) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
  unoffered = msg->payload.u64 & ~offered;
  if (unoffered == 0)
    return;
  names = feature_bit_names (unoffered, protocol);
  g_clear_error (error);
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
               "%s: the front-end acked %s that the device did not offer: %s. A device that supports them "
               "offers them from its %s virtual function (do_%s in Python); otherwise turn them off in the "
               "front-end",
               protocol ? "SET_PROTOCOL_FEATURES" : "SET_FEATURES", protocol ? "protocol features" : "features",
               names, protocol ? "get_protocol_features" : "get_features",
               protocol ? "get_protocol_features" : "get_features");
}

/* Defaults of the virtual functions. */

static guint64
slave_real_get_features (VhostUserSlave *self)
{
  return DEFAULT_FEATURES;
}

static GBytes *slave_real_get_config (VhostUserSlave *self, guint offset, guint size, GError **error);
static gboolean slave_real_send_rarp (VhostUserSlave *self, const guint8 *mac, GError **error);
static gboolean slave_real_net_set_mtu (VhostUserSlave *self, guint mtu, GError **error);
static gboolean slave_real_set_vring_endian (VhostUserSlave *self, guint index, gboolean big_endian, GError **error);

static guint64
slave_real_get_protocol_features (VhostUserSlave *self)
{
  guint64 features = DEFAULT_PROTOCOL_FEATURES;

  /* CONFIG only with a configuration space: bytes set, or a get_config of the device's own. */
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);

  if (PRIV (self)->config != NULL || klass->get_config != slave_real_get_config)
    features |= VHOST_USER_PROTOCOL_F_CONFIG;
  /* The feature of each device request the device implements. */
  if (klass->send_rarp != slave_real_send_rarp)
    features |= VHOST_USER_PROTOCOL_F_RARP;
  if (klass->net_set_mtu != slave_real_net_set_mtu)
    features |= VHOST_USER_PROTOCOL_F_NET_MTU;
  if (klass->set_vring_endian != slave_real_set_vring_endian)
    features |= VHOST_USER_PROTOCOL_F_CROSS_ENDIAN;
  return features;
}

static guint
slave_real_get_num_queues (VhostUserSlave *self)
{
  return 1;
}

static guint
slave_real_get_max_queue_size (VhostUserSlave *self)
{
  return DEFAULT_MAX_QUEUE_SIZE;
}

static gboolean
slave_real_set_features (VhostUserSlave *self, guint64 features, GError **error)
{
  return TRUE;
}

static GBytes *
slave_real_get_config (VhostUserSlave *self, guint offset, guint size, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  gsize length = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;

  if (offset > length || size > length - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_CONFIG: %u bytes at offset %u are outside the %" G_GSIZE_FORMAT "-byte configuration space",
                   size, offset, length);
      return NULL;
    }
  return g_bytes_new_from_bytes (priv->config, offset, size);
}

static gboolean
slave_real_set_config (VhostUserSlave *self, guint offset, GBytes *data, guint flags, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "SET_CONFIG: the device's configuration space is read-only");
  return FALSE;
}

static void
slave_real_vring_state_changed (VhostUserSlave *self, guint index, gboolean started, gboolean enabled)
{
}

static void
slave_real_reset (VhostUserSlave *self)
{
}

/* Device requests, decoded: the default device_request calls these. */

static gboolean
not_supported (VhostUserRequest request, GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: the device does not support it",
               vhost_user_request_get_name (request));
  return FALSE;
}

static gboolean
slave_real_send_rarp (VhostUserSlave *self, const guint8 *mac, GError **error)
{
  return not_supported (VHOST_USER_SEND_RARP, error);
}

static gboolean
slave_real_net_set_mtu (VhostUserSlave *self, guint mtu, GError **error)
{
  return not_supported (VHOST_USER_NET_SET_MTU, error);
}

static gboolean
slave_real_set_vring_endian (VhostUserSlave *self, guint index, gboolean big_endian, GError **error)
{
  return not_supported (VHOST_USER_SET_VRING_ENDIAN, error);
}

static gint
slave_real_get_shared_object (VhostUserSlave *self, GBytes *uuid, GError **error)
{
  not_supported (VHOST_USER_GET_SHARED_OBJECT, error);
  return -1;
}

static gboolean
slave_real_gpu_set_socket (VhostUserSlave *self, gint fd, GError **error)
{
  return not_supported (VHOST_USER_GPU_SET_SOCKET, error);
}

/* A reply with a u64 and, when `fd` >= 0, that fd (taken). */
static void
reply_u64_fd (guint64 value, gint fd, GBytes **reply, GUnixFDList **reply_fds)
{
  *reply = g_bytes_new (&value, sizeof value);
  if (fd >= 0)
    *reply_fds = g_unix_fd_list_new_from_array (&fd, 1);
}

/* A virtual function that returns an fd must set the error exactly when it returns -1. */
static gboolean
check_returned_fd (VhostUserRequest request, gint fd, GError **error)
{
  if (fd >= 0 || (error != NULL && *error != NULL))
    return fd >= 0;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_FAILED, "%s: the device returned no file descriptor",
               vhost_user_request_get_name (request));
  return FALSE;
}

static gboolean
slave_real_device_request (VhostUserSlave *self,
                           VhostUserRequest request,
                           GBytes *payload,
                           GUnixFDList *fds,
                           GBytes **reply,
                           GUnixFDList **reply_fds,
                           GError **error)
{
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  const char *name = vhost_user_request_get_name (request);
  /* The protocol layer checked the payload's size and the number of fds. */
  const VhostUserPayload *p = g_bytes_get_data (payload, NULL);
  gint fd = g_unix_fd_list_get_length (fds) > 0 ? g_unix_fd_list_peek_fds (fds, NULL)[0] : -1;
  gint out_fd = -1;

  switch (request)
    {
    case VHOST_USER_SEND_RARP:
      return klass->send_rarp (self, p->bytes, error);
    case VHOST_USER_NET_SET_MTU:
      if (p->u64 > G_MAXUINT)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: MTU %" G_GUINT64_FORMAT " is too large",
                       name, p->u64);
          return FALSE;
        }
      return klass->net_set_mtu (self, (guint) p->u64, error);
    case VHOST_USER_SET_VRING_ENDIAN:
      if (!vhost_user_dev_check_vring_index (PRIV (self)->dev, name, p->state.index, error))
        return FALSE;
      return klass->set_vring_endian (self, p->state.index, p->state.num != 0, error);
    case VHOST_USER_GET_SHARED_OBJECT:
      {
        g_autoptr(GBytes) uuid = g_bytes_new (p->shared.uuid, sizeof p->shared.uuid);

        out_fd = klass->get_shared_object (self, uuid, error);
        if (!check_returned_fd (request, out_fd, error))
          return FALSE;
        reply_u64_fd (0, out_fd, reply, reply_fds);
        return TRUE;
      }
    case VHOST_USER_GPU_SET_SOCKET:
      return klass->gpu_set_socket (self, fd, error);
    default:
      return not_supported (request, error);
    }
}

static GBytes *
slave_real_save_state (VhostUserSlave *self, GError **error)
{
  return g_bytes_new (NULL, 0);
}

static gboolean
slave_real_load_state (VhostUserSlave *self, GBytes *state, GError **error)
{
  if (g_bytes_get_size (state) == 0)
    return TRUE;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
               "CHECK_DEVICE_STATE: %" G_GSIZE_FORMAT " bytes of device state, and the device keeps none",
               g_bytes_get_size (state));
  return FALSE;
}

void
vhost_user_slave_class_set_defaults (VhostUserSlaveClass *klass)
{
  klass->get_features = slave_real_get_features;
  klass->get_protocol_features = slave_real_get_protocol_features;
  klass->get_num_queues = slave_real_get_num_queues;
  klass->get_max_queue_size = slave_real_get_max_queue_size;
  klass->set_features = slave_real_set_features;
  klass->get_config = slave_real_get_config;
  klass->set_config = slave_real_set_config;
  klass->vring_state_changed = slave_real_vring_state_changed;
  klass->reset = slave_real_reset;
  klass->device_request = slave_real_device_request;
  klass->send_rarp = slave_real_send_rarp;
  klass->net_set_mtu = slave_real_net_set_mtu;
  klass->set_vring_endian = slave_real_set_vring_endian;
  klass->get_shared_object = slave_real_get_shared_object;
  klass->gpu_set_socket = slave_real_gpu_set_socket;
  klass->save_state = slave_real_save_state;
  klass->load_state = slave_real_load_state;
}
