/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserMaster: the vhost-user front-end, every front-end request, and the back-end request channel. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-master.h"
#include "vhost-enum-types.h"
#include "vhost-user-master-private.h"
#include "protocol/vhost-user-requests.h"

/**
 * SECTION:vhost-user-master
 * @title: VhostUserMaster
 * @short_description: the vhost-user front-end
 *
 * #VhostUserMaster is the front-end of the vhost-user protocol: the side that
 * owns the virtqueues and shares them, with the guest memory they live in, with a
 * back-end process over a unix socket. (The specification once called the two
 * sides "master" and "slave"; it now says "front-end" and "back-end". The class
 * names keep the old words; the documentation uses the new ones.)
 *
 * A master connects to a back-end's socket path (vhost_user_master_new() and
 * vhost_user_master_connect() or vhost_user_master_connect_async()) or adopts a
 * connected socket (vhost_user_master_new_for_fd()). It implements #VhostBackend
 * for the requests that every vhost data plane shares, and has a method for each
 * other front-end request of the specification. A request that depends on a
 * protocol feature fails with %VHOST_ERROR_NOT_SUPPORTED, without being sent,
 * unless that feature was negotiated with vhost_user_master_set_protocol_features()
 * (or with vhost_backend_negotiate_protocol(), which reads the offer and acks what
 * both sides have in one step).
 * Once %VHOST_USER_PROTOCOL_F_REPLY_ACK is negotiated, every request that has no
 * reply of its own asks for an acknowledgement, so a failure in the back-end is
 * reported by the call that caused it.
 *
 * Every request has a synchronous method and an asynchronous pair. A synchronous
 * method writes its request and reads the reply directly from the socket, with a
 * time limit (#VhostUserMaster:timeout). Back-end requests that arrive while a
 * call waits are dispatched at once, so a back-end that needs an answer before it
 * replies cannot deadlock the front-end.
 *
 * |[<!-- language="C" -->
 * g_autoptr(VhostUserMaster) master = vhost_user_master_new ("/run/vhost-blk.sock");
 * g_autoptr(GError) error = NULL;
 * guint64 features, protocol, queues = 1;
 *
 * if (!vhost_user_master_connect (master, NULL, &error) ||
 *     !vhost_backend_get_features (VHOST_BACKEND (master), &features, &error) ||
 *     !vhost_backend_set_owner (VHOST_BACKEND (master), &error) ||
 *     !vhost_backend_negotiate_protocol (VHOST_BACKEND (master), VHOST_USER_PROTOCOL_F_MQ, &protocol, &error) ||
 *     ((protocol & VHOST_USER_PROTOCOL_F_MQ) && !vhost_user_master_get_queue_num (master, &queues, &error)))
 *   g_printerr ("%s\n", error->message);
 * ]|
 *
 * ## Asynchronous calls ## {#vhost-user-master-async}
 *
 * A main-loop application that must never block uses the asynchronous pairs,
 * GIO's `_async` and `_finish`: every #VhostBackend call
 * (vhost_backend_get_features_async(), vhost_backend_set_mem_table_async()...),
 * every typed request of the master (vhost_user_master_get_config_async(),
 * vhost_user_master_get_inflight_fd_async()...), and
 * vhost_user_master_send_request_async() for any request as the specification
 * lays it out. Each sends its request from the master's #GMainContext without
 * waiting; its callback runs on the thread-default #GMainContext of the caller
 * once the reply arrived (for a request without a reply, once the request is on
 * its way), never from inside the `_async` function; `_finish` gives the result,
 * decoded.
 *
 * Calls go out in the order they are made, async and sync alike, and each one
 * sees what the calls before it did: an asynchronous call waits in a queue until
 * the one before it has its reply (the protocol features it needs are checked
 * then), and a synchronous call first lets the asynchronous calls made before it
 * finish, processing the socket as it does for its own reply. So a program may
 * make a whole series of asynchronous calls at once and take the results in its
 * callbacks, which come in the same order. A request that takes two messages
 * (SET_PROTOCOL_FEATURES with SET_BACKEND_REQ_FD, a memory table while postcopy
 * listens) has nothing between them on the wire.
 *
 * A #GCancellable cancelled before a call's request was sent takes the call out
 * of the queue. Once sent, a request cannot be taken back: the call fails with
 * %G_IO_ERROR_CANCELLED at once, and the back-end still carries the request out;
 * the master's own record (#VhostUserMaster:acked-features, the back-end request
 * channel...) follows what the back-end answered. An asynchronous call waits for
 * its reply without a time limit, and fails with %VHOST_ERROR_DISCONNECTED when
 * the connection ends (vhost_user_master_close() included), as every call queued
 * behind it does.
 *
 * When %VHOST_USER_PROTOCOL_F_BACKEND_REQ is negotiated, the master creates the
 * back-end request channel (a socketpair, one end sent with SET_BACKEND_REQ_FD)
 * and watches it on the #GMainContext that was the thread-default one when the
 * master was created. Back-end requests become signals: #VhostUserMaster::config-changed,
 * #VhostUserMaster::host-notifier, #VhostUserMaster::iotlb-message,
 * #VhostUserMaster::vring-call, #VhostUserMaster::vring-err,
 * #VhostUserMaster::shared-object-add, #VhostUserMaster::shared-object-remove,
 * #VhostUserMaster::shared-object-lookup, #VhostUserMaster::shmem-map and
 * #VhostUserMaster::shmem-unmap.
 *
 * Some protocol features need others, as the specification says:
 * %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS needs
 * %VHOST_USER_PROTOCOL_F_BACKEND_REQ and %VHOST_USER_PROTOCOL_F_REPLY_ACK, and
 * %VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT needs
 * %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD. vhost_user_master_set_protocol_features()
 * refuses a set that breaks this, and vhost_backend_negotiate_protocol() leaves
 * out a feature whose dependencies the back-end does not offer.
 *
 * With %VHOST_USER_PROTOCOL_F_SHMEM, vhost_user_master_get_shmem_config() reads
 * the device's VIRTIO Shared Memory Regions and reserves address space for each
 * one; the back-end then maps files into them (SHMEM_MAP) and unmaps them
 * (SHMEM_UNMAP). The master checks every such request against its regions, and
 * answers a refusal with a failure status (with REPLY_ACK) and a message in the
 * log; the connection goes on. The mapped bytes are read with
 * vhost_user_master_read_shmem(), or in place through
 * vhost_user_master_get_shmem_region(). A device reset (RESET_DEVICE, or a
 * status of 0) unmaps them all, as the specification says, and the regions go
 * with the connection.
 *
 * When the back-end goes away (#VhostUserMaster::disconnected), the master can
 * dial its socket path again, waiting for a new back-end to listen there:
 * vhost_user_master_reconnect() and vhost_user_master_reconnect_async(). The new
 * back-end knows nothing of the old session, so the front-end negotiates and
 * sets everything again; vhost_driver_reconnect() does this for a #VhostDriver.
 *
 * A master must be used from the thread that owns its #GMainContext.
 */

#define DEFAULT_TIMEOUT_MS 30000

/**
 * VhostUserMaster:
 *
 * A vhost-user front-end. All its fields are private.
 */

static void vhost_user_master_backend_iface_init (VhostBackendInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VhostUserMaster, vhost_user_master, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND,
                                                      vhost_user_master_backend_iface_init))

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_CONNECTED,
  PROP_ACKED_FEATURES,
  PROP_ACKED_PROTOCOL_FEATURES,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_DISCONNECTED,
  SIGNAL_CONFIG_CHANGED,
  SIGNAL_HOST_NOTIFIER,
  SIGNAL_IOTLB_MESSAGE,
  SIGNAL_VRING_CALL,
  SIGNAL_VRING_ERR,
  SIGNAL_SHARED_OBJECT_ADD,
  SIGNAL_SHARED_OBJECT_REMOVE,
  SIGNAL_SHARED_OBJECT_LOOKUP,
  SIGNAL_SHMEM_MAP,
  SIGNAL_SHMEM_UNMAP,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
master_drop_connection (VhostUserMaster *self)
{
  gboolean was_connected = self->channel != NULL;

  if (self->channel != NULL)
    vhost_user_channel_set_companion (self->channel, NULL);
  g_clear_pointer (&self->backend, vhost_user_channel_unref);
  g_clear_pointer (&self->channel, vhost_user_channel_unref);
  self->postcopy_listening = FALSE;
  g_array_set_size (self->postcopy_regions, 0);
  g_clear_pointer (&self->shmem, vhost_user_shmem_free);
  if (was_connected)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

static void
master_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  VhostUserMaster *self = user_data;
  GError *copy = g_error_copy (error);

  g_object_ref (self);
  master_drop_connection (self);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, copy);
  g_error_free (copy);
  g_object_unref (self);
}

static void
backend_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  VhostUserMaster *self = user_data;

  /* A broken back-end request channel ends the session, as it does in QEMU. */
  if (self->channel != NULL)
    master_closed_cb (self->channel, error, self);
}

/* Back-end requests, dispatched on the master's main context (or inside a sync call):
 * one function per request, named in the table's handler column. Each becomes a
 * signal; the message was validated (vhost_user_request_validate()) on its way in.
 * A lookup may find nothing, and the shared memory requests, which change the
 * front-end's address space, may be refused: a status in `reply`. */

static void
backend_iotlb_msg (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  g_signal_emit (self, signals[SIGNAL_IOTLB_MESSAGE], 0, msg->payload.iotlb.iova, msg->payload.iotlb.size,
                 msg->payload.iotlb.uaddr, (guint) msg->payload.iotlb.perm, (guint) msg->payload.iotlb.type);
}

static void
backend_config_change_msg (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  g_signal_emit (self, signals[SIGNAL_CONFIG_CHANGED], 0);
}

static void
backend_vring_host_notifier_msg (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  const VhostUserVringAreaWire *area = &msg->payload.area;

  g_signal_emit (self, signals[SIGNAL_HOST_NOTIFIER], 0, (guint) (area->u64 & VHOST_USER_VRING_IDX_MASK),
                 (area->u64 & VHOST_USER_VRING_NOFD_MASK) ? -1 : msg->fds[0], area->size, area->offset);
}

static void
backend_vring_call (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  g_signal_emit (self, signals[SIGNAL_VRING_CALL], 0, msg->payload.state.index);
}

static void
backend_vring_err (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  g_signal_emit (self, signals[SIGNAL_VRING_ERR], 0, msg->payload.state.index);
}

static void
backend_shared_object (VhostUserMaster *self, VhostUserMsg *msg, guint signal, gint *fd)
{
  g_autoptr(GBytes) uuid = g_bytes_new (msg->payload.shared.uuid, VHOST_USER_UUID_SIZE);

  g_signal_emit (self, signals[signal], 0, uuid, fd);
}

static void
backend_shared_object_add (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  backend_shared_object (self, msg, SIGNAL_SHARED_OBJECT_ADD, NULL);
}

static void
backend_shared_object_remove (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  backend_shared_object (self, msg, SIGNAL_SHARED_OBJECT_REMOVE, NULL);
}

static void
backend_shared_object_lookup (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  gint fd = -1;

  backend_shared_object (self, msg, SIGNAL_SHARED_OBJECT_LOOKUP, &fd);
  if (fd < 0)
    {
      reply->payload.u64 = ENOENT;
      return;
    }
  /* The handler keeps its fd: the reply carries it borrowed and the channel sends a copy. */
  reply->fds[reply->n_fds++] = fd;
}

/* SHMEM_MAP and SHMEM_UNMAP change the regions, and may fail: the back-end
 * asked for something outside them, or before the regions were read. */
static gboolean
backend_shmem_check (VhostUserMaster *self, VhostUserMsg *msg, GError **error)
{
  const char *name = vhost_user_backend_request_get_name (msg->hdr.request);

  if (!(self->acked_protocol_features & VHOST_USER_PROTOCOL_F_SHMEM))
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: SHMEM was not negotiated", name);
  else if (self->shmem == NULL)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                 "%s: the front-end has not read the shared memory regions (GET_SHMEM_CONFIG)", name);
  else
    return TRUE;
  return FALSE;
}

/* A refusal: logged (at the rate a back-end cannot turn into a flood), and a
 * status (an errno) for the back-end if it asked. */
static void
backend_shmem_refused (VhostUserMaster *self, VhostUserMsg *reply, GError *error)
{
  vhost_log_limiter_log (&self->log_limiter, G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "back-end request refused",
                         g_get_monotonic_time (), "Refusing a back-end request: %s", error->message);
  switch (error->code)
    {
    case VHOST_ERROR_NO_SPACE:
      reply->payload.u64 = ENOSPC;
      break;
    case VHOST_ERROR_MAP_FAILED:
      reply->payload.u64 = EIO;
      break;
    default:
      reply->payload.u64 = EINVAL;
    }
  g_error_free (error);
}

