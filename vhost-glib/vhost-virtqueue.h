/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVirtqueue: one device-side queue; pop descriptor chains as iovecs, push them back, notify. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <sys/uio.h>
#include <glib-object.h>
#include <vhost-glib/vhost-types.h>

G_BEGIN_DECLS

/**
 * VhostVirtqueueDispatch:
 * @VHOST_VIRTQUEUE_DISPATCH_WORKER: the queue's handler (see
 *   vhost_virtqueue_set_handler()) runs in a worker thread, woken by the kick eventfd.
 * @VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT: kicks arrive as the #VhostVirtqueue::kick
 *   signal on the queue's #GMainContext; meant for bindings.
 *
 * Where a queue is processed.
 */
typedef enum {
  VHOST_VIRTQUEUE_DISPATCH_WORKER,
  VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT,
} VhostVirtqueueDispatch;

/**
 * VHOST_VIRTQUEUE_MAX_IOV:
 *
 * The most iovecs vhost_virtqueue_pop_request() gives one chain.
 */
#define VHOST_VIRTQUEUE_MAX_IOV 1024

/**
 * VhostVirtqueueElement:
 * @id: the chain's head descriptor index (split) or buffer id (packed).
 * @n_descs: the ring descriptors the chain takes (packed rings skip them on push).
 * @n_out: how many readable (driver to device) buffers come first in @iov.
 * @n_in: how many writable (device to driver) buffers follow them.
 * @iov: the @n_out readable then @n_in writable buffers, in guest memory: the
 *   storage the caller passed to vhost_virtqueue_pop().
 *
 * One descriptor chain popped from a queue. The buffers point into guest memory:
 * nothing is copied. Its private field belongs to the queue (it records where
 * the chain is tracked for a restart of the back-end): keep the element as
 * it was popped until it is pushed. Push the element back with vhost_virtqueue_push() before
 * the handler returns, or at the latest before the queue stops.
 */
typedef struct
{
  guint16 id;
  guint16 n_descs;
  guint n_out;
  guint n_in;
  /*< private >*/
  guint32 slot;
  /*< public >*/
  struct iovec *iov;
} VhostVirtqueueElement;

VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_element_read (const VhostVirtqueueElement *element,
                                    gsize offset,
                                    void *buffer,
                                    gsize length);
VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_element_write (const VhostVirtqueueElement *element,
                                     gsize offset,
                                     const void *buffer,
                                     gsize length);
VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_element_write_streaming (const VhostVirtqueueElement *element,
                                               gsize offset,
                                               const void *buffer,
                                               gsize length);
VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_element_get_readable_size (const VhostVirtqueueElement *element);
VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_element_get_writable_size (const VhostVirtqueueElement *element);

/**
 * VhostVirtqueueRequest:
 *
 * A chain popped with vhost_virtqueue_pop_request(), for bindings: its readable
 * bytes are copied out with vhost_virtqueue_request_read() and its writable
 * buffers filled with vhost_virtqueue_request_write(). A ref-counted boxed type.
 */
typedef struct _VhostVirtqueueRequest VhostVirtqueueRequest;

