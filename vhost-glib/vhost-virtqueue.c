/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVirtqueue: the device side of one queue, in a worker thread or on the main context. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <glib-unix.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vhost-virtqueue-private.h"
#include "core/vhost-guard.h"
#include "core/vhost-log-limit.h"
#include "vhost-enum-types.h"
#include "vhost-types.h"

/**
 * SECTION:vhost-virtqueue
 * @title: VhostVirtqueue
 * @short_description: a device-side virtqueue
 *
 * A #VhostVirtqueue is one queue of a device served by #VhostUserSlave
 * (vhost_user_slave_get_virtqueue()). The slave starts and stops it as the
 * front-end configures it; the device only processes it.
 *
 * In the default dispatch mode, %VHOST_VIRTQUEUE_DISPATCH_WORKER, the queue runs in
 * a worker thread that sleeps on the kick eventfd (or busy-polls, see
 * #VhostUserSlave:busy-poll-us), and calls the #VhostVirtqueueHandler set with
 * vhost_virtqueue_set_handler(). The handler pops chains with vhost_virtqueue_pop()
 * as iovecs into guest memory, without copying, and pushes them back with
 * vhost_virtqueue_push(). Nothing on that path allocates, takes a lock or touches
 * a main loop. Queues with the same worker group (vhost_virtqueue_set_worker_group())
 * share a thread.
 *
 * A handler that answers each chain by filling its writable buffers:
 * |[<!-- language="C" -->
 * static void
 * handle_queue (VhostVirtqueue *queue, gpointer user_data)
 * {
 *   struct iovec iov[VHOST_VIRTQUEUE_MAX_IOV];
 *   VhostVirtqueueElement element;
 *
 *   while (vhost_virtqueue_pop (queue, &element, iov, G_N_ELEMENTS (iov)))
 *     {
 *       gsize written = fill (&iov[element.n_out], element.n_in); // the writable buffers
 *
 *       vhost_virtqueue_push (queue, &element, written);
 *     }
 * }
 * ]|
 *
 * In %VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT mode, for bindings, the kicks arrive as
 * #VhostVirtqueue::kick on the slave's #GMainContext, where
 * vhost_virtqueue_pop_request() and vhost_virtqueue_push_request() give the chains
 * as #VhostVirtqueueRequest objects, one at a time or, with
 * vhost_virtqueue_pop_requests() and vhost_virtqueue_push_requests(), in batches:
 * |[<!-- language="Python" -->
 * def on_kick(queue):
 *     while requests := queue.pop_requests(64):
 *         lengths = []
 *         for request in requests:
 *             data = request.read()
 *             request.write(0, data[::-1])
 *             lengths.append(len(data))
 *         queue.push_requests(requests, lengths)
 * ]|
 *
 * Every index, address and length read from the rings is checked. A driver that
 * breaks the rules (a descriptor loop, a buffer outside guest memory, a chain
 * longer than the queue...) breaks the queue: it stops, #VhostVirtqueue::broken
 * names what was wrong, and the slave tells the front-end (NEEDS_RESET in the
 * device status when STATUS was negotiated, and the vring's error eventfd).
 *
 * What a driver can make a device log, it can make it log at any rate: a device
 * logs those messages with vhost_virtqueue_log() (or
 * vhost_virtqueue_log_message() from bindings), which lets through a burst of
 * 10 messages per queue and reason and then one a second, and prints how many
 * it dropped ("Queue 0: 1234 similar messages suppressed (reason)") before the
 * next one it lets through, or when the queue stops.
 */

/**
 * VhostVirtqueue:
 *
 * A device-side virtqueue. All its fields are private.
 */

/* The public element is the core ring's element, used as it is: the same layout. */
G_STATIC_ASSERT (sizeof (VhostVirtqueueElement) == sizeof (VhostRingElement));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, id) == G_STRUCT_OFFSET (VhostRingElement, id));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, n_descs) == G_STRUCT_OFFSET (VhostRingElement, n_descs));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, n_out) == G_STRUCT_OFFSET (VhostRingElement, n_out));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, n_in) == G_STRUCT_OFFSET (VhostRingElement, n_in));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, slot) == G_STRUCT_OFFSET (VhostRingElement, slot));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostVirtqueueElement, iov) == G_STRUCT_OFFSET (VhostRingElement, iov));
#define RING_ELEMENT(e) ((VhostRingElement *) (e))
#define CONST_RING_ELEMENT(e) ((const VhostRingElement *) (e))

struct _VhostVirtqueueRequest
{
  gatomicrefcount ref_count;
  VhostVirtqueue *queue;            /* (owned) */
  guint mem_epoch;                  /* the queue's memory epoch when it was popped */
  VhostVirtqueueElement element;
  struct iovec iov[];
};

/* A handler the core queue calls at a stop, with its data. */
typedef struct
{
  VhostVirtqueueHandler func;
  gpointer data;
  GDestroyNotify notify;
} QueueCallback;

struct _VhostVirtqueue
{
  GObject parent_instance;

  GMainContext *context;            /* (owned) */
  VhostQueue queue;                 /* the core queue, which the slave's engine starts and stops */
  GSource *kick_source;             /* (owned) (nullable) while running on the main context */
  GSource *again_source;            /* (owned) (nullable) */

  VhostVirtqueueHandler handler;
  gpointer handler_data;
  GDestroyNotify handler_notify;
  QueueCallback drain;
  QueueCallback suspend;
  VhostVirtqueueDispatch dispatch;
  gboolean no_handler;              /* started in worker mode without a handler: broken by the device */
  struct iovec *scratch;            /* (owned) for pop_request */
  VhostLogLimiter log_limiter;      /* what the driver can make the queue's device log (any thread) */
};

