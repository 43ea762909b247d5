/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserChannel: non-blocking framing of vhost-user messages and their fds over a unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "vhost-user-channel-private.h"

typedef struct
{
  guint8 *data;                  /* (owned) header and payload, as on the wire */
  gsize len;
  gsize off;
  int fds[VHOST_USER_MAX_FDS];   /* (owned) duplicates, sent with the first byte */
  guint n_fds;
} OutBuf;

typedef struct
{
  guint32 request;
  gboolean ack;                  /* the reply is a REPLY_ACK status */
  guint32 echo_size;             /* non-zero: the reply gives the request's payload back (postcopy) */
  gboolean abandoned;            /* the caller went away; drop the reply */
  gboolean done;
  VhostUserMsg *reply;           /* (owned) (nullable) */
  GError *error;                 /* (owned) (nullable) */
  VhostUserChannelReplyFunc func; /* (nullable): calls started with vhost_user_channel_call_start() */
  gpointer func_data;
} PendingCall;

struct _VhostUserChannel
{
  gatomicrefcount ref_count;
  VhostUserChannelKind kind;
  VhostUserChannelRole role;
  int fd;                        /* (owned) -1 once closed */
  GMainContext *context;         /* (owned) */
  GSource *in_source;            /* (owned) (nullable) */
  GSource *out_source;           /* (owned) (nullable) */
  VhostUserMsg *in_msg;          /* (owned) the message being read */
  gsize in_have;                 /* bytes of it read so far */
  GQueue out_queue;              /* (element-type OutBuf) (owned) */
  gsize out_bytes;               /* what out_queue holds */
  gboolean input_paused;         /* back-pressure: replies pile up, so no more requests are read */
  GQueue pending;                /* (element-type PendingCall) (owned) */
  guint64 protocol_features;
  guint timeout_ms;
  VhostUserChannel *companion;   /* (unowned) (nullable) */
  gboolean dispatching;
  GError *close_error;           /* (owned) (nullable) */
  VhostUserChannelRequestFunc request_func;
  VhostUserChannelClosedFunc closed_func;
  gpointer user_data;
};

static void channel_close_internal (VhostUserChannel *channel, GError *error);

/* Back-pressure on a responder: a peer that sends requests and does not read
 * the replies would make us queue them without end. Past OUT_HIGH bytes of
 * unsent replies no request is read, until they drain below OUT_LOW. */
#define OUT_HIGH (256 * 1024)
#define OUT_LOW (64 * 1024)

/* The error code for a failed recvmsg() or sendmsg(). */
static VhostError
errno_to_code (int errsv)
{
  return (errsv == EPIPE || errsv == ECONNRESET) ? VHOST_ERROR_DISCONNECTED : VHOST_ERROR_IO;
}
static void channel_shutdown (VhostUserChannel *channel, GError *error);
static void channel_start_input (VhostUserChannel *channel);
static gboolean channel_flush (VhostUserChannel *channel);

VhostUserMsg *
vhost_user_msg_new (void)
{
  VhostUserMsg *msg = g_new (VhostUserMsg, 1);

  vhost_user_msg_init (msg, 0, 0);
  return msg;
}

void
vhost_user_msg_free (VhostUserMsg *msg)
{
  if (msg == NULL)
    return;
  vhost_user_msg_close_fds (msg);
  g_free (msg);
}

static void
out_buf_free (OutBuf *buf)
{
  for (guint i = 0; i < buf->n_fds; i++)
    close (buf->fds[i]);
  g_free (buf->data);
  g_free (buf);
}

static void
pending_call_free (PendingCall *call)
{
  vhost_user_msg_free (call->reply);
  g_clear_error (&call->error);
  g_free (call);
}

/* Hand a finished call to whoever waits for it: a reply function at once, or a
 * sync waiter, which frees its own call. */
static void
pending_call_complete (VhostUserChannel *channel, PendingCall *call)
{
  call->done = TRUE;
  if (call->func != NULL)
    {
      call->func (channel, g_steal_pointer (&call->reply), call->error, call->func_data);
      pending_call_free (call);
    }
  else if (call->abandoned)
    pending_call_free (call);
}

