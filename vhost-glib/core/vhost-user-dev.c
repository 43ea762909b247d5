/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user back-end engine: request dispatch from the one table, features, status, vrings and their queues. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhost-user-dev-private.h"
#include "vhost-log-limit.h"

typedef gboolean (*RequestHandler) (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error);

/* The dispatch table: the handler column of protocol/vhost-user-requests.h. */
#define HANDLER_ROW(code, handler, ...) [VHOST_USER_##code] = vhost_user_dev_request_##handler,
static const RequestHandler handlers[] = { VHOST_USER_FRONTEND_REQUESTS (HANDLER_ROW) };
#undef HANDLER_ROW

void
vhost_user_dev_close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

VhostUserDev *
vhost_user_dev_new (const VhostUserDevOps *ops, gpointer user_data)
{
  VhostUserDev *dev = g_new0 (VhostUserDev, 1);

  dev->ops = ops;
  dev->user_data = user_data;
  dev->uffd = -1;
  dev->workers = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) vhost_worker_free);
  vhost_user_dev_mem_init (dev);
  dev->mem.log_call_fd = -1;
  vhost_iotlb_init (&dev->iotlb);
  return dev;
}

void
vhost_user_dev_free (VhostUserDev *dev)
{
  vhost_user_dev_disconnect (dev);
  vhost_user_dev_release_queues (dev);
  g_hash_table_unref (dev->workers);
  g_array_unref (dev->regions);
  vhost_iotlb_destroy (&dev->iotlb);
  g_free (dev);
}

/* The queue of vring `index`, asked of the owner once. */
static VhostQueue *
dev_queue (VhostUserDev *dev, guint index)
{
  if (dev->queues[index] == NULL)
    {
      dev->queues[index] = dev->ops->get_queue (dev, index, dev->user_data);
      dev->queues[index]->mem_epoch = dev->mem_epoch;
    }
  return dev->queues[index];
}

void
vhost_user_dev_memory_unmapped (VhostUserDev *dev)
{
  dev->mem_epoch++;
  for (guint i = 0; i < G_N_ELEMENTS (dev->queues); i++)
    if (dev->queues[i] != NULL)
      dev->queues[i]->mem_epoch = dev->mem_epoch;
}

/* The data plane. Requests that change what a ring sees run with every queue
 * stopped: stopping a queue waits until its worker is outside it, so nothing
 * reads a region while it is unmapped or a ring while it is reconfigured. The
 * queues that should run are then started again from the new state.
 *
 * Every worker is held outside its handlers meanwhile: a handler may use the
 * other queues of its worker group, so none of them may change while it runs.
 * Pauses nest, so the stops and starts in between may pause again. */
static GPtrArray *
pause_workers (VhostUserDev *dev)
{
  GPtrArray *paused = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer worker;

  g_hash_table_iter_init (&iter, dev->workers);
  while (g_hash_table_iter_next (&iter, NULL, &worker))
    {
      vhost_worker_pause (worker);
      g_ptr_array_add (paused, worker);
    }
  return paused;
}

static void
resume_workers (GPtrArray *paused)
{
  for (guint i = 0; i < paused->len; i++)
    vhost_worker_resume (g_ptr_array_index (paused, i));
  g_ptr_array_unref (paused);
}

/* Stop every queue; the one of a GET_VRING_BASE, with GET_VRING_BASE_INFLIGHT,
 * may leave its requests in flight (`suspend`, or -1): it takes them up from
 * the inflight area when it starts again. */
static void
stop_queues (VhostUserDev *dev, gint suspend)
{
  GPtrArray *paused = pause_workers (dev);

  for (guint i = 0; i < G_N_ELEMENTS (dev->queues); i++)
    if (dev->queues[i] == NULL)
      continue;
    else if ((gint) i == suspend)
      dev->inflight_recover[i] |= vhost_queue_suspend (dev->queues[i]);
    else
      vhost_queue_stop (dev->queues[i]);
  resume_workers (paused);
}

void
vhost_user_dev_stop_queues (VhostUserDev *dev)
{
  stop_queues (dev, -1);
}

