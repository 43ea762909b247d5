/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the slave wraps the engine's core queues in VhostVirtqueue objects. */
#pragma once

#include "vhost-virtqueue.h"
#include "core/vhost-queue.h"

G_BEGIN_DECLS

VhostVirtqueue *vhost_virtqueue_new (guint index, GMainContext *context);
/* The core queue the engine starts and stops. */
VhostQueue *vhost_virtqueue_get_queue (VhostVirtqueue *queue);

G_END_DECLS
