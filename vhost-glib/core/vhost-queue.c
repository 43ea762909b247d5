/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One device-side queue: started and stopped by the engine's control thread, processed by a worker or its owner. */
#include <errno.h>
#include <sys/eventfd.h>

#include "vhost-queue.h"
#include "vhost-guard.h"

#define BUDGET 8 /* rounds of a non-polling handler before yielding to the worker */

/* A fault in guest memory (its file truncated by the front-end) caught by a
 * guard: the queue breaks, and says where. */
void
vhost_queue_fault (VhostQueue *queue, gpointer address)
{
  vhost_ring_fail (&queue->ring, "guest memory at %p is gone (the front-end truncated the file behind it)", address);
  vhost_queue_report_broken (queue);
}

static gboolean queue_process (VhostWorkerItem *item, gboolean poll);
static gboolean queue_arm (VhostWorkerItem *item);

void
vhost_queue_init (VhostQueue *queue, guint index, const VhostQueueHooks *hooks, gpointer hooks_data)
{
  vhost_ring_init (&queue->ring, index);
  queue->worker_group = index;
  queue->item.kick_fd = -1;
  queue->item.event_fd = -1;
  queue->item.data = queue;
  queue->item.func = queue_process;
  queue->item.arm = queue_arm;
  queue->hooks = hooks;
  queue->hooks_data = hooks_data;
}

/* Any thread: the first report of a start goes to the owner. */
void
vhost_queue_report_broken (VhostQueue *queue)
{
  if (!g_atomic_int_compare_and_exchange (&queue->broken_reported, 0, 1))
    return;
  if (queue->hooks != NULL && queue->hooks->broken != NULL)
    queue->hooks->broken (queue, queue->hooks_data);
}

/* The processing thread. TRUE if new chains arrived while kicks were being turned on.
 * With event idx, kicks on means "a kick for the driver's next chain": the index
 * written then falls behind as soon as the driver adds chains, and if those are
 * taken without this queue turning its kicks off and on again (by another queue's
 * handler, as an echo device takes its transmit queue's chains from its receive
 * queue's handler), the driver never kicks again. So turning kicks on writes it
 * every time. */
static gboolean
set_kicks (VhostQueue *queue, gboolean on)
{
  gboolean more = FALSE;

  if (queue->kicks_on != on || (on && queue->ring.event_idx))
    {
      more = vhost_ring_set_kicks (&queue->ring, on);
      queue->kicks_on = on;
    }
  return more;
}

/* The processing thread: publish what the handler pushed and notify the driver. */
gboolean
vhost_queue_notify (VhostQueue *queue)
{
  gboolean notified;

  vhost_ring_flush (&queue->ring);
  notified = vhost_ring_notify (&queue->ring);
  if (queue->ring.broken)
    vhost_queue_report_broken (queue);
  return notified;
}

gboolean
vhost_queue_has_avail (VhostQueue *queue)
{
  if (vhost_ring_has_avail (&queue->ring))
    return TRUE;
  if (queue->ring.broken)
    vhost_queue_report_broken (queue);
  return FALSE;
}

/* The worker's entry point: see VhostWorkerFunc. The handler runs when chains are
 * available, when the event fd fired, and in every polling round of a queue with an
 * event fd (so that it can look for completions without a system call). */