VhostUserChannel *
vhost_user_channel_new (int fd,
                        VhostUserChannelKind kind,
                        VhostUserChannelRole role,
                        GMainContext *context,
                        VhostUserChannelRequestFunc request_func,
                        VhostUserChannelClosedFunc closed_func,
                        gpointer user_data)
{
  VhostUserChannel *channel = g_new0 (VhostUserChannel, 1);

  g_atomic_ref_count_init (&channel->ref_count);
  channel->kind = kind;
  channel->role = role;
  channel->fd = fd;
  channel->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  channel->in_msg = vhost_user_msg_new ();
  g_queue_init (&channel->out_queue);
  g_queue_init (&channel->pending);
  channel->request_func = request_func;
  channel->closed_func = closed_func;
  channel->user_data = user_data;

  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  channel_start_input (channel);
  return channel;
}

static gboolean channel_in_cb (gint fd, GIOCondition condition, gpointer user_data);

static void
channel_start_input (VhostUserChannel *channel)
{
  if (channel->in_source != NULL || channel->fd < 0 || channel->input_paused)
    return;
  channel->in_source = g_unix_fd_source_new (channel->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_static_name (channel->in_source,
                            channel->kind == VHOST_USER_CHANNEL_FRONTEND ? "[vhost] vhost-user socket"
                                                                          : "[vhost] back-end request channel");
  g_source_set_callback (channel->in_source, G_SOURCE_FUNC (channel_in_cb), channel, NULL);
  g_source_attach (channel->in_source, channel->context);
}

VhostUserChannel *
vhost_user_channel_ref (VhostUserChannel *channel)
{
  g_atomic_ref_count_inc (&channel->ref_count);
  return channel;
}

void
vhost_user_channel_unref (VhostUserChannel *channel)
{
  if (channel == NULL || !g_atomic_ref_count_dec (&channel->ref_count))
    return;
  channel->request_func = NULL;
  channel->closed_func = NULL;
  channel_shutdown (channel, NULL);
  vhost_user_msg_free (channel->in_msg);
  g_clear_error (&channel->close_error);
  g_main_context_unref (channel->context);
  g_free (channel);
}

void
vhost_user_channel_fail (VhostUserChannel *channel, const GError *error)
{
  channel_close_internal (channel, g_error_copy (error));
}

gboolean
vhost_user_channel_is_open (VhostUserChannel *channel)
{
  return channel->fd >= 0;
}

void
vhost_user_channel_set_protocol_features (VhostUserChannel *channel, guint64 features)
{
  channel->protocol_features = features;
}

guint64
vhost_user_channel_get_protocol_features (VhostUserChannel *channel)
{
  return channel->protocol_features;
}

void
vhost_user_channel_set_companion (VhostUserChannel *channel, VhostUserChannel *companion)
{
  channel->companion = companion;
}

void
vhost_user_channel_set_timeout (VhostUserChannel *channel, guint timeout_ms)
{
  channel->timeout_ms = timeout_ms;
}

void
vhost_user_channel_close (VhostUserChannel *channel)
{
  channel->request_func = NULL;
  channel->closed_func = NULL;
  channel_close_internal (channel, NULL);
}

/* Close the socket and fail what is pending. Takes `error`. Callers that may run
 * with the last reference held elsewhere go through channel_close_internal(). */
static void
channel_shutdown (VhostUserChannel *channel, GError *error)
{
  VhostUserChannelClosedFunc closed_func = channel->closed_func;
  PendingCall *call;

  if (channel->fd < 0)
    {
      g_clear_error (&error);
      return;
    }

  if (channel->in_source != NULL)
    g_source_destroy (channel->in_source);
  g_clear_pointer (&channel->in_source, g_source_unref);
  if (channel->out_source != NULL)
    g_source_destroy (channel->out_source);
  g_clear_pointer (&channel->out_source, g_source_unref);
  close (channel->fd);
  channel->fd = -1;
  g_queue_clear_full (&channel->out_queue, (GDestroyNotify) out_buf_free);
  channel->out_bytes = 0;
  vhost_user_msg_close_fds (channel->in_msg);
  channel->in_have = 0;

  g_clear_error (&channel->close_error);
  channel->close_error = error != NULL ? g_error_copy (error)
                                       : g_error_new_literal (VHOST_ERROR, VHOST_ERROR_DISCONNECTED,
                                                              "The connection was closed");

  while ((call = g_queue_pop_head (&channel->pending)) != NULL)
    {
      call->error = g_error_copy (channel->close_error);
      pending_call_complete (channel, call);
    }
  if (error != NULL && closed_func != NULL)
    {
      channel->closed_func = NULL;
      closed_func (channel, error, channel->user_data);
    }
  g_clear_error (&error);
}

static void
channel_close_internal (VhostUserChannel *channel, GError *error)
{
  vhost_user_channel_ref (channel);
  channel_shutdown (channel, error);
  vhost_user_channel_unref (channel);
}

/* A complete reply on a requester end: match it to the oldest call. */
static void
channel_handle_reply (VhostUserChannel *channel, VhostUserMsg *msg)
{
  PendingCall *call = g_queue_peek_head (&channel->pending);
  GError *error = NULL;

  if (call == NULL)
    {
      channel_close_internal (channel,
                              g_error_new (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                           "%s: unexpected message with no request pending",
                                           vhost_user_request_name (channel->kind, msg->hdr.request)));
      vhost_user_msg_free (msg);
      return;
    }
  if (vhost_user_request_info (channel->kind, msg->hdr.request) == NULL)
    {
      channel_close_internal (channel,
                              g_error_new (VHOST_ERROR, VHOST_ERROR_UNKNOWN_REQUEST,
                                           "%s: the reply has the unknown request code %u",
                                           vhost_user_request_name (channel->kind, call->request),
                                           msg->hdr.request));
      vhost_user_msg_free (msg);
      return;
    }
  if (call->echo_size > 0 ? !vhost_user_echo_reply_validate (channel->kind, call->request, call->echo_size, msg, &error)
                          : !vhost_user_reply_validate (channel->kind, call->request, call->ack, msg, &error))
    {
      channel_close_internal (channel, error);
      vhost_user_msg_free (msg);
      return;
    }

  g_queue_pop_head (&channel->pending);
  if (call->ack)
    {
      if (msg->payload.u64 != 0)
        call->error = g_error_new (VHOST_ERROR, VHOST_ERROR_REJECTED,
                                   "%s: the peer answered failure (status %" G_GUINT64_FORMAT ")",
                                   vhost_user_request_name (channel->kind, call->request),
                                   msg->payload.u64);
      vhost_user_msg_free (msg);
    }
  else
    call->reply = msg;
  pending_call_complete (channel, call);
}

static void
channel_handle_request (VhostUserChannel *channel, VhostUserMsg *msg)
{
  GError *error = NULL;

  if (!vhost_user_request_validate (channel->kind, msg, &error))
    {
      channel_close_internal (channel, error);
      vhost_user_msg_free (msg);
      return;
    }
  channel->dispatching = TRUE;
  if (channel->request_func != NULL)
    channel->request_func (channel, msg, channel->user_data);
  channel->dispatching = FALSE;
  vhost_user_msg_free (msg);
}

static const char *
channel_in_name (VhostUserChannel *channel)
{
  return vhost_user_request_name (channel->kind, channel->in_msg->hdr.request);
}

/* Read what the socket has, without blocking, and dispatch every complete message. */
static void
channel_process_input (VhostUserChannel *channel)
{
  vhost_user_channel_ref (channel);

  while (channel->fd >= 0 && !channel->dispatching)
    {
      VhostUserMsg *in = channel->in_msg;

      if (channel->role == VHOST_USER_CHANNEL_RESPONDER && channel->out_bytes > OUT_HIGH)
        {
          channel->input_paused = TRUE;
          if (channel->in_source != NULL)
            g_source_destroy (channel->in_source);
          g_clear_pointer (&channel->in_source, g_source_unref);
          break;
        }
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
      } control;
      struct iovec iov;
      struct msghdr mh = { 0 };
      struct cmsghdr *cmsg;
      gboolean too_many = FALSE, foreign = FALSE;
      gsize want;
      gssize n;

      if (channel->in_have < VHOST_USER_HDR_SIZE)
        {
          iov.iov_base = (guint8 *) &in->hdr + channel->in_have;
          want = VHOST_USER_HDR_SIZE - channel->in_have;
        }
      else
        {
          gsize got = channel->in_have - VHOST_USER_HDR_SIZE;
          iov.iov_base = in->payload.bytes + got;
          want = in->hdr.size - got;
        }
      iov.iov_len = want;
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = control.buf;
      mh.msg_controllen = sizeof control.buf;

      n = recvmsg (channel->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            break;
          channel_close_internal (channel,
                                  g_error_new (VHOST_ERROR, errno_to_code (errsv),
                                               "Receiving a message failed: %s", g_strerror (errsv)));
          break;
        }

      for (cmsg = CMSG_FIRSTHDR (&mh); cmsg != NULL; cmsg = CMSG_NXTHDR (&mh, cmsg))
        {
          if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
            {
              guint count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
              int fds[VHOST_USER_MAX_FDS];

              memcpy (fds, CMSG_DATA (cmsg), MIN (count, VHOST_USER_MAX_FDS) * sizeof (int));
              for (guint i = 0; i < count && i < VHOST_USER_MAX_FDS; i++)
                {
                  if (in->n_fds < VHOST_USER_MAX_FDS)
                    in->fds[in->n_fds++] = fds[i];
                  else
                    {
                      close (fds[i]);
                      too_many = TRUE;
                    }
                }
            }
          else
            foreign = TRUE;
        }
      if (mh.msg_flags & MSG_CTRUNC)
        too_many = TRUE;

      if (too_many || foreign)
        {
          channel_close_internal (channel,
                                  g_error_new (VHOST_ERROR, VHOST_ERROR_FDS,
                                               too_many ? "%s: more than %u file descriptors"
                                                        : "%s: a control message other than SCM_RIGHTS",
                                               channel->in_have + n >= VHOST_USER_HDR_SIZE ? channel_in_name (channel) : "message",
                                               VHOST_USER_MAX_FDS));
          break;
        }

      if (n == 0)
        {
          GError *error;

          if (channel->in_have == 0 && in->n_fds == 0)
            error = g_error_new_literal (VHOST_ERROR, VHOST_ERROR_DISCONNECTED,
                                         "The peer closed the connection");
          else if (channel->in_have < VHOST_USER_HDR_SIZE)
            error = g_error_new (VHOST_ERROR, VHOST_ERROR_PROTOCOL,
                                 "Truncated message header: %" G_GSIZE_FORMAT " of %u bytes, then hang-up",
                                 channel->in_have, VHOST_USER_HDR_SIZE);
          else
            error = g_error_new (VHOST_ERROR, VHOST_ERROR_DISCONNECTED,
                                 "%s: hang-up in the middle of the message (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes)",
                                 channel_in_name (channel), channel->in_have,
                                 (gsize) VHOST_USER_HDR_SIZE + in->hdr.size);
          channel_close_internal (channel, error);
          break;
        }

      channel->in_have += n;
      if (channel->in_have == VHOST_USER_HDR_SIZE)
        {
          GError *error = NULL;

          if (!vhost_user_header_validate (channel->kind, &in->hdr, &error))
            {
              channel_close_internal (channel, error);
              break;
            }
        }
      if (channel->in_have >= VHOST_USER_HDR_SIZE &&
          channel->in_have == VHOST_USER_HDR_SIZE + in->hdr.size)
        {
          VhostUserMsg *msg = g_steal_pointer (&channel->in_msg);

          channel->in_msg = vhost_user_msg_new ();
          channel->in_have = 0;
          if (channel->role == VHOST_USER_CHANNEL_REQUESTER)
            channel_handle_reply (channel, msg);
          else
            channel_handle_request (channel, msg);
        }
    }

  vhost_user_channel_unref (channel);
}