/* The vring a request stops with GET_VRING_BASE_INFLIGHT's leave to suspend, or -1. */
static gint
suspended_vring (VhostUserDev *dev, const VhostUserMsg *msg)
{
  if (msg->hdr.request != VHOST_USER_GET_VRING_BASE ||
      !(dev->acked_protocol_features & VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT) ||
      msg->payload.state.index >= dev->n_vrings)
    return -1;
  return msg->payload.state.index;
}

void
vhost_user_dev_release_queues (VhostUserDev *dev)
{
  vhost_user_dev_stop_queues (dev);
  memset (dev->queues, 0, sizeof dev->queues);
}

/* One polling setting to every worker there is; the others keep their state (an
 * adapted interval, a coalescing back-off). */
static void
set_on_workers (VhostUserDev *dev, void (*set) (VhostWorker *worker, guint value), guint value)
{
  GHashTableIter iter;
  gpointer worker;

  g_hash_table_iter_init (&iter, dev->workers);
  while (g_hash_table_iter_next (&iter, NULL, &worker))
    set (worker, value);
}

static VhostWorker *
get_worker (VhostUserDev *dev, guint group)
{
  VhostWorker *worker = g_hash_table_lookup (dev->workers, GUINT_TO_POINTER (group));
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  if (worker != NULL)
    return worker;
  name = g_strdup_printf ("vhost-worker-%u", group);
  worker = vhost_worker_new (name, &error);
  if (worker == NULL)
    {
      vhost_log_limited (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "worker not started", "%s", error->message);
      return NULL;
    }
  vhost_worker_set_poll_us (worker, dev->busy_poll_us);
  vhost_worker_set_coalesce_us (worker, dev->coalesce_us);
  g_hash_table_insert (dev->workers, GUINT_TO_POINTER (group), worker);
  return worker;
}

void
vhost_user_dev_set_busy_poll_us (VhostUserDev *dev, guint usec)
{
  dev->busy_poll_us = usec;
  set_on_workers (dev, vhost_worker_set_poll_us, usec);
}

void
vhost_user_dev_set_coalesce_us (VhostUserDev *dev, guint usec)
{
  dev->coalesce_us = usec;
  set_on_workers (dev, vhost_worker_set_coalesce_us, usec);
}

static gboolean
has_feature (guint64 features, guint bit)
{
  return (features & VHOST_FEATURE_MASK (bit)) != 0;
}

/* A worker: the used buffers of a vring with no call fd are told in-band. */
static void
call_inband (VhostRing *ring, gpointer data)
{
  VhostUserDev *dev = data;

  dev->ops->inband_notify (dev, VHOST_USER_BACKEND_VRING_CALL, ring->index, dev->user_data);
}

static void
start_queues (VhostUserDev *dev)
{
  guint64 features = dev->acked_features;
  GPtrArray *paused;

  /* Postcopy: the front-end cannot serve our faults before it acknowledges
   * the table we answered. */
  if (dev->postcopy_ack_pending)
    return;
  paused = pause_workers (dev);

  vhost_user_dev_mem_rebuild (dev);
  for (guint i = 0; i < dev->n_vrings; i++)
    {
      VhostUserDevVring *vring = &dev->vrings[i];
      VhostQueue *queue;
      VhostRing *ring;

      /* A ring without a kick fd is polled (SET_VRING_KICK with the invalid-fd flag). */
      if (!vring->started || !vring->enabled || vring->num == 0 || !vring->addr_set || dev->mem.n_regions == 0)
        continue;
      queue = dev_queue (dev, i);
      if (queue->running)
        continue;
      ring = &queue->ring;
      ring->mem = &dev->mem;
      ring->num = vring->num;
      ring->packed = has_feature (features, VHOST_VIRTIO_F_RING_PACKED);
      ring->event_idx = has_feature (features, VHOST_VIRTIO_F_RING_EVENT_IDX);
      ring->indirect = has_feature (features, VHOST_VIRTIO_F_RING_INDIRECT_DESC);
      ring->in_order = has_feature (features, VHOST_VIRTIO_F_IN_ORDER);
      ring->log_all = has_feature (features, VHOST_VIRTIO_F_LOG_ALL);
      ring->log_used = (vring->addr.flags & (1u << VHOST_VRING_F_LOG)) != 0;
      ring->log_guest_addr = vring->addr.log_guest_addr;
      ring->desc_uaddr = vring->addr.desc_user_addr;
      ring->avail_uaddr = vring->addr.avail_user_addr;
      ring->used_uaddr = vring->addr.used_user_addr;
      ring->call_fd = vring->call_fd;
      ring->call_inband = NULL;
      if (vring->call_fd < 0 && (dev->acked_protocol_features & VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))
        {
          ring->call_inband = call_inband;
          ring->call_inband_data = dev;
        }
      if (vring->base_set)
        {
          vhost_ring_set_base (ring, vring->base);
          vring->base_set = FALSE;
        }
      vhost_user_dev_inflight_attach (dev, i, ring);
      vhost_user_dev_iotlb_attach (dev, ring);
      vhost_queue_start (queue, queue->main_context ? NULL : get_worker (dev, queue->worker_group), vring->kick_fd);
    }
  resume_workers (paused);
}

