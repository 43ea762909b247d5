/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ring worker threads. The control thread changes a worker's set of queues only while
 * the worker is paused, so the worker's loop reads that set without a lock. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhost-ring.h"
#include "vhost-worker.h"
#include "vhost-glib/protocol/vhost-error.h"

#define MAX_EVENTS 16
/* Adaptive polling: the interval grows from this, doubling. */
#define POLL_GROW_START_US 4
/* Coalescing: see worker_coalesce(). */
#define COALESCE_WINDOW_US 1000
#define COALESCE_BATCH 64 /* without a ring size to take 3/4 of */
#define COALESCE_RING_MAX 256 /* larger rings count as this */
#define COALESCE_OVERSHOOT_START_US 20
#define COALESCE_MIN_US 10
#define COALESCE_MIN_BATCH 8
#define COALESCE_KEEP 0.9
#define COALESCE_BACKOFF_START_US (20 * 1000)
#define COALESCE_BACKOFF_MAX_US (1280 * 1000)
#define COALESCE_PERIOD 64
#define COALESCE_JUDGE 4
/* A CPU shared with a task that keeps it: see worker_check_yield(). A yield away
 * longer than YIELD_LOST_US, with the worker switched out, gave another task a time
 * slice (a short kernel worker takes microseconds). */
#define YIELD_LOST_US 500
#define CONTENDED_MIN_US (50 * 1000)
#define CONTENDED_MAX_US (1600 * 1000)

struct _VhostWorker
{
  GThread *thread;     /* (owned) */
  int epoll_fd;        /* (owned) */
  int control_fd;      /* (owned) eventfd that wakes the loop for pause and quit */
  GPtrArray *items;    /* (element-type VhostWorkerItem) (not owned) changed only while paused */
  guint poll_us;       /* the longest busy-poll interval; changed only while paused */
  guint poll_now_us;   /* the interval now, adapted by the worker (0 to poll_us); set with poll_us */
  guint n_pollers;     /* items without a kick fd: polled all the time; changed only while paused */

  /* Coalescing: the worker's, and the control thread's while it is paused. */
  guint coalesce_us;   /* the longest nap; 0: never nap */
  guint nap_us;        /* the nap after each round with work, now; 0: none */
  guint batch;         /* the chains a nap lets gather: 3/4 of the smallest ring */
  double overshoot_us; /* how much longer than asked the naps last, on average */
  gboolean no_pwait2;  /* the kernel lacks epoll_pwait2(): naps in milliseconds */
  gint64 window_start; /* the rate's window, 0 when none is open */
  double last_rate;    /* in the last window; 0 for none (the naps begin afresh) */
  double nap_rate;     /* chains per microsecond that the naps must keep */
  gint64 period_start; /* when the naps began */
  guint period_windows;
  gint64 backoff_until;
  guint backoff_us;
  guint full_rounds;   /* rounds in a row that found a ring full */
  gboolean catching_up; /* two did: no naps until the worker has caught up */
  guint naps;          /* (atomic) how many, for tests */

  /* Sharing the CPU with a task that keeps it (the worker's). */
  glong nivcsw;          /* involuntary switches at the last idle round */
  gint64 contended_until; /* until then, idle rounds sleep at once */
  guint contended_us;    /* how long the last such stretch was */
  guint contentions;     /* (atomic) how many, for tests */

  GMutex mutex;
  GCond cond;
  guint pause_count;   /* (locked by mutex) */
  gboolean paused;     /* (locked by mutex) the loop waits */
  gboolean quit;       /* (locked by mutex) */
  gint pause_requested; /* (atomic) a cheap check for the busy-poll loop */
};

/* The epoll data of an item's fds: the item's address, with the low bit set for its
 * event fd. The control fd has 0. */
static inline guint64
watch_tag (VhostWorkerItem *item, gboolean event)
{
  return (guint64) (guintptr) item | (event ? 1 : 0);
}