G_DEFINE_FINAL_TYPE (VhostVirtqueue, vhost_virtqueue, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (VhostVirtqueueRequest, vhost_virtqueue_request, vhost_virtqueue_request_ref,
                     vhost_virtqueue_request_unref)

enum {
  PROP_0,
  PROP_INDEX,
  PROP_SIZE,
  PROP_RUNNING,
  PROP_DISPATCH,
  PROP_WORKER_GROUP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_KICK,
  SIGNAL_BROKEN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
vhost_virtqueue_init (VhostVirtqueue *self)
{
}

static void
vhost_virtqueue_dispose (GObject *object)
{
  VhostVirtqueue *self = VHOST_VIRTQUEUE (object);

  vhost_queue_stop (&self->queue);
  vhost_virtqueue_set_handler (self, NULL, NULL, NULL);
  vhost_virtqueue_set_drain_handler (self, NULL, NULL, NULL);
  vhost_virtqueue_set_suspend_handler (self, NULL, NULL, NULL);
  G_OBJECT_CLASS (vhost_virtqueue_parent_class)->dispose (object);
}

static void
vhost_virtqueue_finalize (GObject *object)
{
  VhostVirtqueue *self = VHOST_VIRTQUEUE (object);

  g_main_context_unref (self->context);
  g_free (self->scratch);
  vhost_log_limiter_clear (&self->log_limiter);
  G_OBJECT_CLASS (vhost_virtqueue_parent_class)->finalize (object);
}

static void
vhost_virtqueue_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostVirtqueue *self = VHOST_VIRTQUEUE (object);

  switch (prop_id)
    {
    case PROP_INDEX:
      g_value_set_uint (value, self->queue.ring.index);
      break;
    case PROP_SIZE:
      g_value_set_uint (value, self->queue.ring.num);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, self->queue.running);
      break;
    case PROP_DISPATCH:
      g_value_set_enum (value, self->dispatch);
      break;
    case PROP_WORKER_GROUP:
      g_value_set_uint (value, self->queue.worker_group);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_virtqueue_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostVirtqueue *self = VHOST_VIRTQUEUE (object);

  switch (prop_id)
    {
    case PROP_DISPATCH:
      vhost_virtqueue_set_dispatch (self, g_value_get_enum (value));
      break;
    case PROP_WORKER_GROUP:
      vhost_virtqueue_set_worker_group (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_virtqueue_class_init (VhostVirtqueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_virtqueue_dispose;
  object_class->finalize = vhost_virtqueue_finalize;
  object_class->get_property = vhost_virtqueue_get_property;
  object_class->set_property = vhost_virtqueue_set_property;

  /**
   * VhostVirtqueue:index:
   *
   * The queue's index in its device.
   */
  properties[PROP_INDEX] = g_param_spec_uint ("index", "Index", "The queue's index in its device.", 0, G_MAXUINT, 0,
                                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostVirtqueue:size:
   *
   * The queue size the front-end set (SET_VRING_NUM), or 0.
   */
  properties[PROP_SIZE] = g_param_spec_uint ("size", "Size",
                                             "The queue size the front-end set (SET_VRING_NUM), or 0.", 0, 32768, 0,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostVirtqueue:running:
   *
   * Whether the queue is being processed.
   */
  properties[PROP_RUNNING] = g_param_spec_boolean ("running", "Running", "Whether the queue is being processed.",
                                                   FALSE,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
                                                     G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostVirtqueue:dispatch:
   *
   * Where the queue's kicks are handled. Takes effect the next time the queue starts.
   */
  properties[PROP_DISPATCH] = g_param_spec_enum ("dispatch", "Dispatch", "Where the queue's kicks are handled.",
                                                 VHOST_TYPE_VIRTQUEUE_DISPATCH,
                                                 VHOST_VIRTQUEUE_DISPATCH_WORKER,
                                                 G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                   G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostVirtqueue:worker-group:
   *
   * The worker thread the queue runs in: queues with the same group share one.
   * Defaults to the queue's index (one thread per queue). Takes effect the next
   * time the queue starts.
   */
  properties[PROP_WORKER_GROUP] = g_param_spec_uint ("worker-group", "Worker group",
                                                     "The worker thread the queue runs in: queues with the same "
                                                     "group share one.", 0, G_MAXUINT, 0,
                                                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                       G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostVirtqueue::kick:
   * @queue: the #VhostVirtqueue
   *
   * In %VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT mode: the driver made buffers
   * available. Pop them with vhost_virtqueue_pop_request() until it returns %NULL
   * and push them back; the queue publishes them and notifies the driver after the
   * signal.
   */
  signals[SIGNAL_KICK] = g_signal_new ("kick", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 0);
  /**
   * VhostVirtqueue::broken:
   * @queue: the #VhostVirtqueue
   * @error: what the driver did wrong, in the %VHOST_ERROR domain
   *
   * The driver broke the rules of the ring and the queue stopped. Emitted once,
   * on the slave's #GMainContext.
   */
  signals[SIGNAL_BROKEN] = g_signal_new ("broken", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                         NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static const VhostQueueHooks queue_hooks;

VhostVirtqueue *
vhost_virtqueue_new (guint index, GMainContext *context)
{
  VhostVirtqueue *self = g_object_new (VHOST_TYPE_VIRTQUEUE, NULL);
  g_autofree char *label = g_strdup_printf ("Queue %u: ", index);

  self->context = g_main_context_ref (context);
  vhost_queue_init (&self->queue, index, &queue_hooks, self);
  vhost_log_limiter_init (&self->log_limiter, label, VHOST_LOG_LIMIT_BURST, VHOST_LOG_LIMIT_INTERVAL_US);
  return self;
}

VhostQueue *
vhost_virtqueue_get_queue (VhostVirtqueue *self)
{
  return &self->queue;
}

/* Whether a request still refers to mapped guest memory. */
static gboolean
request_check (VhostVirtqueueRequest *request, GError **error)
{
  if (request->mem_epoch == request->queue->queue.mem_epoch)
    return TRUE;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
               "vring %u: the request's buffers are gone (the front-end changed or dropped guest memory since it "
               "was popped)",
               request->queue->queue.ring.index);
  return FALSE;
}

/* Main-context dispatch touches guest memory in short stretches of C, each
 * under a guard (core/vhost-guard.h): a fault there (the front-end truncated a
 * file of guest memory) breaks the queue and fails the call. */
static void
queue_fault (VhostVirtqueue *self, VhostGuard *guard, GError **error)
{
  vhost_queue_fault (&self->queue, guard->fault);
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, self->queue.ring.error);
}

/* The source holds the queue by weak reference: the queue holds the context, and
 * a report still pending when the context's owner drops it must not keep both. */
typedef struct
{
  GWeakRef queue;
  guint generation;
  char message[sizeof ((VhostRing *) NULL)->error]; /* what broke it, taken when it broke */
} BrokenReport;

static gboolean
report_broken_cb (gpointer data)
{
  BrokenReport *report = data;
  g_autoptr(VhostVirtqueue) self = g_weak_ref_get (&report->queue);
  g_autoptr(GError) error = NULL;

  if (self == NULL)
    return G_SOURCE_REMOVE;

  /* A report from before the queue was set up again is stale; a queue stopped
   * since (by a request that came first) is still broken and is reported. */
  if (report->generation != (guint) g_atomic_int_get (&self->queue.generation))
    return G_SOURCE_REMOVE;
  vhost_queue_stop (&self->queue);
  /* The ring's own message may be gone by now (a reset or a disconnect sets the
   * ring up afresh): the report's copy. A front-end can break a queue again at
   * every start, so both messages are rate-limited. */
  error = g_error_new_literal (VHOST_ERROR, VHOST_ERROR_BROKEN, report->message);
  if (self->no_handler)
    vhost_virtqueue_log (self, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "no handler", "%s", error->message);
  else
    vhost_virtqueue_log (self, G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "broken ring", "The driver broke a queue: %s",
                         error->message);
  g_signal_emit (self, signals[SIGNAL_BROKEN], 0, error);
  return G_SOURCE_REMOVE;
}

static void
broken_report_free (gpointer data)
{
  BrokenReport *report = data;

  g_weak_ref_clear (&report->queue);
  g_free (report);
}

/* The core queue's broken hook, in the thread where the ring broke (a worker or
 * the main context): hand the report over to the context. */
static void
queue_broken (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;
  BrokenReport *report = g_new (BrokenReport, 1);
  GSource *source;

  g_weak_ref_init (&report->queue, self);
  report->generation = g_atomic_int_get (&queue->generation);
  g_strlcpy (report->message, queue->ring.error, sizeof report->message);
  /* Always through a source: g_main_context_invoke() would run the callback
   * right here, in the worker, if it could acquire the context. */
  source = g_idle_source_new ();
  g_source_set_static_name (source, "[vhost-glib] virtqueue broken");
  g_source_set_callback (source, report_broken_cb, report, broken_report_free);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

static void schedule_again (VhostVirtqueue *self);

/* Main-context dispatch: one round of kick signal, publish, re-arm. */
static void
queue_dispatch_main (VhostVirtqueue *self)
{
  VhostGuard guard;
  volatile gboolean again = FALSE;

  g_object_ref (self);
  if (VHOST_GUARD_ENTER (&guard))
    {
      vhost_queue_round_begin (&self->queue);
      vhost_guard_leave (&guard);
      g_signal_emit (self, signals[SIGNAL_KICK], 0);
    }
  else
    queue_fault (self, &guard, NULL);
  if (VHOST_GUARD_ENTER (&guard))
    {
      again = vhost_queue_round_end (&self->queue);
      vhost_guard_leave (&guard);
    }
  else
    queue_fault (self, &guard, NULL);
  /* More came in meanwhile: go round again from the loop, not recursively. */
  if (again)
    schedule_again (self);
  g_object_unref (self);
}

static gboolean
again_cb (gpointer data)
{
  VhostVirtqueue *self = data;

  g_clear_pointer (&self->again_source, g_source_unref);
  queue_dispatch_main (self);
  return G_SOURCE_REMOVE;
}

/* Main-context dispatch: one more round from the loop, unless one is pending. */
static void
schedule_again (VhostVirtqueue *self)
{
  if (self->again_source != NULL)
    return;
  self->again_source = g_idle_source_new ();
  g_source_set_static_name (self->again_source, "[vhost-glib] virtqueue again");
  g_source_set_callback (self->again_source, again_cb, self, NULL);
  g_source_attach (self->again_source, self->context);
}

static gboolean
kick_cb (gint fd, GIOCondition condition, gpointer data)
{
  eventfd_t value;

  while (eventfd_read (fd, &value) < 0 && errno == EINTR)
    ;
  queue_dispatch_main (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
poll_cb (gpointer data)
{
  VhostVirtqueue *self = data;
  VhostGuard guard;
  gboolean avail;

  if (!VHOST_GUARD_ENTER (&guard))
    {
      queue_fault (self, &guard, NULL);
      return G_SOURCE_CONTINUE;
    }
  avail = vhost_queue_has_avail (&self->queue);
  vhost_guard_leave (&guard);
  if (avail)
    queue_dispatch_main (self);
  return G_SOURCE_CONTINUE;
}

/* The core queue started on the main context: watch its kick fd, or poll it. */
static void
queue_attach (VhostQueue *queue, int kick_fd, gpointer data)
{
  VhostVirtqueue *self = data;

  if (kick_fd >= 0)
    {
      self->kick_source = g_unix_fd_source_new (kick_fd, G_IO_IN);
      g_source_set_static_name (self->kick_source, "[vhost-glib] virtqueue kick");
      g_source_set_callback (self->kick_source, (GSourceFunc) (void (*) (void)) kick_cb, self, NULL);
    }
  else
    {
      /* No kick fd: the front-end asked for polling (or kicks in-band). */
      self->kick_source = g_timeout_source_new (1);
      g_source_set_static_name (self->kick_source, "[vhost-glib] virtqueue poll");
      g_source_set_callback (self->kick_source, poll_cb, self, NULL);
    }
  g_source_attach (self->kick_source, self->context);
  /* Buffers may already be waiting. */
  schedule_again (self);
}

static void
queue_detach (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;

  if (self->kick_source != NULL)
    g_source_destroy (self->kick_source);
  g_clear_pointer (&self->kick_source, g_source_unref);
  if (self->again_source != NULL)
    g_source_destroy (self->again_source);
  g_clear_pointer (&self->again_source, g_source_unref);
}

static void
queue_wake (VhostQueue *queue, gpointer data)
{
  schedule_again (data);
}

static void
queue_running_changed (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;

  /* What was held back while it ran is told now (as far as the rate allows). */
  if (!queue->running)
    vhost_log_limiter_flush (&self->log_limiter, g_get_monotonic_time ());
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  /* Nothing would ever process a worker-mode queue without a handler (a binding
   * that forgot the main-context dispatch): fail loudly instead of hanging the driver. */
  if (!queue->running)
    return;
  self->no_handler = !queue->main_context && self->handler == NULL;
  if (self->no_handler)
    {
      g_snprintf (queue->ring.error, sizeof queue->ring.error,
                  "vring %u started in worker mode with no handler: set one with vhost_virtqueue_set_handler(), "
                  "or use VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT and the kick signal",
                  queue->ring.index);
      vhost_queue_report_broken (queue);
    }
}

static const VhostQueueHooks queue_hooks = {
  .broken = queue_broken,
  .attach = queue_attach,
  .detach = queue_detach,
  .wake = queue_wake,
  .running_changed = queue_running_changed,
};

/* The core queue's handlers call the public ones with the GObject. */
static void
call_handler (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;

  self->handler (self, self->handler_data);
}

static void
call_drain (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;

  self->drain.func (self, self->drain.data);
}

static void
call_suspend (VhostQueue *queue, gpointer data)
{
  VhostVirtqueue *self = data;

  self->suspend.func (self, self->suspend.data);
}

static void
callback_set (QueueCallback *callback, VhostVirtqueueHandler func, gpointer data, GDestroyNotify notify)
{
  if (callback->notify != NULL)
    callback->notify (callback->data);
  callback->func = func;
  callback->data = data;
  callback->notify = notify;
}

/**
 * vhost_virtqueue_get_index:
 * @queue: a #VhostVirtqueue
 *
 * Gets the queue's index in its device.
 *
 * Returns: the queue's index in its device
 */
guint
vhost_virtqueue_get_index (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), 0);
  return queue->queue.ring.index;
}

/**
 * vhost_virtqueue_get_size:
 * @queue: a #VhostVirtqueue
 *
 * Gets the queue size the front-end set, or 0.
 *
 * Returns: the queue size the front-end set, or 0
 */
guint
vhost_virtqueue_get_size (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), 0);
  return queue->queue.ring.num;
}

/**
 * vhost_virtqueue_get_running:
 * @queue: a #VhostVirtqueue
 *
 * Gets whether the queue is being processed.
 *
 * Returns: whether the queue is being processed
 */
gboolean
vhost_virtqueue_get_running (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  return queue->queue.running;
}

/**
 * vhost_virtqueue_get_broken:
 * @queue: a #VhostVirtqueue
 *
 * Gets whether the driver broke the queue (until the front-end sets it up again).
 *
 * Returns: whether the driver broke the queue (until the front-end sets it up again)
 */
gboolean
vhost_virtqueue_get_broken (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  return queue->queue.ring.broken;
}

/**
 * vhost_virtqueue_log: (skip)
 * @queue: a #VhostVirtqueue
 * @log_domain: (nullable): the log domain, usually %G_LOG_DOMAIN
 * @log_level: the level: one of %G_LOG_LEVEL_CRITICAL, %G_LOG_LEVEL_WARNING,
 *   %G_LOG_LEVEL_MESSAGE, %G_LOG_LEVEL_INFO and %G_LOG_LEVEL_DEBUG
 * @reason: what kind of message it is: a short constant text, such as "chain
 *   without a status byte", which also ends the count line of the messages dropped
 * @format: a printf()-style format
 * @...: the arguments of @format
 *
 * Logs, with g_log(), a message that the driver (or the front-end) can cause,
 * such as a malformed chain, at a bounded rate: each queue lets through a burst
 * of 10 messages of each @reason, then one a second. The messages dropped are
 * counted, and the next message of that reason that goes out is preceded by one
 * line, at the same level, "Queue N: COUNT similar messages suppressed
 * (@reason)"; a count still pending when the queue stops is printed then. The
 * message is formatted only if it goes out. The state is kept per queue across
 * connections, so that a front-end that reconnects is held to the same rate.
 *
 * A queue keeps apart 8 reasons; the messages of any further one share one
 * rate under the reason "other messages". Call it from any thread, the
 * queue's worker among them: it takes a lock, and allocates only for the
 * message it lets through.
 */
void
vhost_virtqueue_log (VhostVirtqueue *queue,
                     const gchar *log_domain,
                     GLogLevelFlags log_level,
                     const gchar *reason,
                     const gchar *format,
                     ...)
{
  va_list args;

  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));

  va_start (args, format);
  vhost_log_limiter_logv_now (&queue->log_limiter, log_domain, log_level, reason, format, args);
  va_end (args);
}

/**
 * vhost_virtqueue_log_message: (rename-to vhost_virtqueue_log)
 * @queue: a #VhostVirtqueue
 * @log_domain: (nullable): the log domain
 * @log_level: the level, as for vhost_virtqueue_log()
 * @reason: what kind of message it is, as for vhost_virtqueue_log()
 * @message: the message
 *
 * Logs @message at a bounded rate, as vhost_virtqueue_log() does; for bindings,
 * which format their messages themselves.
 */
void
vhost_virtqueue_log_message (VhostVirtqueue *queue,
                             const gchar *log_domain,
                             GLogLevelFlags log_level,
                             const gchar *reason,
                             const gchar *message)
{
  g_return_if_fail (message != NULL);
  vhost_virtqueue_log (queue, log_domain, log_level, reason, "%s", message);
}

/**
 * vhost_virtqueue_set_handler: (skip)
 * @queue: a #VhostVirtqueue
 * @handler: (nullable): the function that processes the queue in its worker thread
 * @user_data: data for @handler
 * @notify: (nullable): frees @user_data
 *
 * Sets the function that processes the queue in %VHOST_VIRTQUEUE_DISPATCH_WORKER
 * mode. Call it while the queue is not running (for example from the device's
 * instance init). A queue that starts in this mode without a handler is broken
 * at once (#VhostVirtqueue::broken, with a warning), since nothing would process it.
 */
void
vhost_virtqueue_set_handler (VhostVirtqueue *queue,
                             VhostVirtqueueHandler handler,
                             gpointer user_data,
                             GDestroyNotify notify)
{
  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));
  g_return_if_fail (!queue->queue.running);

  if (queue->handler_notify != NULL)
    queue->handler_notify (queue->handler_data);
  queue->handler = handler;
  queue->handler_data = user_data;
  queue->handler_notify = notify;
  queue->queue.handler = handler != NULL ? call_handler : NULL;
  queue->queue.handler_data = queue;
}

/**
 * vhost_virtqueue_set_drain_handler:
 * @queue: a #VhostVirtqueue
 * @handler: (nullable) (scope notified) (closure user_data): gives back the chains
 *   the device holds
 * @user_data: data for @handler
 * @notify: (nullable): frees @user_data
 *
 * Sets the function that runs before a running queue stops: when the front-end
 * changes the memory table or a vring, asks for its base, resets the device or
 * goes away. A device that keeps chains past its handler's return (asynchronous
 * I/O) must push them all there: wait for their I/O to finish, then
 * vhost_virtqueue_push() each one. After @handler returns, the ring's state is
 * final and guest memory may be unmapped.
 *
 * @handler runs in the thread that stops the queue (the slave's #GMainContext),
 * while the queue's worker is paused: it may use everything the queue's handler
 * uses, without locks.
 */
void
vhost_virtqueue_set_drain_handler (VhostVirtqueue *queue,
                                   VhostVirtqueueHandler handler,
                                   gpointer user_data,
                                   GDestroyNotify notify)
{
  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));
  g_return_if_fail (!queue->queue.running || handler == NULL);

  callback_set (&queue->drain, handler, user_data, notify);
  queue->queue.drain = handler != NULL ? call_drain : NULL;
  queue->queue.drain_data = queue;
}

/**
 * vhost_virtqueue_set_suspend_handler:
 * @queue: a #VhostVirtqueue
 * @handler: (nullable) (scope notified) (closure user_data): ends the I/O of the
 *   chains the device holds, without necessarily completing them
 * @user_data: data for @handler
 * @notify: (nullable): frees @user_data
 *
 * Sets the function that runs instead of the drain handler (see
 * vhost_virtqueue_set_drain_handler()) when the front-end stops the queue with
 * GET_VRING_BASE after negotiating
 * %VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, and the queue tracks its
 * chains in an inflight area (%VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD; the slave
 * offers the first only with the second). The specification then lets the
 * back-end suspend its requests instead of completing them, which is what a
 * live migration wants from a device whose I/O may take long.
 *
 * @handler must end the device's I/O on every chain it holds (cancel it, or wait
 * for what cannot be cancelled): after it returns, nothing may touch their
 * buffers. It pushes the chains whose I/O finished, with vhost_virtqueue_push(),
 * and forgets the others without pushing them: those stay in flight, recorded in
 * the inflight area, and vhost_virtqueue_pop() gives them again, before any
 * other chain, when the queue next starts, on this back-end or on one that gets
 * the area (SET_INFLIGHT_FD). Their requests must therefore be safe to do again.
 *
 * Without a suspend handler, or for any other stop, the drain handler runs. It
 * runs in the same thread and context as the drain handler.
 */
void
vhost_virtqueue_set_suspend_handler (VhostVirtqueue *queue,
                                     VhostVirtqueueHandler handler,
                                     gpointer user_data,
                                     GDestroyNotify notify)
{
  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));
  g_return_if_fail (!queue->queue.running || handler == NULL);

  callback_set (&queue->suspend, handler, user_data, notify);
  queue->queue.suspend = handler != NULL ? call_suspend : NULL;
  queue->queue.suspend_data = queue;
}

