/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One device-side queue of the back-end engine: its ring, its place in a worker, its handlers. */
#pragma once

#include <glib.h>

#include "vhost-ring.h"
#include "vhost-worker.h"

G_BEGIN_DECLS

typedef struct _VhostQueue VhostQueue;

/* Processes a queue: pops chains and pushes them back (see the public
 * VhostVirtqueueHandler, which the GObject layer calls from one of these). */
typedef void (*VhostQueueHandler) (VhostQueue *queue, gpointer user_data);

/* What the owner of a queue (the GObject layer, or a test) is told. Every hook
 * may be NULL. */
typedef struct
{
  /* The driver broke the ring. Called once per start, in the thread where it
   * broke: a worker, or the thread that processes the queue. */
  void (*broken) (VhostQueue *queue, gpointer user_data);
  /* Main-context dispatch: the queue started with this kick fd (-1: polled) and
   * should be watched; the watch goes at `detach`. Called in the control thread. */
  void (*attach) (VhostQueue *queue, int kick_fd, gpointer user_data);
  void (*detach) (VhostQueue *queue, gpointer user_data);
  /* Main-context dispatch, no kick fd: an in-band kick arrived. */
  void (*wake) (VhostQueue *queue, gpointer user_data);
  /* `running` changed. Called in the control thread. */
  void (*running_changed) (VhostQueue *queue, gpointer user_data);
} VhostQueueHooks;

struct _VhostQueue
{
  VhostRing ring;                /* owned by the worker while running */
  VhostWorkerItem item;
  VhostWorker *worker;           /* (nullable) (not owned) while running in a worker */
  gboolean running;
  gboolean kicks_on;
  gboolean declined;             /* the handler left the available chains there... */
  guint32 declined_base;         /* ...the ring's base then: chains taken since, by any handler, end it */
  guint32 counted_base;          /* the ring's base when the worker last counted what was taken */
  gboolean main_context;         /* processed by its owner's main context, not a worker */
  guint worker_group;
  guint mem_epoch;               /* the engine's count of guest-memory unmappings */
  guint generation;              /* (atomic) bumped on every start, so stale reports are dropped */
  gint broken_reported;          /* (atomic) */

  VhostQueueHandler handler;
  gpointer handler_data;
  VhostQueueHandler drain;
  gpointer drain_data;
  VhostQueueHandler suspend;     /* (nullable) lets go of the held chains without completing them */
  gpointer suspend_data;

  const VhostQueueHooks *hooks;
  gpointer hooks_data;
};

void vhost_queue_init (VhostQueue *queue, guint index, const VhostQueueHooks *hooks, gpointer hooks_data);
/* Start: map the ring and attach it to `worker` (NULL, or a main-context queue:
 * the attach hook). `kick_fd` is not owned. FALSE if the ring is broken (reported). */
gboolean vhost_queue_start (VhostQueue *queue, VhostWorker *worker, int kick_fd);
/* Stop; on return no handler runs, the drain handler has given back what the
 * device held, and the ring state is final. */
void vhost_queue_stop (VhostQueue *queue);
/* Stop, for a GET_VRING_BASE with GET_VRING_BASE_INFLIGHT: with a suspend handler
 * and an inflight region, the handler runs instead of the drain one, and the
 * chains it did not push stay in flight, recorded in the region. TRUE if so:
 * the ring must take them up from the region when it starts again. */
gboolean vhost_queue_suspend (VhostQueue *queue);
/* An in-band kick (VRING_KICK): wake whatever processes the queue. */
void vhost_queue_kick (VhostQueue *queue);
/* Publish what was pushed and notify the driver; a broken ring is reported. */
gboolean vhost_queue_notify (VhostQueue *queue);
/* Whether chains are available; a ring found broken on the way is reported. */
gboolean vhost_queue_has_avail (VhostQueue *queue);
/* A guard (vhost-guard.h) caught a fault in guest memory at `address`: the
 * ring breaks and is reported. */
void vhost_queue_fault (VhostQueue *queue, gpointer address);
/* Report a broken ring through the hook, once per start. */
void vhost_queue_report_broken (VhostQueue *queue);

/* Main-context dispatch, around one round of the owner's processing: kicks off
 * before; after, publish and kicks on again. end() returns TRUE when more chains
 * came meanwhile (the owner goes round again from its loop). */
void vhost_queue_round_begin (VhostQueue *queue);
gboolean vhost_queue_round_end (VhostQueue *queue);

G_END_DECLS