void
vhost_user_dev_vring_set_state (VhostUserDev *dev, guint index, gboolean started, gboolean enabled)
{
  VhostUserDevVring *vring = &dev->vrings[index];

  if (vring->started == started && vring->enabled == enabled)
    return;
  vring->started = started;
  vring->enabled = enabled;
  dev->ops->vring_state_changed (dev, index, started, enabled, dev->user_data);
}

/* Where vring `index` stands, as GET_VRING_BASE reports it (its queue stopped):
 * a base still to be applied, or else the position of a ring that ran since
 * the last SET_VRING_BASE (even one the driver broke). */
static guint
vring_base (VhostUserDev *dev, guint index)
{
  if (dev->queues[index] != NULL && !dev->vrings[index].base_set)
    return vhost_ring_get_base (&dev->queues[index]->ring);
  return dev->vrings[index].base;
}

/* Every vring back to its initial state. With `keep_bases`, each one keeps its
 * position as the base that GET_VRING_BASE reports (and that a start without
 * SET_VRING_BASE applies). */
static void
reset_vrings (VhostUserDev *dev, gboolean keep_bases)
{
  vhost_user_dev_stop_queues (dev);
  for (guint i = 0; i < dev->n_vrings; i++)
    {
      VhostUserDevVring *vring = &dev->vrings[i];
      guint base = vring_base (dev, i);

      vhost_user_dev_vring_set_state (dev, i, FALSE, FALSE);
      vhost_user_dev_close_fd (&vring->kick_fd);
      vhost_user_dev_close_fd (&vring->call_fd);
      vhost_user_dev_close_fd (&vring->err_fd);
      memset (vring, 0, sizeof *vring);
      vring->kick_fd = vring->call_fd = vring->err_fd = -1;
      vring->base = keep_bases ? base : 0;
      vring->base_set = keep_bases;
    }
  for (guint i = 0; i < G_N_ELEMENTS (dev->queues); i++)
    if (dev->queues[i] != NULL)
      vhost_ring_init (&dev->queues[i]->ring, i);
}

static void
device_reset (VhostUserDev *dev, gboolean keep_bases)
{
  reset_vrings (dev, keep_bases);
  dev->status = 0;
  dev->ops->reset (dev, dev->user_data);
}

void
vhost_user_dev_connect (VhostUserDev *dev, guint n_vrings, guint max_queue_size)
{
  g_return_if_fail (!dev->connected);
  dev->connected = TRUE;
  dev->n_vrings = CLAMP (n_vrings, 1, VHOST_USER_MAX_QUEUES);
  dev->max_queue_size = CLAMP (max_queue_size, 1, 32768);
  dev->vrings = g_new0 (VhostUserDevVring, dev->n_vrings);
  for (guint i = 0; i < dev->n_vrings; i++)
    dev->vrings[i].kick_fd = dev->vrings[i].call_fd = dev->vrings[i].err_fd = -1;
}

void
vhost_user_dev_disconnect (VhostUserDev *dev)
{
  if (!dev->connected)
    return;
  reset_vrings (dev, FALSE);
  g_clear_pointer (&dev->vrings, g_free);
  dev->n_vrings = 0;
  vhost_user_dev_mem_clear (dev);
  vhost_user_dev_inflight_clear (dev);
  vhost_user_dev_postcopy_clear (dev);
  vhost_user_dev_state_clear (dev);
  vhost_iotlb_clear (&dev->iotlb);
  dev->acked_features = 0;
  dev->acked_protocol_features = 0;
  dev->features_set = FALSE;
  dev->status = 0;
  dev->connected = FALSE;
}