static void
backend_shmem_map (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  const VhostUserMMapWire *m = &msg->payload.mmap;
  GError *error = NULL;

  if (!backend_shmem_check (self, msg, &error) || !vhost_user_shmem_map (self->shmem, m, msg->fds[0], &error))
    {
      backend_shmem_refused (self, reply, error);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_SHMEM_MAP], 0, (guint) m->shmid, m->shm_offset, m->len,
                 (VhostUserShmemMapFlags) m->flags);
}

static void
emit_shmem_unmap (guint shmid, guint64 offset, guint64 len, gpointer data)
{
  g_signal_emit (data, signals[SIGNAL_SHMEM_UNMAP], 0, shmid, offset, len);
}

static void
backend_shmem_unmap (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply)
{
  const VhostUserMMapWire *m = &msg->payload.mmap;
  GError *error = NULL;

  if (!backend_shmem_check (self, msg, &error) || !vhost_user_shmem_unmap (self->shmem, m, &error))
    {
      backend_shmem_refused (self, reply, error);
      return;
    }
  emit_shmem_unmap (m->shmid, m->shm_offset, m->len, self);
}

typedef void (*BackendHandler) (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg *reply);

#define HANDLER_ROW(code, handler, ...) [VHOST_USER_BACKEND_##code] = backend_##handler,
static const BackendHandler backend_handlers[] = { VHOST_USER_BACKEND_REQUESTS (HANDLER_ROW) };
#undef HANDLER_ROW

static void
backend_request_cb (VhostUserChannel *channel, VhostUserMsg *msg, gpointer user_data)
{
  VhostUserMaster *self = user_data;
  VhostUserReplyForm form =
    vhost_user_request_reply_form (VHOST_USER_CHANNEL_BACKEND, msg, vhost_user_channel_get_protocol_features (channel));
  VhostUserMsg reply;

  g_object_ref (self);
  vhost_user_msg_init_reply_u64 (&reply, msg, 0);
  backend_handlers[msg->hdr.request](self, msg, &reply);
  if (form != VHOST_USER_REPLY_FORM_NONE)
    vhost_user_channel_send (channel, &reply);
  g_object_unref (self);
}

/* The back-end sent something wrong: end the session with a GError, as for a bad message. */
void
master_fail (VhostUserMaster *self, GError *local_error, GError **error)
{
  if (self->channel != NULL)
    vhost_user_channel_fail (self->channel, local_error);
  g_propagate_error (error, local_error);
}

gboolean
master_check_now (VhostUserMaster *self, guint32 request, GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, request);

  if (self->channel == NULL || !vhost_user_channel_is_open (self->channel))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED, "%s: not connected",
                   vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, request));
      return FALSE;
    }
  if (info == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_UNKNOWN_REQUEST, "Unknown request code %u", request);
      return FALSE;
    }
  return vhost_user_request_check_features (VHOST_USER_CHANNEL_FRONTEND, request, 0, self->acked_protocol_features,
                                            error);
}

/* A sync request goes after the async ones called before it (vhost-user-master-async.c). */
static gboolean
master_check (VhostUserMaster *self, guint32 request, GError **error)
{
  master_drain (self);
  return master_check_now (self, request, error);
}

/* Send a request and wait for its reply (if any); NEED_REPLY is set when REPLY_ACK is on. */
static gboolean
master_call (VhostUserMaster *self, VhostUserMsg *msg, VhostUserMsg **reply, GError **error)
{
  if (!master_check (self, msg->hdr.request, error))
    return FALSE;
  vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_FRONTEND, msg, self->acked_protocol_features);
  return vhost_user_channel_call (self->channel, msg, reply, NULL, error);
}

static gboolean
master_call_simple (VhostUserMaster *self, VhostUserRequest request, GError **error)
{
  VhostUserMsg msg;

  vhost_user_msg_init (&msg, request, 0);
  return master_call (self, &msg, NULL, error);
}

static gboolean
master_call_u64 (VhostUserMaster *self, VhostUserRequest request, guint64 value, GError **error)
{
  VhostUserMsg msg;

  vhost_user_msg_init_u64 (&msg, request, value);
  return master_call (self, &msg, NULL, error);
}

static gboolean
master_call_state (VhostUserMaster *self, VhostUserRequest request, guint index, guint num, GError **error)
{
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, request, index, num);
  return master_call (self, &msg, NULL, error);
}

static gboolean
master_call_with_fd (VhostUserMaster *self, VhostUserMsg *msg, gint fd, GError **error)
{
  if (fd >= 0)
    msg->fds[msg->n_fds++] = fd;
  return master_call (self, msg, NULL, error);
}

/* A request whose reply is a u64: the value, or a status when `status_name` is set. */
static gboolean
master_call_get_u64 (VhostUserMaster *self, VhostUserMsg *msg, guint64 *value, const char *status_name,
                     GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;

  return master_call (self, msg, &reply, error) && master_reply_u64 (reply, status_name, value, error);
}

gboolean
master_reply_u64 (const VhostUserMsg *reply, const char *status_name, guint64 *value, GError **error)
{
  if (status_name != NULL && reply->payload.u64 != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "%s: the back-end answered failure (status %" G_GUINT64_FORMAT ")", status_name,
                   reply->payload.u64);
      return FALSE;
    }
  if (value != NULL)
    *value = reply->payload.u64;
  return TRUE;
}

static gboolean
master_get_u64 (VhostUserMaster *self, VhostUserRequest request, guint64 *value, GError **error)
{
  VhostUserMsg msg;

  vhost_user_msg_init (&msg, request, 0);
  return master_call_get_u64 (self, &msg, value, NULL, error);
}

