/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ring worker threads: epoll on kick eventfds, optional bounded and adaptive busy polling, quiesce and resume. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VhostWorker VhostWorker;
typedef struct _VhostWorkerItem VhostWorkerItem;

/* Process the queue behind @item. With @poll FALSE (a kick arrived, no busy polling)
 * process until the ring is empty with driver notifications re-armed; with @poll TRUE
 * leave notifications off. Returns TRUE if there was work. */
typedef gboolean (*VhostWorkerFunc) (VhostWorkerItem *item, gboolean poll);
/* Re-arm driver notifications before the worker sleeps; TRUE if work is already pending. */
typedef gboolean (*VhostWorkerArmFunc) (VhostWorkerItem *item);

struct _VhostWorkerItem
{
  int kick_fd;               /* (not owned) drained by the worker */
  int event_fd;              /* (not owned) watched edge-triggered, never read; -1 for none */
  gboolean event_pending;    /* set by the worker when event_fd fired, cleared by func */
  guint taken;               /* set by func: the chains taken from its ring since its last call (for coalescing) */
  guint capacity;            /* the chains its ring holds, 0 if unknown (for coalescing) */
  guint64 window_taken;      /* the worker's: chains counted in this window of coalescing */
  guint64 period_taken;      /* the worker's: and in this period of naps */
  VhostWorkerFunc func;
  VhostWorkerArmFunc arm;
  gpointer data;
  VhostWorker *worker;       /* the worker it is attached to, or NULL */
};

VhostWorker *vhost_worker_new (const char *name, GError **error);
void vhost_worker_free (VhostWorker *worker);
/* The longest busy-poll interval (0: never poll); the worker adapts the interval it
 * uses, from 0 to that, to how soon work follows the last (see vhost-worker.c). */
void vhost_worker_set_poll_us (VhostWorker *worker, guint poll_us);
/* The longest nap of coalescing (0: none, the default): while polling finds chains
 * coming one by one far below the worker's speed, it sleeps between its rounds so
 * that they come in batches (see vhost-worker.c). */
void vhost_worker_set_coalesce_us (VhostWorker *worker, guint coalesce_us);
/* How many naps the worker took so far; any thread may ask (for tests). */
guint64 vhost_worker_get_naps (VhostWorker *worker);
/* How many times the worker found a task keeping its CPU and stopped polling for a
 * while; any thread may ask (for tests). */
guint64 vhost_worker_get_contentions (VhostWorker *worker);
/* The interval the worker polls for now (for tests). */
guint vhost_worker_get_poll_now_us (VhostWorker *worker);
void vhost_worker_pause (VhostWorker *worker);
void vhost_worker_resume (VhostWorker *worker);
gboolean vhost_worker_attach (VhostWorker *worker, VhostWorkerItem *item, GError **error);
void vhost_worker_detach (VhostWorkerItem *item);
/* Change the item's event fd, attached or not. */
gboolean vhost_worker_set_event_fd (VhostWorkerItem *item, int fd, GError **error);

G_END_DECLS