#define VHOST_TYPE_VIRTQUEUE_REQUEST (vhost_virtqueue_request_get_type ())
VHOST_AVAILABLE_IN_ALL
GType vhost_virtqueue_request_get_type (void) G_GNUC_CONST;
VHOST_AVAILABLE_IN_ALL
VhostVirtqueueRequest *vhost_virtqueue_request_ref (VhostVirtqueueRequest *request);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_request_unref (VhostVirtqueueRequest *request);
VHOST_AVAILABLE_IN_ALL
guint16 vhost_virtqueue_request_get_id (VhostVirtqueueRequest *request);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_virtqueue_request_read (VhostVirtqueueRequest *request,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
guint8 *vhost_virtqueue_request_read_data (VhostVirtqueueRequest *request,
                                           gsize *length,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
gsize vhost_virtqueue_request_get_writable_size (VhostVirtqueueRequest *request);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_request_write (VhostVirtqueueRequest *request,
                                        gsize offset,
                                        GBytes *data,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_request_write_data (VhostVirtqueueRequest *request,
                                             gsize offset,
                                             const guint8 *data,
                                             gsize length,
                                             GError **error);

/**
 * VHOST_TYPE_VIRTQUEUE:
 *
 * The #GType of #VhostVirtqueue.
 */
#define VHOST_TYPE_VIRTQUEUE (vhost_virtqueue_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostVirtqueue, vhost_virtqueue, VHOST, VIRTQUEUE, GObject)

/**
 * VhostVirtqueueHandler:
 * @queue: the #VhostVirtqueue that was kicked
 * @user_data: the data given to vhost_virtqueue_set_handler()
 *
 * Processes a queue in its worker thread: pops chains with vhost_virtqueue_pop()
 * and pushes them back with vhost_virtqueue_push(). It need not empty the queue:
 * it is called again while it makes progress and chains are available. What it
 * pushed is published (every 16 pushes, and the rest when it returns) and the
 * driver notified when it returns.
 */
typedef void (*VhostVirtqueueHandler) (VhostVirtqueue *queue, gpointer user_data);

VHOST_AVAILABLE_IN_ALL
guint vhost_virtqueue_get_index (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_get_running (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_get_broken (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
guint vhost_virtqueue_get_size (VhostVirtqueue *queue);

VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_set_dispatch (VhostVirtqueue *queue,
                                   VhostVirtqueueDispatch dispatch);
VHOST_AVAILABLE_IN_ALL
VhostVirtqueueDispatch vhost_virtqueue_get_dispatch (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_set_worker_group (VhostVirtqueue *queue,
                                       guint group);
VHOST_AVAILABLE_IN_ALL
guint vhost_virtqueue_get_worker_group (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_set_handler (VhostVirtqueue *queue,
                                  VhostVirtqueueHandler handler,
                                  gpointer user_data,
                                  GDestroyNotify notify);

VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_set_drain_handler (VhostVirtqueue *queue,
                                        VhostVirtqueueHandler handler,
                                        gpointer user_data,
                                        GDestroyNotify notify);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_set_suspend_handler (VhostVirtqueue *queue,
                                          VhostVirtqueueHandler handler,
                                          gpointer user_data,
                                          GDestroyNotify notify);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_set_event_fd (VhostVirtqueue *queue,
                                       gint fd,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
gint vhost_virtqueue_get_event_fd (VhostVirtqueue *queue);

VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_log (VhostVirtqueue *queue,
                          const gchar *log_domain,
                          GLogLevelFlags log_level,
                          const gchar *reason,
                          const gchar *format,
                          ...) G_GNUC_PRINTF (5, 6);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_log_message (VhostVirtqueue *queue,
                                  const gchar *log_domain,
                                  GLogLevelFlags log_level,
                                  const gchar *reason,
                                  const gchar *message);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_pop (VhostVirtqueue *queue,
                              VhostVirtqueueElement *element,
                              struct iovec *iov,
                              guint max_iov);
VHOST_AVAILABLE_IN_ALL
guint vhost_virtqueue_pop_batch (VhostVirtqueue *queue,
                                 VhostVirtqueueElement *elements,
                                 struct iovec *iov,
                                 guint max_iov,
                                 guint n);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_unpop (VhostVirtqueue *queue,
                            const VhostVirtqueueElement *element);
VHOST_AVAILABLE_IN_ALL
void vhost_virtqueue_push (VhostVirtqueue *queue,
                           const VhostVirtqueueElement *element,
                           guint32 len);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_notify (VhostVirtqueue *queue);
VHOST_AVAILABLE_IN_ALL
VhostVirtqueueRequest *vhost_virtqueue_pop_request (VhostVirtqueue *queue,
                                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_push_request (VhostVirtqueue *queue,
                                       VhostVirtqueueRequest *request,
                                       guint32 len,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
GPtrArray *vhost_virtqueue_pop_requests (VhostVirtqueue *queue,
                                         guint max,
                                         GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_virtqueue_push_requests (VhostVirtqueue *queue,
                                        VhostVirtqueueRequest **requests,
                                        guint n_requests,
                                        const guint32 *lens,
                                        guint n_lens,
                                        GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostVirtqueueRequest, vhost_virtqueue_request_unref)

G_END_DECLS