static void
master_set_channel (VhostUserMaster *self, int fd)
{
  self->channel = vhost_user_channel_new (fd, VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_CHANNEL_REQUESTER,
                                          self->context, NULL, master_closed_cb, self);
  vhost_user_channel_set_timeout (self->channel, self->timeout_ms);
  /* A new back-end knows nothing of what an earlier one negotiated. */
  g_object_freeze_notify (G_OBJECT (self));
  self->offered_features = 0;
  self->postcopy_listening = FALSE;
  g_array_set_size (self->postcopy_regions, 0);
  g_clear_pointer (&self->shmem, vhost_user_shmem_free);
  if (self->acked_features != 0)
    {
      self->acked_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_FEATURES]);
    }
  if (self->acked_protocol_features != 0)
    {
      self->acked_protocol_features = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
vhost_user_master_init (VhostUserMaster *self)
{
  self->adopted_fd = -1;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->context = g_main_context_ref_thread_default ();
  self->postcopy_regions = g_array_new (FALSE, FALSE, sizeof (PostcopyRegion));
  g_queue_init (&self->ops);
  vhost_log_limiter_init (&self->log_limiter, NULL, VHOST_LOG_LIMIT_BURST, VHOST_LOG_LIMIT_INTERVAL_US);
}

static void
vhost_user_master_dispose (GObject *object)
{
  VhostUserMaster *self = VHOST_USER_MASTER (object);

  if (self->channel != NULL)
    {
      vhost_user_channel_set_companion (self->channel, NULL);
      vhost_user_channel_close (self->channel);
    }
  if (self->backend != NULL)
    vhost_user_channel_close (self->backend);
  g_clear_pointer (&self->backend, vhost_user_channel_unref);
  g_clear_pointer (&self->channel, vhost_user_channel_unref);
  g_clear_pointer (&self->shmem, vhost_user_shmem_free);
  if (self->adopted_fd >= 0)
    {
      close (self->adopted_fd);
      self->adopted_fd = -1;
    }
  G_OBJECT_CLASS (vhost_user_master_parent_class)->dispose (object);
}

static void
vhost_user_master_finalize (GObject *object)
{
  VhostUserMaster *self = VHOST_USER_MASTER (object);

  g_free (self->socket_path);
  g_main_context_unref (self->context);
  g_array_unref (self->postcopy_regions);
  vhost_log_limiter_clear (&self->log_limiter);
  G_OBJECT_CLASS (vhost_user_master_parent_class)->finalize (object);
}

static void
vhost_user_master_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostUserMaster *self = VHOST_USER_MASTER (object);

  switch (prop_id)
    {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, vhost_user_master_get_connected (self));
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, self->acked_features);
      break;
    case PROP_ACKED_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, self->acked_protocol_features);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_master_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostUserMaster *self = VHOST_USER_MASTER (object);

  switch (prop_id)
    {
    case PROP_SOCKET_PATH:
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_TIMEOUT:
      if (self->timeout_ms != g_value_get_uint (value))
        {
          self->timeout_ms = g_value_get_uint (value);
          if (self->channel != NULL)
            vhost_user_channel_set_timeout (self->channel, self->timeout_ms);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gint
shared_object_lookup_default (VhostUserMaster *self, GBytes *uuid)
{
  return -1;
}

/* shared-object-lookup: the first handler that answers with a file descriptor
 * wins; one that returns -1 lets the next one try. */
static gboolean
first_fd_wins (GSignalInvocationHint *ihint, GValue *return_accu, const GValue *handler_return, gpointer data)
{
  gint fd = g_value_get_int (handler_return);

  g_value_set_int (return_accu, fd);
  return fd < 0;
}

static void
vhost_user_master_class_init (VhostUserMasterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_master_dispose;
  object_class->finalize = vhost_user_master_finalize;
  object_class->get_property = vhost_user_master_get_property;
  object_class->set_property = vhost_user_master_set_property;

  /**
   * VhostUserMaster:socket-path:
   *
   * The path of the back-end's listening socket, or %NULL for a master made
   * with vhost_user_master_new_for_fd().
   */
  properties[PROP_SOCKET_PATH] = g_param_spec_string (
      "socket-path", "Socket path",
      "The path of the back-end's listening socket, or NULL for a master made with "
      "vhost_user_master_new_for_fd().",
      NULL, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserMaster:connected:
   *
   * Whether the master has a connection to a back-end.
   */
  properties[PROP_CONNECTED] = g_param_spec_boolean (
      "connected", "Connected", "Whether the master has a connection to a back-end.", FALSE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserMaster:acked-features:
   *
   * The virtio features last set with vhost_backend_set_features().
   */
  properties[PROP_ACKED_FEATURES] = g_param_spec_uint64 (
      "acked-features", "Acked features",
      "The virtio features last set with vhost_backend_set_features().", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserMaster:acked-protocol-features:
   *
   * The protocol features last set with vhost_user_master_set_protocol_features(),
   * a mask of #VhostUserProtocolFeatures.
   */
  properties[PROP_ACKED_PROTOCOL_FEATURES] = g_param_spec_uint64 (
      "acked-protocol-features", "Acked protocol features",
      "The protocol features last set with vhost_user_master_set_protocol_features(), a mask of "
      "VhostUserProtocolFeatures.",
      0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserMaster:timeout:
   *
   * How long, in milliseconds, a synchronous request waits for its reply before
   * the connection is closed with %VHOST_ERROR_TIMED_OUT; 0 waits without limit.
   */
  properties[PROP_TIMEOUT] = g_param_spec_uint (
      "timeout", "Timeout",
      "How long, in milliseconds, a synchronous request waits for its reply before the connection "
      "is closed with VHOST_ERROR_TIMED_OUT; 0 waits without limit.",
      0, G_MAXUINT, DEFAULT_TIMEOUT_MS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserMaster::disconnected:
   * @master: the #VhostUserMaster
   * @error: why the connection ended
   *
   * Emitted when the connection ends for any reason other than
   * vhost_user_master_close(): the back-end hung up, sent a bad message, or did
   * not answer in time.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * VhostUserMaster::config-changed:
   * @master: the #VhostUserMaster
   *
   * The back-end says its configuration space changed (CONFIG_CHANGE_MSG).
   */
  signals[SIGNAL_CONFIG_CHANGED] =
    g_signal_new ("config-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  /**
   * VhostUserMaster::host-notifier:
   * @master: the #VhostUserMaster
   * @index: the queue index
   * @fd: the file descriptor to map the notification area from, or -1 to remove
   *   the queue's host notifier; borrowed: duplicate it to keep it
   * @size: the size of the area
   * @offset: the offset of the area in @fd
   *
   * The back-end sets or removes a queue's host notifier (VRING_HOST_NOTIFIER_MSG).
   */
  signals[SIGNAL_HOST_NOTIFIER] =
    g_signal_new ("host-notifier", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_INT, G_TYPE_UINT64, G_TYPE_UINT64);
  /**
   * VhostUserMaster::iotlb-message:
   * @master: the #VhostUserMaster
   * @iova: the I/O virtual address
   * @size: the size of the range
   * @uaddr: the user address
   * @perm: the access that failed or is asked for (1 read, 2 write, 3 both)
   * @type: the message type (1 miss, 4 access fail)
   *
   * The back-end reports an IOTLB miss or access failure (IOTLB_MSG).
   */
  signals[SIGNAL_IOTLB_MESSAGE] =
    g_signal_new ("iotlb-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 5, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT, G_TYPE_UINT);
  /**
   * VhostUserMaster::vring-call:
   * @master: the #VhostUserMaster
   * @index: the queue index
   *
   * An in-band call: the back-end used buffers of queue @index (VRING_CALL).
   */
  signals[SIGNAL_VRING_CALL] =
    g_signal_new ("vring-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * VhostUserMaster::vring-err:
   * @master: the #VhostUserMaster
   * @index: the queue index
   *
   * An in-band error notification for queue @index (VRING_ERR).
   */
  signals[SIGNAL_VRING_ERR] =
    g_signal_new ("vring-err", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * VhostUserMaster::shared-object-add:
   * @master: the #VhostUserMaster
   * @uuid: the 16-byte UUID of the object
   *
   * The back-end exports a shared object (SHARED_OBJECT_ADD).
   */
  signals[SIGNAL_SHARED_OBJECT_ADD] =
    g_signal_new ("shared-object-add", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BYTES);
  /**
   * VhostUserMaster::shared-object-remove:
   * @master: the #VhostUserMaster
   * @uuid: the 16-byte UUID of the object
   *
   * The back-end withdraws a shared object (SHARED_OBJECT_REMOVE).
   */
  signals[SIGNAL_SHARED_OBJECT_REMOVE] =
    g_signal_new ("shared-object-remove", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  /**
   * VhostUserMaster::shared-object-lookup:
   * @master: the #VhostUserMaster
   * @uuid: the 16-byte UUID of the object
   *
   * The back-end asks for the file descriptor of a shared object
   * (SHARED_OBJECT_LOOKUP). The first handler that returns a file descriptor
   * answers, and the handlers after it are not called; a handler that does not
   * know the object returns -1 and lets the next one try. The master sends a
   * duplicate, and the handler keeps its own.
   *
   * Returns: a file descriptor, or -1 if the object is unknown
   */
  signals[SIGNAL_SHARED_OBJECT_LOOKUP] =
    g_signal_new_class_handler ("shared-object-lookup", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                G_CALLBACK (shared_object_lookup_default), first_fd_wins, NULL, NULL,
                                G_TYPE_INT, 1, G_TYPE_BYTES);
  /**
   * VhostUserMaster::shmem-map:
   * @master: the #VhostUserMaster
   * @shmid: the shared memory region
   * @offset: where the mapping starts in the region
   * @length: its length
   * @flags: the mapping's flags: %VHOST_USER_SHMEM_MAP_WRITABLE when the driver
   *   may write it
   *
   * The back-end mapped a file into a shared memory region (SHMEM_MAP); the
   * bytes are there now. Emitted after the mapping was made; a refused one is
   * not reported here (see vhost_user_master_get_shmem_config()).
   */
  signals[SIGNAL_SHMEM_MAP] =
    g_signal_new ("shmem-map", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64, VHOST_TYPE_USER_SHMEM_MAP_FLAGS);
  /**
   * VhostUserMaster::shmem-unmap:
   * @master: the #VhostUserMaster
   * @shmid: the shared memory region
   * @offset: where the mapping started in the region
   * @length: its length
   *
   * A mapping of a shared memory region is gone: the back-end unmapped it
   * (SHMEM_UNMAP), or the device was reset. The range is inaccessible again.
   */
  signals[SIGNAL_SHMEM_UNMAP] =
    g_signal_new ("shmem-unmap", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64);
}

/**
 * vhost_user_master_new:
 * @path: the path of the back-end's listening unix socket
 *
 * Creates a front-end for the back-end listening on @path. Nothing is connected
 * until vhost_user_master_connect() or vhost_user_master_connect_async().
 *
 * Returns: (transfer full): a new #VhostUserMaster
 */
VhostUserMaster *
vhost_user_master_new (const char *path)
{
  g_return_val_if_fail (path != NULL, NULL);
  return g_object_new (VHOST_TYPE_USER_MASTER, "socket-path", path, NULL);
}

/**
 * vhost_user_master_new_for_fd:
 * @fd: a connected unix stream socket
 *
 * Creates a front-end on a socket that is already connected to a back-end. The
 * master takes ownership of @fd; vhost_user_master_connect() starts using it.
 *
 * Returns: (transfer full): a new #VhostUserMaster
 */
VhostUserMaster *
vhost_user_master_new_for_fd (gint fd)
{
  VhostUserMaster *self;

  g_return_val_if_fail (fd >= 0, NULL);
  self = g_object_new (VHOST_TYPE_USER_MASTER, NULL);
  self->adopted_fd = fd;
  return self;
}

static gboolean
master_begin_connect (VhostUserMaster *self, GError **error)
{
  if (self->channel != NULL && vhost_user_channel_is_open (self->channel))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "Already connected");
      return FALSE;
    }
  master_drop_connection (self);
  if (self->socket_path == NULL && self->adopted_fd < 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED,
                           "The socket given to vhost_user_master_new_for_fd() was already used");
      return FALSE;
    }
  return TRUE;
}

static gboolean
master_finish_connect (VhostUserMaster *self, GSocketConnection *connection, GError **error)
{
  int fd = fcntl (g_socket_get_fd (g_socket_connection_get_socket (connection)), F_DUPFD_CLOEXEC, 3);

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s", self->socket_path,
                   g_strerror (errsv));
      return FALSE;
    }
  master_set_channel (self, fd);
  return TRUE;
}

static GError *
master_connect_error (VhostUserMaster *self, GError *error)
{
  GError *result = g_error_new (VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s",
                                self->socket_path, error->message);
  g_error_free (error);
  return result;
}

/**
 * vhost_user_master_connect:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to the back-end's socket, or starts using the socket given to
 * vhost_user_master_new_for_fd(). Connecting a unix socket does not wait for the
 * back-end to accept, so this returns at once.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_connect (VhostUserMaster *master, GCancellable *cancellable, GError **error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!master_begin_connect (master, error))
    return FALSE;
  if (master->socket_path == NULL)
    {
      master_set_channel (master, master->adopted_fd);
      master->adopted_fd = -1;
      return TRUE;
    }
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (master->socket_path);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, &local_error);
  if (connection == NULL)
    {
      g_propagate_error (error, master_connect_error (master, local_error));
      return FALSE;
    }
  return master_finish_connect (master, connection, error);
}

static void
master_connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  VhostUserMaster *self = g_task_get_source_object (task);
  g_autoptr(GSocketConnection) connection = NULL;
  GError *error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    g_task_return_error (task, master_connect_error (self, error));
  else if (!master_finish_connect (self, connection, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * vhost_user_master_connect_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the connection is made or has failed
 * @user_data: data for @callback
 *
 * Connects to the back-end without blocking. @callback runs on the thread-default
 * #GMainContext of the caller; it calls vhost_user_master_connect_finish().
 */
void
vhost_user_master_connect_async (VhostUserMaster *master,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));

  task = g_task_new (master, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_master_connect_async);
  if (!master_begin_connect (master, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (master->socket_path == NULL)
    {
      master_set_channel (master, master->adopted_fd);
      master->adopted_fd = -1;
      g_task_return_boolean (task, TRUE);
      return;
    }
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (master->socket_path);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable, master_connect_cb,
                                 g_steal_pointer (&task));
}

/**
 * vhost_user_master_connect_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_connect_async().
 *
 * Returns: %TRUE if the master is connected
 */
gboolean
vhost_user_master_connect_finish (VhostUserMaster *master, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, master), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_master_connect_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vhost_user_master_close:
 * @master: a #VhostUserMaster
 *
 * Closes the connection and the back-end request channel. Pending requests fail
 * with %VHOST_ERROR_DISCONNECTED. #VhostUserMaster::disconnected is not emitted.
 */
void
vhost_user_master_close (VhostUserMaster *master)
{
  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  if (master->channel != NULL)
    {
      vhost_user_channel_set_companion (master->channel, NULL);
      vhost_user_channel_close (master->channel);
    }
  if (master->backend != NULL)
    vhost_user_channel_close (master->backend);
  master_drop_connection (master);
}

/* Reconnecting: dial the socket path again until a back-end answers. The first
 * retry comes after FIRST_REDIAL_MS, each later one waits twice as long, up to
 * MAX_REDIAL_MS, and none waits past the caller's deadline. */
#define FIRST_REDIAL_MS 10
#define MAX_REDIAL_MS 500

/* A dial failed because the back-end is not (yet) there: no socket file, a file
 * that nobody listens on any more (a back-end that was killed leaves it), or a
 * listener whose backlog is full. Anything else will not change by waiting. */
static gboolean
dial_error_is_transient (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

/* Drop the current connection (if any) without emitting ::disconnected. */
static gboolean
master_begin_reconnect (VhostUserMaster *self, GError **error)
{
  if (self->socket_path == NULL)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "Reconnecting: a master made with vhost_user_master_new_for_fd() has no socket path "
                           "to dial again");
      return FALSE;
    }
  vhost_user_master_close (self);
  return TRUE;
}

/* How long to wait before the next dial (-1: the deadline has passed), and the
 * back-off after that. A deadline of -1 is no deadline. */
static gint
redial_wait_ms (gint64 deadline, guint *backoff_ms)
{
  gint wait = *backoff_ms;

  *backoff_ms = MIN (*backoff_ms * 2, MAX_REDIAL_MS);
  if (deadline >= 0)
    {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0)
        return -1;
      wait = MIN (wait, (left + 999) / 1000);
    }
  return wait;
}

/* The error of a reconnection that gave up: a cancellation as it is, a time-out
 * naming the last failure, anything else as a connect error. Takes `dial_error`. */
static GError *
master_reconnect_error (VhostUserMaster *self, GError *dial_error, gint timeout_ms, gboolean timed_out)
{
  GError *result;

  if (g_error_matches (dial_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return dial_error;
  if (!timed_out)
    return master_connect_error (self, dial_error);
  result = g_error_new (VHOST_ERROR, VHOST_ERROR_TIMED_OUT, "Reconnecting to %s: no back-end within %d ms (%s)",
                        self->socket_path, timeout_ms, dial_error->message);
  g_error_free (dial_error);
  return result;
}

/* Sleep `ms` milliseconds unless `cancellable` is cancelled first; FALSE if it is. */
static gboolean
sleep_unless_cancelled (GCancellable *cancellable, gint ms)
{
  GPollFD pfd;

  if (cancellable == NULL || !g_cancellable_make_pollfd (cancellable, &pfd))
    {
      g_usleep ((gulong) ms * 1000);
      return !g_cancellable_is_cancelled (cancellable);
    }
  /* A signal may cut the poll short: the next dial then comes a little early. */
  g_poll (&pfd, 1, ms);
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_is_cancelled (cancellable);
}

/**
 * vhost_user_master_reconnect:
 * @master: a #VhostUserMaster made with vhost_user_master_new()
 * @timeout_ms: how long to keep trying, in milliseconds; -1 for no limit
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to the back-end's socket path again, typically after the back-end
 * went away (#VhostUserMaster::disconnected) and a new back-end process is
 * starting on the same path. A connection that is still open is closed first,
 * as vhost_user_master_close() does (without #VhostUserMaster::disconnected).
 *
 * While the socket file does not exist, or nobody listens on it (a back-end that
 * was killed leaves its socket file behind), the master dials again: after
 * 10 ms, then waiting twice as long after each failure, up to 500 ms between two
 * tries, until a back-end answers, @timeout_ms has passed
 * (%VHOST_ERROR_TIMED_OUT, naming the last failure) or @cancellable is cancelled
 * (%G_IO_ERROR_CANCELLED). Any other failure ends the attempt at once with
 * %VHOST_ERROR_IO. A master made with vhost_user_master_new_for_fd() has no
 * path to dial: %VHOST_ERROR_NOT_SUPPORTED.
 *
 * Nothing of the previous connection is kept: the new back-end starts from
 * scratch, and the caller negotiates features and protocol features again and
 * replays the device's state (vhost_driver_reconnect() does all of it for a
 * #VhostDriver). #VhostUserMaster:connected becomes %FALSE when the old
 * connection is closed and %TRUE when the new one is made;
 * #VhostUserMaster:acked-features and #VhostUserMaster:acked-protocol-features
 * go back to 0.
 *
 * This call blocks, sleeping between tries; a main-loop application uses
 * vhost_user_master_reconnect_async().
 *
 * Returns: %TRUE if the master is connected again
 */
gboolean
vhost_user_master_reconnect (VhostUserMaster *master, gint timeout_ms, GCancellable *cancellable, GError **error)
{
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  guint backoff_ms = FIRST_REDIAL_MS;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!master_begin_reconnect (master, error))
    return FALSE;
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (master->socket_path);
  for (;;)
    {
      g_autoptr(GSocketConnection) connection = NULL;
      GError *dial_error = NULL;
      gint wait;

      connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, &dial_error);
      if (connection != NULL)
        return master_finish_connect (master, connection, error);
      wait = dial_error_is_transient (dial_error) ? redial_wait_ms (deadline, &backoff_ms) : -1;
      if (wait < 0)
        {
          g_propagate_error (error, master_reconnect_error (master, dial_error, timeout_ms,
                                                            dial_error_is_transient (dial_error)));
          return FALSE;
        }
      g_debug ("Reconnecting to %s: %s; trying again in %d ms", master->socket_path, dial_error->message, wait);
      g_error_free (dial_error);
      if (!sleep_unless_cancelled (cancellable, wait))
        {
          g_cancellable_set_error_if_cancelled (cancellable, error);
          return FALSE;
        }
    }
}

typedef struct
{
  GSocketClient *client;   /* (owned) */
  GSocketAddress *address; /* (owned) */
  gint64 deadline;
  gint timeout_ms;
  guint backoff_ms;
} ReconnectData;

static void
reconnect_data_free (ReconnectData *data)
{
  g_object_unref (data->client);
  g_object_unref (data->address);
  g_free (data);
}

static void reconnect_dial_cb (GObject *source, GAsyncResult *result, gpointer user_data);

/* Takes `task`. */
static void
reconnect_dial (GTask *task)
{
  ReconnectData *data = g_task_get_task_data (task);

  g_socket_client_connect_async (data->client, G_SOCKET_CONNECTABLE (data->address), g_task_get_cancellable (task),
                                 reconnect_dial_cb, task);
}

static gboolean
reconnect_redial_cb (gpointer user_data)
{
  GTask *task = user_data;

  if (!g_task_return_error_if_cancelled (task))
    reconnect_dial (g_object_ref (task));
  return G_SOURCE_REMOVE;
}

static void
reconnect_dial_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  VhostUserMaster *self = g_task_get_source_object (task);
  ReconnectData *data = g_task_get_task_data (task);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSource) wait_source = NULL;
  GMainContext *context;
  GError *error = NULL;
  gint wait;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection != NULL)
    {
      if (vhost_user_master_get_connected (self))
        g_task_return_new_error (task, VHOST_ERROR, VHOST_ERROR_BROKEN,
                                 "Reconnecting to %s: the master was connected meanwhile", self->socket_path);
      else if (!master_finish_connect (self, connection, &error))
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, TRUE);
      return;
    }
  wait = dial_error_is_transient (error) ? redial_wait_ms (data->deadline, &data->backoff_ms) : -1;
  if (wait < 0)
    {
      g_task_return_error (task, master_reconnect_error (self, error, data->timeout_ms, dial_error_is_transient (error)));
      return;
    }
  g_debug ("Reconnecting to %s: %s; trying again in %d ms", self->socket_path, error->message, wait);
  g_error_free (error);
  /* A cancellation ends the wait early: the cancellable's source is a child of
   * the timer's, so it dispatches the timer's callback. */
  wait_source = g_timeout_source_new (wait);
  if (g_task_get_cancellable (task) != NULL)
    {
      g_autoptr(GSource) cancelled = g_cancellable_source_new (g_task_get_cancellable (task));

      g_source_set_dummy_callback (cancelled);
      g_source_add_child_source (wait_source, cancelled);
    }
  g_source_set_static_name (wait_source, "[vhost] vhost-user reconnect");
  context = g_task_get_context (task);
  g_source_set_callback (wait_source, reconnect_redial_cb, g_steal_pointer (&task), g_object_unref);
  g_source_attach (wait_source, context);
}