static gboolean
queue_process_guarded (VhostWorkerItem *item, gboolean poll)
{
  VhostQueue *queue = item->data;
  VhostRing *ring = &queue->ring;
  gboolean event = item->event_pending || (poll && item->event_fd >= 0);

  item->event_pending = FALSE;
  /* A queue without a handler (an RX queue that another queue's handler fills)
   * keeps its kicks suppressed and is never woken. */
  if (queue->handler == NULL)
    return FALSE;
  for (guint round = 0; round < BUDGET; round++)
    {
      guint32 before;
      gboolean avail = vhost_queue_has_avail (queue), worked;

      if (!avail && !event)
        {
          if (poll)
            return FALSE;
          /* Sleep only with kicks on and the ring seen empty after that. */
          set_kicks (queue, TRUE);
          if (!vhost_queue_has_avail (queue))
            return FALSE;
        }
      event = FALSE;
      set_kicks (queue, FALSE);
      before = vhost_ring_get_base (ring);
      queue->handler (queue, queue->handler_data);
      worked = vhost_ring_get_base (ring) != before || ring->n_pending > 0;
      vhost_queue_notify (queue);
      if (ring->broken)
        return FALSE;
      if (!worked)
        {
          /* The handler left the chains there (an RX queue waiting for data, a
           * device at its limit of requests in flight): it is called again at the
           * next kick or event, or now if more came. */
          queue->declined = avail;
          queue->declined_base = vhost_ring_get_base (ring);
          return poll ? FALSE : set_kicks (queue, TRUE);
        }
      queue->declined = FALSE;
      if (poll)
        return TRUE;
    }
  /* Out of budget with work left: the worker calls again without a kick. */
  return TRUE;
}

/* The worker's entry point, guarded: the device's handler that touches memory
 * the front-end took away is abandoned there, the queue broken. */
static gboolean
queue_process (VhostWorkerItem *item, gboolean poll)
{
  VhostQueue *queue = item->data;
  VhostGuard guard;
  gboolean more;

  item->taken = 0;
  if (!VHOST_GUARD_ENTER (&guard))
    {
      vhost_queue_fault (queue, guard.fault);
      return FALSE;
    }
  more = queue_process_guarded (item, poll);
  /* What left the ring since the last call, whichever queue's handler took it (an
   * echo device's takes from both of its queues): the worker's coalescing counts it. */
  item->taken = vhost_ring_taken_since (&queue->ring, queue->counted_base);
  queue->counted_base = vhost_ring_get_base (&queue->ring);
  vhost_guard_leave (&guard);
  return more;
}

/* The worker, before it sleeps. */
static gboolean
queue_arm_guarded (VhostWorkerItem *item)
{
  VhostQueue *queue = item->data;

  if (queue->handler == NULL)
    return FALSE;
  set_kicks (queue, TRUE);
  /* Chains the handler declined wait for a kick or an event. Not once another
   * queue's handler took chains from this ring (an echo device's receive handler
   * takes its transmit chains): those the handler saw are gone, and chains that
   * came after them, with kicks off, were never offered to it. */
  if ((queue->declined && queue->declined_base == vhost_ring_get_base (&queue->ring)) ||
      !vhost_queue_has_avail (queue))
    return FALSE;
  set_kicks (queue, FALSE);
  return TRUE;
}

static gboolean
queue_arm (VhostWorkerItem *item)
{
  VhostGuard guard;
  gboolean more;

  if (!VHOST_GUARD_ENTER (&guard))
    {
      vhost_queue_fault (item->data, guard.fault);
      return FALSE;
    }
  more = queue_arm_guarded (item);
  vhost_guard_leave (&guard);
  return more;
}

void
vhost_queue_round_begin (VhostQueue *queue)
{
  set_kicks (queue, FALSE);
}

gboolean
vhost_queue_round_end (VhostQueue *queue)
{
  if (!queue->running)
    return FALSE;
  vhost_queue_notify (queue);
  set_kicks (queue, TRUE);
  return !queue->ring.broken && vhost_queue_has_avail (queue);
}

static void
running_changed (VhostQueue *queue, gboolean running)
{
  queue->running = running;
  if (queue->hooks != NULL && queue->hooks->running_changed != NULL)
    queue->hooks->running_changed (queue, queue->hooks_data);
}

