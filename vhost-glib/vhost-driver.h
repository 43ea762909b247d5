/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostDriver: the driver side of a device, for front-ends that move the data themselves. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-backend.h>

G_BEGIN_DECLS

/**
 * VhostDriverBuffer:
 * @addr: the buffer's guest address, from vhost_driver_alloc()
 * @len: its length in bytes
 *
 * One buffer of a chain given to vhost_driver_submit().
 */
typedef struct
{
  guint64 addr;
  guint32 len;
} VhostDriverBuffer;

#define VHOST_TYPE_DRIVER_BUFFER (vhost_driver_buffer_get_type ())
VHOST_AVAILABLE_IN_ALL
GType vhost_driver_buffer_get_type (void) G_GNUC_CONST;
VHOST_AVAILABLE_IN_ALL
VhostDriverBuffer *vhost_driver_buffer_copy (const VhostDriverBuffer *buffer);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_buffer_free (VhostDriverBuffer *buffer);

/**
 * VHOST_TYPE_DRIVER:
 *
 * The #GType of #VhostDriver.
 */
#define VHOST_TYPE_DRIVER (vhost_driver_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostDriver, vhost_driver, VHOST, DRIVER, GObject)

/**
 * VhostDriverCompletionFunc:
 * @driver: the #VhostDriver
 * @queue: the queue the chain was submitted to
 * @tag: the tag given to vhost_driver_submit()
 * @len: how many bytes the device wrote into the chain's writable buffers
 * @user_data: the data given to vhost_driver_watch()
 *
 * Called on the driver's #GMainContext for each completed chain of a watched queue.
 */
typedef void (*VhostDriverCompletionFunc) (VhostDriver *driver,
                                           guint queue,
                                           guint64 tag,
                                           guint len,
                                           gpointer user_data);

VHOST_AVAILABLE_IN_ALL
VhostDriver *vhost_driver_new (VhostBackend *backend,
                               guint64 memory_size,
                               GError **error);
VHOST_AVAILABLE_IN_ALL
VhostBackend *vhost_driver_get_backend (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_driver_get_memory_size (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint vhost_driver_get_n_regions (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
gint vhost_driver_get_memory_fd (VhostDriver *driver);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_start (VhostDriver *driver,
                             guint n_queues,
                             guint queue_size,
                             guint64 features,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_stop (VhostDriver *driver,
                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_reconnect (VhostDriver *driver,
                                 gint timeout_ms,
                                 GCancellable *cancellable,
                                 GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_reconnect_async (VhostDriver *driver,
                                   gint timeout_ms,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_reconnect_finish (VhostDriver *driver,
                                        GAsyncResult *result,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_get_running (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_driver_get_acked_features (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint vhost_driver_get_n_queues (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint vhost_driver_get_queue_size (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
guint vhost_driver_get_vring_base (VhostDriver *driver,
                                   guint queue);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_set_access_platform (VhostDriver *driver,
                                       gboolean access_platform);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_get_access_platform (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_set_inflight (VhostDriver *driver,
                                gboolean inflight);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_get_inflight (VhostDriver *driver);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_set_iotlb_page_size (VhostDriver *driver,
                                       guint64 page_size);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_driver_get_iotlb_page_size (VhostDriver *driver);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_alloc (VhostDriver *driver,
                             gsize size,
                             guint64 *addr,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_free (VhostDriver *driver,
                        guint64 addr);
VHOST_AVAILABLE_IN_ALL
gpointer vhost_driver_get_host_address (VhostDriver *driver,
                                        guint64 addr,
                                        gsize len);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_write (VhostDriver *driver,
                             guint64 addr,
                             GBytes *data,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_driver_read (VhostDriver *driver,
                           guint64 addr,
                           gsize len,
                           GError **error);

/* The same without out-arguments or GBytes, for the languages that prefer them. */
VHOST_AVAILABLE_IN_ALL
guint64 vhost_driver_alloc_address (VhostDriver *driver,
                                    gsize size,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_write_data (VhostDriver *driver,
                                  guint64 addr,
                                  const guint8 *data,
                                  gsize len,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
guint8 *vhost_driver_read_data (VhostDriver *driver,
                                guint64 addr,
                                gsize len,
                                gsize *out_len,
                                GError **error);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_submit (VhostDriver *driver,
                              guint queue,
                              const VhostDriverBuffer *out,
                              guint n_out,
                              const VhostDriverBuffer *in,
                              guint n_in,
                              guint64 tag,
                              GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_kick (VhostDriver *driver,
                            guint queue);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_reap (VhostDriver *driver,
                            guint queue,
                            guint64 *tag,
                            guint *len,
                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_driver_wait (VhostDriver *driver,
                            guint queue,
                            gint timeout_ms,
                            GError **error);
VHOST_AVAILABLE_IN_ALL
guint vhost_driver_get_in_flight (VhostDriver *driver,
                                  guint queue);
VHOST_AVAILABLE_IN_ALL
void vhost_driver_watch (VhostDriver *driver,
                         guint queue,
                         VhostDriverCompletionFunc func,
                         gpointer user_data,
                         GDestroyNotify notify);

G_END_DECLS