static inline VhostWorkerItem *
watch_item (guint64 tag)
{
  return (VhostWorkerItem *) (guintptr) (tag & ~(guint64) 1);
}

static void
drain (int fd)
{
  eventfd_t value;

  while (eventfd_read (fd, &value) < 0 && errno == EINTR)
    ;
}

/* Wait here while the control thread holds the worker paused. Returns FALSE to quit. */
static gboolean
worker_check_control (VhostWorker *w)
{
  gboolean quit;

  g_mutex_lock (&w->mutex);
  while (w->pause_count > 0 && !w->quit)
    {
      /* What the handlers streamed is visible before the control thread, which
       * may publish the chains it went into (a drain handler), goes on. */
      vhost_ring_fence_streaming ();
      w->paused = TRUE;
      g_cond_broadcast (&w->cond);
      g_cond_wait (&w->cond, &w->mutex);
    }
  w->paused = FALSE;
  quit = w->quit;
  g_mutex_unlock (&w->mutex);
  return !quit;
}

/* Arm every queue before sleeping; TRUE if one of them already has work. */
static gboolean
worker_arm_all (VhostWorker *w)
{
  gboolean pending = FALSE;

  for (guint i = 0; i < w->items->len; i++)
    {
      VhostWorkerItem *item = g_ptr_array_index (w->items, i);

      pending |= item->arm (item);
    }
  return pending;
}

/* The worker slept after `idle_us` without work (its polling included) before work
 * woke it. As QEMU's I/O threads do: a wait longer than the longest interval, which
 * polling could not have saved, shrinks the interval (by half here, so that a load
 * that comes and goes keeps some); a shorter one, which polling for longer would
 * have caught, grows it (doubling from POLL_GROW_START_US). A wait ended by work
 * found while polling changes nothing. At a low request rate the worker thus stops
 * spending the whole interval polling after every request. */
static void
worker_adapt_poll (VhostWorker *w, gint64 idle_us)
{
  if (idle_us > w->poll_us)
    w->poll_now_us /= 2;
  else if (idle_us > w->poll_now_us)
    w->poll_now_us = MIN (MAX (w->poll_now_us * 2, POLL_GROW_START_US), w->poll_us);
}

/* An idle polling round yielded the CPU from `before` to `now`. When that took more
 * than YIELD_LOST_US and the worker was switched out since the last idle round,
 * another task of this CPU ran for its time slice (a kernel worker that completes a
 * buffered write, which the yield is for, returns the CPU within microseconds): one
 * that keeps the CPU, a background job or a busy vCPU, and will take it at every
 * yield. Until the stretch that starts then ends, the worker sleeps as soon as a round
 * finds nothing, and work that comes wakes it with a wake-up, which preempts such a
 * task (a yield waits for its slice: milliseconds per polling period). A stretch
 * lasts CONTENDED_MIN_US, twice the last one when the task took the CPU again soon
 * after the last one ended, at most CONTENDED_MAX_US, so that a task that keeps
 * running costs a slice per stretch. */
static void
worker_check_yield (VhostWorker *w, gint64 before, gint64 now)
{
  struct rusage usage;
  gboolean switched;

  if (getrusage (RUSAGE_THREAD, &usage) < 0)
    return;
  switched = usage.ru_nivcsw != w->nivcsw;
  w->nivcsw = usage.ru_nivcsw;
  if (!switched || now - before < YIELD_LOST_US)
    return;
  w->contended_us = now - w->contended_until < w->contended_us ? MIN (w->contended_us * 2, CONTENDED_MAX_US)
                                                               : CONTENDED_MIN_US;
  w->contended_until = now + w->contended_us;
  g_atomic_int_inc (&w->contentions);
}

/* The nap for `rate` chains per microsecond: as long as `batch` chains take to
 * come, wake-up included (the ring must not fill), at most coalesce_us; 0 when
 * that is too short to be worth a sleep. */