static gboolean
channel_in_cb (gint fd, GIOCondition condition, gpointer user_data)
{
  VhostUserChannel *channel = user_data;

  channel_process_input (channel);
  return G_SOURCE_CONTINUE;
}

static gboolean
channel_out_cb (gint fd, GIOCondition condition, gpointer user_data)
{
  VhostUserChannel *channel = user_data;

  vhost_user_channel_ref (channel);
  channel_flush (channel);
  vhost_user_channel_unref (channel);
  return G_SOURCE_CONTINUE;
}

/* Write queued output without blocking; watch for G_IO_OUT while some remains. */
static gboolean
channel_flush (VhostUserChannel *channel)
{
  OutBuf *buf;

  while (channel->fd >= 0 && (buf = g_queue_peek_head (&channel->out_queue)) != NULL)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
      } control;
      struct iovec iov = { buf->data + buf->off, buf->len - buf->off };
      struct msghdr mh = { 0 };
      gssize n;

      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      if (buf->off == 0 && buf->n_fds > 0)
        {
          struct cmsghdr *cmsg;

          memset (&control, 0, sizeof control);
          mh.msg_control = control.buf;
          mh.msg_controllen = CMSG_SPACE (sizeof (int) * buf->n_fds);
          cmsg = CMSG_FIRSTHDR (&mh);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int) * buf->n_fds);
          memcpy (CMSG_DATA (cmsg), buf->fds, sizeof (int) * buf->n_fds);
        }

      n = sendmsg (channel->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            break;
          channel_close_internal (channel,
                                  g_error_new (VHOST_ERROR, errno_to_code (errsv),
                                               "%s: sending failed: %s",
                                               vhost_user_request_name (channel->kind, ((VhostUserHeader *) buf->data)->request),
                                               g_strerror (errsv)));
          return FALSE;
        }
      if (buf->n_fds > 0)
        {
          for (guint i = 0; i < buf->n_fds; i++)
            close (buf->fds[i]);
          buf->n_fds = 0;
        }
      buf->off += n;
      if (buf->off == buf->len)
        {
          channel->out_bytes -= buf->len;
          out_buf_free (g_queue_pop_head (&channel->out_queue));
        }
    }

  if (channel->input_paused && channel->out_bytes <= OUT_LOW)
    {
      channel->input_paused = FALSE;
      channel_start_input (channel);
    }

  if (channel->fd >= 0 && !g_queue_is_empty (&channel->out_queue))
    {
      if (channel->out_source == NULL)
        {
          channel->out_source = g_unix_fd_source_new (channel->fd, G_IO_OUT);
          g_source_set_static_name (channel->out_source, "[vhost] vhost-user output");
          g_source_set_callback (channel->out_source, G_SOURCE_FUNC (channel_out_cb), channel, NULL);
          g_source_attach (channel->out_source, channel->context);
        }
    }
  else if (channel->out_source != NULL)
    {
      g_source_destroy (channel->out_source);
      g_clear_pointer (&channel->out_source, g_source_unref);
    }
  return channel->fd >= 0;
}

