/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserChannel: one end of a vhost-user socket, framing messages with their fds on a GMainContext. */
#pragma once

#include <gio/gio.h>
#include "protocol/vhost-user-protocol.h"

G_BEGIN_DECLS

/*
 * A channel is one end of a stream socket that carries vhost-user messages in one
 * direction of requests: the requester end sends requests and reads the replies in
 * order; the responder end reads requests, hands each to a callback, and sends replies.
 * The front-end's socket is FRONTEND kind (the front-end is the requester); the back-end
 * request channel is BACKEND kind (the back-end is the requester).
 *
 * Input is read without blocking, from a GSource on the channel's context, into one
 * message at a time; fds that come with any part of it belong to it. A complete message
 * is validated with the protocol layer; a bad message closes the channel with a GError.
 * Output is queued and written without blocking; fds go with the first byte of a message.
 */
typedef struct _VhostUserChannel VhostUserChannel;

typedef enum {
  VHOST_USER_CHANNEL_REQUESTER,
  VHOST_USER_CHANNEL_RESPONDER,
} VhostUserChannelRole;

/* A validated request on a responder end. The handler may take fds out of msg->fds
 * (setting the slot to -1); the rest are closed after it returns. */
typedef void (*VhostUserChannelRequestFunc) (VhostUserChannel *channel,
                                             VhostUserMsg *msg,
                                             gpointer user_data);
/* The channel closed because of `error` (never called for vhost_user_channel_close()). */
typedef void (*VhostUserChannelClosedFunc) (VhostUserChannel *channel,
                                            const GError *error,
                                            gpointer user_data);

VhostUserChannel *vhost_user_channel_new (int fd,
                                          VhostUserChannelKind kind,
                                          VhostUserChannelRole role,
                                          GMainContext *context,
                                          VhostUserChannelRequestFunc request_func,
                                          VhostUserChannelClosedFunc closed_func,
                                          gpointer user_data);
VhostUserChannel *vhost_user_channel_ref (VhostUserChannel *channel);
void vhost_user_channel_unref (VhostUserChannel *channel);

/* Close the socket, fail pending calls with VHOST_ERROR_DISCONNECTED, drop callbacks. */
void vhost_user_channel_close (VhostUserChannel *channel);
gboolean vhost_user_channel_is_open (VhostUserChannel *channel);
/* Close because the peer misbehaved: like a bad message, the closed callback gets `error`. */
void vhost_user_channel_fail (VhostUserChannel *channel, const GError *error);

/* The negotiated protocol features, which decide when replies are expected. */
void vhost_user_channel_set_protocol_features (VhostUserChannel *channel, guint64 features);
guint64 vhost_user_channel_get_protocol_features (VhostUserChannel *channel);

/* Another channel whose requests are dispatched while a sync call waits (the front-end's
 * back-end request channel), so that a back-end waiting for a reply cannot deadlock us. */
void vhost_user_channel_set_companion (VhostUserChannel *channel, VhostUserChannel *companion);

/* Milliseconds a sync call waits for its reply; 0 for no limit. */
void vhost_user_channel_set_timeout (VhostUserChannel *channel, guint timeout_ms);

/* Requester: send `msg` (its fds borrowed) and wait for what the protocol says comes
 * back. A REPLY_ACK status is checked here (non-zero: VHOST_ERROR_REJECTED) and *reply
 * is set to NULL; a full reply is returned in *reply (owned; free with
 * vhost_user_msg_free()). `reply` may be NULL when the caller expects no full reply. */
gboolean vhost_user_channel_call (VhostUserChannel *channel,
                                  const VhostUserMsg *msg,
                                  VhostUserMsg **reply,
                                  GCancellable *cancellable,
                                  GError **error);
/* Requester: a call whose reply gives the request's own payload back, whatever the
 * request table says: postcopy's SET_MEM_TABLE and ADD_MEM_REG, answered with the
 * table as the back-end mapped it. The reply must have the request's size and no fd. */
gboolean vhost_user_channel_call_echo (VhostUserChannel *channel,
                                       const VhostUserMsg *msg,
                                       VhostUserMsg **reply,
                                       GCancellable *cancellable,
                                       GError **error);
/* Requester: a call that completes a GTask on the caller's thread-default context
 * (at once, with no reply, for a request that has none): vhost_user_channel_call_start()
 * with the reply handed to the task. */
void vhost_user_channel_call_async (VhostUserChannel *channel,
                                    const VhostUserMsg *msg,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean vhost_user_channel_call_finish (VhostUserChannel *channel,
                                         GAsyncResult *result,
                                         VhostUserMsg **reply,
                                         GError **error);
/* What a call started with vhost_user_channel_call_start() ends with: the reply
 * (owned by the function; NULL when a REPLY_ACK status of 0 answered it), or the
 * error that failed it (the peer's failure status, or the channel's end). */
typedef void (*VhostUserChannelReplyFunc) (VhostUserChannel *channel,
                                           VhostUserMsg *reply,
                                           const GError *error,
                                           gpointer user_data);
/* Requester: queue `msg` (its fds borrowed) behind every request queued before it.
 * When the protocol calls for a reply, *pending is set and `func` is called once,
 * directly from the channel's input processing (its source on the channel's
 * context, or the wait of a sync call or of vhost_user_channel_wait_until()), as
 * soon as the reply is read or the channel closes; else `func` is never called.
 * FALSE with `error` when the message cannot be queued. `echo` is as for
 * vhost_user_channel_call_echo(). */
gboolean vhost_user_channel_call_start (VhostUserChannel *channel,
                                        const VhostUserMsg *msg,
                                        gboolean echo,
                                        VhostUserChannelReplyFunc func,
                                        gpointer user_data,
                                        gboolean *pending,
                                        GError **error);
/* Requester: process the socket (and the companion), as a sync call waits for its
 * reply, until done (data) says so or the channel closed. A limit of the channel's
 * timeout closes it with VHOST_ERROR_TIMED_OUT; FALSE only when `cancellable` is
 * cancelled. */
gboolean vhost_user_channel_wait_until (VhostUserChannel *channel,
                                        gboolean (*done) (gpointer data),
                                        gpointer data,
                                        GCancellable *cancellable,
                                        GError **error);

/* Responder: queue a reply (its fds borrowed). */
void vhost_user_channel_send (VhostUserChannel *channel, const VhostUserMsg *msg);
/* Responder: answer `request` with a u64 status if the protocol says it wants one. */
void vhost_user_channel_reply_status (VhostUserChannel *channel,
                                      const VhostUserMsg *request,
                                      guint64 status);

VhostUserMsg *vhost_user_msg_new (void);
void vhost_user_msg_free (VhostUserMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserMsg, vhost_user_msg_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserChannel, vhost_user_channel_unref)

G_END_DECLS