/**
 * vhost_user_master_reconnect_async:
 * @master: a #VhostUserMaster made with vhost_user_master_new()
 * @timeout_ms: how long to keep trying, in milliseconds; -1 for no limit
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the master is connected again or has
 *   given up
 * @user_data: data for @callback
 *
 * Connects to the back-end's socket path again, as vhost_user_master_reconnect()
 * does, without blocking: the waits between tries are timers on the
 * thread-default #GMainContext of the caller, where @callback runs; it calls
 * vhost_user_master_reconnect_finish().
 */
void
vhost_user_master_reconnect_async (VhostUserMaster *master,
                                   gint timeout_ms,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  ReconnectData *data;
  GError *error = NULL;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (master, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_master_reconnect_async);
  if (!master_begin_reconnect (master, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  data = g_new0 (ReconnectData, 1);
  data->client = g_socket_client_new ();
  data->address = g_unix_socket_address_new (master->socket_path);
  data->deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  data->timeout_ms = timeout_ms;
  data->backoff_ms = FIRST_REDIAL_MS;
  g_task_set_task_data (task, data, (GDestroyNotify) reconnect_data_free);
  reconnect_dial (g_steal_pointer (&task));
}

/**
 * vhost_user_master_reconnect_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_reconnect_async().
 *
 * Returns: %TRUE if the master is connected again
 */
gboolean
vhost_user_master_reconnect_finish (VhostUserMaster *master, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, master), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_master_reconnect_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vhost_user_master_get_socket_path:
 * @master: a #VhostUserMaster
 *
 * Gets the back-end's socket path, or %NULL.
 *
 * Returns: (nullable): the back-end's socket path, or %NULL
 */
const char *
vhost_user_master_get_socket_path (VhostUserMaster *master)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  return master->socket_path;
}

/**
 * vhost_user_master_get_connected:
 * @master: a #VhostUserMaster
 *
 * Tells whether @master is connected to a back-end.
 *
 * Returns: whether @master is connected to a back-end
 */
gboolean
vhost_user_master_get_connected (VhostUserMaster *master)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master->channel != NULL && vhost_user_channel_is_open (master->channel);
}

/**
 * vhost_user_master_get_acked_features:
 * @master: a #VhostUserMaster
 *
 * Gets the virtio features last set with vhost_backend_set_features().
 *
 * Returns: the virtio features last set with vhost_backend_set_features()
 */
guint64
vhost_user_master_get_acked_features (VhostUserMaster *master)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), 0);
  return master->acked_features;
}

/**
 * vhost_user_master_get_acked_protocol_features:
 * @master: a #VhostUserMaster
 *
 * Gets the protocol features last set with vhost_user_master_set_protocol_features().
 *
 * Returns: the protocol features last set with
 *   vhost_user_master_set_protocol_features()
 */
guint64
vhost_user_master_get_acked_protocol_features (VhostUserMaster *master)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), 0);
  return master->acked_protocol_features;
}

/* Build a request from the generic API's arguments, validated as a back-end would;
 * the fds are borrowed from `fds`. */
gboolean
master_build_request (VhostUserRequest request, GBytes *payload, GUnixFDList *fds, VhostUserMsg *msg, GError **error)
{
  gsize size = payload != NULL ? g_bytes_get_size (payload) : 0;
  gint n_fds = fds != NULL ? g_unix_fd_list_get_length (fds) : 0;

  if (vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, request) == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_UNKNOWN_REQUEST, "Unknown request code %u", request);
      return FALSE;
    }
  if (size > VHOST_USER_MAX_PAYLOAD || n_fds > (gint) VHOST_USER_MAX_FDS)
    {
      g_set_error (error, VHOST_ERROR, size > VHOST_USER_MAX_PAYLOAD ? VHOST_ERROR_MESSAGE_SIZE : VHOST_ERROR_FDS,
                   "%s: %" G_GSIZE_FORMAT " bytes and %d fds are more than a message carries",
                   vhost_user_request_get_name (request), size, n_fds);
      return FALSE;
    }
  vhost_user_msg_init (msg, request, size);
  if (size > 0)
    memcpy (msg->payload.bytes, g_bytes_get_data (payload, NULL), size);
  if (n_fds > 0)
    memcpy (msg->fds, g_unix_fd_list_peek_fds (fds, NULL), n_fds * sizeof (int));
  msg->n_fds = n_fds;
  if (!vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, msg, error))
    {
      msg->n_fds = 0;
      return FALSE;
    }
  return TRUE;
}

/* The payload of a reply (empty for none), and its fds, taken from it. */
GBytes *
master_reply_to_bytes (VhostUserMsg *reply, GUnixFDList **out_fds)
{
  GBytes *bytes;

  if (out_fds != NULL)
    *out_fds = NULL;
  if (reply == NULL)
    return g_bytes_new (NULL, 0);
  bytes = g_bytes_new (reply->payload.bytes, reply->hdr.size);
  if (out_fds != NULL && reply->n_fds > 0)
    {
      *out_fds = g_unix_fd_list_new_from_array (reply->fds, reply->n_fds);
      reply->n_fds = 0;
    }
  return bytes;
}

/**
 * vhost_user_master_send_request:
 * @master: a #VhostUserMaster
 * @request: the request
 * @payload: (nullable): the payload, in the wire format of the specification
 * @fds: (nullable): the file descriptors to send with it (duplicated)
 * @out_fds: (out) (optional) (nullable) (transfer full): the file descriptors of the reply
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends any front-end request, as the specification lays it out, and waits for
 * the reply it calls for. The request is validated first, as a back-end would.
 * A REPLY_ACK status is checked and gives an empty reply.
 *
 * Returns: (transfer full): the payload of the reply, empty if there is none
 */
GBytes *
vhost_user_master_send_request (VhostUserMaster *master,
                                VhostUserRequest request,
                                GBytes *payload,
                                GUnixFDList *fds,
                                GUnixFDList **out_fds,
                                GCancellable *cancellable,
                                GError **error)
{
  VhostUserMsg msg;
  g_autoptr(VhostUserMsg) reply = NULL;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  if (!master_check (master, request, error) || !master_build_request (request, payload, fds, &msg, error))
    return NULL;
  vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_FRONTEND, &msg, master->acked_protocol_features);
  if (!vhost_user_channel_call (master->channel, &msg, &reply, cancellable, error))
    return NULL;
  return master_reply_to_bytes (reply, out_fds);
}

/**
 * vhost_user_master_get_protocol_features:
 * @master: a #VhostUserMaster
 * @features: (out): the protocol features the back-end offers, a mask of
 *   #VhostUserProtocolFeatures
 * @error: return location for a #GError
 *
 * Reads the protocol features the back-end offers (GET_PROTOCOL_FEATURES). Only
 * valid when the back-end offers %VHOST_VIRTIO_F_PROTOCOL_FEATURES.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_get_protocol_features (VhostUserMaster *master, guint64 *features, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_get_u64 (master, VHOST_USER_GET_PROTOCOL_FEATURES, features, error);
}

/* The protocol features that need others, as the specification says. */
static const struct
{
  guint64 feature;
  guint64 needs;
} protocol_dependencies[] = {
  { VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS, VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK },
  { VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD },
};

/* `features` without those whose dependencies it lacks. */
static guint64
protocol_features_closed (guint64 features)
{
  for (guint i = 0; i < G_N_ELEMENTS (protocol_dependencies); i++)
    if ((features & protocol_dependencies[i].needs) != protocol_dependencies[i].needs)
      features &= ~protocol_dependencies[i].feature;
  return features;
}

/* VHOST_ERROR_INVALID_ARGUMENT naming the first feature of `features` whose
 * dependencies are not in it. */
static gboolean
check_protocol_dependencies (const char *what, guint64 features, GError **error)
{
  guint64 broken = features & ~protocol_features_closed (features);
  g_autoptr(GString) needs = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (protocol_dependencies) && broken != 0; i++)
    if (protocol_dependencies[i].feature == (broken & -broken))
      {
        guint64 missing = protocol_dependencies[i].needs & ~features;

        for (; missing != 0; missing &= missing - 1)
          g_string_append_printf (needs, "%s%s", needs->len > 0 ? " and " : "",
                                  vhost_user_protocol_feature_name (missing & -missing));
        g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: %s needs %s, which %s not in 0x%"
                     G_GINT64_MODIFIER "x", what, vhost_user_protocol_feature_name (broken), needs->str,
                     strchr (needs->str, ' ') != NULL ? "are" : "is", features);
        return FALSE;
      }
  return TRUE;
}

/**
 * vhost_user_master_query_protocol_features:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Reads the protocol features the back-end offers, as
 * vhost_user_master_get_protocol_features() does, and returns them.
 *
 * Returns: a mask of #VhostUserProtocolFeatures, or 0 with @error set
 */
guint64
vhost_user_master_query_protocol_features (VhostUserMaster *master, GError **error)
{
  guint64 features = 0;

  return vhost_user_master_get_protocol_features (master, &features, error) ? features : 0;
}