gboolean
vhost_user_dev_is_connected (VhostUserDev *dev)
{
  return dev->connected;
}

gboolean
vhost_user_dev_check_vring_index (VhostUserDev *dev, const char *what, guint index, GError **error)
{
  if (index >= dev->n_vrings)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: vring index %u out of range (the device has %u queues)", what, index, dev->n_vrings);
      return FALSE;
    }
  return TRUE;
}

/* Dispatch. */

static void
send_reply (VhostUserDev *dev, VhostUserMsg *reply)
{
  dev->ops->send (dev, reply, dev->user_data);
  vhost_user_msg_close_fds (reply);
}

gboolean
vhost_user_dev_handle (VhostUserDev *dev, VhostUserMsg *msg, GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);
  gboolean stop = info->queues == VHOST_USER_QUEUES_STOP;
  g_autoptr(GError) local_error = NULL;
  VhostUserReplyForm form;
  VhostUserMsg reply;
  gboolean ok;

  g_return_val_if_fail (dev->connected, FALSE);

  /* What comes back is decided before the handler runs: SET_PROTOCOL_FEATURES
   * answers by the rules it was sent under. */
  form = vhost_user_request_reply_form (VHOST_USER_CHANNEL_FRONTEND, msg, dev->acked_protocol_features);
  vhost_user_msg_init_reply_u64 (&reply, msg, 0);
  ok = vhost_user_request_check_features (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request, msg->n_fds,
                                          dev->acked_protocol_features, &local_error);
  if (ok)
    {
      if (stop)
        stop_queues (dev, suspended_vring (dev, msg));
      ok = handlers[msg->hdr.request](dev, msg, &reply, &local_error);
      if (stop && dev->connected)
        start_queues (dev);
    }
  if (ok)
    {
      if (form != VHOST_USER_REPLY_FORM_NONE)
        send_reply (dev, &reply);
      return TRUE;
    }
  vhost_user_msg_close_fds (&reply);
  g_propagate_error (error, g_error_copy (local_error));
  /* A violation of the protocol ends the connection, whatever the reply rule. */
  if (g_error_matches (local_error, VHOST_ERROR, VHOST_ERROR_PROTOCOL))
    return FALSE;
  if (form == VHOST_USER_REPLY_FORM_ACK ||
      (form == VHOST_USER_REPLY_FORM_FULL && info->failure == VHOST_USER_FAILURE_STATUS))
    vhost_user_msg_init_reply_u64 (&reply, msg, 1);
  else if (form == VHOST_USER_REPLY_FORM_FULL && info->failure == VHOST_USER_FAILURE_EMPTY)
    vhost_user_msg_init_reply (&reply, msg, 0);
  else
    return FALSE;
  send_reply (dev, &reply);
  return TRUE;
}

/* The requests, in the order of the table; memory and log requests are in
 * vhost-user-mem.c, inflight ones in vhost-user-inflight.c. */

static guint64 offered_protocol_features (VhostUserDev *dev);

/* What the device offers, of what the engine implements with its owner's help. */
static guint64
offered_features (VhostUserDev *dev)
{
  return vhost_user_dev_iotlb_offered (dev, dev->ops->get_features (dev, dev->user_data),
                                       offered_protocol_features (dev)) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
}

