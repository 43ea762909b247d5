/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the slave drives its VhostVirtqueues: configure the core ring while stopped, start, stop. */
#pragma once

#include "vhost-virtqueue.h"
#include "core/vhost-ring.h"
#include "core/vhost-worker.h"

G_BEGIN_DECLS

VhostVirtqueue *vhost_virtqueue_new (guint index, GMainContext *context);
/* The core ring, to configure while the queue is stopped. */
VhostRing *vhost_virtqueue_get_ring (VhostVirtqueue *queue);
/* Start processing: map the ring and attach it to @worker (or to the main context
 * in that dispatch mode). Takes no ownership of @kick_fd. FALSE if the ring is broken. */
gboolean vhost_virtqueue_start (VhostVirtqueue *queue, VhostWorker *worker, int kick_fd);
/* The slave's count of guest-memory unmappings: requests popped under an older
 * one refer to memory that is gone. */
void vhost_virtqueue_set_mem_epoch (VhostVirtqueue *queue, guint epoch);
/* An in-band kick (VRING_KICK): wake whatever processes the queue. */
void vhost_virtqueue_kick (VhostVirtqueue *queue);
/* Stop processing; on return no handler runs and the ring state is final. */
void vhost_virtqueue_stop (VhostVirtqueue *queue);

G_END_DECLS