/**
 * vhost_virtqueue_set_event_fd:
 * @queue: a #VhostVirtqueue
 * @fd: a file descriptor, or -1 for none
 * @error: return location for a #GError
 *
 * Makes @fd wake the queue's handler in its worker thread, besides the kicks: the
 * completion eventfd or the io_uring of a device with asynchronous I/O, the TAP
 * of a network device's receive queue. @fd is watched edge-triggered and never
 * read by the library: the handler is called once when it becomes readable, and
 * need not consume everything; what is left does not call it again until more
 * arrives or the queue is kicked. While the worker busy-polls, the handler of a
 * queue with an event fd is called in every polling round, so it should check its
 * source without blocking.
 *
 * The handler then runs whether or not chains are available. The fd is not
 * owned: keep it open until it is replaced or the queue is finalized. Only
 * %VHOST_VIRTQUEUE_DISPATCH_WORKER mode watches it. Call it from the slave's
 * #GMainContext, running or not.
 *
 * Returns: %TRUE on success; %FALSE with @error set if @fd cannot be watched
 */
gboolean
vhost_virtqueue_set_event_fd (VhostVirtqueue *queue, gint fd, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  g_return_val_if_fail (fd >= -1, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return vhost_worker_set_event_fd (&queue->queue.item, fd, error);
}

/**
 * vhost_virtqueue_get_event_fd:
 * @queue: a #VhostVirtqueue
 *
 * Gets the file descriptor set with vhost_virtqueue_set_event_fd().
 *
 * Returns: the event fd, or -1
 */
gint
vhost_virtqueue_get_event_fd (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), -1);
  return queue->queue.item.event_fd;
}

