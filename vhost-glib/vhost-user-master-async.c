/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserMaster's asynchronous calls: every front-end request, typed, without blocking, in call order. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vhost-user-master-private.h"

/*
 * Each async call is an op in the master's queue. Ops run one at a time, in call
 * order: the head op sends its message(s) when it starts and is over when the last
 * reply it waits for is read (at once for a message without a reply); then the next
 * one starts. So the checks of an op (a protocol feature it needs, an acked virtio
 * feature) see what the calls before it did, and the messages of an op that takes
 * two (SET_PROTOCOL_FEATURES then SET_BACKEND_REQ_FD; a postcopy memory table and
 * its acknowledgement) have nothing between them on the wire. A sync call first
 * waits for the queue to empty (master_drain()), processing the socket as a sync
 * call does, so that it too goes out in call order.
 *
 * Replies reach an op directly from the channel's input processing (its source on
 * the master's context, or a sync call's wait), so the queue moves on without the
 * main loop. The caller's callback never runs from there: an op is answered from
 * an idle source on the caller's thread-default context.
 *
 * Cancelling an op that has not started takes it out of the queue. A started op
 * has sent its request: the caller is answered G_IO_ERROR_CANCELLED at once, and
 * the op stays at the head until its reply comes, which it still applies (acked
 * features, the back-end request channel...), so that the master's record follows
 * what the back-end did.
 */

typedef struct _MasterOp MasterOp;

/* What the GTask of an op gives back. The VhostBackend calls keep that interface's
 * convention (see vhost-backend-async.c): a boolean, or a guint64 for a value. */
typedef enum {
  RESULT_BOOLEAN,
  RESULT_U64,
  RESULT_FULL,
} ResultKind;

typedef struct
{
  guint64 value;
  guint64 size;        /* GET_INFLIGHT_FD */
  guint64 offset;
  gint fd;             /* (owned) -1 without one */
  GBytes *bytes;       /* (owned) (nullable) */
  GUnixFDList *fds;    /* (owned) (nullable) the reply's fds (send_request) */
  guint64 *sizes;      /* (owned) (nullable) GET_SHMEM_CONFIG, `value` entries */
} MasterResult;

/* Moves an op forward: called with reply == NULL to start it, then once for each
 * reply it waits for (op->error set if the exchange failed). Returns TRUE while it
 * waits for a reply, FALSE when it is over (op->error set if it failed). */
typedef gboolean (*MasterOpStep) (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply);
/* A check made when a one-message op starts. */
typedef gboolean (*MasterOpCheck) (VhostUserMaster *self, GError **error);
/* What a one-message op does once its exchange succeeded: reply is NULL when none came. */
typedef gboolean (*MasterOpDone) (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error);

struct _MasterOp
{
  VhostUserMaster *master;     /* (owned) */
  GTask *task;                 /* (owned) (nullable) until the caller is answered */
  GSource *cancel_source;      /* (owned) (nullable) */
  ResultKind kind;
  MasterOpStep step;
  guint stage;
  gboolean started;
  VhostUserMsg *msg;           /* (owned) (nullable) the request, with its own fds */
  VhostUserMsg second;         /* the second message of a two-message op */
  MasterOpCheck check;         /* (nullable) */
  MasterOpDone done;           /* (nullable) */
  guint64 arg;                 /* the protocol features to set, or those wanted */
  MasterResult result;
  GError *error;               /* (owned) (nullable) */
};

static void ops_run (VhostUserMaster *self);

static void
result_clear (MasterResult *result)
{
  if (result->fd >= 0)
    close (result->fd);
  result->fd = -1;
  g_clear_pointer (&result->bytes, g_bytes_unref);
  g_clear_object (&result->fds);
  g_clear_pointer (&result->sizes, g_free);
}

static void
result_free (MasterResult *result)
{
  result_clear (result);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MasterResult, result_free)

static void
op_free (MasterOp *op)
{
  if (op->cancel_source != NULL)
    g_source_destroy (op->cancel_source);
  g_clear_pointer (&op->cancel_source, g_source_unref);
  g_clear_object (&op->task);
  vhost_user_msg_free (op->msg);
  vhost_user_msg_close_fds (&op->second);
  result_clear (&op->result);
  g_clear_error (&op->error);
  g_object_unref (op->master);
  g_free (op);
}

/* Answers the caller from an idle source: its callback never runs inside the
 * master's own processing. Takes `op`. */