static guint
worker_nap_for (VhostWorker *w, double rate)
{
  double nap = MIN (w->batch / MAX (rate, 1e-9) - w->overshoot_us, w->coalesce_us);

  return nap >= COALESCE_MIN_US && nap * rate >= COALESCE_MIN_BATCH ? (guint) nap : 0;
}

/* Busy polling where chains come one at a time, faster than a wake-up but far
 * slower than the worker takes them, spins a core for little work. Coalescing
 * naps instead, as NAPI's deferred interrupts do: after a round with work, the
 * worker sleeps (kicks still off) as long as it takes three quarters of its
 * smallest ring (at most COALESCE_RING_MAX) to fill, its wake-up included, at most
 * coalesce_us, then takes the chains together. The rate is that of its busiest
 * ring: each item counts what left its own ring, whichever handler took it.
 *
 * The rate is measured over windows of COALESCE_WINDOW_US. Two windows in a row
 * without naps set the rate the naps must keep (the smaller of the two: a burst
 * does not count), and start a period of naps if the nap the rate asks for is
 * worth it; each window of the period sets the nap from its rate or the last
 * window's, the smaller (a window that drained a backlog does not count alone). A
 * front-end that waits for its completions before sending more (a ping-pong, a
 * closed loop) slows down when the worker naps, and so does a worker that cannot
 * keep up: when the rate since the period began falls below COALESCE_KEEP of the
 * rate before (after COALESCE_JUDGE windows, or at once for half of it), the naps
 * stop, for a back-off that doubles while this goes on. A period also ends after
 * COALESCE_PERIOD windows, and the windows without naps that follow judge again.
 *
 * Called after each round with work while polling (the items' window_taken
 * counted); TRUE to nap now. */
static gboolean
worker_coalesce (VhostWorker *w)
{
  gint64 now = g_get_monotonic_time (), elapsed;
  guint64 window_taken = 0, period_taken = 0;
  double rate, kept;

  if (w->window_start == 0)
    w->window_start = now;
  elapsed = now - w->window_start;
  if (elapsed < COALESCE_WINDOW_US)
    return w->nap_us > 0;
  for (guint i = 0; i < w->items->len; i++)
    {
      VhostWorkerItem *item = g_ptr_array_index (w->items, i);

      window_taken = MAX (window_taken, item->window_taken);
      item->period_taken += item->window_taken;
      item->window_taken = 0;
      period_taken = MAX (period_taken, item->period_taken);
    }
  rate = (double) window_taken / (double) elapsed;
  w->window_start = now;
  if (w->nap_us == 0)
    {
      double before = w->last_rate;

      w->last_rate = rate;
      if (before == 0 || now < w->backoff_until || worker_nap_for (w, MIN (before, rate)) == 0)
        return FALSE;
      w->nap_rate = MIN (before, rate);
      w->nap_us = worker_nap_for (w, rate);
      w->period_start = now;
      w->period_windows = 0;
      for (guint i = 0; i < w->items->len; i++)
        ((VhostWorkerItem *) g_ptr_array_index (w->items, i))->period_taken = 0;
      return w->nap_us > 0;
    }
  kept = (double) period_taken / (double) (now - w->period_start);
  w->period_windows++;
  w->nap_us = worker_nap_for (w, MIN (w->last_rate, rate));
  w->last_rate = rate;
  if (kept < w->nap_rate * COALESCE_KEEP && (w->period_windows >= COALESCE_JUDGE || kept < w->nap_rate / 2))
    {
      w->nap_us = 0;
      w->backoff_until = now + w->backoff_us;
      w->backoff_us = MIN (w->backoff_us * 2, COALESCE_BACKOFF_MAX_US);
    }
  else if (w->period_windows >= COALESCE_PERIOD)
    {
      w->nap_us = 0;
      w->backoff_us = COALESCE_BACKOFF_START_US;
    }
  if (w->nap_us == 0)
    w->last_rate = 0; /* the windows without naps that follow judge again */
  return w->nap_us > 0;
}