/**
 * vhost_user_master_set_protocol_features:
 * @master: a #VhostUserMaster
 * @features: the protocol features to use, a mask of #VhostUserProtocolFeatures
 * @error: return location for a #GError
 *
 * Sets the protocol features both sides use (SET_PROTOCOL_FEATURES). Features
 * the library does not implement are an error (%VHOST_ERROR_NOT_SUPPORTED), and
 * so is a feature without those it needs (%VHOST_ERROR_INVALID_ARGUMENT):
 * %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS needs
 * %VHOST_USER_PROTOCOL_F_BACKEND_REQ and %VHOST_USER_PROTOCOL_F_REPLY_ACK,
 * %VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT needs
 * %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD; nothing is sent then. When @features
 * has %VHOST_USER_PROTOCOL_F_BACKEND_REQ, the back-end request channel is set up
 * too (SET_BACKEND_REQ_FD).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_protocol_features (VhostUserMaster *master, guint64 features, GError **error)
{
  VhostUserMsg msg;
  gboolean ok;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  if (!master_check_protocol_features (features, error) ||
      !master_call_u64 (master, VHOST_USER_SET_PROTOCOL_FEATURES, features, error) ||
      !master_apply_protocol_features (master, features, &msg, error))
    return FALSE;
  if (msg.n_fds == 0)
    return TRUE;
  ok = master_call (master, &msg, NULL, error);
  master_backend_req_fd_done (master, &msg, ok);
  return ok;
}

gboolean
master_check_protocol_features (guint64 features, GError **error)
{
  if (features & ~VHOST_USER_PROTOCOL_FEATURES_SUPPORTED)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "SET_PROTOCOL_FEATURES: features 0x%" G_GINT64_MODIFIER "x are not implemented",
                   features & ~VHOST_USER_PROTOCOL_FEATURES_SUPPORTED);
      return FALSE;
    }
  return check_protocol_dependencies ("SET_PROTOCOL_FEATURES", features, error);
}

/* After SET_PROTOCOL_FEATURES: the protocol features in use and, with BACKEND_REQ, a
 * new back-end request channel, whose other end `backend_req` carries (SET_BACKEND_REQ_FD;
 * no fd when there is none to send). */
gboolean
master_apply_protocol_features (VhostUserMaster *self, guint64 features, VhostUserMsg *backend_req, GError **error)
{
  int sv[2];

  if (self->acked_protocol_features != features)
    {
      self->acked_protocol_features = features;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_PROTOCOL_FEATURES]);
    }
  vhost_user_channel_set_protocol_features (self->channel, features);

  vhost_user_channel_set_companion (self->channel, NULL);
  g_clear_pointer (&self->backend, vhost_user_channel_unref);
  vhost_user_msg_init (backend_req, VHOST_USER_SET_BACKEND_REQ_FD, 0);
  if (!(features & VHOST_USER_PROTOCOL_F_BACKEND_REQ))
    return TRUE;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "SET_BACKEND_REQ_FD: socketpair: %s", g_strerror (errsv));
      return FALSE;
    }
  self->backend = vhost_user_channel_new (sv[0], VHOST_USER_CHANNEL_BACKEND, VHOST_USER_CHANNEL_RESPONDER,
                                          self->context, backend_request_cb, backend_closed_cb, self);
  vhost_user_channel_set_protocol_features (self->backend, features);
  vhost_user_channel_set_companion (self->channel, self->backend);
  backend_req->fds[backend_req->n_fds++] = sv[1];
  return TRUE;
}

/* SET_BACKEND_REQ_FD went out (`ok`) or failed: our copy of the other end goes. */
void
master_backend_req_fd_done (VhostUserMaster *self, VhostUserMsg *backend_req, gboolean ok)
{
  vhost_user_msg_close_fds (backend_req);
  if (ok)
    return;
  if (self->channel != NULL)
    vhost_user_channel_set_companion (self->channel, NULL);
  g_clear_pointer (&self->backend, vhost_user_channel_unref);
}

/**
 * vhost_user_master_get_queue_num:
 * @master: a #VhostUserMaster
 * @num: (out): the largest number of queues the back-end supports
 * @error: return location for a #GError
 *
 * Reads how many queues the back-end supports (GET_QUEUE_NUM). Needs
 * %VHOST_USER_PROTOCOL_F_MQ.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_get_queue_num (VhostUserMaster *master, guint64 *num, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_get_u64 (master, VHOST_USER_GET_QUEUE_NUM, num, error);
}

/**
 * vhost_user_master_query_queue_num:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Reads how many queues the back-end supports, as
 * vhost_user_master_get_queue_num() does, and returns it.
 *
 * Returns: the number of queues, or 0 with @error set
 */
guint64
vhost_user_master_query_queue_num (VhostUserMaster *master, GError **error)
{
  guint64 num = 0;

  return vhost_user_master_get_queue_num (master, &num, error) ? num : 0;
}

/**
 * vhost_user_master_get_config:
 * @master: a #VhostUserMaster
 * @offset: the offset in the device's configuration space
 * @size: how many bytes to read, at most 256
 * @flags: 0, or 1 for a read made for live migration
 * @error: return location for a #GError
 *
 * Reads the device's configuration space (GET_CONFIG). Needs
 * %VHOST_USER_PROTOCOL_F_CONFIG. A back-end that cannot answer gives
 * %VHOST_ERROR_REJECTED.
 *
 * Returns: (transfer full): @size bytes of configuration space
 */
GBytes *
vhost_user_master_get_config (VhostUserMaster *master, guint offset, guint size, guint flags, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  if (!master_build_get_config (offset, size, flags, &msg, error) || !master_call (master, &msg, &reply, error))
    return NULL;
  return master_get_config_reply (master, &msg, reply, error);
}

gboolean
master_build_get_config (guint offset, guint size, guint flags, VhostUserMsg *msg, GError **error)
{
  if (size == 0 || size > VHOST_USER_MAX_CONFIG_SIZE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_CONFIG: size %u is not between 1 and %u", size, VHOST_USER_MAX_CONFIG_SIZE);
      return FALSE;
    }
  vhost_user_msg_init (msg, VHOST_USER_GET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + size);
  msg->payload.config.offset = offset;
  msg->payload.config.size = size;
  msg->payload.config.flags = flags;
  memset (msg->payload.config.region, 0, size);
  return TRUE;
}

/* The configuration space a GET_CONFIG `request` asked for, from its reply. */
GBytes *
master_get_config_reply (VhostUserMaster *master, const VhostUserMsg *request, const VhostUserMsg *reply,
                         GError **error)
{
  guint offset = request->payload.config.offset, size = request->payload.config.size;

  if (reply->hdr.size == 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "GET_CONFIG: the back-end could not read %u bytes at offset %u", size, offset);
      return NULL;
    }
  if (reply->payload.config.offset != offset || reply->payload.config.size != size)
    {
      master_fail (master,
                   g_error_new (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                "GET_CONFIG: asked for %u bytes at %u, the reply has %u bytes at %u", size, offset,
                                reply->payload.config.size, reply->payload.config.offset),
                   error);
      return NULL;
    }
  return g_bytes_new (reply->payload.config.region, size);
}

/**
 * vhost_user_master_set_config:
 * @master: a #VhostUserMaster
 * @offset: the offset in the device's configuration space
 * @data: the bytes to write, at most 256
 * @flags: 0, or 1 for a write made for live migration
 * @error: return location for a #GError
 *
 * Writes the device's configuration space (SET_CONFIG). Needs
 * %VHOST_USER_PROTOCOL_F_CONFIG.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_config (VhostUserMaster *master, guint offset, GBytes *data, guint flags, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  return master_build_set_config (offset, data, flags, &msg, error) && master_call (master, &msg, NULL, error);
}

gboolean
master_build_set_config (guint offset, GBytes *data, guint flags, VhostUserMsg *msg, GError **error)
{
  gsize size = g_bytes_get_size (data);

  if (size == 0 || size > VHOST_USER_MAX_CONFIG_SIZE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_CONFIG: size %" G_GSIZE_FORMAT " is not between 1 and %u", size, VHOST_USER_MAX_CONFIG_SIZE);
      return FALSE;
    }
  vhost_user_msg_init (msg, VHOST_USER_SET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + size);
  msg->payload.config.offset = offset;
  msg->payload.config.size = size;
  msg->payload.config.flags = flags;
  memcpy (msg->payload.config.region, g_bytes_get_data (data, NULL), size);
  return TRUE;
}

/**
 * vhost_user_master_set_vring_enable:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @enable: whether the back-end may process the queue
 * @error: return location for a #GError
 *
 * Enables or disables a queue (SET_VRING_ENABLE). Only valid once
 * %VHOST_VIRTIO_F_PROTOCOL_FEATURES was acked.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_vring_enable (VhostUserMaster *master, guint index, gboolean enable, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  master_drain (master);
  return master_check_vring_enable (master, error) &&
         master_call_state (master, VHOST_USER_SET_VRING_ENABLE, index, enable ? 1 : 0, error);
}

gboolean
master_check_vring_enable (VhostUserMaster *self, GError **error)
{
  if (!(self->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES)))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "SET_VRING_ENABLE needs the feature PROTOCOL_FEATURES, which was not acked");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_fd_covers (const char *what, int fd, guint64 offset, guint64 size, GError **error)
{
  struct stat st;

  if (offset + size < offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: offset %" G_GUINT64_FORMAT " plus size %" G_GUINT64_FORMAT " overflows", what, offset, size);
      return FALSE;
    }
  if (fstat (fd, &st) < 0 || (guint64) st.st_size < offset + size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "%s: the file descriptor does not hold %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT,
                   what, size, offset);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_master_get_inflight_fd:
 * @master: a #VhostUserMaster
 * @num_queues: the number of queues to track
 * @queue_size: the size of each queue
 * @mmap_size: (out) (optional): the size of the tracking area
 * @mmap_offset: (out) (optional): the offset of the tracking area in the returned fd
 * @error: return location for a #GError
 *
 * Asks the back-end for the shared memory in which it tracks requests in flight
 * (GET_INFLIGHT_FD). Needs %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD.
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
gint
vhost_user_master_get_inflight_fd (VhostUserMaster *master,
                                   guint num_queues,
                                   guint queue_size,
                                   guint64 *mmap_size,
                                   guint64 *mmap_offset,
                                   GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), -1);
  master_build_inflight (VHOST_USER_GET_INFLIGHT_FD, -1, 0, 0, num_queues, queue_size, &msg);
  if (!master_call (master, &msg, &reply, error))
    return -1;
  return master_inflight_reply (master, reply, mmap_size, mmap_offset, error);
}

/* GET_INFLIGHT_FD's reply: the area's fd (taken from `reply`), size and offset. */
gint
master_inflight_reply (VhostUserMaster *master, VhostUserMsg *reply, guint64 *mmap_size, guint64 *mmap_offset,
                       GError **error)
{
  GError *local_error = NULL;

  if (!check_fd_covers ("GET_INFLIGHT_FD", reply->fds[0], reply->payload.inflight.mmap_offset,
                        reply->payload.inflight.mmap_size, &local_error))
    {
      master_fail (master, local_error, error);
      return -1;
    }
  if (mmap_size != NULL)
    *mmap_size = reply->payload.inflight.mmap_size;
  if (mmap_offset != NULL)
    *mmap_offset = reply->payload.inflight.mmap_offset;
  return vhost_user_msg_take_fd (reply, 0);
}

/**
 * vhost_user_master_set_inflight_fd:
 * @master: a #VhostUserMaster
 * @fd: the tracking area, as vhost_user_master_get_inflight_fd() gave it (borrowed)
 * @mmap_size: the size of the tracking area
 * @mmap_offset: the offset of the tracking area in @fd
 * @num_queues: the number of queues
 * @queue_size: the size of each queue
 * @error: return location for a #GError
 *
 * Gives the tracking area back to a back-end, after it restarted
 * (SET_INFLIGHT_FD). Needs %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_inflight_fd (VhostUserMaster *master,
                                   gint fd,
                                   guint64 mmap_size,
                                   guint64 mmap_offset,
                                   guint num_queues,
                                   guint queue_size,
                                   GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  master_build_inflight (VHOST_USER_SET_INFLIGHT_FD, fd, mmap_size, mmap_offset, num_queues, queue_size, &msg);
  return master_call (master, &msg, NULL, error);
}

/* GET_INFLIGHT_FD (fd -1), or SET_INFLIGHT_FD with `fd` (borrowed). */
void
master_build_inflight (VhostUserRequest request,
                       gint fd,
                       guint64 mmap_size,
                       guint64 mmap_offset,
                       guint num_queues,
                       guint queue_size,
                       VhostUserMsg *msg)
{
  vhost_user_msg_init (msg, request, sizeof (VhostUserInflightWire));
  msg->payload.inflight.mmap_size = mmap_size;
  msg->payload.inflight.mmap_offset = mmap_offset;
  msg->payload.inflight.num_queues = num_queues;
  msg->payload.inflight.queue_size = queue_size;
  if (fd >= 0)
    msg->fds[msg->n_fds++] = fd;
}

/**
 * vhost_user_master_get_max_mem_slots:
 * @master: a #VhostUserMaster
 * @slots: (out): how many memory regions the back-end accepts
 * @error: return location for a #GError
 *
 * Reads how many memory regions the back-end can map (GET_MAX_MEM_SLOTS). Needs
 * %VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_get_max_mem_slots (VhostUserMaster *master, guint64 *slots, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_get_u64 (master, VHOST_USER_GET_MAX_MEM_SLOTS, slots, error);
}

/**
 * vhost_user_master_query_max_mem_slots:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Reads how many memory regions the back-end can map, as
 * vhost_user_master_get_max_mem_slots() does, and returns it.
 *
 * Returns: the number of memory slots, or 0 with @error set
 */