static gboolean
op_answer_cb (gpointer data)
{
  MasterOp *op = data;
  GTask *task = g_steal_pointer (&op->task);

  if (op->error != NULL)
    g_task_return_error (task, g_steal_pointer (&op->error));
  else if (op->kind == RESULT_BOOLEAN)
    g_task_return_boolean (task, TRUE);
  else if (op->kind == RESULT_U64)
    g_task_return_pointer (task, g_memdup2 (&op->result.value, sizeof op->result.value), g_free);
  else
    {
      g_task_return_pointer (task, g_memdup2 (&op->result, sizeof op->result), (GDestroyNotify) result_free);
      op->result.fd = -1;
      op->result.bytes = NULL;
      op->result.fds = NULL;
      op->result.sizes = NULL;
    }
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

/* The op is over (or never started): answer the caller if nobody did, and free it. */
static void
op_over (MasterOp *op)
{
  g_autoptr(GSource) idle = NULL;

  if (op->cancel_source != NULL)
    g_source_destroy (op->cancel_source);
  g_clear_pointer (&op->cancel_source, g_source_unref);
  if (op->task == NULL)
    {
      op_free (op);
      return;
    }
  idle = g_idle_source_new ();
  g_source_set_static_name (idle, "[vhost] vhost-user call completion");
  g_source_set_callback (idle, op_answer_cb, op, (GDestroyNotify) op_free);
  g_source_attach (idle, g_task_get_context (op->task));
}

static gboolean
op_cancelled_cb (GCancellable *cancellable, gpointer data)
{
  MasterOp *op = data;
  GTask *task = g_steal_pointer (&op->task);

  g_clear_pointer (&op->cancel_source, g_source_unref);
  g_task_return_error_if_cancelled (task);
  g_object_unref (task);
  if (!op->started)
    {
      g_queue_remove (&op->master->ops, op);
      op_free (op);
    }
  return G_SOURCE_REMOVE;
}

static gboolean step_message (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply);

static MasterOp *
op_new (VhostUserMaster *master,
        gpointer source_tag,
        ResultKind kind,
        GCancellable *cancellable,
        GAsyncReadyCallback callback,
        gpointer user_data)
{
  MasterOp *op = g_new0 (MasterOp, 1);

  op->master = g_object_ref (master);
  op->task = g_task_new (master, cancellable, callback, user_data);
  g_task_set_source_tag (op->task, source_tag);
  op->kind = kind;
  op->step = step_message;
  op->result.fd = -1;
  vhost_user_msg_init (&op->second, 0, 0);
  return op;
}

/* The op's request: a copy of `msg` with duplicates of its fds, which the caller
 * may close once the async call returned. */
static void
op_set_msg (MasterOp *op, const VhostUserMsg *msg)
{
  op->msg = g_memdup2 (msg, sizeof *msg);
  for (guint i = 0; i < msg->n_fds; i++)
    {
      op->msg->fds[i] = fcntl (msg->fds[i], F_DUPFD_CLOEXEC, 3);
      if (op->msg->fds[i] < 0 && op->error == NULL)
        {
          int errsv = errno;

          op->error = g_error_new (VHOST_ERROR, VHOST_ERROR_FDS, "%s: file descriptor %d: %s",
                                   vhost_user_request_get_name (msg->hdr.request), msg->fds[i], g_strerror (errsv));
        }
    }
}

/* Queues the op, or answers at once when building it failed or it was cancelled already. */
static void
op_submit (MasterOp *op)
{
  VhostUserMaster *self = op->master;
  GCancellable *cancellable = g_task_get_cancellable (op->task);

  if (op->error == NULL)
    g_cancellable_set_error_if_cancelled (cancellable, &op->error);
  if (op->error != NULL)
    {
      op_over (op);
      return;
    }
  if (cancellable != NULL)
    {
      op->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_static_name (op->cancel_source, "[vhost] vhost-user call cancelled");
      g_source_set_callback (op->cancel_source, G_SOURCE_FUNC (op_cancelled_cb), op, NULL);
      g_source_attach (op->cancel_source, self->context);
    }
  g_queue_push_tail (&self->ops, op);
  ops_run (self);
}

/* A one-message op: build it (with `msg`, unless building failed: op->error) and queue it. */
static void
op_submit_msg (MasterOp *op, const VhostUserMsg *msg, MasterOpCheck check, MasterOpDone done)
{
  if (op->error == NULL)
    op_set_msg (op, msg);
  op->check = check;
  op->done = done;
  op_submit (op);
}

static void
op_reply_cb (VhostUserChannel *channel, VhostUserMsg *reply, const GError *error, gpointer user_data)
{
  g_autoptr(VhostUserMsg) owned = reply;
  MasterOp *op = user_data;
  VhostUserMaster *self = g_object_ref (op->master);

  /* The op's last step may change a property (acked features...): its
   * notification waits until the op left the queue, as in ops_run(). */
  g_object_freeze_notify (G_OBJECT (self));
  if (error != NULL && op->error == NULL)
    op->error = g_error_copy (error);
  if (!op->step (self, op, reply))
    {
      g_assert (g_queue_peek_head (&self->ops) == op);
      g_queue_pop_head (&self->ops);
      op_over (op);
    }
  ops_run (self);
  g_object_thaw_notify (G_OBJECT (self));
  g_object_unref (self);
}

typedef enum {
  SEND_REQUEST,  /* checked against the protocol features, NEED_REPLY set when REPLY_ACK is on */
  SEND_ECHO,     /* checked; the reply gives the payload back (postcopy) */
  SEND_RAW,      /* as it is: the acknowledgement of a postcopy memory table */
} SendMode;

/* Sends one message of the op; TRUE if a reply is due, FALSE if none is or the
 * message could not be sent (op->error). */
static gboolean
op_send (VhostUserMaster *self, MasterOp *op, VhostUserMsg *msg, SendMode mode)
{
  gboolean pending = FALSE;

  if (mode != SEND_RAW ? !master_check_now (self, msg->hdr.request, &op->error) : self->channel == NULL)
    return FALSE;
  msg->hdr.flags &= ~VHOST_USER_FLAG_NEED_REPLY;
  if (mode == SEND_REQUEST)
    vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_FRONTEND, msg, self->acked_protocol_features);
  vhost_user_channel_call_start (self->channel, msg, mode == SEND_ECHO, op_reply_cb, op, &pending, &op->error);
  return pending;
}

/* Start the ops at the head of the queue, until one waits for a reply. */
static void
ops_run (VhostUserMaster *self)
{
  MasterOp *op;

  if (self->ops_running)
    return;
  self->ops_running = TRUE;
  g_object_ref (self);
  /* Notifications (acked features...) wait until the next op has started, so a
   * handler that makes a sync call finds the queue moving. */
  g_object_freeze_notify (G_OBJECT (self));
  while ((op = g_queue_peek_head (&self->ops)) != NULL && !op->started)
    {
      op->started = TRUE;
      if (op->step (self, op, NULL))
        break;
      g_queue_pop_head (&self->ops);
      op_over (op);
    }
  self->ops_running = FALSE;
  g_object_thaw_notify (G_OBJECT (self));
  g_object_unref (self);
}

static gboolean
queue_empty (gpointer data)
{
  return g_queue_is_empty (&((VhostUserMaster *) data)->ops);
}

void
master_drain (VhostUserMaster *self)
{
  if (!g_queue_is_empty (&self->ops) && self->channel != NULL)
    vhost_user_channel_wait_until (self->channel, queue_empty, self, NULL, NULL);
}

/* The steps of a one-message op: check, send, take the reply. While postcopy
 * listens, a memory table is answered with where the back-end mapped it, which is
 * kept, then acknowledged. */
static gboolean
step_message (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply)
{
  switch (op->stage++)
    {
    case 0:
      if (op->check != NULL && !op->check (self, &op->error))
        return FALSE;
      if (master_postcopy_echoes (self, op->msg))
        {
          op->stage = 2;
          return op_send (self, op, op->msg, SEND_ECHO);
        }
      if (op_send (self, op, op->msg, SEND_REQUEST))
        return TRUE;
      G_GNUC_FALLTHROUGH;
    case 1:
      if (op->error == NULL && op->done != NULL)
        op->done (self, op, reply, &op->error);
      return FALSE;
    default:
      if (op->error == NULL && master_postcopy_record (self, op->msg, reply, &op->second, &op->error))
        op_send (self, op, &op->second, SEND_RAW);
      return FALSE;
    }
}

/* SET_PROTOCOL_FEATURES (op->arg), then, with BACKEND_REQ, SET_BACKEND_REQ_FD; from
 * stage `first`. Also the last part of negotiating the protocol features. */