/* The control thread. */
gboolean
vhost_queue_start (VhostQueue *queue, VhostWorker *worker, int kick_fd)
{
  VhostGuard guard;
  gboolean mapped;

  g_return_val_if_fail (!queue->running, FALSE);

  g_atomic_int_inc (&queue->generation);
  g_atomic_int_set (&queue->broken_reported, 0);
  if (!VHOST_GUARD_ENTER (&guard))
    {
      vhost_queue_fault (queue, guard.fault);
      return FALSE;
    }
  /* Mapping reads the rings (an inflight area taken up), and kicks are
   * turned off in them. */
  mapped = vhost_ring_map (&queue->ring);
  if (mapped)
    vhost_ring_set_kicks (&queue->ring, FALSE);
  vhost_guard_leave (&guard);
  if (!mapped)
    {
      /* Rings outside guest memory, or a ring the driver broke before. */
      vhost_queue_report_broken (queue);
      return FALSE;
    }
  queue->kicks_on = FALSE;
  queue->item.kick_fd = kick_fd;
  queue->item.capacity = queue->ring.num;
  queue->counted_base = vhost_ring_get_base (&queue->ring);
  queue->running = TRUE;
  if (!queue->main_context && worker != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!vhost_worker_attach (worker, &queue->item, &error))
        {
          vhost_ring_fail (&queue->ring, "%s", error->message);
          queue->running = FALSE;
          queue->item.kick_fd = -1;
          vhost_queue_report_broken (queue);
          return FALSE;
        }
      queue->worker = worker;
    }
  else if (queue->hooks != NULL && queue->hooks->attach != NULL)
    queue->hooks->attach (queue, kick_fd, queue->hooks_data);
  running_changed (queue, TRUE);
  return TRUE;
}

/* The control thread, stopping: the device gives back what it holds (its I/O
 * must end before guest memory may go, even on a broken ring, where the pushes
 * change nothing), or, suspending, ends its I/O and keeps in flight what it does
 * not push; whatever was pushed is published: a stopped queue keeps no
 * half-written state. */
static void
give_back (VhostQueue *queue, VhostQueueHandler func, gpointer data)
{
  VhostGuard guard;

  if (VHOST_GUARD_ENTER (&guard))
    {
      if (func != NULL)
        func (queue, data);
      if (!queue->ring.broken)
        vhost_queue_notify (queue);
      vhost_guard_leave (&guard);
    }
  else
    vhost_queue_fault (queue, guard.fault);
}

/* The control thread. */
static gboolean
queue_stop (VhostQueue *queue, gboolean suspend_asked)
{
  VhostWorker *worker = queue->worker;
  gboolean suspend = suspend_asked && queue->suspend != NULL && queue->ring.inflight != NULL;

  if (!queue->running)
    return FALSE;
  /* The worker stays paused until the queue is marked stopped: the handler of
   * another queue of the group may look at this one. */
  if (worker != NULL)
    {
      vhost_worker_pause (worker);
      vhost_worker_detach (&queue->item);
    }
  queue->worker = NULL;
  if (worker == NULL && queue->hooks != NULL && queue->hooks->detach != NULL)
    queue->hooks->detach (queue, queue->hooks_data);
  give_back (queue, suspend ? queue->suspend : queue->drain, suspend ? queue->suspend_data : queue->drain_data);
  queue->declined = FALSE;
  queue->item.kick_fd = -1;
  running_changed (queue, FALSE);
  if (worker != NULL)
    vhost_worker_resume (worker);
  return suspend;
}

void
vhost_queue_stop (VhostQueue *queue)
{
  queue_stop (queue, FALSE);
}

gboolean
vhost_queue_suspend (VhostQueue *queue)
{
  return queue_stop (queue, TRUE);
}

/* The control thread: an in-band kick. */
void
vhost_queue_kick (VhostQueue *queue)
{
  if (!queue->running)
    return;
  if (queue->item.kick_fd >= 0)
    {
      while (eventfd_write (queue->item.kick_fd, 1) < 0 && errno == EINTR)
        ;
    }
  else if (queue->worker == NULL && queue->hooks != NULL && queue->hooks->wake != NULL)
    queue->hooks->wake (queue, queue->hooks_data);
  /* A worker polls a queue without a kick fd all the time. */
}