/**
 * vhost_virtqueue_set_dispatch:
 * @queue: a #VhostVirtqueue
 * @dispatch: where the queue's kicks are handled
 *
 * Chooses between a worker thread and the main context. Takes effect the next
 * time the queue starts.
 */
void
vhost_virtqueue_set_dispatch (VhostVirtqueue *queue, VhostVirtqueueDispatch dispatch)
{
  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));

  if (queue->dispatch == dispatch)
    return;
  queue->dispatch = dispatch;
  queue->queue.main_context = dispatch == VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT;
  g_object_notify_by_pspec (G_OBJECT (queue), properties[PROP_DISPATCH]);
}

/**
 * vhost_virtqueue_get_dispatch:
 * @queue: a #VhostVirtqueue
 *
 * Gets where the queue's kicks are handled.
 *
 * Returns: where the queue's kicks are handled
 */
VhostVirtqueueDispatch
vhost_virtqueue_get_dispatch (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), VHOST_VIRTQUEUE_DISPATCH_WORKER);
  return queue->dispatch;
}

/**
 * vhost_virtqueue_set_worker_group:
 * @queue: a #VhostVirtqueue
 * @group: the worker thread's number
 *
 * Queues with the same group run in the same worker thread. Takes effect the next
 * time the queue starts.
 */