static gboolean
step_set_protocol (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, guint first)
{
  VhostUserMsg msg;

  switch (op->stage++ - first)
    {
    case 0:
      vhost_user_msg_init_u64 (&msg, VHOST_USER_SET_PROTOCOL_FEATURES, op->arg);
      if (op_send (self, op, &msg, SEND_REQUEST))
        return TRUE;
      G_GNUC_FALLTHROUGH;
    case 1:
      op->stage = first + 2;
      if (op->error != NULL || !master_apply_protocol_features (self, op->arg, &op->second, &op->error) ||
          op->second.n_fds == 0)
        return FALSE;
      if (op_send (self, op, &op->second, SEND_REQUEST))
        return TRUE;
      G_GNUC_FALLTHROUGH;
    default:
      master_backend_req_fd_done (self, &op->second, op->error == NULL);
      return FALSE;
    }
}

static gboolean
step_set_protocol_features (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply)
{
  return step_set_protocol (self, op, reply, 0);
}

/* GET_PROTOCOL_FEATURES, then what both sides have of op->arg, set. */
static gboolean
step_negotiate (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply)
{
  VhostUserMsg msg;

  switch (op->stage)
    {
    case 0:
      op->stage++;
      if (!master_check_protocol_offered (self, op->arg, &op->error))
        return FALSE;
      vhost_user_msg_init (&msg, VHOST_USER_GET_PROTOCOL_FEATURES, 0);
      return op_send (self, op, &msg, SEND_REQUEST);
    case 1:
      op->stage++;
      if (op->error != NULL)
        return FALSE;
      op->arg = master_negotiated_protocol (op->arg, reply->payload.u64);
      op->result.value = op->arg;
      G_GNUC_FALLTHROUGH;
    default:
      return step_set_protocol (self, op, reply, 2);
    }
}

/* Replies. */

static gboolean
done_u64 (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  return master_reply_u64 (reply, NULL, &op->result.value, error);
}

/* A reply that is a status: 0 or a failure. */
static gboolean
done_status (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  return reply == NULL || master_reply_u64 (reply, vhost_user_request_get_name (op->msg->hdr.request), NULL, error);
}

/* An fd, taken from the reply. */
static gboolean
done_fd (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  op->result.fd = vhost_user_msg_take_fd (reply, 0);
  return TRUE;
}

static gboolean
done_get_config (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  op->result.bytes = master_get_config_reply (self, op->msg, reply, error);
  return op->result.bytes != NULL;
}

static gboolean
done_get_inflight_fd (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  op->result.fd = master_inflight_reply (self, reply, &op->result.size, &op->result.offset, error);
  return op->result.fd >= 0;
}

/* SET_STATUS 0 and RESET_DEVICE reset the device: the shared memory mappings go. */
static gboolean
done_set_status (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  if (op->msg->payload.u64 == 0)
    master_shmem_reset (self);
  return TRUE;
}

static gboolean
done_reset_device (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  master_shmem_reset (self);
  return TRUE;
}

static gboolean
done_shmem_config (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  GError *local_error = NULL;
  guint n = 0;

  op->result.sizes = master_shmem_config_reply (self, reply, &n, &local_error);
  op->result.value = n;
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
done_mem_reg (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  master_mem_reg_done (self, op->msg);
  return TRUE;
}

static gboolean
done_get_status (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  return master_reply_u64 (reply, NULL, &op->result.value, error) &&
         master_status_value (op->result.value, NULL, error);
}

static gboolean
done_device_state (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  return master_device_state_reply (reply, &op->result.fd, error);
}

static gboolean
done_postcopy_listen (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  self->postcopy_listening = TRUE;
  return TRUE;
}

static gboolean
done_postcopy_end (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  if (!done_status (self, op, reply, error))
    return FALSE;
  master_postcopy_ended (self);
  return TRUE;
}

static gboolean
done_shared_object (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  op->result.fd = master_shared_object_reply (reply, error);
  return op->result.fd >= 0;
}

static gboolean
done_send_request (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  op->result.bytes = master_reply_to_bytes (reply, &op->result.fds);
  return TRUE;
}

/* The finishing halves: the result of the op `tag` started, or NULL with `error`. */
static MasterResult *
op_finish (VhostUserMaster *master, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, master), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
finish_boolean (VhostUserMaster *master, GAsyncResult *result, gpointer tag, GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, tag, error);

  return r != NULL;
}

static gboolean
finish_u64 (VhostUserMaster *master, GAsyncResult *result, gpointer tag, guint64 *value, GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, tag, error);

  if (r != NULL && value != NULL)
    *value = r->value;
  return r != NULL;
}

/* Takes the result's fd: -1 on error. */
static gint
finish_fd (VhostUserMaster *master, GAsyncResult *result, gpointer tag, GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, tag, error);
  gint fd = -1;

  if (r != NULL)
    {
      fd = r->fd;
      r->fd = -1;
    }
  return fd;
}

/* The common calls: a request with no payload, with a u64, or with a vring state. */

static void
master_call_async (VhostUserMaster *master,
                   const VhostUserMsg *msg,
                   gpointer tag,
                   ResultKind kind,
                   MasterOpDone done,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  MasterOp *op = op_new (master, tag, kind, cancellable, callback, user_data);

  op_submit_msg (op, msg, NULL, done);
}

static void
master_simple_async (VhostUserMaster *master,
                     VhostUserRequest request,
                     gpointer tag,
                     ResultKind kind,
                     MasterOpDone done,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  VhostUserMsg msg;

  vhost_user_msg_init (&msg, request, 0);
  master_call_async (master, &msg, tag, kind, done, cancellable, callback, user_data);
}

static void
master_u64_async (VhostUserMaster *master,
                  VhostUserRequest request,
                  guint64 value,
                  gpointer tag,
                  ResultKind kind,
                  MasterOpDone done,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data)
{
  VhostUserMsg msg;

  vhost_user_msg_init_u64 (&msg, request, value);
  master_call_async (master, &msg, tag, kind, done, cancellable, callback, user_data);
}

static void
master_state_async (VhostUserMaster *master,
                    VhostUserRequest request,
                    guint index,
                    guint num,
                    gpointer tag,
                    ResultKind kind,
                    GCancellable *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer user_data)
{
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, request, index, num);
  master_call_async (master, &msg, tag, kind, NULL, cancellable, callback, user_data);
}