guint64
vhost_user_master_query_max_mem_slots (VhostUserMaster *master, GError **error)
{
  guint64 slots = 0;

  return vhost_user_master_get_max_mem_slots (master, &slots, error) ? slots : 0;
}

/* While postcopy listens, a memory table (SET_MEM_TABLE, ADD_MEM_REG) is answered
 * with the regions as the back-end mapped them: keep where, then acknowledge with
 * the same request carrying a u64 0 (no NEED_REPLY: the back-end reads it as part
 * of the exchange). A reply that does not describe the regions sent ends the
 * connection. */
static gboolean
master_postcopy_table (VhostUserMaster *self, VhostUserMsg *msg, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg ack;

  return master_check (self, msg->hdr.request, error) &&
         vhost_user_channel_call_echo (self->channel, msg, &reply, NULL, error) &&
         master_postcopy_record (self, msg, reply, &ack, error) &&
         vhost_user_channel_call (self->channel, &ack, NULL, NULL, error);
}

/* The back-end's answer to a memory table sent while postcopy listens: where it
 * mapped the regions, kept; `ack` is the acknowledgement to send. */
gboolean
master_postcopy_record (VhostUserMaster *self, const VhostUserMsg *msg, const VhostUserMsg *reply, VhostUserMsg *ack,
                        GError **error)
{
  const char *name = vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);
  gboolean table = msg->hdr.request == VHOST_USER_SET_MEM_TABLE;
  const VhostUserRegionWire *sent = table ? msg->payload.memory.regions : &msg->payload.mem_reg.region;
  guint n = table ? msg->payload.memory.nregions : 1;
  const VhostUserRegionWire *got;

  got = table ? reply->payload.memory.regions : &reply->payload.mem_reg.region;
  if (table && reply->payload.memory.nregions != n)
    {
      master_fail (self, g_error_new (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                      "%s: the postcopy reply has %u regions, the table had %u", name,
                                      reply->payload.memory.nregions, n),
                   error);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (got[i].guest_phys_addr != sent[i].guest_phys_addr || got[i].memory_size != sent[i].memory_size ||
        got[i].userspace_addr + got[i].memory_size < got[i].userspace_addr)
      {
        master_fail (self, g_error_new (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                        "%s: region %u of the postcopy reply is not the region sent", name, i),
                     error);
        return FALSE;
      }
  if (table)
    g_array_set_size (self->postcopy_regions, 0);
  for (guint i = 0; i < n; i++)
    {
      PostcopyRegion r = { got[i].guest_phys_addr, got[i].memory_size, got[i].userspace_addr };

      g_array_append_val (self->postcopy_regions, r);
    }
  vhost_user_msg_init_u64 (ack, msg->hdr.request, 0);
  return TRUE;
}

/* A region the back-end no longer maps: forgotten (REM_MEM_REG while postcopy listens). */
static void
master_postcopy_forget (VhostUserMaster *self, const VhostUserRegionWire *region)
{
  for (guint i = 0; i < self->postcopy_regions->len; i++)
    if (g_array_index (self->postcopy_regions, PostcopyRegion, i).guest_phys_addr == region->guest_phys_addr)
      {
        g_array_remove_index (self->postcopy_regions, i);
        return;
      }
}

static void
region_to_wire (VhostMemoryRegion *region, VhostUserRegionWire *wire)
{
  wire->guest_phys_addr = vhost_memory_region_get_guest_phys_addr (region);
  wire->memory_size = vhost_memory_region_get_size (region);
  wire->userspace_addr = vhost_memory_region_get_userspace_addr (region);
  wire->mmap_offset = vhost_memory_region_get_mmap_offset (region);
}

static gboolean
master_mem_reg (VhostUserMaster *self, VhostUserRequest request, VhostMemoryRegion *region, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (self), FALSE);
  g_return_val_if_fail (region != NULL, FALSE);
  if (!master_build_mem_reg (request, region, &msg, error))
    return FALSE;
  master_drain (self);
  if (master_postcopy_echoes (self, &msg))
    return master_postcopy_table (self, &msg, error);
  if (!master_call (self, &msg, NULL, error))
    return FALSE;
  master_mem_reg_done (self, &msg);
  return TRUE;
}

/* ADD_MEM_REG (with the region's fd, borrowed) or REM_MEM_REG. */
gboolean
master_build_mem_reg (VhostUserRequest request, VhostMemoryRegion *region, VhostUserMsg *msg, GError **error)
{
  vhost_user_msg_init (msg, request, sizeof (VhostUserMemRegWire));
  msg->payload.mem_reg.padding = 0;
  region_to_wire (region, &msg->payload.mem_reg.region);
  if (!vhost_user_regions_validate (&msg->payload.mem_reg.region, 1, vhost_user_request_get_name (request), error))
    return FALSE;
  if (request == VHOST_USER_ADD_MEM_REG && vhost_memory_region_get_fd (region) < 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_FDS, "ADD_MEM_REG: the region has no file descriptor");
      return FALSE;
    }
  if (request == VHOST_USER_ADD_MEM_REG)
    msg->fds[msg->n_fds++] = vhost_memory_region_get_fd (region);
  return TRUE;
}

/* Whether the back-end answers this memory table with where it mapped it (postcopy). */
gboolean
master_postcopy_echoes (VhostUserMaster *self, const VhostUserMsg *msg)
{
  return self->postcopy_listening &&
         (msg->hdr.request == VHOST_USER_SET_MEM_TABLE || msg->hdr.request == VHOST_USER_ADD_MEM_REG);
}

/* A region the back-end no longer maps is forgotten (REM_MEM_REG while postcopy listens). */
void
master_mem_reg_done (VhostUserMaster *self, const VhostUserMsg *msg)
{
  if (msg->hdr.request == VHOST_USER_REM_MEM_REG)
    master_postcopy_forget (self, &msg->payload.mem_reg.region);
}

/**
 * vhost_user_master_add_mem_region:
 * @master: a #VhostUserMaster
 * @region: the region to add; it must have a file descriptor
 * @error: return location for a #GError
 *
 * Adds one region to the back-end's memory table (ADD_MEM_REG). Needs
 * %VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_add_mem_region (VhostUserMaster *master, VhostMemoryRegion *region, GError **error)
{
  return master_mem_reg (master, VHOST_USER_ADD_MEM_REG, region, error);
}

/**
 * vhost_user_master_remove_mem_region:
 * @master: a #VhostUserMaster
 * @region: the region to remove, identified by its guest address, user address and size
 * @error: return location for a #GError
 *
 * Removes one region from the back-end's memory table (REM_MEM_REG). Needs
 * %VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_remove_mem_region (VhostUserMaster *master, VhostMemoryRegion *region, GError **error)
{
  return master_mem_reg (master, VHOST_USER_REM_MEM_REG, region, error);
}

/* A device reset: the specification has the front-end unmap what the back-end mapped. */
void
master_shmem_reset (VhostUserMaster *self)
{
  if (self->shmem != NULL)
    vhost_user_shmem_unmap_all (self->shmem, emit_shmem_unmap, self);
}

/**
 * vhost_user_master_set_status:
 * @master: a #VhostUserMaster
 * @status: the virtio device status byte
 * @error: return location for a #GError
 *
 * Sets the device status (SET_STATUS). Needs %VHOST_USER_PROTOCOL_F_STATUS. A
 * status of 0 resets the device, which unmaps the shared memory regions'
 * mappings (#VhostUserMaster::shmem-unmap).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_status (VhostUserMaster *master, guint8 status, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  if (!master_call_u64 (master, VHOST_USER_SET_STATUS, status, error))
    return FALSE;
  if (status == 0)
    master_shmem_reset (master);
  return TRUE;
}

/**
 * vhost_user_master_get_status:
 * @master: a #VhostUserMaster
 * @status: (out): the virtio device status byte
 * @error: return location for a #GError
 *
 * Reads the device status (GET_STATUS). Needs %VHOST_USER_PROTOCOL_F_STATUS.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_get_status (VhostUserMaster *master, guint8 *status, GError **error)
{
  guint64 value;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_get_u64 (master, VHOST_USER_GET_STATUS, &value, error) && master_status_value (value, status, error);
}

/* GET_STATUS's reply: a status byte. */
gboolean
master_status_value (guint64 value, guint8 *status, GError **error)
{
  if (value > G_MAXUINT8)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                   "GET_STATUS: status 0x%" G_GINT64_MODIFIER "x does not fit in a byte", value);
      return FALSE;
    }
  if (status != NULL)
    *status = value;
  return TRUE;
}

/**
 * vhost_user_master_reset_device:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Resets the device to its initial state (RESET_DEVICE). Needs
 * %VHOST_USER_PROTOCOL_F_RESET_DEVICE. The shared memory regions' mappings go
 * (#VhostUserMaster::shmem-unmap).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_reset_device (VhostUserMaster *master, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  if (!master_call_simple (master, VHOST_USER_RESET_DEVICE, error))
    return FALSE;
  master_shmem_reset (master);
  return TRUE;
}

/**
 * vhost_user_master_set_device_state_fd:
 * @master: a #VhostUserMaster
 * @direction: whether the back-end saves its state (writes it into @fd) or loads
 *   it (reads it from @fd)
 * @phase: the migration phase
 * @fd: the pipe end the back-end reads or writes (borrowed)
 * @out_fd: (out) (optional): a file descriptor the back-end wants used instead, or -1
 * @error: return location for a #GError
 *
 * Starts a transfer of the device's internal state (SET_DEVICE_STATE_FD). Needs
 * %VHOST_USER_PROTOCOL_F_DEVICE_STATE.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_set_device_state_fd (VhostUserMaster *master,
                                       VhostDeviceStateDirection direction,
                                       VhostDeviceStatePhase phase,
                                       gint fd,
                                       gint *out_fd,
                                       GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;
  gint taken;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  if (out_fd != NULL)
    *out_fd = -1;
  master_build_device_state (direction, phase, fd, &msg);
  if (!master_call (master, &msg, &reply, error) || !master_device_state_reply (reply, &taken, error))
    return FALSE;
  if (out_fd != NULL)
    *out_fd = taken;
  else if (taken >= 0)
    close (taken);
  return TRUE;
}

/* SET_DEVICE_STATE_FD with `fd` (borrowed). */
void
master_build_device_state (VhostDeviceStateDirection direction, VhostDeviceStatePhase phase, gint fd, VhostUserMsg *msg)
{
  vhost_user_msg_init (msg, VHOST_USER_SET_DEVICE_STATE_FD, sizeof (VhostUserDeviceStateWire));
  msg->payload.device_state.direction = direction;
  msg->payload.device_state.phase = phase;
  msg->fds[msg->n_fds++] = fd;
}

/* SET_DEVICE_STATE_FD's reply: a status, and the fd the back-end wants used instead
 * (taken from `reply`), or -1. */
gboolean
master_device_state_reply (VhostUserMsg *reply, gint *out_fd, GError **error)
{
  *out_fd = -1;
  if ((reply->payload.u64 & 0xff) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "SET_DEVICE_STATE_FD: the back-end answered failure (status %u)",
                   (guint) (reply->payload.u64 & 0xff));
      return FALSE;
    }
  *out_fd = vhost_user_msg_take_fd (reply, 0);
  return TRUE;
}

/**
 * vhost_user_master_check_device_state:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Asks whether the back-end finished a state transfer successfully
 * (CHECK_DEVICE_STATE). Needs %VHOST_USER_PROTOCOL_F_DEVICE_STATE.
 *
 * Returns: %TRUE if it did
 */
gboolean
vhost_user_master_check_device_state (VhostUserMaster *master, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  vhost_user_msg_init (&msg, VHOST_USER_CHECK_DEVICE_STATE, 0);
  return master_call_get_u64 (master, &msg, NULL, "CHECK_DEVICE_STATE", error);
}

/**
 * vhost_user_master_postcopy_advise:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Tells the back-end that postcopy migration may follow (POSTCOPY_ADVISE). It
 * opens a userfaultfd and returns it: once it listens
 * (vhost_user_master_postcopy_listen()), a page of guest memory it touches
 * that has not arrived yet blocks its thread and shows up on that fd as a
 * fault at an address of the back-end's own mapping (see
 * vhost_user_master_postcopy_to_guest()). The front-end places the page (in
 * its own shared mapping of guest memory) and wakes the back-end with
 * UFFDIO_WAKE on the back-end's address (see
 * vhost_user_master_postcopy_to_backend()). Needs
 * %VHOST_USER_PROTOCOL_F_PAGEFAULT.
 *
 * Returns: the userfaultfd, which the caller owns, or -1 on error
 */
gint
vhost_user_master_postcopy_advise (VhostUserMaster *master, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), -1);
  vhost_user_msg_init (&msg, VHOST_USER_POSTCOPY_ADVISE, 0);
  if (!master_call (master, &msg, &reply, error))
    return -1;
  return vhost_user_msg_take_fd (reply, 0);
}