void
vhost_virtqueue_set_worker_group (VhostVirtqueue *queue, guint group)
{
  g_return_if_fail (VHOST_IS_VIRTQUEUE (queue));

  if (queue->queue.worker_group == group)
    return;
  queue->queue.worker_group = group;
  g_object_notify_by_pspec (G_OBJECT (queue), properties[PROP_WORKER_GROUP]);
}

/**
 * vhost_virtqueue_get_worker_group:
 * @queue: a #VhostVirtqueue
 *
 * Gets the queue's worker group.
 *
 * Returns: the queue's worker group
 */
guint
vhost_virtqueue_get_worker_group (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), 0);
  return queue->queue.worker_group;
}

/**
 * vhost_virtqueue_pop: (skip)
 * @queue: a #VhostVirtqueue
 * @element: (out caller-allocates): the chain
 * @iov: (array length=max_iov): storage for the chain's iovecs
 * @max_iov: the length of @iov
 *
 * Takes the next available chain. Call it from the queue's handler (or, in
 * main-context mode, from #VhostVirtqueue::kick). A chain that needs more than
 * @max_iov iovecs breaks the queue.
 *
 * With %VHOST_VIRTIO_F_ACCESS_PLATFORM, a chain whose translation is missing in
 * the device IOTLB is not available yet: %FALSE, and the queue's handler is
 * called again once the front-end sent it. A chain with a buffer the IOTLB does
 * not let the device reach as it must comes without any buffer (@element has
 * no iovec); give it back with length 0. A buffer may take one iovec per page.
 *
 * Returns: %TRUE if a chain was popped; %FALSE if none is available or the queue
 *   is broken
 */
gboolean
vhost_virtqueue_pop (VhostVirtqueue *queue, VhostVirtqueueElement *element, struct iovec *iov, guint max_iov)
{
  return vhost_ring_pop (&queue->queue.ring, RING_ELEMENT (element), iov, max_iov) > 0;
}

/**
 * vhost_virtqueue_pop_batch: (skip)
 * @queue: a #VhostVirtqueue
 * @elements: (out caller-allocates) (array length=n): the chains
 * @iov: storage for the chains' iovecs: @n times @max_iov of them
 * @max_iov: the iovecs each chain may use: chain k gets those from @iov + k * @max_iov
 * @n: how many chains to take at most
 *
 * Takes up to @n available chains, as that many vhost_virtqueue_pop() calls
 * would, in one call: on a packed ring, a cache line of four available
 * single-buffer chains is read at once.
 *
 * Returns: how many chains were popped: fewer than @n when the queue ran empty or
 *   broke
 */