/* The public functions that are all alike, each after its documentation. */
#define MASTER_FINISH_BOOLEAN(name)                                                                          \
  gboolean vhost_user_master_##name##_finish (VhostUserMaster *master, GAsyncResult *result, GError **error) \
  {                                                                                                        \
    return finish_boolean (master, result, vhost_user_master_##name##_async, error);                        \
  }
#define MASTER_FINISH_U64(name)                                                                              \
  gboolean vhost_user_master_##name##_finish (VhostUserMaster *master, GAsyncResult *result, guint64 *value, \
                                              GError **error)                                              \
  {                                                                                                        \
    return finish_u64 (master, result, vhost_user_master_##name##_async, value, error);                     \
  }
#define MASTER_FINISH_FD(name)                                                                               \
  gint vhost_user_master_##name##_finish (VhostUserMaster *master, GAsyncResult *result, GError **error)     \
  {                                                                                                        \
    return finish_fd (master, result, vhost_user_master_##name##_async, error);                             \
  }
/* A request without arguments. */
#define MASTER_SIMPLE_ASYNC(name, request, done)                                                              \
  void vhost_user_master_##name##_async (VhostUserMaster *master, GCancellable *cancellable,                 \
                                         GAsyncReadyCallback callback, gpointer user_data)                  \
  {                                                                                                        \
    g_return_if_fail (VHOST_IS_USER_MASTER (master));                                                      \
    master_simple_async (master, request, vhost_user_master_##name##_async, RESULT_FULL, done, cancellable,  \
                         callback, user_data);                                                             \
  }

/**
 * vhost_user_master_send_request_async:
 * @master: a #VhostUserMaster
 * @request: the request
 * @payload: (nullable): the payload, in the wire format of the specification
 * @fds: (nullable): the file descriptors to send with it (duplicated)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the reply
 * @user_data: data for @callback
 *
 * Sends any front-end request without blocking, as vhost_user_master_send_request()
 * does: the asynchronous form, which goes after the calls made before it (see
 * [Asynchronous calls][vhost-user-master-async]). @callback runs on the
 * thread-default #GMainContext of the caller once the reply has arrived (for a
 * request without a reply, once it is on its way); it calls
 * vhost_user_master_send_request_finish().
 */
void
vhost_user_master_send_request_async (VhostUserMaster *master,
                                      VhostUserRequest request,
                                      GBytes *payload,
                                      GUnixFDList *fds,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  op = op_new (master, vhost_user_master_send_request_async, RESULT_FULL, cancellable, callback, user_data);
  master_build_request (request, payload, fds, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, done_send_request);
}

/**
 * vhost_user_master_send_request_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @out_fds: (out) (optional) (nullable) (transfer full): the file descriptors of the reply
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_send_request_async().
 *
 * Returns: (transfer full): the payload of the reply, empty if there is none
 */
GBytes *
vhost_user_master_send_request_finish (VhostUserMaster *master,
                                       GAsyncResult *result,
                                       GUnixFDList **out_fds,
                                       GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, vhost_user_master_send_request_async, error);

  if (out_fds != NULL)
    *out_fds = r != NULL ? g_steal_pointer (&r->fds) : NULL;
  return r != NULL ? g_steal_pointer (&r->bytes) : NULL;
}

/**
 * vhost_user_master_get_protocol_features_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end answered
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_protocol_features(); @callback
 * calls vhost_user_master_get_protocol_features_finish().
 */
MASTER_SIMPLE_ASYNC (get_protocol_features, VHOST_USER_GET_PROTOCOL_FEATURES, done_u64)

/**
 * vhost_user_master_get_protocol_features_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @features: (out): the protocol features the back-end offers, a mask of
 *   #VhostUserProtocolFeatures
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_protocol_features_async().
 *
 * Returns: (skip): %TRUE on success
 */
MASTER_FINISH_U64 (get_protocol_features)

/**
 * vhost_user_master_set_protocol_features_async:
 * @master: a #VhostUserMaster
 * @features: the protocol features to use, a mask of #VhostUserProtocolFeatures
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the features are set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_protocol_features(): with
 * %VHOST_USER_PROTOCOL_F_BACKEND_REQ, SET_BACKEND_REQ_FD follows
 * SET_PROTOCOL_FEATURES with nothing between them. The calls made after this one
 * see the new protocol features. @callback calls
 * vhost_user_master_set_protocol_features_finish().
 */
void
vhost_user_master_set_protocol_features_async (VhostUserMaster *master,
                                               guint64 features,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data)
{
  MasterOp *op;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  op = op_new (master, vhost_user_master_set_protocol_features_async, RESULT_FULL, cancellable, callback, user_data);
  op->step = step_set_protocol_features;
  op->arg = features;
  master_check_protocol_features (features, &op->error);
  op_submit (op);
}

/**
 * vhost_user_master_set_protocol_features_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_protocol_features_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_protocol_features)

/**
 * vhost_user_master_get_queue_num_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end answered
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_queue_num(); @callback calls
 * vhost_user_master_get_queue_num_finish().
 */
MASTER_SIMPLE_ASYNC (get_queue_num, VHOST_USER_GET_QUEUE_NUM, done_u64)

/**
 * vhost_user_master_get_queue_num_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @num: (out): the largest number of queues the back-end supports
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_queue_num_async().
 *
 * Returns: (skip): %TRUE on success
 */
MASTER_FINISH_U64 (get_queue_num)

/**
 * vhost_user_master_get_config_async:
 * @master: a #VhostUserMaster
 * @offset: the offset in the device's configuration space
 * @size: how many bytes to read, at most 256
 * @flags: 0, or 1 for a read made for live migration
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the configuration space
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_config(); @callback calls
 * vhost_user_master_get_config_finish().
 */
void
vhost_user_master_get_config_async (VhostUserMaster *master,
                                    guint offset,
                                    guint size,
                                    guint flags,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  op = op_new (master, vhost_user_master_get_config_async, RESULT_FULL, cancellable, callback, user_data);
  master_build_get_config (offset, size, flags, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, done_get_config);
}

/**
 * vhost_user_master_get_config_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_config_async().
 *
 * Returns: (transfer full): the bytes of configuration space asked for, or %NULL
 *   on error
 */
GBytes *
vhost_user_master_get_config_finish (VhostUserMaster *master, GAsyncResult *result, GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, vhost_user_master_get_config_async, error);

  return r != NULL ? g_steal_pointer (&r->bytes) : NULL;
}

/**
 * vhost_user_master_set_config_async:
 * @master: a #VhostUserMaster
 * @offset: the offset in the device's configuration space
 * @data: the bytes to write, at most 256
 * @flags: 0, or 1 for a write made for live migration
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end took the bytes
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_config(); @callback calls
 * vhost_user_master_set_config_finish().
 */