/* The worker slept for a window or longer, or its queues changed: the next load
 * is measured afresh. */
static void
worker_coalesce_reset (VhostWorker *w)
{
  guint smallest = 0;

  w->nap_us = 0;
  w->full_rounds = 0;
  w->catching_up = FALSE;
  w->window_start = 0;
  w->last_rate = 0;
  w->overshoot_us = COALESCE_OVERSHOOT_START_US;
  for (guint i = 0; i < w->items->len; i++)
    {
      VhostWorkerItem *item = g_ptr_array_index (w->items, i);

      item->window_taken = item->period_taken = 0;
      if (item->capacity > 0 && (smallest == 0 || item->capacity < smallest))
        smallest = item->capacity;
    }
  /* At most what a handler takes in a call, as a rule: a batch it has to leave
   * in the ring would grow at each nap. */
  w->batch = smallest > 0 ? MAX (MIN (smallest, COALESCE_RING_MAX) * 3 / 4, 1) : COALESCE_BATCH;
}

/* A load that paused for less than a window (the host held the front-end's CPU
 * back) is the same load: the naps go on as they were, and the pause counts in
 * neither the window's rate nor the rate the naps keep (naps did not cause it: a
 * front-end that the naps slow down finds work for the worker after each nap). */
static void
worker_coalesce_skip (VhostWorker *w, gint64 idle_us)
{
  if (w->window_start != 0)
    w->window_start += idle_us;
  if (w->nap_us > 0)
    w->period_start += idle_us;
}

/* A nap of w->nap_us, kicks off: a kick, the control fd and the queues' event fds
 * (completions of a device's own I/O) end it early. How much longer than asked it
 * lasted (a wake-up takes tens of microseconds in a virtual machine) goes into the
 * average the next naps are shortened by. Without epoll_pwait2() (Linux 5.11),
 * whole milliseconds. */
static int
worker_nap (VhostWorker *w, struct epoll_event *events)
{
  struct timespec timeout = { w->nap_us / G_USEC_PER_SEC, (long) (w->nap_us % G_USEC_PER_SEC) * 1000 };
  gint64 before = g_get_monotonic_time (), over;
  int n = -1;

  if (!w->no_pwait2)
    {
      n = epoll_pwait2 (w->epoll_fd, events, MAX_EVENTS, &timeout, NULL);
      w->no_pwait2 = n < 0 && (errno == ENOSYS || errno == EPERM);
    }
  if (w->no_pwait2)
    n = epoll_wait (w->epoll_fd, events, MAX_EVENTS, (int) MIN ((w->nap_us + 999) / 1000, G_MAXINT));
  over = g_get_monotonic_time () - before - w->nap_us;
  g_atomic_int_inc (&w->naps);
  if (n == 0)
    w->overshoot_us += (CLAMP (over, 0, (gint64) w->coalesce_us) - w->overshoot_us) / 8;
  return n;
}