guint
vhost_virtqueue_pop_batch (VhostVirtqueue *queue, VhostVirtqueueElement *elements, struct iovec *iov, guint max_iov,
                           guint n)
{
  return vhost_ring_pop_batch (&queue->queue.ring, RING_ELEMENT (elements), iov, max_iov, n);
}

/* Copy @n bytes to @dst, the whole 64-byte lines with streaming stores, which
 * do not bring the lines into this CPU's cache (and so do not wait for other
 * CPUs to hand them over). vhost_ring_flush() fences them before it publishes. */
static void
copy_streaming (guint8 *dst, const guint8 *src, gsize n)
{
#ifdef __SSE2__
  gsize head = (64 - (guintptr) dst % 64) % 64;

  if (n >= head + 64)
    {
      memcpy (dst, src, head);
      dst += head;
      src += head;
      n -= head;
      for (; n >= 64; n -= 64, dst += 64, src += 64)
        {
          __m128i a = _mm_loadu_si128 ((const __m128i *) src);
          __m128i b = _mm_loadu_si128 ((const __m128i *) src + 1);
          __m128i c = _mm_loadu_si128 ((const __m128i *) src + 2);
          __m128i d = _mm_loadu_si128 ((const __m128i *) src + 3);

          _mm_stream_si128 ((__m128i *) dst, a);
          _mm_stream_si128 ((__m128i *) dst + 1, b);
          _mm_stream_si128 ((__m128i *) dst + 2, c);
          _mm_stream_si128 ((__m128i *) dst + 3, d);
        }
    }
#endif
  memcpy (dst, src, n);
}

typedef enum
{
  COPY_FROM_IOV,
  COPY_TO_IOV,
  COPY_TO_IOV_STREAMING,
} CopyDirection;

/* Copy between a run of iovecs, from byte @offset on, and @buffer. */
static gsize
iov_copy (const struct iovec *iov, guint n, gsize offset, guint8 *buffer, gsize length, CopyDirection direction)
{
  gsize done = 0;

  for (guint i = 0; i < n && done < length; i++)
    {
      guint8 *base = iov[i].iov_base;
      gsize len = iov[i].iov_len;

      if (offset >= len)
        {
          offset -= len;
          continue;
        }
      len = MIN (len - offset, length - done);
      if (direction == COPY_FROM_IOV)
        memcpy (buffer + done, base + offset, len);
      else if (direction == COPY_TO_IOV)
        memcpy (base + offset, buffer + done, len);
      else
        copy_streaming (base + offset, buffer + done, len);
      done += len;
      offset = 0;
    }
  return done;
}

static gsize
iov_size (const struct iovec *iov, guint n)
{
  gsize size = 0;

  for (guint i = 0; i < n; i++)
    size += iov[i].iov_len;
  return size;
}

/**
 * vhost_virtqueue_element_read: (skip)
 * @element: a chain popped with vhost_virtqueue_pop()
 * @offset: where to start in the chain's readable bytes
 * @buffer: (array length=length): where to copy them
 * @length: how many bytes to copy at most
 *
 * Copies bytes out of the chain's readable buffers, as if they were one: a
 * header that the driver split across descriptors, for example.
 *
 * Returns: the number of bytes copied; less than @length at the end of the
 *   readable buffers
 */
gsize
vhost_virtqueue_element_read (const VhostVirtqueueElement *element, gsize offset, void *buffer, gsize length)
{
  return iov_copy (element->iov, element->n_out, offset, buffer, length, COPY_FROM_IOV);
}

/**
 * vhost_virtqueue_element_write: (skip)
 * @element: a chain popped with vhost_virtqueue_pop()
 * @offset: where to start in the chain's writable bytes
 * @buffer: (array length=length): the bytes to copy
 * @length: how many bytes to copy at most
 *
 * Copies bytes into the chain's writable buffers, as if they were one.
 *
 * Returns: the number of bytes copied; less than @length at the end of the
 *   writable buffers
 */
gsize
vhost_virtqueue_element_write (const VhostVirtqueueElement *element, gsize offset, const void *buffer, gsize length)
{
  return iov_copy (element->iov + element->n_out, element->n_in, offset, (guint8 *) buffer, length, COPY_TO_IOV);
}

/**
 * vhost_virtqueue_element_write_streaming: (skip)
 * @element: a chain popped with vhost_virtqueue_pop()
 * @offset: where to start in the chain's writable bytes
 * @buffer: (array length=length): the bytes to copy
 * @length: how many bytes to copy at most
 *
 * Copies bytes into the chain's writable buffers as
 * vhost_virtqueue_element_write() does, but writes the whole 64-byte cache
 * lines it covers with streaming (non-temporal) stores. These go past this
 * CPU's caches: the driver's copies of the lines are invalidated without the
 * lines first coming over to this CPU, so the copy does not wait for them. The
 * bytes before the first and after the last whole line are written as usual.
 *
 * Use it for data that the driver reads and this thread does not, such as
 * received frames. It pays off when the driver runs on a CPU that shares no
 * cache with the worker (another L3 or socket); when they share an L3 it costs
 * about the same as vhost_virtqueue_element_write() (doc/benchmarks.md has
 * both). Where there are no streaming stores (builds without SSE2) it is
 * vhost_virtqueue_element_write().
 *
 * Streaming stores are weakly ordered. The queue fences them before it
 * publishes used entries or sets dirty-log bits, and the worker before it
 * lets a drain handler run, so the driver never sees a chain before its data.
 * A chain written this way by a thread of the device's own and pushed from
 * another needs a store fence (`_mm_sfence()`) in the writing thread first.
 *
 * Returns: the number of bytes copied; less than @length at the end of the
 *   writable buffers
 */
gsize
vhost_virtqueue_element_write_streaming (const VhostVirtqueueElement *element,
                                         gsize offset,
                                         const void *buffer,
                                         gsize length)
{
  return iov_copy (element->iov + element->n_out, element->n_in, offset, (guint8 *) buffer, length,
                   COPY_TO_IOV_STREAMING);
}

/**
 * vhost_virtqueue_element_get_readable_size: (skip)
 * @element: a chain popped with vhost_virtqueue_pop()
 *
 * Adds up the lengths of the chain's readable buffers.
 *
 * Returns: the number of readable bytes
 */
gsize
vhost_virtqueue_element_get_readable_size (const VhostVirtqueueElement *element)
{
  return iov_size (element->iov, element->n_out);
}

/**
 * vhost_virtqueue_element_get_writable_size: (skip)
 * @element: a chain popped with vhost_virtqueue_pop()
 *
 * Adds up the lengths of the chain's writable buffers.
 *
 * Returns: the number of writable bytes
 */
gsize
vhost_virtqueue_element_get_writable_size (const VhostVirtqueueElement *element)
{
  return iov_size (element->iov + element->n_out, element->n_in);
}