/* Queue a copy of `msg` with duplicates of its fds, and start writing it. */
static gboolean
channel_queue (VhostUserChannel *channel, const VhostUserMsg *msg, GError **error)
{
  OutBuf *buf;

  if (channel->fd < 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED, "%s: not connected",
                   vhost_user_request_name (channel->kind, msg->hdr.request));
      return FALSE;
    }
  g_return_val_if_fail (msg->hdr.size <= VHOST_USER_MAX_PAYLOAD, FALSE);
  g_return_val_if_fail (msg->n_fds <= VHOST_USER_MAX_FDS, FALSE);

  buf = g_new0 (OutBuf, 1);
  buf->len = VHOST_USER_HDR_SIZE + msg->hdr.size;
  buf->data = g_malloc (buf->len);
  memcpy (buf->data, &msg->hdr, VHOST_USER_HDR_SIZE);
  memcpy (buf->data + VHOST_USER_HDR_SIZE, msg->payload.bytes, msg->hdr.size);
  for (guint i = 0; i < msg->n_fds; i++)
    {
      int fd = fcntl (msg->fds[i], F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        {
          int errsv = errno;

          g_set_error (error, VHOST_ERROR, VHOST_ERROR_FDS, "%s: file descriptor %d: %s",
                       vhost_user_request_name (channel->kind, msg->hdr.request), msg->fds[i],
                       g_strerror (errsv));
          out_buf_free (buf);
          return FALSE;
        }
      buf->fds[buf->n_fds++] = fd;
    }
  g_queue_push_tail (&channel->out_queue, buf);
  channel->out_bytes += buf->len;
  channel_start_input (channel);
  return channel_flush (channel) || (g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED,
                                                           channel->close_error->message), FALSE);
}