void
vhost_user_master_set_config_async (VhostUserMaster *master,
                                    guint offset,
                                    GBytes *data,
                                    guint flags,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (data != NULL);
  op = op_new (master, vhost_user_master_set_config_async, RESULT_FULL, cancellable, callback, user_data);
  master_build_set_config (offset, data, flags, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, NULL);
}

/**
 * vhost_user_master_set_config_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_config_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_config)

static void
master_vring_enable_async (VhostUserMaster *master,
                           guint index,
                           gboolean enable,
                           gpointer tag,
                           ResultKind kind,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  MasterOp *op = op_new (master, tag, kind, cancellable, callback, user_data);
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, VHOST_USER_SET_VRING_ENABLE, index, enable ? 1 : 0);
  op_submit_msg (op, &msg, master_check_vring_enable, NULL);
}

/**
 * vhost_user_master_set_vring_enable_async:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @enable: whether the back-end may process the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the queue is enabled or disabled
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_vring_enable(); @callback calls
 * vhost_user_master_set_vring_enable_finish().
 */
void
vhost_user_master_set_vring_enable_async (VhostUserMaster *master,
                                          guint index,
                                          gboolean enable,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  master_vring_enable_async (master, index, enable, vhost_user_master_set_vring_enable_async, RESULT_FULL,
                             cancellable, callback, user_data);
}

/**
 * vhost_user_master_set_vring_enable_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_vring_enable_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_vring_enable)

/**
 * vhost_user_master_get_inflight_fd_async:
 * @master: a #VhostUserMaster
 * @num_queues: the number of queues to track
 * @queue_size: the size of each queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the tracking area
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_inflight_fd(); @callback calls
 * vhost_user_master_get_inflight_fd_finish().
 */
void
vhost_user_master_get_inflight_fd_async (VhostUserMaster *master,
                                         guint num_queues,
                                         guint queue_size,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  master_build_inflight (VHOST_USER_GET_INFLIGHT_FD, -1, 0, 0, num_queues, queue_size, &msg);
  master_call_async (master, &msg, vhost_user_master_get_inflight_fd_async, RESULT_FULL, done_get_inflight_fd,
                     cancellable, callback, user_data);
}

/**
 * vhost_user_master_get_inflight_fd_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @mmap_size: (out) (optional): the size of the tracking area
 * @mmap_offset: (out) (optional): the offset of the tracking area in the returned fd
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_inflight_fd_async().
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
gint
vhost_user_master_get_inflight_fd_finish (VhostUserMaster *master,
                                          GAsyncResult *result,
                                          guint64 *mmap_size,
                                          guint64 *mmap_offset,
                                          GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, vhost_user_master_get_inflight_fd_async, error);
  gint fd = -1;

  if (r == NULL)
    return -1;
  if (mmap_size != NULL)
    *mmap_size = r->size;
  if (mmap_offset != NULL)
    *mmap_offset = r->offset;
  fd = r->fd;
  r->fd = -1;
  return fd;
}

/**
 * vhost_user_master_set_inflight_fd_async:
 * @master: a #VhostUserMaster
 * @fd: the tracking area (borrowed: it may be closed once this function returns)
 * @mmap_size: the size of the tracking area
 * @mmap_offset: the offset of the tracking area in @fd
 * @num_queues: the number of queues
 * @queue_size: the size of each queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end has the area
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_inflight_fd(); @callback calls
 * vhost_user_master_set_inflight_fd_finish().
 */
void
vhost_user_master_set_inflight_fd_async (VhostUserMaster *master,
                                         gint fd,
                                         guint64 mmap_size,
                                         guint64 mmap_offset,
                                         guint num_queues,
                                         guint queue_size,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (fd >= 0);
  master_build_inflight (VHOST_USER_SET_INFLIGHT_FD, fd, mmap_size, mmap_offset, num_queues, queue_size, &msg);
  master_call_async (master, &msg, vhost_user_master_set_inflight_fd_async, RESULT_FULL, NULL, cancellable,
                     callback, user_data);
}

/**
 * vhost_user_master_set_inflight_fd_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_inflight_fd_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_inflight_fd)

/**
 * vhost_user_master_get_max_mem_slots_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end answered
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_max_mem_slots(); @callback calls
 * vhost_user_master_get_max_mem_slots_finish().
 */
MASTER_SIMPLE_ASYNC (get_max_mem_slots, VHOST_USER_GET_MAX_MEM_SLOTS, done_u64)

/**
 * vhost_user_master_get_max_mem_slots_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @slots: (out): how many memory regions the back-end accepts
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_max_mem_slots_async().
 *
 * Returns: (skip): %TRUE on success
 */
MASTER_FINISH_U64 (get_max_mem_slots)

static void
master_mem_reg_async (VhostUserMaster *master,
                      VhostUserRequest request,
                      VhostMemoryRegion *region,
                      gpointer tag,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (region != NULL);
  op = op_new (master, tag, RESULT_FULL, cancellable, callback, user_data);
  master_build_mem_reg (request, region, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, done_mem_reg);
}

/**
 * vhost_user_master_add_mem_region_async:
 * @master: a #VhostUserMaster
 * @region: the region to add; it must have a file descriptor
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the region is added
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_add_mem_region(); @callback calls
 * vhost_user_master_add_mem_region_finish().
 */
void
vhost_user_master_add_mem_region_async (VhostUserMaster *master,
                                        VhostMemoryRegion *region,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  master_mem_reg_async (master, VHOST_USER_ADD_MEM_REG, region, vhost_user_master_add_mem_region_async,
                        cancellable, callback, user_data);
}

/**
 * vhost_user_master_add_mem_region_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_add_mem_region_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (add_mem_region)

/**
 * vhost_user_master_remove_mem_region_async:
 * @master: a #VhostUserMaster
 * @region: the region to remove, identified by its guest address, user address and size
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the region is removed
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_remove_mem_region(); @callback calls
 * vhost_user_master_remove_mem_region_finish().
 */
void
vhost_user_master_remove_mem_region_async (VhostUserMaster *master,
                                           VhostMemoryRegion *region,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  master_mem_reg_async (master, VHOST_USER_REM_MEM_REG, region, vhost_user_master_remove_mem_region_async,
                        cancellable, callback, user_data);
}

/**
 * vhost_user_master_remove_mem_region_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_remove_mem_region_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (remove_mem_region)

/**
 * vhost_user_master_set_status_async:
 * @master: a #VhostUserMaster
 * @status: the virtio device status byte
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the status is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_status(); @callback calls
 * vhost_user_master_set_status_finish().
 */