gboolean
vhost_user_dev_request_get_features (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  reply->payload.u64 = offered_features (dev);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_features (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint64 offered = offered_features (dev);

  if (msg->payload.u64 & ~offered)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_FEATURES: features 0x%" G_GINT64_MODIFIER "x were not offered", msg->payload.u64 & ~offered);
      return FALSE;
    }
  if (!vhost_user_dev_iotlb_check (msg->payload.u64, dev->acked_protocol_features, "SET_FEATURES", error) ||
      !dev->ops->set_features (dev, msg->payload.u64, dev->user_data, error))
    return FALSE;
  dev->acked_features = msg->payload.u64;
  dev->features_set = TRUE;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_owner (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  return TRUE;
}

gboolean
vhost_user_dev_request_reset_owner (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  reset_vrings (dev, FALSE);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_vring_num (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.state.index, num = msg->payload.state.num;
  gboolean packed = has_feature (dev->acked_features, VHOST_VIRTIO_F_RING_PACKED);

  if (!vhost_user_dev_check_vring_index (dev, "SET_VRING_NUM", index, error))
    return FALSE;
  if (num == 0 || num > dev->max_queue_size || num > 32768 || (!packed && (num & (num - 1)) != 0))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_VRING_NUM: vring %u: size %u is not %sbetween 1 and %u", index, num,
                   packed ? "" : "a power of two ", dev->max_queue_size);
      return FALSE;
    }
  dev->vrings[index].num = num;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_vring_addr (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.addr.index;

  if (!vhost_user_dev_check_vring_index (dev, "SET_VRING_ADDR", index, error))
    return FALSE;
  dev->vrings[index].addr = msg->payload.addr;
  dev->vrings[index].addr_set = TRUE;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_vring_base (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.state.index;

  if (!vhost_user_dev_check_vring_index (dev, "SET_VRING_BASE", index, error))
    return FALSE;
  dev->vrings[index].base = msg->payload.state.num;
  dev->vrings[index].base_set = TRUE;
  return TRUE;
}

gboolean
vhost_user_dev_request_get_vring_base (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.state.index;
  VhostUserDevVring *vring;

  if (!vhost_user_dev_check_vring_index (dev, "GET_VRING_BASE", index, error))
    return FALSE;
  vring = &dev->vrings[index];
  /* GET_VRING_BASE stops the ring; its kick fd goes with it. */
  vhost_user_dev_vring_set_state (dev, index, FALSE, vring->enabled);
  vhost_user_dev_close_fd (&vring->kick_fd);
  vhost_user_msg_init_reply (reply, msg, sizeof (VhostUserVringState));
  reply->payload.state.index = index;
  reply->payload.state.num = vring_base (dev, index);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_vring_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const char *name = vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);
  guint index = msg->payload.u64 & VHOST_USER_VRING_IDX_MASK;
  VhostUserDevVring *vring;
  int fd;

  if (!vhost_user_dev_check_vring_index (dev, name, index, error))
    return FALSE;
  vring = &dev->vrings[index];
  fd = (msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK) ? -1 : vhost_user_msg_take_fd (msg, 0);
  switch (msg->hdr.request)
    {
    case VHOST_USER_SET_VRING_KICK:
      vhost_user_dev_close_fd (&vring->kick_fd);
      vring->kick_fd = fd;
      /* The ring starts on SET_VRING_KICK; without protocol features it starts enabled. */
      vhost_user_dev_vring_set_state (dev, index, TRUE,
                       vring->enabled || !has_feature (dev->acked_features, VHOST_VIRTIO_F_PROTOCOL_FEATURES));
      break;
    case VHOST_USER_SET_VRING_CALL:
      vhost_user_dev_close_fd (&vring->call_fd);
      vring->call_fd = fd;
      break;
    default:
      vhost_user_dev_close_fd (&vring->err_fd);
      vring->err_fd = fd;
      break;
    }
  return TRUE;
}

/* The device's shared memory regions (SHMEM): their sizes by shmid, and how
 * many have a size. */
static guint
shmem_config (VhostUserDev *dev, guint64 *sizes)
{
  guint n = 0;

  memset (sizes, 0, VHOST_USER_MAX_SHMEM_REGIONS * sizeof (guint64));
  if (dev->ops->get_shmem_config != NULL)
    dev->ops->get_shmem_config (dev, sizes, dev->user_data);
  for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
    n += sizes[i] != 0;
  return n;
}

/* What the device offers, of what the engine implements with its owner's help:
 * suspending requests at GET_VRING_BASE needs the inflight area they are
 * recorded in, and SHMEM a region. */
static guint64
offered_protocol_features (VhostUserDev *dev)
{
  guint64 features = dev->ops->get_protocol_features (dev, dev->user_data) & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED;
  guint64 sizes[VHOST_USER_MAX_SHMEM_REGIONS];

  if (dev->ops->inband_notify == NULL)
    features &= ~(guint64) VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS;
  if (!(features & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
    features &= ~(guint64) VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT;
  if ((features & VHOST_USER_PROTOCOL_F_SHMEM) && shmem_config (dev, sizes) == 0)
    features &= ~(guint64) VHOST_USER_PROTOCOL_F_SHMEM;
  return features;
}

gboolean
vhost_user_dev_request_get_protocol_features (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                              GError **error)
{
  reply->payload.u64 = offered_protocol_features (dev);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_protocol_features (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                              GError **error)
{
  guint64 offered = offered_protocol_features (dev);

  if (msg->payload.u64 & ~offered)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_PROTOCOL_FEATURES: features 0x%" G_GINT64_MODIFIER "x were not offered",
                   msg->payload.u64 & ~offered);
      return FALSE;
    }
  /* The specification: in-band notifications need the back-end channel and
   * REPLY_ACK, and the back-end closes the connection otherwise. */
  if ((msg->payload.u64 & VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) &&
      (msg->payload.u64 & (VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK)) !=
        (VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                           "SET_PROTOCOL_FEATURES: INBAND_NOTIFICATIONS needs BACKEND_REQ and REPLY_ACK");
      return FALSE;
    }
  if ((msg->payload.u64 & VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT) &&
      !(msg->payload.u64 & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "SET_PROTOCOL_FEATURES: GET_VRING_BASE_INFLIGHT needs INFLIGHT_SHMFD");
      return FALSE;
    }
  if (!vhost_user_dev_iotlb_check (dev->acked_features, msg->payload.u64, "SET_PROTOCOL_FEATURES", error))
    return FALSE;
  dev->acked_protocol_features = msg->payload.u64;
  dev->ops->protocol_features_changed (dev, dev->acked_protocol_features, dev->user_data);
  return TRUE;
}

gboolean
vhost_user_dev_request_get_queue_num (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  reply->payload.u64 = dev->n_vrings;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_vring_enable (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.state.index;

  if (!vhost_user_dev_check_vring_index (dev, "SET_VRING_ENABLE", index, error))
    return FALSE;
  /* QEMU's virtio-net enables and disables its queue pairs before SET_FEATURES
   * (at realize and reset), as libvhost-user and DPDK accept: only a front-end
   * that set features without PROTOCOL_FEATURES is refused. */
  if (dev->features_set && !has_feature (dev->acked_features, VHOST_VIRTIO_F_PROTOCOL_FEATURES))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "SET_VRING_ENABLE: PROTOCOL_FEATURES was not acked");
      return FALSE;
    }
  if (msg->payload.state.num > 1)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_VRING_ENABLE: vring %u: %u is neither 0 nor 1", index, msg->payload.state.num);
      return FALSE;
    }
  vhost_user_dev_vring_set_state (dev, index, dev->vrings[index].started, msg->payload.state.num == 1);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_backend_req_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                           GError **error)
{
  dev->ops->set_backend_fd (dev, vhost_user_msg_take_fd (msg, 0), dev->user_data);
  return TRUE;
}