void
vhost_user_channel_send (VhostUserChannel *channel, const VhostUserMsg *msg)
{
  GError *error = NULL;

  if (!channel_queue (channel, msg, &error))
    {
      g_debug ("%s", error->message);
      g_clear_error (&error);
    }
}

void
vhost_user_channel_reply_status (VhostUserChannel *channel,
                                 const VhostUserMsg *request,
                                 guint64 status)
{
  VhostUserMsg reply;

  if (vhost_user_request_reply_form (channel->kind, request, channel->protocol_features) != VHOST_USER_REPLY_FORM_ACK)
    return;
  vhost_user_msg_init_reply_u64 (&reply, request, status);
  vhost_user_channel_send (channel, &reply);
}

/* Start a call: queue the request and, when a reply is due, a pending call. */
static PendingCall *
channel_start_call (VhostUserChannel *channel, const VhostUserMsg *msg, gboolean echo, GError **error)
{
  VhostUserReplyForm form;
  PendingCall *call;

  g_return_val_if_fail (channel->role == VHOST_USER_CHANNEL_REQUESTER, NULL);
  g_return_val_if_fail (vhost_user_request_info (channel->kind, msg->hdr.request) != NULL, NULL);

  if (!channel_queue (channel, msg, error))
    return NULL;

  call = g_new0 (PendingCall, 1);
  call->request = msg->hdr.request;
  form = echo ? VHOST_USER_REPLY_FORM_FULL : vhost_user_request_reply_form (channel->kind, msg, channel->protocol_features);
  call->echo_size = echo ? msg->hdr.size : 0;
  if (form != VHOST_USER_REPLY_FORM_NONE)
    {
      call->ack = form == VHOST_USER_REPLY_FORM_ACK;
      g_queue_push_tail (&channel->pending, call);
    }
  else
    call->done = TRUE;
  return call;
}