static gpointer
worker_thread (gpointer data)
{
  VhostWorker *w = data;
  struct epoll_event events[MAX_EVENTS];
  gint64 idle_since = 0;
  gint64 asleep_idle_since = 0; /* the worker sleeps: when its last work ended */
  gboolean asleep_contended = FALSE; /* before its polling interval ended (worker_check_yield()) */
  gboolean run_all = TRUE; /* call every queue, kicked or not */
  gboolean polling = FALSE;
  gboolean nap = FALSE;    /* coalescing: sleep before the next round */

  /* Naps of a few microseconds: a timer slack of the default 50 would make them
   * several times as long. */
  prctl (PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  for (;;)
    {
      /* While busy polling, the kicks are off and pause requests show in the
       * atomic flag: no system call per round but a nap's. */
      int n = !polling ? epoll_wait (w->epoll_fd, events, MAX_EVENTS, run_all ? 0 : -1)
              : nap    ? worker_nap (w, events)
                       : 0;
      gboolean poll = w->poll_us > 0 || w->n_pollers > 0;
      gboolean more = FALSE, work = FALSE, full = FALSE;

      if (n < 0 && errno != EINTR)
        {
          g_critical ("vhost worker: epoll_wait: %s", g_strerror (errno));
          break;
        }
      /* Drain first, then look at the pause flag: a pause requested after the
       * look leaves its write on the control fd for the next epoll_wait. */
      for (int i = 0; i < n; i++)
        {
          VhostWorkerItem *item = watch_item (events[i].data.u64);

          if (item == NULL)
            drain (w->control_fd);
          else
            {
              /* Work woke the worker (a pause is no work). */
              work = TRUE;
              if (asleep_idle_since != 0)
                {
                  gint64 idle_us = g_get_monotonic_time () - asleep_idle_since;

                  worker_adapt_poll (w, idle_us);
                  /* A sleep that a CPU shared with another task cut short is one of
                   * the load's gaps, however long that task kept the CPU after a
                   * kick: the window's rate counts it. */
                  if (!asleep_contended)
                    {
                      if (idle_us >= COALESCE_WINDOW_US)
                        worker_coalesce_reset (w);
                      else
                        worker_coalesce_skip (w, idle_us);
                    }
                }
              asleep_idle_since = 0;
              if (events[i].data.u64 & 1)
                item->event_pending = TRUE; /* not ours to read */
              else
                drain (item->kick_fd);
            }
        }
      nap = FALSE;
      if (g_atomic_int_get (&w->pause_requested))
        {
          if (!worker_check_control (w))
            break;
          /* Queues may have changed, or have buffers that came without a kick. */
          run_all = TRUE;
          worker_coalesce_reset (w);
          continue;
        }
      /* Woken from its sleep by the control fd alone (a pause that the polling
       * loop took from the flag left its write there): back to sleep. */
      if (!run_all && !polling && !work)
        continue;
      if (!run_all && !polling)
        for (int i = 0; i < n; i++)
          {
            VhostWorkerItem *item = watch_item (events[i].data.u64);

            if (item != NULL)
              more |= item->func (item, poll);
          }
      if (run_all || polling)
        for (guint i = 0; i < w->items->len; i++)
          {
            VhostWorkerItem *item = g_ptr_array_index (w->items, i);

            more |= item->func (item, poll);
            item->window_taken += item->taken;
            full |= item->capacity > 0 && item->taken >= item->capacity;
          }
      run_all = FALSE;
      if (!poll)
        {
          /* A queue that stopped at its budget goes round again without a kick. */
          run_all = more;
          polling = FALSE;
          continue;
        }
      /* Busy polling: go round until no queue has had work for poll_now_us, then
       * re-arm the notifications and sleep. */
      polling = TRUE; /* a queue was called: its notifications are off now */
      if (more)
        {
          idle_since = 0;
          /* A ring found full held the front-end back (a nap woke late, or the
           * front-end sent a burst). What waits behind it comes as fast as the
           * worker takes it: if the next nap finds the ring full again, napping on
           * would drain that backlog a ring per nap, at the naps' pace (after a
           * host stalled a vCPU for milliseconds, for tens of milliseconds).
           * Polling takes it at once; the naps go on when the worker has caught up
           * (below). A small backlog, the next nap takes with its batch. */
          w->full_rounds = full ? w->full_rounds + 1 : 0;
          w->catching_up |= w->full_rounds >= 2;
          nap = w->coalesce_us > 0 && worker_coalesce (w) && !w->catching_up;
        }
      else
        {
          /* A round that found nothing gives the CPU to whatever waits for it: on
           * a machine with few CPUs that is often what the queues wait for, the
           * io_uring kernel thread that completes a buffered write (or a vCPU).
           * Spinning instead kept it waiting for the scheduler to preempt the
           * worker: vhost-user-blk's buffered 4 KiB writes to an ext4 image at
           * depth 1 took 29 us instead of 11. A task that keeps the CPU when given
           * it, the worker sleeps for instead (worker_check_yield). */
          gint64 now = g_get_monotonic_time ();
          gboolean contended;

          if (w->n_pollers > 0 || now >= w->contended_until)
            {
              gint64 before = now;

              sched_yield ();
              now = g_get_monotonic_time ();
              worker_check_yield (w, before, now);
            }
          contended = w->n_pollers == 0 && now < w->contended_until;
          if (idle_since == 0)
            idle_since = now;
          w->full_rounds = 0;
          /* Caught up when nothing came for two of the intervals the naps' rate
           * has between chains: a front-end that refills a ring from a backlog
           * leaves shorter gaps. */
          if (w->catching_up && (w->nap_rate <= 0 || (double) (now - idle_since) * w->nap_rate >= 2))
            w->catching_up = FALSE;
          if (w->n_pollers == 0 && (contended || now - idle_since >= w->poll_now_us))
            {
              polling = worker_arm_all (w);
              if (!polling)
                {
                  /* Nothing came for the whole interval (or, the CPU shared, for
                   * a round): no backlog is left. */
                  asleep_idle_since = idle_since;
                  asleep_contended = now - idle_since < w->poll_now_us;
                  w->catching_up = FALSE;
                }
              idle_since = 0;
            }
        }
    }
  return NULL;
}

VhostWorker *
vhost_worker_new (const char *name, GError **error)
{
  VhostWorker *w = g_new0 (VhostWorker, 1);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

  w->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  w->control_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->epoll_fd < 0 || w->control_fd < 0 || epoll_ctl (w->epoll_fd, EPOLL_CTL_ADD, w->control_fd, &ev) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot create a ring worker: %s", g_strerror (errsv));
      if (w->epoll_fd >= 0)
        close (w->epoll_fd);
      if (w->control_fd >= 0)
        close (w->control_fd);
      g_free (w);
      return NULL;
    }
  w->items = g_ptr_array_new ();
  w->backoff_us = COALESCE_BACKOFF_START_US;
  g_mutex_init (&w->mutex);
  g_cond_init (&w->cond);
  w->thread = g_thread_new (name, worker_thread, w);
  return w;
}

