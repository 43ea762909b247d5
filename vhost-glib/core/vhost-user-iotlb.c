/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's device IOTLB: IOTLB_MSG, the rings' misses and refusals, and waking the queues that wait. */
#include "vhost-user-dev-private.h"

/*
 * With VIRTIO_F_ACCESS_PLATFORM the ring addresses of SET_VRING_ADDR and the
 * addresses in descriptors are I/O virtual addresses: the rings translate them
 * through dev->iotlb, which the front-end fills with IOTLB_MSG updates and
 * empties with invalidations, to a user address of the memory table, then to
 * our mapping (core/vhost-ring.c). A translation that is missing stops the
 * queue at that chain, without blocking its worker or any other queue: the
 * ring records the miss it waits for, the owner sends it on the back-end
 * channel (ops->iotlb_request), and the update that covers it kicks the
 * queue, which takes the chain again. Misses need the back-end channel and
 * REPLY_ACK (the front-end's acknowledgement says it answered), so the engine
 * offers ACCESS_PLATFORM only with both.
 */

#define NEEDED_PROTOCOL_FEATURES (VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define ACCESS_PLATFORM VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM)

guint64
vhost_user_dev_iotlb_offered (VhostUserDev *dev, guint64 features, guint64 protocol_features)
{
  if (dev->ops->iotlb_request == NULL || (protocol_features & NEEDED_PROTOCOL_FEATURES) != NEEDED_PROTOCOL_FEATURES)
    features &= ~ACCESS_PLATFORM;
  return features;
}

gboolean
vhost_user_dev_iotlb_check (guint64 features, guint64 protocol_features, const char *what, GError **error)
{
  if ((features & ACCESS_PLATFORM) && (protocol_features & NEEDED_PROTOCOL_FEATURES) != NEEDED_PROTOCOL_FEATURES)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s: VIRTIO_F_ACCESS_PLATFORM needs the protocol features BACKEND_REQ and REPLY_ACK (for IOTLB "
                   "misses)", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
iotlb_negotiated (VhostUserDev *dev)
{
  return (dev->acked_features & ACCESS_PLATFORM) != 0;
}

/* A ring's miss or refusal, in its processing thread: the owner sends it. */
static void
ring_iotlb_report (VhostRing *ring, guint8 type, guint64 iova, guint8 perm, guint serial, gpointer data)
{
  VhostUserDev *dev = data;

  dev->ops->iotlb_request (dev, ring->index, type, iova, perm, serial, dev->user_data);
}

void
vhost_user_dev_iotlb_attach (VhostUserDev *dev, VhostRing *ring)
{
  ring->iotlb = iotlb_negotiated (dev) ? &dev->iotlb : NULL;
  ring->iotlb_report = ring_iotlb_report;
  ring->iotlb_report_data = dev;
}

/* Take back a ring's miss `serial` and kick its queue, unless the ring moved on. */
static void
wake (VhostQueue *queue, guint serial)
{
  if (g_atomic_int_compare_and_exchange ((gint *) &queue->ring.miss_serial, (gint) serial, 0))
    vhost_queue_kick (queue);
}

/* The control thread: an update of [iova, last] arrived; the queues that wait
 * for an address in it take their chain again. (A ring that records its miss
 * after this looked is not lost: it records it with the IOTLB's lock held for
 * reading, so it either saw the update or recorded the miss before the update
 * took the lock.) */
static void
wake_waiters (VhostUserDev *dev, guint64 iova, guint64 last)
{
  for (guint i = 0; i < dev->n_vrings; i++)
    {
      VhostQueue *queue = dev->queues[i];
      guint serial;
      guint64 miss;

      if (queue == NULL || (serial = (guint) g_atomic_int_get (&queue->ring.miss_serial)) == 0)
        continue;
      miss = __atomic_load_n (&queue->ring.miss_iova, __ATOMIC_RELAXED);
      if (miss >= iova && miss <= last)
        wake (queue, serial);
    }
}

gboolean
vhost_user_dev_request_iotlb_msg (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserIotlbWire *m = &msg->payload.iotlb;

  if (!iotlb_negotiated (dev))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "IOTLB_MSG: VIRTIO_F_ACCESS_PLATFORM was not negotiated");
      return FALSE;
    }
  switch (m->type)
    {
    case VHOST_IOTLB_UPDATE:
      if (!vhost_iotlb_update (&dev->iotlb, m->iova, m->size, m->uaddr, m->perm, error))
        return FALSE;
      g_debug ("IOTLB update: IOVA 0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x bytes, user address 0x%"
               G_GINT64_MODIFIER "x, %s access", m->iova, m->size, m->uaddr, vhost_iotlb_perm_name (m->perm));
      wake_waiters (dev, m->iova, m->iova + (m->size - 1));
      return TRUE;
    case VHOST_IOTLB_INVALIDATE:
      vhost_iotlb_invalidate (&dev->iotlb, m->iova, m->size);
      g_debug ("IOTLB invalidation: IOVA 0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x bytes", m->iova,
               m->size);
      return TRUE;
    default:
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "IOTLB_MSG: type %u is neither an update (2) nor an invalidation (3)", m->type);
      return FALSE;
    }
}

void
vhost_user_dev_iotlb_miss_answered (VhostUserDev *dev, guint index, guint serial, const GError *error)
{
  VhostQueue *queue = index < dev->n_vrings ? dev->queues[index] : NULL;
  gboolean covered;
  guint64 iova;
  guint8 perm;

  /* An update answered it (and woke the queue), or the ring moved on. */
  if (queue == NULL || serial == 0 || (guint) g_atomic_int_get (&queue->ring.miss_serial) != serial)
    return;
  iova = __atomic_load_n (&queue->ring.miss_iova, __ATOMIC_RELAXED);
  perm = __atomic_load_n (&queue->ring.miss_perm, __ATOMIC_RELAXED);
  g_rw_lock_reader_lock (&dev->iotlb.lock);
  covered = vhost_iotlb_lookup (&dev->iotlb, iova) != NULL;
  g_rw_lock_reader_unlock (&dev->iotlb.lock);
  /* The ring recorded a miss that an update had already answered. */
  if (covered)
    {
      wake (queue, serial);
      return;
    }
  /* The front-end has no translation to give (the specification: it sends
   * nothing for an invalid miss). Nothing else would wake the queue. */
  vhost_queue_stop (queue);
  vhost_ring_fail (&queue->ring, "the front-end did not translate IOVA 0x%" G_GINT64_MODIFIER "x for %s access after "
                   "an IOTLB miss%s%s", iova, vhost_iotlb_perm_name (perm), error != NULL ? ": " : "",
                   error != NULL ? error->message : "");
  vhost_queue_report_broken (queue);
}

guint
vhost_user_dev_get_iotlb_n_entries (VhostUserDev *dev)
{
  return vhost_iotlb_get_n_entries (&dev->iotlb);
}