/* Wait, in the caller's thread, until the socket (or the companion, or the cancellable)
 * has something, and process it. FALSE with an error on cancellation. */
static gboolean
channel_wait (VhostUserChannel *channel, gint64 deadline, GCancellable *cancellable, GError **error)
{
  VhostUserChannel *companion = channel->companion;
  struct pollfd pfd[3];
  guint n = 0, companion_idx = G_MAXUINT;
  int timeout = -1;
  int r;

  pfd[n].fd = channel->fd;
  pfd[n].events = POLLIN | (g_queue_is_empty (&channel->out_queue) ? 0 : POLLOUT);
  n++;
  if (companion != NULL && companion->fd >= 0 && !companion->dispatching)
    {
      companion_idx = n;
      pfd[n].fd = companion->fd;
      pfd[n].events = POLLIN;
      n++;
    }
  if (g_cancellable_make_pollfd (cancellable, (GPollFD *) &pfd[n]))
    {
      pfd[n].events = POLLIN;
      n++;
    }
  if (deadline > 0)
    timeout = MAX (0, (deadline - g_get_monotonic_time () + 999) / 1000);

  do
    r = poll (pfd, n, timeout);
  while (r < 0 && errno == EINTR);
  g_cancellable_release_fd (cancellable);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (r == 0)
    {
      channel_close_internal (channel,
                              g_error_new (VHOST_ERROR, VHOST_ERROR_TIMED_OUT,
                                           "No reply within %u ms", channel->timeout_ms));
      return TRUE;
    }
  if (pfd[0].revents & POLLOUT)
    channel_flush (channel);
  if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
    channel_process_input (channel);
  if (companion_idx != G_MAXUINT && (pfd[companion_idx].revents & (POLLIN | POLLHUP | POLLERR)))
    channel_process_input (companion);
  return TRUE;
}