static void
worker_wake (VhostWorker *w)
{
  while (eventfd_write (w->control_fd, 1) < 0 && errno == EINTR)
    ;
}

void
vhost_worker_free (VhostWorker *w)
{
  if (w == NULL)
    return;
  g_mutex_lock (&w->mutex);
  w->quit = TRUE;
  g_atomic_int_set (&w->pause_requested, 1);
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->mutex);
  worker_wake (w);
  g_thread_join (w->thread);
  for (guint i = 0; i < w->items->len; i++)
    ((VhostWorkerItem *) g_ptr_array_index (w->items, i))->worker = NULL;
  g_ptr_array_unref (w->items);
  close (w->epoll_fd);
  close (w->control_fd);
  g_mutex_clear (&w->mutex);
  g_cond_clear (&w->cond);
  g_free (w);
}

/* Returns once the worker is outside every queue's code, and keeps it there until
 * the matching vhost_worker_resume(). Pauses nest. */
void
vhost_worker_pause (VhostWorker *w)
{
  g_mutex_lock (&w->mutex);
  if (w->pause_count++ == 0)
    {
      g_atomic_int_set (&w->pause_requested, 1);
      worker_wake (w);
    }
  while (!w->paused)
    g_cond_wait (&w->cond, &w->mutex);
  g_mutex_unlock (&w->mutex);
}

void
vhost_worker_resume (VhostWorker *w)
{
  g_mutex_lock (&w->mutex);
  g_assert (w->pause_count > 0);
  if (--w->pause_count == 0)
    {
      g_atomic_int_set (&w->pause_requested, 0);
      g_cond_broadcast (&w->cond);
    }
  g_mutex_unlock (&w->mutex);
}