/**
 * vhost_user_master_postcopy_listen:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Tells the back-end that postcopy starts (POSTCOPY_LISTEN): it registers
 * guest memory with the userfaultfd of vhost_user_master_postcopy_advise().
 * From now on until vhost_user_master_postcopy_end(), the back-end answers
 * every memory table (vhost_backend_set_mem_table(),
 * vhost_user_master_add_mem_region()) with the addresses it mapped the regions
 * at; the master keeps them and acknowledges, as the specification orders. Needs
 * %VHOST_USER_PROTOCOL_F_PAGEFAULT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_postcopy_listen (VhostUserMaster *master, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  if (!master_call_simple (master, VHOST_USER_POSTCOPY_LISTEN, error))
    return FALSE;
  master->postcopy_listening = TRUE;
  return TRUE;
}

/**
 * vhost_user_master_postcopy_end:
 * @master: a #VhostUserMaster
 * @error: return location for a #GError
 *
 * Tells the back-end that all of guest memory arrived (POSTCOPY_END): it
 * unregisters its mappings and closes its userfaultfd. The master forgets the
 * back-end's addresses. Needs %VHOST_USER_PROTOCOL_F_PAGEFAULT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_postcopy_end (VhostUserMaster *master, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  vhost_user_msg_init (&msg, VHOST_USER_POSTCOPY_END, 0);
  if (!master_call_get_u64 (master, &msg, NULL, "POSTCOPY_END", error))
    return FALSE;
  master_postcopy_ended (master);
  return TRUE;
}

/* After POSTCOPY_END: the back-end's addresses are forgotten. */
void
master_postcopy_ended (VhostUserMaster *self)
{
  self->postcopy_listening = FALSE;
  g_array_set_size (self->postcopy_regions, 0);
}

/**
 * vhost_user_master_postcopy_to_guest:
 * @master: a #VhostUserMaster
 * @backend_addr: an address in the back-end's mapping of guest memory, as a
 *   fault on its userfaultfd gives it
 * @guest_phys_addr: (out): return location for the guest physical address
 *
 * Translates a back-end's address into a guest physical address, from what the
 * back-end answered to the memory tables sent while postcopy listens.
 *
 * Returns: %TRUE if a region holds @backend_addr
 */
gboolean
vhost_user_master_postcopy_to_guest (VhostUserMaster *master, guint64 backend_addr, guint64 *guest_phys_addr)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  for (guint i = 0; i < master->postcopy_regions->len; i++)
    {
      PostcopyRegion *r = &g_array_index (master->postcopy_regions, PostcopyRegion, i);

      if (backend_addr - r->backend_addr < r->size)
        {
          *guest_phys_addr = r->guest_phys_addr + (backend_addr - r->backend_addr);
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * vhost_user_master_postcopy_to_backend:
 * @master: a #VhostUserMaster
 * @guest_phys_addr: a guest physical address
 * @backend_addr: (out): return location for the address in the back-end's mapping
 *
 * Translates a guest physical address into the back-end's address for it (the
 * range to wake with UFFDIO_WAKE once the page arrived).
 *
 * Returns: %TRUE if a region holds @guest_phys_addr
 */
gboolean
vhost_user_master_postcopy_to_backend (VhostUserMaster *master, guint64 guest_phys_addr, guint64 *backend_addr)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  for (guint i = 0; i < master->postcopy_regions->len; i++)
    {
      PostcopyRegion *r = &g_array_index (master->postcopy_regions, PostcopyRegion, i);

      if (guest_phys_addr - r->guest_phys_addr < r->size)
        {
          *backend_addr = r->backend_addr + (guest_phys_addr - r->guest_phys_addr);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
uuid_to_wire (const char *what, GBytes *uuid, VhostUserSharedWire *wire, GError **error)
{
  if (uuid == NULL || g_bytes_get_size (uuid) != VHOST_USER_UUID_SIZE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: a UUID has %u bytes", what,
                   VHOST_USER_UUID_SIZE);
      return FALSE;
    }
  memcpy (wire->uuid, g_bytes_get_data (uuid, NULL), VHOST_USER_UUID_SIZE);
  return TRUE;
}

/**
 * vhost_user_master_get_shared_object:
 * @master: a #VhostUserMaster
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Asks the back-end for the file descriptor of a shared object it exported
 * (GET_SHARED_OBJECT). Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
gint
vhost_user_master_get_shared_object (VhostUserMaster *master, GBytes *uuid, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), -1);
  if (!master_build_shared_object (uuid, &msg, error) || !master_call (master, &msg, &reply, error))
    return -1;
  return master_shared_object_reply (reply, error);
}

gboolean
master_build_shared_object (GBytes *uuid, VhostUserMsg *msg, GError **error)
{
  vhost_user_msg_init (msg, VHOST_USER_GET_SHARED_OBJECT, sizeof (VhostUserSharedWire));
  return uuid_to_wire ("GET_SHARED_OBJECT", uuid, &msg->payload.shared, error);
}

/* GET_SHARED_OBJECT's reply: the object's fd, taken from `reply`. */
gint
master_shared_object_reply (VhostUserMsg *reply, GError **error)
{
  if (reply->payload.u64 != 0 || reply->n_fds == 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "GET_SHARED_OBJECT: the back-end has no such object (status %" G_GUINT64_FORMAT ")",
                   reply->payload.u64);
      return -1;
    }
  return vhost_user_msg_take_fd (reply, 0);
}

/* The reply of GET_SHMEM_CONFIG, as the specification bounds it: page-sized
 * regions, and no more of them than it counts (it counts those with a size; an
 * older reading counts the array up to the last one, which is never fewer). */
static gboolean
check_shmem_config (const VhostUserShmemConfigWire *config, GError **error)
{
  guint64 page = sysconf (_SC_PAGESIZE);
  guint n = 0;

  for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
    {
      if (config->memory_sizes[i] % page != 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                       "GET_SHMEM_CONFIG: region %u has %" G_GUINT64_FORMAT " bytes, not a multiple of the page size (%"
                       G_GUINT64_FORMAT ")", i, config->memory_sizes[i], page);
          return FALSE;
        }
      n += config->memory_sizes[i] != 0;
    }
  if (n > config->nregions)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                   "GET_SHMEM_CONFIG: %u regions have a size, and the reply counts %u", n, config->nregions);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_master_get_shmem_config:
 * @master: a #VhostUserMaster
 * @n_sizes: (out): the number of entries returned: one past the last region
 * @error: return location for a #GError
 *
 * Reads the device's VIRTIO Shared Memory Regions (GET_SHMEM_CONFIG) and
 * reserves address space for each one, where the back-end's SHMEM_MAP requests
 * then place their files. Needs %VHOST_USER_PROTOCOL_F_SHMEM. Until this call,
 * the master refuses the back-end's mappings.
 *
 * The regions stay the same for the whole connection: a second call gets them
 * again and keeps the mappings, and a back-end whose answer changed, or breaks
 * the specification's rules (sizes that are multiples of the page size), ends
 * the connection with %VHOST_ERROR_PROTOCOL. A region too large to reserve is
 * %VHOST_ERROR_MAP_FAILED.
 *
 * Returns: (array length=n_sizes) (transfer full) (nullable): the size of each
 *   region, by region ID (shmid), 0 for an ID the device does not use; %NULL on
 *   error (and when the device has no region, with no error)
 */
guint64 *
vhost_user_master_get_shmem_config (VhostUserMaster *master, guint *n_sizes, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  g_return_val_if_fail (n_sizes != NULL, NULL);
  *n_sizes = 0;
  vhost_user_msg_init (&msg, VHOST_USER_GET_SHMEM_CONFIG, 0);
  if (!master_call (master, &msg, &reply, error))
    return NULL;
  return master_shmem_config_reply (master, reply, n_sizes, error);
}

/* GET_SHMEM_CONFIG's reply: the regions, reserved the first time. */
guint64 *
master_shmem_config_reply (VhostUserMaster *master, const VhostUserMsg *reply, guint *n_sizes, GError **error)
{
  const VhostUserShmemConfigWire *config;
  GError *local_error = NULL;
  guint n = 0;

  config = &reply->payload.shmem_config;
  if (!check_shmem_config (config, &local_error))
    {
      master_fail (master, local_error, error);
      return NULL;
    }
  for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
    if (config->memory_sizes[i] != 0)
      n = i + 1;
  if (master->shmem != NULL && !vhost_user_shmem_has_sizes (master->shmem, config->memory_sizes, n))
    {
      master_fail (master,
                   g_error_new_literal (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                        "GET_SHMEM_CONFIG: the shared memory regions changed during the connection"),
                   error);
      return NULL;
    }
  if (master->shmem == NULL && (master->shmem = vhost_user_shmem_new (config->memory_sizes, n, error)) == NULL)
    return NULL;
  *n_sizes = n;
  return n > 0 ? g_memdup2 (config->memory_sizes, n * sizeof (guint64)) : NULL;
}

/**
 * vhost_user_master_get_shmem_region: (skip)
 * @master: a #VhostUserMaster
 * @shmid: a shared memory region ID
 * @size: (out) (optional): the size of the region, 0 if there is none
 *
 * Gets where a shared memory region lies in this process, after
 * vhost_user_master_get_shmem_config(): for C code that reads (or, in a
 * writable mapping, writes) the mapped bytes in place. Only the ranges the
 * back-end mapped (#VhostUserMaster::shmem-map) are accessible; the rest of the
 * region is reserved address space with no access, and touching it, or a
 * mapping after #VhostUserMaster::shmem-unmap, kills the process. The address
 * is valid until the connection ends. Bindings use vhost_user_master_read_shmem().
 *
 * Returns: (nullable): the start of the region, or %NULL if @shmid is not a
 *   region of the connection
 */
gpointer
vhost_user_master_get_shmem_region (VhostUserMaster *master, guint shmid, guint64 *size)
{
  guint64 dummy;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  if (size == NULL)
    size = &dummy;
  *size = 0;
  return master->shmem != NULL ? vhost_user_shmem_get_region (master->shmem, shmid, size) : NULL;
}

/**
 * vhost_user_master_read_shmem:
 * @master: a #VhostUserMaster
 * @shmid: a shared memory region ID
 * @offset: the offset in the region
 * @length: how many bytes to read
 * @error: return location for a #GError
 *
 * Copies bytes out of a shared memory region. Every byte must lie in a mapping
 * the back-end made (%VHOST_ERROR_INVALID_ARGUMENT otherwise); a back-end that
 * shrank the file behind a mapping gives %VHOST_ERROR_MAP_FAILED.
 *
 * Returns: (transfer full): @length bytes, or %NULL on error
 */
GBytes *
vhost_user_master_read_shmem (VhostUserMaster *master, guint shmid, guint64 offset, gsize length, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), NULL);
  if (master->shmem == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                   "Reading shared memory: no shared memory regions (see vhost_user_master_get_shmem_config())");
      return NULL;
    }
  return vhost_user_shmem_read (master->shmem, shmid, offset, length, error);
}

/**
 * vhost_user_master_send_rarp:
 * @master: a #VhostUserMaster
 * @mac: (array fixed-size=6): the guest's MAC address
 * @error: return location for a #GError
 *
 * Asks a net back-end to broadcast a RARP for @mac after a migration
 * (SEND_RARP). Needs %VHOST_USER_PROTOCOL_F_RARP.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_send_rarp (VhostUserMaster *master, const guint8 *mac, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  g_return_val_if_fail (mac != NULL, FALSE);
  master_build_rarp (mac, &msg);
  return master_call (master, &msg, NULL, error);
}

void
master_build_rarp (const guint8 *mac, VhostUserMsg *msg)
{
  vhost_user_msg_init_u64 (msg, VHOST_USER_SEND_RARP, 0);
  memcpy (&msg->payload.u64, mac, 6);
}

/**
 * vhost_user_master_net_set_mtu:
 * @master: a #VhostUserMaster
 * @mtu: the MTU
 * @error: return location for a #GError
 *
 * Sets the MTU of a net back-end (NET_SET_MTU). Needs
 * %VHOST_USER_PROTOCOL_F_NET_MTU.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_net_set_mtu (VhostUserMaster *master, guint mtu, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_call_u64 (master, VHOST_USER_NET_SET_MTU, mtu, error);
}

/**
 * vhost_user_master_set_vring_endian:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @big_endian: whether the legacy queue is big-endian
 * @error: return location for a #GError
 *
 * Sets the byte order of a legacy queue (SET_VRING_ENDIAN). Needs
 * %VHOST_USER_PROTOCOL_F_CROSS_ENDIAN.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_set_vring_endian (VhostUserMaster *master, guint index, gboolean big_endian, GError **error)
{
  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_call_state (master, VHOST_USER_SET_VRING_ENDIAN, index, big_endian ? 1 : 0, error);
}

/**
 * vhost_user_master_iotlb_msg:
 * @master: a #VhostUserMaster
 * @iova: the I/O virtual address
 * @size: the size of the range
 * @uaddr: the user address it maps to
 * @perm: the access allowed
 * @type: %VHOST_IOTLB_MESSAGE_UPDATE or %VHOST_IOTLB_MESSAGE_INVALIDATE
 * @error: return location for a #GError
 *
 * Updates or invalidates an entry of the back-end's IOTLB (IOTLB_MSG), for
 * devices with %VHOST_VIRTIO_F_ACCESS_PLATFORM.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_iotlb_msg (VhostUserMaster *master,
                             guint64 iova,
                             guint64 size,
                             guint64 uaddr,
                             VhostIotlbAccess perm,
                             VhostIotlbMessageType type,
                             GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  vhost_user_msg_init_iotlb (&msg, VHOST_USER_IOTLB_MSG, iova, size, uaddr, perm, type);
  return master_call_get_u64 (master, &msg, NULL, "IOTLB_MSG", error);
}

/**
 * vhost_user_master_vring_kick:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Kicks a queue in-band (VRING_KICK), in place of its kick eventfd. Needs
 * %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS, which comes with REPLY_ACK: the
 * call returns once the back-end has processed the kick. A queue index past
 * 255 is %VHOST_ERROR_INVALID_ARGUMENT, and is not sent.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_master_vring_kick (VhostUserMaster *master, guint index, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_MASTER (master), FALSE);
  return master_build_vring_kick (index, &msg, error) && master_call (master, &msg, NULL, error);
}

gboolean
master_build_vring_kick (guint index, VhostUserMsg *msg, GError **error)
{
  if (index >= VHOST_USER_MAX_QUEUES)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "VRING_KICK: vring index %u is over %u", index,
                   VHOST_USER_MAX_QUEUES - 1);
      return FALSE;
    }
  /* The specification reserves the state's num, which must be 0. */
  vhost_user_msg_init_state (msg, VHOST_USER_VRING_KICK, index, 0);
  return TRUE;
}