static gboolean
channel_call_sync (VhostUserChannel *channel,
                   const VhostUserMsg *msg,
                   gboolean echo,
                   VhostUserMsg **reply,
                   GCancellable *cancellable,
                   GError **error)
{
  G_GNUC_UNUSED g_autoptr(VhostUserChannel) self = vhost_user_channel_ref (channel);
  gint64 deadline = channel->timeout_ms > 0 ? g_get_monotonic_time () + channel->timeout_ms * G_TIME_SPAN_MILLISECOND : 0;
  PendingCall *call;
  gboolean ok;

  if (reply != NULL)
    *reply = NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  call = channel_start_call (channel, msg, echo, error);
  if (call == NULL)
    return FALSE;

  /* A call with no reply is done at once; it still waits until its bytes are out. */
  for (;;)
    {
      if (call->done && (g_queue_is_empty (&channel->out_queue) || channel->fd < 0))
        break;
      if (!channel_wait (channel, deadline, cancellable, error))
        {
          if (call->done)
            pending_call_free (call);
          else
            call->abandoned = TRUE;
          return FALSE;
        }
    }

  if (call->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&call->error));
      ok = FALSE;
    }
  else if (channel->fd < 0 && call->reply == NULL && !call->ack)
    {
      /* The connection went away around a request that has no reply. */
      g_propagate_error (error, g_error_copy (channel->close_error));
      ok = FALSE;
    }
  else
    {
      if (reply != NULL)
        *reply = g_steal_pointer (&call->reply);
      ok = TRUE;
    }
  pending_call_free (call);
  return ok;
}

gboolean
vhost_user_channel_call (VhostUserChannel *channel,
                         const VhostUserMsg *msg,
                         VhostUserMsg **reply,
                         GCancellable *cancellable,
                         GError **error)
{
  return channel_call_sync (channel, msg, FALSE, reply, cancellable, error);
}

gboolean
vhost_user_channel_call_echo (VhostUserChannel *channel,
                              const VhostUserMsg *msg,
                              VhostUserMsg **reply,
                              GCancellable *cancellable,
                              GError **error)
{
  g_return_val_if_fail (msg->hdr.size > 0, FALSE);
  return channel_call_sync (channel, msg, TRUE, reply, cancellable, error);
}

gboolean
vhost_user_channel_call_start (VhostUserChannel *channel,
                               const VhostUserMsg *msg,
                               gboolean echo,
                               VhostUserChannelReplyFunc func,
                               gpointer user_data,
                               gboolean *pending,
                               GError **error)
{
  PendingCall *call;

  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (!echo || msg->hdr.size > 0, FALSE);
  call = channel_start_call (channel, msg, echo, error);
  if (call == NULL)
    return FALSE;
  *pending = !call->done;
  if (call->done)
    pending_call_free (call);
  else
    {
      call->func = func;
      call->func_data = user_data;
    }
  return TRUE;
}

static void
call_async_reply_cb (VhostUserChannel *channel, VhostUserMsg *reply, const GError *error, gpointer user_data)
{
  GTask *task = user_data;

  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) vhost_user_msg_free);
  g_object_unref (task);
}

void
vhost_user_channel_call_async (VhostUserChannel *channel,
                               const VhostUserMsg *msg,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;
  gboolean pending = FALSE;

  g_task_set_source_tag (task, vhost_user_channel_call_async);
  g_task_set_task_data (task, vhost_user_channel_ref (channel), (GDestroyNotify) vhost_user_channel_unref);
  if (g_task_return_error_if_cancelled (task))
    g_object_unref (task);
  else if (!vhost_user_channel_call_start (channel, msg, FALSE, call_async_reply_cb, task, &pending, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
    }
  else if (!pending)
    {
      /* No reply is due: the request is queued and goes out from the main context. */
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
    }
}

gboolean
vhost_user_channel_call_finish (VhostUserChannel *channel,
                                GAsyncResult *result,
                                VhostUserMsg **reply,
                                GError **error)
{
  GError *local_error = NULL;
  VhostUserMsg *msg;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_channel_call_async, FALSE);
  msg = g_task_propagate_pointer (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (reply != NULL)
    *reply = msg;
  else
    vhost_user_msg_free (msg);
  return TRUE;
}

gboolean
vhost_user_channel_wait_until (VhostUserChannel *channel,
                               gboolean (*done) (gpointer data),
                               gpointer data,
                               GCancellable *cancellable,
                               GError **error)
{
  G_GNUC_UNUSED g_autoptr(VhostUserChannel) self = vhost_user_channel_ref (channel);
  gint64 deadline = channel->timeout_ms > 0 ? g_get_monotonic_time () + channel->timeout_ms * G_TIME_SPAN_MILLISECOND : 0;

  while (channel->fd >= 0 && !done (data))
    if (!channel_wait (channel, deadline, cancellable, error))
      return FALSE;
  return TRUE;
}