void
vhost_user_master_set_status_async (VhostUserMaster *master,
                                    guint8 status,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  master_u64_async (master, VHOST_USER_SET_STATUS, status, vhost_user_master_set_status_async, RESULT_FULL,
                    done_set_status, cancellable, callback, user_data);
}

/**
 * vhost_user_master_set_status_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_status_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_status)

/**
 * vhost_user_master_get_status_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the status
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_status(); @callback calls
 * vhost_user_master_get_status_finish().
 */
MASTER_SIMPLE_ASYNC (get_status, VHOST_USER_GET_STATUS, done_get_status)

/**
 * vhost_user_master_get_status_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @status: (out): the virtio device status byte
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_status_async().
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_get_status_finish (VhostUserMaster *master, GAsyncResult *result, guint8 *status, GError **error)
{
  guint64 value;

  if (!finish_u64 (master, result, vhost_user_master_get_status_async, &value, error))
    return FALSE;
  if (status != NULL)
    *status = value;
  return TRUE;
}

/**
 * vhost_user_master_reset_device_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the device is reset
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_reset_device(); @callback calls
 * vhost_user_master_reset_device_finish().
 */
MASTER_SIMPLE_ASYNC (reset_device, VHOST_USER_RESET_DEVICE, done_reset_device)

/**
 * vhost_user_master_reset_device_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_reset_device_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (reset_device)

/**
 * vhost_user_master_set_device_state_fd_async:
 * @master: a #VhostUserMaster
 * @direction: whether the back-end saves its state (writes it into @fd) or loads it
 * @phase: the migration phase
 * @fd: the pipe end the back-end reads or writes (borrowed: it may be closed once
 *   this function returns)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the transfer has started
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_device_state_fd(); @callback
 * calls vhost_user_master_set_device_state_fd_finish().
 */
void
vhost_user_master_set_device_state_fd_async (VhostUserMaster *master,
                                             VhostDeviceStateDirection direction,
                                             VhostDeviceStatePhase phase,
                                             gint fd,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (fd >= 0);
  master_build_device_state (direction, phase, fd, &msg);
  master_call_async (master, &msg, vhost_user_master_set_device_state_fd_async, RESULT_FULL, done_device_state,
                     cancellable, callback, user_data);
}

/**
 * vhost_user_master_set_device_state_fd_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @out_fd: (out) (optional): a file descriptor the back-end wants used instead, or -1
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_device_state_fd_async().
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_user_master_set_device_state_fd_finish (VhostUserMaster *master,
                                              GAsyncResult *result,
                                              gint *out_fd,
                                              GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, vhost_user_master_set_device_state_fd_async, error);

  if (out_fd != NULL)
    {
      *out_fd = r != NULL ? r->fd : -1;
      if (r != NULL)
        r->fd = -1;
    }
  return r != NULL;
}

/**
 * vhost_user_master_check_device_state_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the back-end's answer
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_check_device_state(); @callback
 * calls vhost_user_master_check_device_state_finish().
 */
MASTER_SIMPLE_ASYNC (check_device_state, VHOST_USER_CHECK_DEVICE_STATE, done_status)

/**
 * vhost_user_master_check_device_state_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_check_device_state_async().
 *
 * Returns: %TRUE if the back-end finished the transfer successfully
 */
MASTER_FINISH_BOOLEAN (check_device_state)

/**
 * vhost_user_master_postcopy_advise_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the back-end's userfaultfd
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_postcopy_advise(); @callback calls
 * vhost_user_master_postcopy_advise_finish().
 */
MASTER_SIMPLE_ASYNC (postcopy_advise, VHOST_USER_POSTCOPY_ADVISE, done_fd)

/**
 * vhost_user_master_postcopy_advise_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_postcopy_advise_async().
 *
 * Returns: the userfaultfd, which the caller owns, or -1 on error
 */
MASTER_FINISH_FD (postcopy_advise)

/**
 * vhost_user_master_postcopy_listen_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end listens
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_postcopy_listen(): the memory tables
 * sent after it are answered as postcopy orders. @callback calls
 * vhost_user_master_postcopy_listen_finish().
 */
MASTER_SIMPLE_ASYNC (postcopy_listen, VHOST_USER_POSTCOPY_LISTEN, done_postcopy_listen)

/**
 * vhost_user_master_postcopy_listen_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_postcopy_listen_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (postcopy_listen)

/**
 * vhost_user_master_postcopy_end_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when postcopy is over for the back-end
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_postcopy_end(); @callback calls
 * vhost_user_master_postcopy_end_finish().
 */
MASTER_SIMPLE_ASYNC (postcopy_end, VHOST_USER_POSTCOPY_END, done_postcopy_end)

/**
 * vhost_user_master_postcopy_end_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_postcopy_end_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (postcopy_end)

/**
 * vhost_user_master_get_shared_object_async:
 * @master: a #VhostUserMaster
 * @uuid: the 16-byte UUID of the object
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the object's file descriptor
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_shared_object(); @callback calls
 * vhost_user_master_get_shared_object_finish().
 */
void
vhost_user_master_get_shared_object_async (VhostUserMaster *master,
                                           GBytes *uuid,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  op = op_new (master, vhost_user_master_get_shared_object_async, RESULT_FULL, cancellable, callback, user_data);
  master_build_shared_object (uuid, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, done_shared_object);
}

/**
 * vhost_user_master_get_shared_object_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_shared_object_async().
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
MASTER_FINISH_FD (get_shared_object)

/**
 * vhost_user_master_get_shmem_config_async:
 * @master: a #VhostUserMaster
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the regions
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_get_shmem_config(); @callback calls
 * vhost_user_master_get_shmem_config_finish().
 */
MASTER_SIMPLE_ASYNC (get_shmem_config, VHOST_USER_GET_SHMEM_CONFIG, done_shmem_config)

/**
 * vhost_user_master_get_shmem_config_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @n_sizes: (out): the number of entries returned: one past the last region
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_get_shmem_config_async().
 *
 * Returns: (array length=n_sizes) (transfer full) (nullable): the size of each
 *   region, by region ID (shmid), 0 for an ID the device does not use; %NULL on
 *   error (and when the device has no region, with no error)
 */