/* VhostBackend */

static gboolean
master_backend_get_features (VhostBackend *backend, guint64 *features, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);

  if (!master_get_u64 (self, VHOST_USER_GET_FEATURES, &self->offered_features, error))
    return FALSE;
  if (features != NULL)
    *features = self->offered_features;
  return TRUE;
}

static gboolean
master_backend_set_features (VhostBackend *backend, guint64 features, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);

  if (!master_call_u64 (self, VHOST_USER_SET_FEATURES, features, error))
    return FALSE;
  master_set_acked_features (self, features);
  return TRUE;
}

void
master_set_acked_features (VhostUserMaster *self, guint64 features)
{
  if (self->acked_features != features)
    {
      self->acked_features = features;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACKED_FEATURES]);
    }
}

static gboolean
master_backend_set_owner (VhostBackend *backend, GError **error)
{
  return master_call_simple (VHOST_USER_MASTER (backend), VHOST_USER_SET_OWNER, error);
}

static gboolean
master_backend_reset_owner (VhostBackend *backend, GError **error)
{
  return master_call_simple (VHOST_USER_MASTER (backend), VHOST_USER_RESET_OWNER, error);
}

static gboolean
master_backend_set_mem_table (VhostBackend *backend, VhostMemoryRegion **regions, guint n_regions, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);
  VhostUserMsg msg;

  if (!master_build_mem_table (regions, n_regions, &msg, error))
    return FALSE;
  master_drain (self);
  if (master_postcopy_echoes (self, &msg))
    return master_postcopy_table (self, &msg, error);
  return master_call (self, &msg, NULL, error);
}

/* SET_MEM_TABLE, with the regions' fds borrowed. */
gboolean
master_build_mem_table (VhostMemoryRegion **regions, guint n_regions, VhostUserMsg *msg, GError **error)
{
  if (n_regions == 0 || n_regions > VHOST_USER_MAX_REGIONS)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_MEM_TABLE: %u regions; a message carries 1 to %u", n_regions, VHOST_USER_MAX_REGIONS);
      return FALSE;
    }
  vhost_user_msg_init (msg, VHOST_USER_SET_MEM_TABLE, 8 + n_regions * sizeof (VhostUserRegionWire));
  msg->payload.memory.nregions = n_regions;
  msg->payload.memory.padding = 0;
  for (guint i = 0; i < n_regions; i++)
    {
      if (vhost_memory_region_get_fd (regions[i]) < 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_FDS, "SET_MEM_TABLE: region %u has no file descriptor", i);
          return FALSE;
        }
      region_to_wire (regions[i], &msg->payload.memory.regions[i]);
      msg->fds[msg->n_fds++] = vhost_memory_region_get_fd (regions[i]);
    }
  if (!vhost_user_regions_validate (msg->payload.memory.regions, n_regions, "SET_MEM_TABLE", error))
    {
      msg->n_fds = 0;
      return FALSE;
    }
  return TRUE;
}

static gboolean
master_backend_set_log_base (VhostBackend *backend, guint64 base, guint64 size, gint fd, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  master_build_log_base (base, size, fd, &msg);
  return master_call (self, &msg, &reply, error) &&
         (reply == NULL || master_reply_u64 (reply, "SET_LOG_BASE", NULL, error));
}

/* SET_LOG_BASE with `fd` (borrowed) when there is one. */
void
master_build_log_base (guint64 base, guint64 size, gint fd, VhostUserMsg *msg)
{
  vhost_user_msg_init (msg, VHOST_USER_SET_LOG_BASE, sizeof (VhostUserLogWire));
  msg->payload.log.mmap_size = size;
  msg->payload.log.mmap_offset = base;
  if (fd >= 0)
    msg->fds[msg->n_fds++] = fd;
}

static gboolean
master_backend_set_log_fd (VhostBackend *backend, gint fd, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (fd >= 0, FALSE);
  vhost_user_msg_init (&msg, VHOST_USER_SET_LOG_FD, 0);
  return master_call_with_fd (VHOST_USER_MASTER (backend), &msg, fd, error);
}

static gboolean
master_backend_set_vring_num (VhostBackend *backend, guint index, guint num, GError **error)
{
  return master_call_state (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_NUM, index, num, error);
}

static gboolean
master_backend_set_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error)
{
  VhostUserMsg msg;

  master_build_vring_addr (addr, &msg);
  return master_call (VHOST_USER_MASTER (backend), &msg, NULL, error);
}

void
master_build_vring_addr (VhostVringAddr *addr, VhostUserMsg *msg)
{
  vhost_user_msg_init (msg, VHOST_USER_SET_VRING_ADDR, sizeof (VhostUserVringAddrWire));
  msg->payload.addr.index = vhost_vring_addr_get_index (addr);
  msg->payload.addr.flags = vhost_vring_addr_get_flags (addr);
  msg->payload.addr.desc_user_addr = vhost_vring_addr_get_desc_user_addr (addr);
  msg->payload.addr.used_user_addr = vhost_vring_addr_get_used_user_addr (addr);
  msg->payload.addr.avail_user_addr = vhost_vring_addr_get_avail_user_addr (addr);
  msg->payload.addr.log_guest_addr = vhost_vring_addr_get_log_guest_addr (addr);
}

static gboolean
master_backend_set_vring_base (VhostBackend *backend, guint index, guint base, GError **error)
{
  return master_call_state (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_BASE, index, base, error);
}

static gboolean
master_backend_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);
  g_autoptr(VhostUserMsg) reply = NULL;
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, VHOST_USER_GET_VRING_BASE, index, 0);
  return master_call (self, &msg, &reply, error) && master_vring_base_reply (self, index, reply, base, error);
}

/* GET_VRING_BASE's reply, which must be about the vring asked for. */
gboolean
master_vring_base_reply (VhostUserMaster *self, guint index, const VhostUserMsg *reply, guint *base, GError **error)
{
  if (reply->payload.state.index != index)
    {
      master_fail (self,
                   g_error_new (VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                                "GET_VRING_BASE: asked for vring %u, the reply is for vring %u", index,
                                reply->payload.state.index),
                   error);
      return FALSE;
    }
  if (base != NULL)
    *base = reply->payload.state.num;
  return TRUE;
}

static gboolean
master_set_vring_fd (VhostUserMaster *self, VhostUserRequest request, guint index, gint fd, GError **error)
{
  VhostUserMsg msg;

  return master_build_vring_fd (request, index, fd, &msg, error) && master_call (self, &msg, NULL, error);
}

/* SET_VRING_KICK, _CALL or _ERR with `fd` (borrowed), or none. */
gboolean
master_build_vring_fd (VhostUserRequest request, guint index, gint fd, VhostUserMsg *msg, GError **error)
{
  if (index > VHOST_USER_VRING_IDX_MASK)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: vring index %u is over %u",
                   vhost_user_request_get_name (request), index, VHOST_USER_VRING_IDX_MASK);
      return FALSE;
    }
  vhost_user_msg_init_u64 (msg, request, index | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0));
  if (fd >= 0)
    msg->fds[msg->n_fds++] = fd;
  return TRUE;
}

static gboolean
master_backend_set_vring_kick (VhostBackend *backend, guint index, gint fd, GError **error)
{
  return master_set_vring_fd (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_KICK, index, fd, error);
}

static gboolean
master_backend_set_vring_call (VhostBackend *backend, guint index, gint fd, GError **error)
{
  return master_set_vring_fd (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_CALL, index, fd, error);
}

static gboolean
master_backend_set_vring_err (VhostBackend *backend, guint index, gint fd, GError **error)
{
  return master_set_vring_fd (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_ERR, index, fd, error);
}

static gboolean
master_backend_set_vring_enable (VhostBackend *backend, guint index, gboolean enable, GError **error)
{
  return vhost_user_master_set_vring_enable (VHOST_USER_MASTER (backend), index, enable, error);
}

static gboolean
master_backend_set_status (VhostBackend *backend, guint8 status, GError **error)
{
  return vhost_user_master_set_status (VHOST_USER_MASTER (backend), status, error);
}

static gboolean
master_backend_get_status (VhostBackend *backend, guint8 *status, GError **error)
{
  return vhost_user_master_get_status (VHOST_USER_MASTER (backend), status, error);
}

/* GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES, once the back-end offered them. */
static gboolean
master_backend_negotiate_protocol (VhostBackend *backend, guint64 wanted, guint64 *acked, GError **error)
{
  VhostUserMaster *self = VHOST_USER_MASTER (backend);
  guint64 offered;

  master_drain (self);
  if (!master_check_protocol_offered (self, wanted, error) ||
      !vhost_user_master_get_protocol_features (self, &offered, error))
    return FALSE;
  offered = master_negotiated_protocol (wanted, offered);
  if (!vhost_user_master_set_protocol_features (self, offered, error))
    return FALSE;
  *acked = offered;
  return TRUE;
}

/* Before negotiating: the back-end has protocol features, and what the caller
 * wants is whole. A caller that wants a feature wants what it needs; a back-end
 * that lacks that has the feature left out (master_negotiated_protocol()). */
gboolean
master_check_protocol_offered (VhostUserMaster *self, guint64 wanted, GError **error)
{
  if (!(self->offered_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES)))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "GET_PROTOCOL_FEATURES: the back-end did not offer VHOST_USER_F_PROTOCOL_FEATURES "
                           "in GET_FEATURES");
      return FALSE;
    }
  return check_protocol_dependencies ("Negotiating protocol features", wanted & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED,
                                      error);
}

/* The protocol features to ack: what both sides have of those wanted. */
guint64
master_negotiated_protocol (guint64 wanted, guint64 offered)
{
  return protocol_features_closed (offered & wanted & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED);
}

/* The status is a request gated by a protocol feature. */
static gboolean
master_backend_has_status (VhostBackend *backend)
{
  return (VHOST_USER_MASTER (backend)->acked_protocol_features & VHOST_USER_PROTOCOL_F_STATUS) != 0;
}

static void
vhost_user_master_backend_iface_init (VhostBackendInterface *iface)
{
  iface->negotiate_protocol = master_backend_negotiate_protocol;
  iface->has_status = master_backend_has_status;
  iface->set_vring_enable = master_backend_set_vring_enable;
  iface->set_status = master_backend_set_status;
  iface->get_status = master_backend_get_status;
  iface->get_features = master_backend_get_features;
  iface->set_features = master_backend_set_features;
  iface->set_owner = master_backend_set_owner;
  iface->reset_owner = master_backend_reset_owner;
  iface->set_mem_table = master_backend_set_mem_table;
  iface->set_log_base = master_backend_set_log_base;
  iface->set_log_fd = master_backend_set_log_fd;
  iface->set_vring_num = master_backend_set_vring_num;
  iface->set_vring_addr = master_backend_set_vring_addr;
  iface->set_vring_base = master_backend_set_vring_base;
  iface->get_vring_base = master_backend_get_vring_base;
  iface->set_vring_kick = master_backend_set_vring_kick;
  iface->set_vring_call = master_backend_set_vring_call;
  iface->set_vring_err = master_backend_set_vring_err;
  master_backend_async_iface_init (iface);
}