/**
 * vhost_virtqueue_unpop: (skip)
 * @queue: a #VhostVirtqueue
 * @element: the chain popped last from @queue, not pushed
 *
 * Gives a chain back to the available ring, for a device that cannot use it yet
 * (a received frame larger than the buffers popped so far). Several chains go
 * back in the reverse order of their popping. The handler is then called again at
 * the next kick or event, not at once.
 */
void
vhost_virtqueue_unpop (VhostVirtqueue *queue, const VhostVirtqueueElement *element)
{
  vhost_ring_unpop (&queue->queue.ring, CONST_RING_ELEMENT (element));
}

/**
 * vhost_virtqueue_push: (skip)
 * @queue: a #VhostVirtqueue
 * @element: a chain popped from @queue
 * @len: how many bytes the device wrote into the chain's writable buffers
 *
 * Gives a chain back to the driver. The used entries are published every 16
 * pushes, so that the driver can start on the first chains of a batch while the
 * device works on the rest, and at the latest when the handler returns or at
 * vhost_virtqueue_notify(). The driver is notified then, not before.
 */
void
vhost_virtqueue_push (VhostVirtqueue *queue, const VhostVirtqueueElement *element, guint32 len)
{
  vhost_ring_push (&queue->queue.ring, CONST_RING_ELEMENT (element), len);
}

/**
 * vhost_virtqueue_notify:
 * @queue: a #VhostVirtqueue
 *
 * Publishes the chains pushed so far and signals the driver's call eventfd if the
 * driver asked for it (VIRTIO_F_EVENT_IDX aware). Call it from the queue's thread.
 *
 * Returns: %TRUE if the driver was signalled
 */
gboolean
vhost_virtqueue_notify (VhostVirtqueue *queue)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  return vhost_queue_notify (&queue->queue);
}

/**
 * vhost_virtqueue_pop_request:
 * @queue: a #VhostVirtqueue
 * @error: return location for a #GError
 *
 * Takes the next available chain as a #VhostVirtqueueRequest, for
 * %VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT mode. The request refers to guest memory
 * until it is pushed back with vhost_virtqueue_push_request(). If the front-end
 * changes the memory table or disconnects before that, the request's buffers are
 * gone: reading, writing or pushing it then fails with %VHOST_ERROR_BROKEN.
 *
 * Returns: (transfer full) (nullable): the request; %NULL with no error when none
 *   is available, %NULL with @error set when the queue is broken or not running
 */
VhostVirtqueueRequest *
vhost_virtqueue_pop_request (VhostVirtqueue *queue, GError **error)
{
  VhostVirtqueueRequest *request;
  VhostVirtqueueElement element;
  VhostGuard guard;
  int r;

  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), NULL);

  if (!queue->queue.running)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "vring %u is not running", queue->queue.ring.index);
      return NULL;
    }
  if (queue->scratch == NULL)
    queue->scratch = g_new (struct iovec, VHOST_VIRTQUEUE_MAX_IOV);
  if (!VHOST_GUARD_ENTER (&guard))
    {
      queue_fault (queue, &guard, error);
      return NULL;
    }
  r = vhost_ring_pop (&queue->queue.ring, RING_ELEMENT (&element), queue->scratch, VHOST_VIRTQUEUE_MAX_IOV);
  vhost_guard_leave (&guard);
  if (r == 0)
    return NULL;
  if (r < 0)
    {
      vhost_queue_report_broken (&queue->queue);
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, queue->queue.ring.error);
      return NULL;
    }
  request = g_malloc (sizeof *request + (element.n_out + element.n_in) * sizeof (struct iovec));
  g_atomic_ref_count_init (&request->ref_count);
  request->queue = g_object_ref (queue);
  request->mem_epoch = queue->queue.mem_epoch;
  request->element = element;
  memcpy (request->iov, queue->scratch, (element.n_out + element.n_in) * sizeof (struct iovec));
  request->element.iov = request->iov;
  return request;
}

/**
 * vhost_virtqueue_push_request:
 * @queue: a #VhostVirtqueue
 * @request: a request popped from @queue
 * @len: how many bytes the device wrote
 * @error: return location for a #GError
 *
 * Gives a request back to the driver; see vhost_virtqueue_push().
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_BROKEN if the queue
 *   stopped or its guest memory went away since the request was popped
 */
gboolean
vhost_virtqueue_push_request (VhostVirtqueue *queue, VhostVirtqueueRequest *request, guint32 len, GError **error)
{
  VhostGuard guard;

  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  g_return_val_if_fail (request != NULL && request->queue == queue, FALSE);

  if (!request_check (request, error))
    return FALSE;
  if (!queue->queue.running)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "vring %u is not running", queue->queue.ring.index);
      return FALSE;
    }
  if (!VHOST_GUARD_ENTER (&guard))
    {
      queue_fault (queue, &guard, error);
      return FALSE;
    }
  vhost_ring_push (&queue->queue.ring, CONST_RING_ELEMENT (&request->element), len);
  vhost_guard_leave (&guard);
  return TRUE;
}

/**
 * vhost_virtqueue_pop_requests:
 * @queue: a #VhostVirtqueue
 * @max: the most requests to take
 * @error: return location for a #GError
 *
 * Takes up to @max available chains at once, as vhost_virtqueue_pop_request()
 * takes one: for bindings, where a call costs more than the work of a small
 * request. If the ring breaks after some chains were taken, those are returned
 * and the next call fails.
 *
 * Returns: (transfer full) (element-type VhostVirtqueueRequest): the requests,
 *   an empty array when none is available; %NULL with @error set when the queue
 *   is broken or not running. The array has no free function: unref each
 *   request, then the array.
 */
GPtrArray *
vhost_virtqueue_pop_requests (VhostVirtqueue *queue, guint max, GError **error)
{
  GPtrArray *requests;
  GError *local_error = NULL;

  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), NULL);

  /* No free function: the caller owns the array and each request (bindings
   * take the requests over and free the array alone). */
  requests = g_ptr_array_sized_new (MIN (max, 64));
  while (requests->len < max)
    {
      VhostVirtqueueRequest *request = vhost_virtqueue_pop_request (queue, &local_error);

      if (request == NULL)
        break;
      g_ptr_array_add (requests, request);
    }
  if (local_error != NULL && requests->len == 0)
    {
      g_ptr_array_unref (requests);
      g_propagate_error (error, local_error);
      return NULL;
    }
  g_clear_error (&local_error);
  return requests;
}