guint64 *
vhost_user_master_get_shmem_config_finish (VhostUserMaster *master, GAsyncResult *result, guint *n_sizes,
                                           GError **error)
{
  g_autoptr(MasterResult) r = op_finish (master, result, vhost_user_master_get_shmem_config_async, error);

  g_return_val_if_fail (n_sizes != NULL, NULL);
  *n_sizes = r != NULL ? r->value : 0;
  return r != NULL ? g_steal_pointer (&r->sizes) : NULL;
}

/**
 * vhost_user_master_send_rarp_async:
 * @master: a #VhostUserMaster
 * @mac: (array fixed-size=6): the guest's MAC address
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the request is sent (or acknowledged)
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_send_rarp(); @callback calls
 * vhost_user_master_send_rarp_finish().
 */
void
vhost_user_master_send_rarp_async (VhostUserMaster *master,
                                   const guint8 *mac,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  g_return_if_fail (mac != NULL);
  master_build_rarp (mac, &msg);
  master_call_async (master, &msg, vhost_user_master_send_rarp_async, RESULT_FULL, NULL, cancellable, callback,
                     user_data);
}

/**
 * vhost_user_master_send_rarp_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_send_rarp_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (send_rarp)

/**
 * vhost_user_master_net_set_mtu_async:
 * @master: a #VhostUserMaster
 * @mtu: the MTU
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the MTU is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_net_set_mtu(); @callback calls
 * vhost_user_master_net_set_mtu_finish().
 */
void
vhost_user_master_net_set_mtu_async (VhostUserMaster *master,
                                     guint mtu,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  master_u64_async (master, VHOST_USER_NET_SET_MTU, mtu, vhost_user_master_net_set_mtu_async, RESULT_FULL, NULL,
                    cancellable, callback, user_data);
}

/**
 * vhost_user_master_net_set_mtu_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_net_set_mtu_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (net_set_mtu)

/**
 * vhost_user_master_set_vring_endian_async:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @big_endian: whether the legacy queue is big-endian
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the byte order is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_set_vring_endian(); @callback calls
 * vhost_user_master_set_vring_endian_finish().
 */
void
vhost_user_master_set_vring_endian_async (VhostUserMaster *master,
                                          guint index,
                                          gboolean big_endian,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  master_state_async (master, VHOST_USER_SET_VRING_ENDIAN, index, big_endian ? 1 : 0,
                      vhost_user_master_set_vring_endian_async, RESULT_FULL, cancellable, callback, user_data);
}

/**
 * vhost_user_master_set_vring_endian_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_set_vring_endian_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (set_vring_endian)

/**
 * vhost_user_master_iotlb_msg_async:
 * @master: a #VhostUserMaster
 * @iova: the I/O virtual address
 * @size: the size of the range
 * @uaddr: the user address it maps to
 * @perm: the access allowed
 * @type: %VHOST_IOTLB_MESSAGE_UPDATE or %VHOST_IOTLB_MESSAGE_INVALIDATE
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the back-end took the message
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_iotlb_msg(); @callback calls
 * vhost_user_master_iotlb_msg_finish().
 */
void
vhost_user_master_iotlb_msg_async (VhostUserMaster *master,
                                   guint64 iova,
                                   guint64 size,
                                   guint64 uaddr,
                                   VhostIotlbAccess perm,
                                   VhostIotlbMessageType type,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  vhost_user_msg_init_iotlb (&msg, VHOST_USER_IOTLB_MSG, iova, size, uaddr, perm, type);
  master_call_async (master, &msg, vhost_user_master_iotlb_msg_async, RESULT_FULL, done_status, cancellable,
                     callback, user_data);
}

/**
 * vhost_user_master_iotlb_msg_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_iotlb_msg_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (iotlb_msg)

/**
 * vhost_user_master_vring_kick_async:
 * @master: a #VhostUserMaster
 * @index: the queue index
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the kick is sent (or acknowledged)
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_user_master_vring_kick(); @callback calls
 * vhost_user_master_vring_kick_finish().
 */
void
vhost_user_master_vring_kick_async (VhostUserMaster *master,
                                    guint index,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  MasterOp *op;
  VhostUserMsg msg;

  g_return_if_fail (VHOST_IS_USER_MASTER (master));
  op = op_new (master, vhost_user_master_vring_kick_async, RESULT_FULL, cancellable, callback, user_data);
  master_build_vring_kick (index, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, NULL);
}

/**
 * vhost_user_master_vring_kick_finish:
 * @master: a #VhostUserMaster
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_master_vring_kick_async().
 *
 * Returns: %TRUE on success
 */
MASTER_FINISH_BOOLEAN (vring_kick)

/* VhostBackend, asynchronously. The GTasks follow the interface's convention, so
 * that its default finishing functions take them. */

static gboolean
done_get_features (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  if (!master_reply_u64 (reply, NULL, &op->result.value, error))
    return FALSE;
  self->offered_features = op->result.value;
  return TRUE;
}

static void
master_backend_get_features_async (VhostBackend *backend,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  master_simple_async (VHOST_USER_MASTER (backend), VHOST_USER_GET_FEATURES, vhost_backend_get_features_async,
                       RESULT_U64, done_get_features, cancellable, callback, user_data);
}

static gboolean
done_set_features (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  master_set_acked_features (self, op->msg->payload.u64);
  return TRUE;
}

static void
master_backend_set_features_async (VhostBackend *backend,
                                   guint64 features,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  VhostUserMsg msg;

  vhost_user_msg_init_u64 (&msg, VHOST_USER_SET_FEATURES, features);
  master_call_async (VHOST_USER_MASTER (backend), &msg, vhost_backend_set_features_async, RESULT_BOOLEAN,
                     done_set_features, cancellable, callback, user_data);
}

static void
master_backend_set_owner_async (VhostBackend *backend,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  master_simple_async (VHOST_USER_MASTER (backend), VHOST_USER_SET_OWNER, vhost_backend_set_owner_async,
                       RESULT_BOOLEAN, NULL, cancellable, callback, user_data);
}

static void
master_backend_reset_owner_async (VhostBackend *backend,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  master_simple_async (VHOST_USER_MASTER (backend), VHOST_USER_RESET_OWNER, vhost_backend_reset_owner_async,
                       RESULT_BOOLEAN, NULL, cancellable, callback, user_data);
}

static void
master_backend_set_mem_table_async (VhostBackend *backend,
                                    VhostMemoryRegion **regions,
                                    guint n_regions,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  MasterOp *op = op_new (VHOST_USER_MASTER (backend), vhost_backend_set_mem_table_async, RESULT_BOOLEAN,
                         cancellable, callback, user_data);
  VhostUserMsg msg;

  master_build_mem_table (regions, n_regions, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, NULL);
}