gboolean
vhost_user_dev_request_get_config (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserConfigWire *config = &msg->payload.config;
  g_autoptr(GBytes) bytes = dev->ops->get_config (dev, config->offset, config->size, dev->user_data, error);

  if (bytes == NULL)
    return FALSE;
  if (g_bytes_get_size (bytes) != config->size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_FAILED,
                   "GET_CONFIG: the device gave %" G_GSIZE_FORMAT " bytes for a read of %u", g_bytes_get_size (bytes),
                   config->size);
      return FALSE;
    }
  vhost_user_msg_init_reply (reply, msg, VHOST_USER_CONFIG_HDR_SIZE + config->size);
  reply->payload.config.offset = config->offset;
  reply->payload.config.size = config->size;
  reply->payload.config.flags = config->flags;
  memcpy (reply->payload.config.region, g_bytes_get_data (bytes, NULL), config->size);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_config (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  g_autoptr(GBytes) data = g_bytes_new (msg->payload.config.region, msg->payload.config.size);

  return dev->ops->set_config (dev, msg->payload.config.offset, data, msg->payload.config.flags, dev->user_data,
                               error);
}

gboolean
vhost_user_dev_request_reset_device (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  device_reset (dev, FALSE);
  return TRUE;
}

gboolean
vhost_user_dev_request_vring_kick (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  guint index = msg->payload.state.index;

  if (!vhost_user_dev_check_vring_index (dev, "VRING_KICK", index, error))
    return FALSE;
  /* The first in-band kick starts the ring; later ones only wake it. */
  if (!dev->vrings[index].started)
    {
      vhost_user_dev_stop_queues (dev);
      vhost_user_dev_vring_set_state (dev, index, TRUE, dev->vrings[index].enabled);
      start_queues (dev);
    }
  else if (dev->queues[index] != NULL)
    vhost_queue_kick (dev->queues[index]);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_status (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  if (msg->payload.u64 > G_MAXUINT8)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_STATUS: 0x%" G_GINT64_MODIFIER "x is not a status byte", msg->payload.u64);
      return FALSE;
    }
  /* QEMU (7.2 and older) stops a device with SET_STATUS 0 before GET_VRING_BASE
   * (a VM stopped or migrated), and takes the position that GET_VRING_BASE
   * returns to resume the rings from: the reset keeps it. */
  if (msg->payload.u64 == 0)
    device_reset (dev, TRUE);
  dev->status = msg->payload.u64;
  return TRUE;
}

