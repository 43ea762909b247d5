/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave's IOTLB misses and access failures: sent from the slave's context on the back-end channel, without waiting there. */
#include "vhost-user-slave-private.h"
#include "core/vhost-iotlb.h"

typedef struct
{
  gatomicrefcount refs;      /* the source that sends it, then the call that waits for the answer */
  GWeakRef slave;            /* a pending miss does not keep the slave (and its connection) alive */
  VhostUserChannel *channel; /* (owned) (nullable) the back-end channel it went on */
  guint index;
  guint8 type;
  guint64 iova;
  guint8 perm;
  guint serial;
} IotlbRequest;

static void
iotlb_request_unref (gpointer data)
{
  IotlbRequest *r = data;

  if (!g_atomic_ref_count_dec (&r->refs))
    return;
  g_clear_pointer (&r->channel, vhost_user_channel_unref);
  g_weak_ref_clear (&r->slave);
  g_free (r);
}

/* The front-end's acknowledgement (or the request's failure): a miss that no
 * update answered breaks its queue, in the engine. */
static void
iotlb_done (IotlbRequest *r, VhostUserSlave *slave, const GError *error)
{
  if (error != NULL)
    g_debug ("IOTLB %s of vring %u at IOVA 0x%" G_GINT64_MODIFIER "x: %s",
             r->type == VHOST_IOTLB_MISS ? "miss" : "access failure", r->index, r->iova, error->message);
  if (r->type == VHOST_IOTLB_MISS && vhost_user_slave_get_connected (slave))
    vhost_user_dev_iotlb_miss_answered (vhost_user_slave_get_dev (slave), r->index, r->serial, error);
}

static void
iotlb_reply_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  IotlbRequest *r = data;
  g_autoptr(VhostUserSlave) slave = g_weak_ref_get (&r->slave);
  g_autoptr(GError) error = NULL;

  vhost_user_channel_call_finish (r->channel, result, NULL, &error);
  if (slave != NULL)
    iotlb_done (r, slave, error);
  iotlb_request_unref (r);
}

/* The slave's context: send it, and hear the answer there. The queue that
 * missed waits without blocking anything meanwhile. */
static gboolean
iotlb_send_cb (gpointer data)
{
  IotlbRequest *r = data;
  g_autoptr(VhostUserSlave) slave = g_weak_ref_get (&r->slave);
  g_autoptr(GError) error = NULL;
  VhostUserChannel *backend;
  VhostUserMsg msg;

  if (slave == NULL || !vhost_user_slave_get_connected (slave))
    return G_SOURCE_REMOVE;
  backend = vhost_user_slave_get_backend_channel (slave);
  g_debug ("IOTLB %s: vring %u, IOVA 0x%" G_GINT64_MODIFIER "x, %s access",
           r->type == VHOST_IOTLB_MISS ? "miss" : "access failure", r->index, r->iova,
           vhost_iotlb_perm_name (r->perm));
  if (backend == NULL || !vhost_user_channel_is_open (backend))
    {
      g_set_error_literal (&error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "IOTLB_MSG: the front-end did not set up the back-end request channel");
      iotlb_done (r, slave, error);
      return G_SOURCE_REMOVE;
    }
  vhost_user_msg_init_iotlb (&msg, VHOST_USER_BACKEND_IOTLB_MSG, r->iova, 0, 0, r->perm, r->type);
  vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_BACKEND, &msg,
                                     vhost_user_channel_get_protocol_features (backend));
  r->channel = vhost_user_channel_ref (backend);
  g_atomic_ref_count_inc (&r->refs);
  vhost_user_channel_call_async (backend, &msg, NULL, iotlb_reply_cb, r);
  return G_SOURCE_REMOVE;
}

/* The engine's iotlb_request operation, from any thread (a worker): handed to
 * the slave's context through a source (g_main_context_invoke() would run it
 * in a worker that acquires the context). */
void
vhost_user_slave_iotlb_request (VhostUserDev *dev, guint index, guint8 type, guint64 iova, guint8 perm, guint serial,
                                gpointer data)
{
  IotlbRequest *r = g_new0 (IotlbRequest, 1);
  GSource *source = g_idle_source_new ();

  g_atomic_ref_count_init (&r->refs);
  g_weak_ref_init (&r->slave, data);
  r->index = index;
  r->type = type;
  r->iova = iova;
  r->perm = perm;
  r->serial = serial;
  g_source_set_static_name (source, "[vhost] IOTLB request");
  g_source_set_callback (source, iotlb_send_cb, r, iotlb_request_unref);
  g_source_attach (source, vhost_user_slave_get_context (data));
  g_source_unref (source);
}