static void
master_backend_set_log_base_async (VhostBackend *backend,
                                   guint64 base,
                                   guint64 size,
                                   gint fd,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  VhostUserMsg msg;

  master_build_log_base (base, size, fd, &msg);
  master_call_async (VHOST_USER_MASTER (backend), &msg, vhost_backend_set_log_base_async, RESULT_BOOLEAN,
                     done_status, cancellable, callback, user_data);
}

static void
master_backend_set_log_fd_async (VhostBackend *backend,
                                 gint fd,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  VhostUserMsg msg;

  g_return_if_fail (fd >= 0);
  vhost_user_msg_init (&msg, VHOST_USER_SET_LOG_FD, 0);
  msg.fds[msg.n_fds++] = fd;
  master_call_async (VHOST_USER_MASTER (backend), &msg, vhost_backend_set_log_fd_async, RESULT_BOOLEAN, NULL,
                     cancellable, callback, user_data);
}

static void
master_backend_set_vring_num_async (VhostBackend *backend,
                                    guint index,
                                    guint num,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  master_state_async (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_NUM, index, num,
                      vhost_backend_set_vring_num_async, RESULT_BOOLEAN, cancellable, callback, user_data);
}

static void
master_backend_set_vring_addr_async (VhostBackend *backend,
                                     VhostVringAddr *addr,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  VhostUserMsg msg;

  master_build_vring_addr (addr, &msg);
  master_call_async (VHOST_USER_MASTER (backend), &msg, vhost_backend_set_vring_addr_async, RESULT_BOOLEAN, NULL,
                     cancellable, callback, user_data);
}

static void
master_backend_set_vring_base_async (VhostBackend *backend,
                                     guint index,
                                     guint base,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  master_state_async (VHOST_USER_MASTER (backend), VHOST_USER_SET_VRING_BASE, index, base,
                      vhost_backend_set_vring_base_async, RESULT_BOOLEAN, cancellable, callback, user_data);
}

static gboolean
done_get_vring_base (VhostUserMaster *self, MasterOp *op, VhostUserMsg *reply, GError **error)
{
  guint base;

  if (!master_vring_base_reply (self, op->msg->payload.state.index, reply, &base, error))
    return FALSE;
  op->result.value = base;
  return TRUE;
}

static void
master_backend_get_vring_base_async (VhostBackend *backend,
                                     guint index,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, VHOST_USER_GET_VRING_BASE, index, 0);
  master_call_async (VHOST_USER_MASTER (backend), &msg, vhost_backend_get_vring_base_async, RESULT_U64,
                     done_get_vring_base, cancellable, callback, user_data);
}

static void
master_vring_fd_async (VhostBackend *backend,
                       VhostUserRequest request,
                       guint index,
                       gint fd,
                       gpointer tag,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  MasterOp *op = op_new (VHOST_USER_MASTER (backend), tag, RESULT_BOOLEAN, cancellable, callback, user_data);
  VhostUserMsg msg;

  master_build_vring_fd (request, index, fd, &msg, &op->error);
  op_submit_msg (op, &msg, NULL, NULL);
}

static void
master_backend_set_vring_kick_async (VhostBackend *backend,
                                     guint index,
                                     gint fd,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  master_vring_fd_async (backend, VHOST_USER_SET_VRING_KICK, index, fd, vhost_backend_set_vring_kick_async,
                         cancellable, callback, user_data);
}

static void
master_backend_set_vring_call_async (VhostBackend *backend,
                                     guint index,
                                     gint fd,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  master_vring_fd_async (backend, VHOST_USER_SET_VRING_CALL, index, fd, vhost_backend_set_vring_call_async,
                         cancellable, callback, user_data);
}

static void
master_backend_set_vring_err_async (VhostBackend *backend,
                                    guint index,
                                    gint fd,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  master_vring_fd_async (backend, VHOST_USER_SET_VRING_ERR, index, fd, vhost_backend_set_vring_err_async,
                         cancellable, callback, user_data);
}

static void
master_backend_set_vring_enable_async (VhostBackend *backend,
                                       guint index,
                                       gboolean enable,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  master_vring_enable_async (VHOST_USER_MASTER (backend), index, enable, vhost_backend_set_vring_enable_async,
                             RESULT_BOOLEAN, cancellable, callback, user_data);
}

static void
master_backend_set_status_async (VhostBackend *backend,
                                 guint8 status,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  master_u64_async (VHOST_USER_MASTER (backend), VHOST_USER_SET_STATUS, status, vhost_backend_set_status_async,
                    RESULT_BOOLEAN, done_set_status, cancellable, callback, user_data);
}

static void
master_backend_get_status_async (VhostBackend *backend,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  master_simple_async (VHOST_USER_MASTER (backend), VHOST_USER_GET_STATUS, vhost_backend_get_status_async,
                       RESULT_U64, done_get_status, cancellable, callback, user_data);
}

static void
master_backend_negotiate_protocol_async (VhostBackend *backend,
                                         guint64 wanted,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  MasterOp *op = op_new (VHOST_USER_MASTER (backend), vhost_backend_negotiate_protocol_async, RESULT_U64,
                         cancellable, callback, user_data);

  op->step = step_negotiate;
  op->arg = wanted;
  op_submit (op);
}

void
master_backend_async_iface_init (VhostBackendInterface *iface)
{
  iface->get_features_async = master_backend_get_features_async;
  iface->set_features_async = master_backend_set_features_async;
  iface->set_owner_async = master_backend_set_owner_async;
  iface->reset_owner_async = master_backend_reset_owner_async;
  iface->set_mem_table_async = master_backend_set_mem_table_async;
  iface->set_log_base_async = master_backend_set_log_base_async;
  iface->set_log_fd_async = master_backend_set_log_fd_async;
  iface->set_vring_num_async = master_backend_set_vring_num_async;
  iface->set_vring_addr_async = master_backend_set_vring_addr_async;
  iface->set_vring_base_async = master_backend_set_vring_base_async;
  iface->get_vring_base_async = master_backend_get_vring_base_async;
  iface->set_vring_kick_async = master_backend_set_vring_kick_async;
  iface->set_vring_call_async = master_backend_set_vring_call_async;
  iface->set_vring_err_async = master_backend_set_vring_err_async;
  iface->set_vring_enable_async = master_backend_set_vring_enable_async;
  iface->set_status_async = master_backend_set_status_async;
  iface->get_status_async = master_backend_get_status_async;
  iface->negotiate_protocol_async = master_backend_negotiate_protocol_async;
}