/**
 * vhost_virtqueue_push_requests:
 * @queue: a #VhostVirtqueue
 * @requests: (array length=n_requests): requests popped from @queue
 * @n_requests: how many
 * @lens: (array length=n_lens): how many bytes the device wrote into each
 * @n_lens: as many as @n_requests
 * @error: return location for a #GError
 *
 * Gives requests back to the driver in order, as vhost_virtqueue_push_request()
 * gives one. If one cannot be pushed, the ones before it were.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_virtqueue_push_requests (VhostVirtqueue *queue,
                               VhostVirtqueueRequest **requests,
                               guint n_requests,
                               const guint32 *lens,
                               guint n_lens,
                               GError **error)
{
  g_return_val_if_fail (VHOST_IS_VIRTQUEUE (queue), FALSE);
  g_return_val_if_fail (requests != NULL || n_requests == 0, FALSE);

  if (n_lens != n_requests)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "vring %u: %u requests but %u lengths",
                   queue->queue.ring.index, n_requests, n_lens);
      return FALSE;
    }
  for (guint i = 0; i < n_requests; i++)
    if (!vhost_virtqueue_push_request (queue, requests[i], lens[i], error))
      return FALSE;
  return TRUE;
}

/**
 * vhost_virtqueue_request_ref:
 * @request: a #VhostVirtqueueRequest
 *
 * Takes a reference to @request.
 *
 * Returns: (transfer full): @request
 */
VhostVirtqueueRequest *
vhost_virtqueue_request_ref (VhostVirtqueueRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  g_atomic_ref_count_inc (&request->ref_count);
  return request;
}

/**
 * vhost_virtqueue_request_unref:
 * @request: (transfer full): a #VhostVirtqueueRequest
 *
 * Drops a reference.
 */
void
vhost_virtqueue_request_unref (VhostVirtqueueRequest *request)
{
  g_return_if_fail (request != NULL);
  if (g_atomic_ref_count_dec (&request->ref_count))
    {
      g_object_unref (request->queue);
      g_free (request);
    }
}

/**
 * vhost_virtqueue_request_get_id:
 * @request: a #VhostVirtqueueRequest
 *
 * Gets the chain's id (head index or buffer id).
 *
 * Returns: the chain's id (head index or buffer id)
 */
guint16
vhost_virtqueue_request_get_id (VhostVirtqueueRequest *request)
{
  g_return_val_if_fail (request != NULL, 0);
  return request->element.id;
}

/**
 * vhost_virtqueue_request_read:
 * @request: a #VhostVirtqueueRequest
 * @error: return location for a #GError
 *
 * Copies the chain's readable buffers, in order.
 *
 * Returns: (transfer full) (nullable): the bytes the driver gave the device, or
 *   %NULL with %VHOST_ERROR_BROKEN if guest memory went away since the request
 *   was popped
 */
GBytes *
vhost_virtqueue_request_read (VhostVirtqueueRequest *request, GError **error)
{
  gsize length;
  guint8 *data = vhost_virtqueue_request_read_data (request, &length, error);

  return data != NULL ? g_bytes_new_take (data, length) : NULL;
}

/**
 * vhost_virtqueue_request_read_data:
 * @request: a #VhostVirtqueueRequest
 * @length: (out): how many bytes were copied
 * @error: return location for a #GError
 *
 * Copies the chain's readable buffers, in order, as vhost_virtqueue_request_read()
 * does, into memory that the caller frees with g_free(): a byte array in
 * bindings, without a #GBytes.
 *
 * Returns: (transfer full) (array length=length) (nullable): the bytes the
 *   driver gave the device, or %NULL with %VHOST_ERROR_BROKEN if guest memory
 *   went away since the request was popped
 */
guint8 *
vhost_virtqueue_request_read_data (VhostVirtqueueRequest *request, gsize *length, GError **error)
{
  VhostGuard guard;
  guint8 *data;

  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (length != NULL, NULL);

  *length = 0;
  if (!request_check (request, error))
    return NULL;
  *length = vhost_virtqueue_element_get_readable_size (&request->element);
  /* One byte more, so that an empty chain gives a non-NULL pointer. */
  data = g_malloc (*length + 1);
  if (!VHOST_GUARD_ENTER (&guard))
    {
      g_free (data);
      *length = 0;
      queue_fault (request->queue, &guard, error);
      return NULL;
    }
  vhost_virtqueue_element_read (&request->element, 0, data, *length);
  vhost_guard_leave (&guard);
  return data;
}

/**
 * vhost_virtqueue_request_get_writable_size:
 * @request: a #VhostVirtqueueRequest
 *
 * Gets how many bytes the device may write into the chain.
 *
 * Returns: how many bytes the device may write into the chain
 */
gsize
vhost_virtqueue_request_get_writable_size (VhostVirtqueueRequest *request)
{
  g_return_val_if_fail (request != NULL, 0);
  return vhost_virtqueue_element_get_writable_size (&request->element);
}

/**
 * vhost_virtqueue_request_write:
 * @request: a #VhostVirtqueueRequest
 * @offset: where to write, counted in the chain's writable bytes
 * @data: what to write
 * @error: return location for a #GError
 *
 * Copies @data into the chain's writable buffers.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT if the
 *   buffers are too short, %VHOST_ERROR_BROKEN if guest memory went away since
 *   the request was popped
 */
gboolean
vhost_virtqueue_request_write (VhostVirtqueueRequest *request, gsize offset, GBytes *data, GError **error)
{
  gsize size;
  const guint8 *p = g_bytes_get_data (data, &size);

  return vhost_virtqueue_request_write_data (request, offset, p, size, error);
}

/**
 * vhost_virtqueue_request_write_data:
 * @request: a #VhostVirtqueueRequest
 * @offset: where to write, counted in the chain's writable bytes
 * @data: (array length=length): what to write
 * @length: how many bytes
 * @error: return location for a #GError
 *
 * Copies @length bytes into the chain's writable buffers, as
 * vhost_virtqueue_request_write() does: a byte array in bindings, without a #GBytes.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT if the
 *   buffers are too short, %VHOST_ERROR_BROKEN if guest memory went away since
 *   the request was popped
 */
gboolean
vhost_virtqueue_request_write_data (VhostVirtqueueRequest *request,
                                    gsize offset,
                                    const guint8 *data,
                                    gsize length,
                                    GError **error)
{
  VhostGuard guard;
  gsize writable;

  g_return_val_if_fail (request != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  if (!request_check (request, error))
    return FALSE;
  writable = vhost_virtqueue_request_get_writable_size (request);
  if (offset > writable || length > writable - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "Writing %" G_GSIZE_FORMAT " bytes at %" G_GSIZE_FORMAT " overflows the chain's %" G_GSIZE_FORMAT
                   " writable bytes", length, offset, writable);
      return FALSE;
    }
  if (!VHOST_GUARD_ENTER (&guard))
    {
      queue_fault (request->queue, &guard, error);
      return FALSE;
    }
  vhost_virtqueue_element_write (&request->element, offset, data, length);
  vhost_guard_leave (&guard);
  return TRUE;
}