void
vhost_worker_set_poll_us (VhostWorker *w, guint poll_us)
{
  vhost_worker_pause (w);
  w->poll_us = w->poll_now_us = poll_us;
  vhost_worker_resume (w);
}

void
vhost_worker_set_coalesce_us (VhostWorker *w, guint coalesce_us)
{
  vhost_worker_pause (w);
  w->coalesce_us = coalesce_us;
  w->backoff_until = 0;
  w->backoff_us = COALESCE_BACKOFF_START_US;
  worker_coalesce_reset (w);
  vhost_worker_resume (w);
}

guint64
vhost_worker_get_naps (VhostWorker *w)
{
  return (guint) g_atomic_int_get (&w->naps);
}

guint64
vhost_worker_get_contentions (VhostWorker *w)
{
  return (guint) g_atomic_int_get (&w->contentions);
}

guint
vhost_worker_get_poll_now_us (VhostWorker *w)
{
  guint poll_now_us;

  vhost_worker_pause (w);
  poll_now_us = w->poll_now_us;
  vhost_worker_resume (w);
  return poll_now_us;
}

static gboolean
watch_event_fd (VhostWorker *w, VhostWorkerItem *item, int fd, GError **error)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = watch_tag (item, TRUE) };

  if (fd >= 0 && epoll_ctl (w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot watch event fd %d: %s", fd, g_strerror (errsv));
      return FALSE;
    }
  /* It may have become readable before: let the queue look once. */
  item->event_pending = fd >= 0;
  return TRUE;
}

gboolean
vhost_worker_attach (VhostWorker *w, VhostWorkerItem *item, GError **error)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = watch_tag (item, FALSE) };
  gboolean ok = TRUE;

  g_return_val_if_fail (item->worker == NULL, FALSE);
  vhost_worker_pause (w);
  if (item->kick_fd >= 0 && epoll_ctl (w->epoll_fd, EPOLL_CTL_ADD, item->kick_fd, &ev) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot watch a kick eventfd: %s", g_strerror (errsv));
      ok = FALSE;
    }
  else if (!watch_event_fd (w, item, item->event_fd, error))
    {
      if (item->kick_fd >= 0)
        epoll_ctl (w->epoll_fd, EPOLL_CTL_DEL, item->kick_fd, NULL);
      ok = FALSE;
    }
  else
    {
      g_ptr_array_add (w->items, item);
      item->worker = w;
      if (item->kick_fd < 0)
        w->n_pollers++; /* no kicks will come: poll it */
    }
  /* On resume the worker looks at every queue once: buffers may have been made
   * available before the kick fd was watched. */
  vhost_worker_resume (w);
  return ok;
}

void
vhost_worker_detach (VhostWorkerItem *item)
{
  VhostWorker *w = item->worker;

  if (w == NULL)
    return;
  vhost_worker_pause (w);
  if (item->kick_fd >= 0)
    epoll_ctl (w->epoll_fd, EPOLL_CTL_DEL, item->kick_fd, NULL);
  else
    w->n_pollers--;
  if (item->event_fd >= 0)
    epoll_ctl (w->epoll_fd, EPOLL_CTL_DEL, item->event_fd, NULL);
  g_ptr_array_remove (w->items, item);
  item->worker = NULL;
  vhost_worker_resume (w);
}


gboolean
vhost_worker_set_event_fd (VhostWorkerItem *item, int fd, GError **error)
{
  VhostWorker *w = item->worker;
  gboolean ok = TRUE;

  if (w == NULL)
    {
      item->event_fd = fd;
      return TRUE;
    }
  vhost_worker_pause (w);
  if (item->event_fd >= 0)
    epoll_ctl (w->epoll_fd, EPOLL_CTL_DEL, item->event_fd, NULL);
  item->event_fd = -1;
  if (watch_event_fd (w, item, fd, error))
    item->event_fd = fd;
  else
    ok = FALSE;
  vhost_worker_resume (w);
  return ok;
}