gboolean
vhost_user_dev_request_get_status (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  reply->payload.u64 = dev->status;
  return TRUE;
}

gboolean
vhost_user_dev_request_get_shmem_config (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  vhost_user_msg_init_reply (reply, msg, sizeof (VhostUserShmemConfigWire));
  reply->payload.shmem_config.nregions = shmem_config (dev, reply->payload.shmem_config.memory_sizes);
  return TRUE;
}

gboolean
vhost_user_dev_request_device (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  return dev->ops->device_request (dev, msg, reply, dev->user_data, error);
}

/* The data plane reports. */

void
vhost_user_dev_queue_broken (VhostUserDev *dev, guint index)
{
  if (dev->queues[index] != NULL)
    vhost_queue_stop (dev->queues[index]);
  if (!dev->connected || index >= dev->n_vrings)
    return;
  if (dev->acked_protocol_features & VHOST_USER_PROTOCOL_F_STATUS)
    dev->status |= VHOST_VIRTIO_STATUS_NEEDS_RESET;
  if (dev->vrings[index].err_fd >= 0)
    eventfd_write (dev->vrings[index].err_fd, 1);
  else if (dev->acked_protocol_features & VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)
    dev->ops->inband_notify (dev, VHOST_USER_BACKEND_VRING_ERR, index, dev->user_data);
}

/* Accessors. */

guint64
vhost_user_dev_get_acked_features (VhostUserDev *dev)
{
  return dev->acked_features;
}

guint64
vhost_user_dev_get_acked_protocol_features (VhostUserDev *dev)
{
  return dev->acked_protocol_features;
}

guint8
vhost_user_dev_get_status (VhostUserDev *dev)
{
  return dev->status;
}

guint
vhost_user_dev_get_n_vrings (VhostUserDev *dev)
{
  return dev->n_vrings;
}

gboolean
vhost_user_dev_get_vring_state (VhostUserDev *dev,
                                guint index,
                                guint *num,
                                guint *base,
                                gboolean *started,
                                gboolean *enabled)
{
  if (index >= dev->n_vrings)
    return FALSE;
  if (num != NULL)
    *num = dev->vrings[index].num;
  if (base != NULL)
    *base = dev->vrings[index].base;
  if (started != NULL)
    *started = dev->vrings[index].started;
  if (enabled != NULL)
    *enabled = dev->vrings[index].enabled;
  return TRUE;
}

int
vhost_user_dev_get_vring_fd (VhostUserDev *dev, guint index, VhostUserRequest which)
{
  if (index >= dev->n_vrings)
    return -1;
  switch (which)
    {
    case VHOST_USER_SET_VRING_KICK:
      return dev->vrings[index].kick_fd;
    case VHOST_USER_SET_VRING_CALL:
      return dev->vrings[index].call_fd;
    default:
      return dev->vrings[index].err_fd;
    }
}
