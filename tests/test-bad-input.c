/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bad input from a raw peer: to VhostUserSlave from a raw front-end socket, to VhostUserMaster from a raw back-end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"
#include "vhost-glib/protocol/vhost-user-protocol.h"

/* Write bytes with fds attached to the first byte. */
static void
raw_send (int sock, const void *data, gsize len, const int *fds, guint n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 16)];
  } control;
  struct iovec iov = { (void *) data, len };
  struct msghdr mh = { 0 };

  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (n_fds > 0)
    {
      struct cmsghdr *cmsg;

      g_assert_cmpuint (n_fds, <=, 16);
      memset (&control, 0, sizeof control);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      cmsg = CMSG_FIRSTHDR (&mh);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
    }
  g_assert_cmpint (sendmsg (sock, &mh, MSG_NOSIGNAL), ==, (gssize) len);
}

static gsize
build (guint8 *buf, guint32 request, guint32 flags, guint32 size, const void *payload, gsize payload_len)
{
  VhostUserHeader hdr = { request, flags, size };

  memcpy (buf, &hdr, sizeof hdr);
  if (payload_len > 0)
    memcpy (buf + sizeof hdr, payload, payload_len);
  return sizeof hdr + payload_len;
}

/* Each case writes something bad to a slave. `fd_kind` says which fds go with it. */
typedef enum {
  FDS_NONE,
  FDS_EVENTFDS,     /* n_fds eventfds */
  FDS_MEMFD_SMALL,  /* one memfd of 4096 bytes */
  FDS_PIPE,         /* the read end of a pipe */
} FdKind;

typedef struct
{
  const char *name;
  guint32 request;
  guint32 flags;
  guint32 size;             /* the header's size field */
  guint8 payload[304] __attribute__ ((aligned (8)));
  gsize payload_len;        /* bytes actually written after the header */
  gsize truncate_to;        /* if non-zero, write only this many bytes in all */
  FdKind fd_kind;
  guint n_fds;
  gboolean negotiate;       /* SET_FEATURES/SET_PROTOCOL_FEATURES first */
  VhostError code;
  const char *message;      /* a part of the error message */
} SlaveCase;

#define V VHOST_USER_VERSION

static SlaveCase slave_cases[] = {
  { "truncated-header", VHOST_USER_GET_FEATURES, V, 0, { 0 }, 0, 7, FDS_NONE, 0, FALSE, VHOST_ERROR_PROTOCOL, "Truncated" },
  { "size-over-limit", VHOST_USER_SET_FEATURES, V, 100000, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_MESSAGE_SIZE, "SET_FEATURES" },
  { "size-wrong", VHOST_USER_SET_FEATURES, V, 4, { 0 }, 4, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_MESSAGE_SIZE, "SET_FEATURES" },
  { "size-wrong-state", VHOST_USER_SET_VRING_NUM, V, 12, { 0 }, 12, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_MESSAGE_SIZE, "SET_VRING_NUM" },
  { "too-few-fds", VHOST_USER_SET_VRING_KICK, V, 8, { 0 }, 8, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_FDS, "SET_VRING_KICK" },
  { "too-many-fds", VHOST_USER_SET_OWNER, V, 0, { 0 }, 0, 0, FDS_EVENTFDS, 3, FALSE, VHOST_ERROR_FDS, "SET_OWNER" },
  { "far-too-many-fds", VHOST_USER_SET_OWNER, V, 0, { 0 }, 0, 0, FDS_EVENTFDS, 12, FALSE, VHOST_ERROR_FDS, "SET_OWNER" },
  { "unknown-request", 99, V, 0, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_UNKNOWN_REQUEST, "99" },
  { "no-version", VHOST_USER_GET_FEATURES, 0, 0, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_PROTOCOL, "GET_FEATURES" },
  { "reply-flag", VHOST_USER_GET_FEATURES, V | VHOST_USER_FLAG_REPLY, 0, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_PROTOCOL, "GET_FEATURES" },
  { "vring-index", VHOST_USER_SET_VRING_NUM, V, 8, { 5, 0, 0, 0, 0, 1, 0, 0 }, 8, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_INVALID_ARGUMENT, "SET_VRING_NUM" },
  { "vring-index-wire", VHOST_USER_SET_VRING_ADDR, V, 40, { 0, 1, 0, 0 }, 40, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_INVALID_ARGUMENT, "SET_VRING_ADDR" },
  { "regions-overlap", VHOST_USER_SET_MEM_TABLE, V, 8 + 64, { 0 }, 8 + 64, 0, FDS_EVENTFDS, 2, FALSE, VHOST_ERROR_INVALID_ARGUMENT, "SET_MEM_TABLE" },
  { "region-overflow", VHOST_USER_SET_MEM_TABLE, V, 8 + 32, { 0 }, 8 + 32, 0, FDS_EVENTFDS, 1, FALSE, VHOST_ERROR_INVALID_ARGUMENT, "SET_MEM_TABLE" },
  { "region-not-mappable", VHOST_USER_SET_MEM_TABLE, V, 8 + 32, { 0 }, 8 + 32, 0, FDS_PIPE, 1, FALSE, VHOST_ERROR_MAP_FAILED, "SET_MEM_TABLE" },
  { "region-beyond-file", VHOST_USER_SET_MEM_TABLE, V, 8 + 32, { 0 }, 8 + 32, 0, FDS_MEMFD_SMALL, 1, FALSE, VHOST_ERROR_MAP_FAILED, "SET_MEM_TABLE" },
  { "hangup-mid-message", VHOST_USER_SET_VRING_ADDR, V, 40, { 0 }, 40, 12 + 17, FDS_NONE, 0, FALSE, VHOST_ERROR_DISCONNECTED, "SET_VRING_ADDR" },
  { "not-negotiated", VHOST_USER_GET_STATUS, V, 0, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_NOT_SUPPORTED, "GET_STATUS" },
  { "shmem-config-payload", VHOST_USER_GET_SHMEM_CONFIG, V, 8, { 0 }, 8, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_MESSAGE_SIZE, "GET_SHMEM_CONFIG" },
  { "shmem-config-fd", VHOST_USER_GET_SHMEM_CONFIG, V, 0, { 0 }, 0, 0, FDS_EVENTFDS, 1, FALSE, VHOST_ERROR_FDS, "GET_SHMEM_CONFIG" },
  { "shmem-config-not-negotiated", VHOST_USER_GET_SHMEM_CONFIG, V, 0, { 0 }, 0, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_NOT_SUPPORTED, "GET_SHMEM_CONFIG needs the protocol feature SHMEM" },
  { "vring-base-inflight-alone", VHOST_USER_SET_PROTOCOL_FEATURES, V, 8, { 0, 0, 0x10 }, 8, 0, FDS_NONE, 0, FALSE, VHOST_ERROR_INVALID_ARGUMENT, "GET_VRING_BASE_INFLIGHT needs INFLIGHT_SHMFD" },
};

static void
fill_regions (SlaveCase *c)
{
  VhostUserMemoryWire *memory = (VhostUserMemoryWire *) c->payload;

  if (g_str_equal (c->name, "regions-overlap"))
    {
      memory->nregions = 2;
      memory->regions[0] = (VhostUserRegionWire) { 0, 0x10000, 0x7f0000000000, 0 };
      memory->regions[1] = (VhostUserRegionWire) { 0x8000, 0x10000, 0x7f1000000000, 0 };
    }
  else if (g_str_equal (c->name, "region-overflow"))
    {
      memory->nregions = 1;
      memory->regions[0] = (VhostUserRegionWire) { 0, 0x10000, 0x7f0000000000, G_MAXUINT64 - 0x100 };
    }
  else if (g_str_has_prefix (c->name, "region-"))
    {
      memory->nregions = 1;
      memory->regions[0] = (VhostUserRegionWire) { 0, 0x100000, 0x7f0000000000, 0 };
    }
}

static void
test_slave_case (gconstpointer data)
{
  SlaveCase *c = (SlaveCase *) data;
  gint fds_before = vhost_test_count_open_fds ();
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;
  int sv[2], fds[16];
  guint8 buf[512];
  gsize len;
  char byte;

  fill_regions (c);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], NULL, NULL);
  device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (thread));
  device->num_queues = 2;

  for (guint i = 0; i < c->n_fds; i++)
    {
      if (c->fd_kind == FDS_EVENTFDS)
        fds[i] = eventfd (0, EFD_CLOEXEC);
      else if (c->fd_kind == FDS_MEMFD_SMALL)
        fds[i] = vhost_test_memfd (4096);
      else
        {
          int p[2];

          g_assert_cmpint (pipe2 (p, O_CLOEXEC), ==, 0);
          close (p[1]);
          fds[i] = p[0];
        }
      g_assert_cmpint (fds[i], >=, 0);
    }

  len = build (buf, c->request, c->flags, c->size, c->payload, c->payload_len);
  if (c->truncate_to > 0)
    len = c->truncate_to;
  raw_send (sv[1], buf, len, fds, c->n_fds);
  for (guint i = 0; i < c->n_fds; i++)
    close (fds[i]);
  if (c->truncate_to > 0)
    shutdown (sv[1], SHUT_WR);

  vhost_test_slave_thread_wait_disconnect (thread);
  g_assert_cmpuint (device->disconnects, ==, 1);
  g_assert_error (device->disconnect_error, VHOST_ERROR, (gint) c->code);
  if (strstr (device->disconnect_error->message, c->message) == NULL)
    g_error ("'%s' does not name '%s'", device->disconnect_error->message, c->message);
  g_assert_false (vhost_user_slave_get_connected (VHOST_USER_SLAVE (device)));

  /* The slave closed its end cleanly: we read end-of-file, no reply. */
  g_assert_cmpint (read (sv[1], &byte, 1), ==, 0);
  close (sv[1]);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

static void
get_vring_0_enabled (VhostUserSlave *slave, gpointer data)
{
  g_assert_true (vhost_user_slave_get_vring_state (slave, 0, NULL, NULL, NULL, data));
}

/* QEMU's virtio-net enables and disables vrings before SET_FEATURES: accepted. After
 * SET_FEATURES without PROTOCOL_FEATURES, SET_VRING_ENABLE is refused. */
static void
test_slave_vring_enable_order (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  VhostUserVringState state = { 0, 1 };
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;
  gboolean enabled = FALSE;
  guint8 buf[64], reply[20];
  int sv[2];
  char byte;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], NULL, NULL);
  device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (thread));
  device->num_queues = 2;

  raw_send (sv[1], buf, build (buf, VHOST_USER_SET_VRING_ENABLE, V, sizeof state, &state, sizeof state), NULL, 0);
  /* GET_FEATURES answers after the request before it was handled. */
  raw_send (sv[1], buf, build (buf, VHOST_USER_GET_FEATURES, V, 0, NULL, 0), NULL, 0);
  g_assert_cmpint (recv (sv[1], reply, sizeof reply, MSG_WAITALL), ==, sizeof reply);
  vhost_test_slave_thread_run (thread, get_vring_0_enabled, &enabled);
  g_assert_true (enabled);
  g_assert_cmpuint (device->disconnects, ==, 0);

  raw_send (sv[1], buf, build (buf, VHOST_USER_SET_FEATURES, V, sizeof features, &features, sizeof features), NULL,
            0);
  raw_send (sv[1], buf, build (buf, VHOST_USER_SET_VRING_ENABLE, V, sizeof state, &state, sizeof state), NULL, 0);
  vhost_test_slave_thread_wait_disconnect (thread);
  g_assert_cmpuint (device->disconnects, ==, 1);
  g_assert_error (device->disconnect_error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (device->disconnect_error->message, "SET_VRING_ENABLE"));
  g_assert_cmpint (read (sv[1], &byte, 1), ==, 0);
  close (sv[1]);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* A front-end that sends requests and never reads the replies: the slave stops
 * reading once its unsent replies pass a bound, so the sender is blocked instead
 * of the slave queueing replies without end. When the front-end reads again, every
 * request is answered, in order, and the connection goes on. */
static void
test_slave_unread_replies (void)
{
  const gsize msg_len = sizeof (VhostUserHeader);
  const gsize attempt = 12 * 1024 * 1024;   /* 1 Mi requests: 20 MiB of replies */
  gint fds_before = vhost_test_count_open_fds ();
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;
  g_autofree guint8 *batch = g_malloc (msg_len * 4096);
  guint8 reply[sizeof (VhostUserHeader) + 8];
  gsize sent = 0, replies = 0, reply_have = 0;
  gboolean blocked = FALSE;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], NULL, NULL);
  device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (thread));
  for (guint i = 0; i < 4096; i++)
    build (batch + i * msg_len, VHOST_USER_GET_FEATURES, V, 0, NULL, 0);

  while (sent < attempt)
    {
      gsize off = sent % (msg_len * 4096);
      gssize n = send (sv[1], batch + off, msg_len * 4096 - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      struct pollfd pfd = { sv[1], POLLOUT, 0 };

      if (n > 0)
        {
          sent += n;
          continue;
        }
      g_assert_cmpint (errno, ==, EAGAIN);
      /* Give the slave time to read more; if it does not, it holds back. */
      if (poll (&pfd, 1, 500) == 0)
        {
          blocked = TRUE;
          break;
        }
    }
  g_assert_true (blocked);
  g_test_message ("sent %" G_GSIZE_FORMAT " bytes of requests before the slave held back", sent);
  g_assert_cmpuint (sent, <, 4 * 1024 * 1024);

  /* Read every reply, finishing the request the send may have cut. */
  while (replies * msg_len < sent || sent % msg_len != 0)
    {
      struct pollfd pfd = { sv[1], POLLIN | (sent % msg_len != 0 ? POLLOUT : 0), 0 };
      gssize n;

      g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
      if (pfd.revents & POLLOUT)
        {
          gsize off = sent % msg_len;

          n = send (sv[1], batch + off, msg_len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
          g_assert_cmpint (n, >, 0);
          sent += n;
        }
      if (!(pfd.revents & POLLIN))
        continue;
      n = recv (sv[1], reply + reply_have, sizeof reply - reply_have, MSG_DONTWAIT);
      g_assert_cmpint (n, >, 0);
      reply_have += n;
      if (reply_have == sizeof reply)
        {
          VhostUserHeader hdr;

          memcpy (&hdr, reply, sizeof hdr);
          g_assert_cmpuint (hdr.request, ==, VHOST_USER_GET_FEATURES);
          g_assert_cmpuint (hdr.flags, ==, V | VHOST_USER_FLAG_REPLY);
          g_assert_cmpuint (hdr.size, ==, 8);
          replies++;
          reply_have = 0;
        }
    }
  g_assert_cmpuint (replies, ==, sent / msg_len);
  g_assert_cmpuint (device->disconnects, ==, 0);

  /* Still serving. */
  raw_send (sv[1], batch, msg_len, NULL, 0);
  g_assert_cmpint (recv (sv[1], reply, sizeof reply, MSG_WAITALL), ==, sizeof reply);
  close (sv[1]);
  vhost_test_slave_thread_wait_disconnect (thread);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* Bad replies from a raw back-end to VhostUserMaster. The reply is written before
 * the request, so the master reads it as soon as it sends. */
typedef gboolean (*MasterCall) (VhostUserMaster *master, GError **error);

static gboolean
call_get_features (VhostUserMaster *m, GError **error)
{
  guint64 f;
  return vhost_backend_get_features (VHOST_BACKEND (m), &f, error);
}

static gboolean
call_get_vring_base (VhostUserMaster *m, GError **error)
{
  guint base;
  return vhost_backend_get_vring_base (VHOST_BACKEND (m), 1, &base, error);
}

static gboolean
call_get_inflight (VhostUserMaster *m, GError **error)
{
  int fd = vhost_user_master_get_inflight_fd (m, 1, 128, NULL, NULL, error);

  if (fd >= 0)
    close (fd);
  return fd >= 0;
}

typedef struct
{
  const char *name;
  guint64 protocol_features;   /* set on the master before (a SET is answered by nobody: no reply) */
  MasterCall call;
  guint32 request;
  guint32 flags;
  guint32 size;
  guint8 payload[64] __attribute__ ((aligned (8)));
  gsize payload_len;
  gsize truncate_to;
  FdKind fd_kind;
  guint n_fds;
  VhostError code;
  const char *message;
} MasterCase;

#define R (VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY)

static MasterCase master_cases[] = {
  { "truncated-header", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 8, { 0 }, 0, 5, FDS_NONE, 0, VHOST_ERROR_PROTOCOL, "Truncated" },
  { "size-over-limit", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 65536, { 0 }, 0, 0, FDS_NONE, 0, VHOST_ERROR_MESSAGE_SIZE, "GET_FEATURES" },
  { "size-wrong", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 4, { 0 }, 4, 0, FDS_NONE, 0, VHOST_ERROR_MESSAGE_SIZE, "GET_FEATURES" },
  { "too-many-fds", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 8, { 0 }, 8, 0, FDS_EVENTFDS, 2, VHOST_ERROR_FDS, "GET_FEATURES" },
  { "far-too-many-fds", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 8, { 0 }, 8, 0, FDS_EVENTFDS, 11, VHOST_ERROR_FDS, "" },
  { "too-few-fds", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, call_get_inflight, VHOST_USER_GET_INFLIGHT_FD, R, 24, { 0 }, 24, 0, FDS_NONE, 0, VHOST_ERROR_FDS, "GET_INFLIGHT_FD" },
  { "unknown-request", 0, call_get_features, 77, R, 8, { 0 }, 8, 0, FDS_NONE, 0, VHOST_ERROR_UNKNOWN_REQUEST, "77" },
  { "other-request", 0, call_get_features, VHOST_USER_GET_PROTOCOL_FEATURES, R, 8, { 0 }, 8, 0, FDS_NONE, 0, VHOST_ERROR_PROTOCOL, "GET_FEATURES" },
  { "no-version", 0, call_get_features, VHOST_USER_GET_FEATURES, VHOST_USER_FLAG_REPLY, 8, { 0 }, 8, 0, FDS_NONE, 0, VHOST_ERROR_PROTOCOL, "GET_FEATURES" },
  { "no-reply-flag", 0, call_get_features, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 8, { 0 }, 8, 0, FDS_NONE, 0, VHOST_ERROR_PROTOCOL, "GET_FEATURES" },
  { "vring-index", 0, call_get_vring_base, VHOST_USER_GET_VRING_BASE, R, 8, { 3, 0, 0, 0, 7, 0, 0, 0 }, 8, 0, FDS_NONE, 0, VHOST_ERROR_INVALID_ARGUMENT, "GET_VRING_BASE" },
  { "region-not-mappable", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, call_get_inflight, VHOST_USER_GET_INFLIGHT_FD, R, 24, { 0, 0, 1, 0, 0, 0, 0, 0 }, 24, 0, FDS_MEMFD_SMALL, 1, VHOST_ERROR_MAP_FAILED, "GET_INFLIGHT_FD" },
  { "region-overflow", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, call_get_inflight, VHOST_USER_GET_INFLIGHT_FD, R, 24, { 0, 0x10, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 24, 0, FDS_MEMFD_SMALL, 1, VHOST_ERROR_INVALID_ARGUMENT, "GET_INFLIGHT_FD" },
  { "hangup-mid-message", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 8, { 0 }, 8, 12 + 3, FDS_NONE, 0, VHOST_ERROR_DISCONNECTED, "GET_FEATURES" },
  { "hangup", 0, call_get_features, VHOST_USER_GET_FEATURES, R, 8, { 0 }, 8, 0xffff, FDS_NONE, 0, VHOST_ERROR_DISCONNECTED, "closed" },
};

static void
on_master_disconnected (VhostUserMaster *master, GError *error, GError **out)
{
  g_assert_null (*out);
  *out = g_error_copy (error);
}

static void
test_master_case (gconstpointer data)
{
  const MasterCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  GError *signalled = NULL;
  int sv[2], fds[16];
  guint8 buf[256];
  gsize len;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_signal_connect (master, "disconnected", G_CALLBACK (on_master_disconnected), &signalled);
  if (c->protocol_features != 0)
    g_assert_true (vhost_user_master_set_protocol_features (master, c->protocol_features, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < c->n_fds; i++)
    fds[i] = c->fd_kind == FDS_MEMFD_SMALL ? vhost_test_memfd (4096) : eventfd (0, EFD_CLOEXEC);
  len = build (buf, c->request, c->flags, c->size, c->payload, c->payload_len);
  if (c->truncate_to == 0xffff)
    len = 0;
  else if (c->truncate_to > 0)
    len = c->truncate_to;
  if (len > 0)
    raw_send (sv[0], buf, len, fds, c->n_fds);
  for (guint i = 0; i < c->n_fds; i++)
    close (fds[i]);
  if (c->truncate_to > 0)
    shutdown (sv[0], SHUT_WR);

  g_assert_false (c->call (master, &error));
  g_assert_error (error, VHOST_ERROR, (gint) c->code);
  if (strstr (error->message, c->message) == NULL)
    g_error ("'%s' does not name '%s'", error->message, c->message);
  g_assert_false (vhost_user_master_get_connected (master));
  g_assert_nonnull (signalled);
  g_assert_cmpint (signalled->code, ==, c->code);
  g_clear_error (&signalled);

  /* Later calls fail at once. */
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);

  close (sv[0]);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* Postcopy: the back-end answers a memory table with the regions as it mapped
 * them. A reply that does not describe what was sent ends the connection. */
typedef struct
{
  const char *name;
  guint32 size;          /* of the SET_MEM_TABLE reply */
  guint32 nregions;
  guint64 gpa;           /* of its region 0 */
  gboolean with_fd;
  VhostError code;
  const char *message;
} PostcopyCase;

static const PostcopyCase postcopy_cases[] = {
  { "postcopy-region-moved", 8 + 32, 1, 0x1000, FALSE, VHOST_ERROR_PROTOCOL, "region 0" },
  { "postcopy-region-count", 8 + 32, 2, 0, FALSE, VHOST_ERROR_PROTOCOL, "2 regions" },
  { "postcopy-reply-size", 8, 1, 0, FALSE, VHOST_ERROR_MESSAGE_SIZE, "SET_MEM_TABLE" },
  { "postcopy-reply-fd", 8 + 32, 1, 0, TRUE, VHOST_ERROR_FDS, "SET_MEM_TABLE" },
};

static void
test_master_postcopy_reply (gconstpointer data)
{
  const PostcopyCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostMemoryRegion) region = NULL;
  g_autoptr(GError) error = NULL;
  VhostUserMemoryWire table = { 0 };
  VhostMemoryRegion *regions[1];
  guint8 buf[256];
  int sv[2], memfd, uffd;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_user_master_set_protocol_features (master, VHOST_USER_PROTOCOL_F_PAGEFAULT, &error));
  memfd = vhost_test_memfd (0x10000);

  /* The answers, each ahead of its request: POSTCOPY_ADVISE's fd (LISTEN has
   * none without REPLY_ACK), then the bad table. */
  raw_send (sv[0], buf, build (buf, VHOST_USER_POSTCOPY_ADVISE, R, 0, NULL, 0), &memfd, 1);
  uffd = vhost_user_master_postcopy_advise (master, &error);
  g_assert_no_error (error);
  g_assert_cmpint (uffd, >=, 0);
  close (uffd);
  g_assert_true (vhost_user_master_postcopy_listen (master, &error));
  table.nregions = c->nregions;
  table.regions[0] = (VhostUserRegionWire) { c->gpa, 0x10000, 0x7f0000000000, 0 };
  raw_send (sv[0], buf, build (buf, VHOST_USER_SET_MEM_TABLE, R, c->size, &table, c->size), &memfd,
            c->with_fd ? 1 : 0);
  region = vhost_memory_region_new (0, 0x10000, 0x7e0000000000, memfd, 0);
  regions[0] = region;
  g_assert_false (vhost_backend_set_mem_table (VHOST_BACKEND (master), regions, 1, &error));
  g_assert_error (error, VHOST_ERROR, (gint) c->code);
  if (strstr (error->message, c->message) == NULL)
    g_error ("'%s' does not name '%s'", error->message, c->message);
  g_assert_false (vhost_user_master_get_connected (master));

  g_clear_pointer (&region, vhost_memory_region_unref);
  close (memfd);
  close (sv[0]);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* A back-end that never answers: the master's timeout ends the call. */
static void
test_master_timeout (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_object_set (master, "timeout", 200, NULL);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_false (vhost_backend_get_features (VHOST_BACKEND (master), NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_TIMED_OUT);
  g_assert_false (vhost_user_master_get_connected (master));
  close (sv[0]);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* A master on a raw back-end, with `features` and the back-end request channel:
 * the raw end of the front-end's socket in *raw, the back-end's end of the
 * channel in *backend. ::disconnected goes to *signalled. */
static VhostUserMaster *
master_with_backend_channel (guint64 features, int *raw, int *backend, GError **signalled)
{
  g_autoptr(GError) error = NULL;
  VhostUserMaster *master;
  int sv[2];
  guint8 buf[32];
  guint64 ack = 0;
  gsize len;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_signal_connect (master, "disconnected", G_CALLBACK (on_master_disconnected), signalled);
  /* Answer the SET_BACKEND_REQ_FD's acknowledgement in advance, then collect the fd. */
  len = build (buf, VHOST_USER_SET_BACKEND_REQ_FD, R, 8, &ack, 8);
  raw_send (sv[0], buf, len, NULL, 0);
  g_assert_true (vhost_user_master_set_protocol_features (master,
                                                          VHOST_USER_PROTOCOL_F_BACKEND_REQ |
                                                            VHOST_USER_PROTOCOL_F_REPLY_ACK | features,
                                                          &error));
  g_assert_no_error (error);
  *backend = -1;
  {
    union {
      struct cmsghdr align;
      char buf[CMSG_SPACE (sizeof (int))];
    } control;
    struct iovec iov = { buf, sizeof buf };
    struct msghdr mh = { 0 };
    gsize got = 0;

    /* SET_PROTOCOL_FEATURES (20 bytes) then SET_BACKEND_REQ_FD (12 bytes, one fd). */
    while (got < 32)
      {
        gssize n;

        iov.iov_base = buf + got;
        iov.iov_len = 32 - got;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof control.buf;
        n = recvmsg (sv[0], &mh, MSG_CMSG_CLOEXEC);
        g_assert_cmpint (n, >, 0);
        if (CMSG_FIRSTHDR (&mh) != NULL)
          memcpy (backend, CMSG_DATA (CMSG_FIRSTHDR (&mh)), sizeof (int));
        got += n;
      }
  }
  g_assert_cmpint (*backend, >=, 0);
  *raw = sv[0];
  return master;
}

/* Bad back-end requests on the back-end request channel. */
static void
test_master_backend_channel (gconstpointer data)
{
  guint32 request = GPOINTER_TO_UINT (data);
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  GError *signalled = NULL;
  int raw, backend;
  guint8 buf[128];
  VhostUserMsg msg;
  gsize len;

  master = master_with_backend_channel (VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD,
                                        &raw, &backend, &signalled);
  vhost_user_msg_init (&msg, request, 0);
  if (request == VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG)
    {
      msg.hdr.size = sizeof (VhostUserVringAreaWire);
      msg.payload.area.u64 = 0;
      msg.payload.area.size = 4096;
      msg.payload.area.offset = G_MAXUINT64 - 100;
      len = build (buf, request, VHOST_USER_VERSION, msg.hdr.size, &msg.payload, msg.hdr.size);
      {
        int fd = vhost_test_memfd (4096);

        raw_send (backend, buf, len, &fd, 1);
        close (fd);
      }
    }
  else
    {
      len = build (buf, request, VHOST_USER_VERSION, 0, NULL, 0);
      raw_send (backend, buf, len, NULL, 0);
    }
  while (signalled == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (signalled, VHOST_ERROR,
                  (gint) (request == VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG ? VHOST_ERROR_INVALID_ARGUMENT
                                                                                 : VHOST_ERROR_UNKNOWN_REQUEST));
  g_clear_error (&signalled);
  g_assert_false (vhost_user_master_get_connected (master));
  close (backend);
  close (raw);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* Bad replies to GET_SHMEM_CONFIG: the session ends, naming the request. */
typedef struct
{
  const char *name;
  guint32 size;               /* the reply's payload size */
  guint32 nregions;
  guint64 sizes[3];           /* the first memory sizes, the others 0 */
  guint n_fds;
  VhostError code;
  const char *message;
} ShmemConfigCase;

static const ShmemConfigCase shmem_config_cases[] = {
  { "too-many-regions", 2056, 257, { 4096 }, 0, VHOST_ERROR_INVALID_ARGUMENT, "GET_SHMEM_CONFIG: 257 regions" },
  { "short", 8 + 8 * 3, 1, { 4096 }, 0, VHOST_ERROR_MESSAGE_SIZE, "GET_SHMEM_CONFIG: payload size 32" },
  { "fd", 2056, 1, { 4096 }, 1, VHOST_ERROR_FDS, "GET_SHMEM_CONFIG: 1 file descriptors" },
  { "not-page-size", 2056, 2, { 4096, 4097 }, 0, VHOST_ERROR_PROTOCOL, "region 1 has 4097 bytes" },
  { "miscounted", 2056, 1, { 4096, 0, 8192 }, 0, VHOST_ERROR_PROTOCOL, "2 regions have a size, and the reply counts 1" },
};

static void
test_master_shmem_config (gconstpointer data)
{
  const ShmemConfigCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buf = g_malloc0 (sizeof (VhostUserHeader) + sizeof (VhostUserShmemConfigWire));
  VhostUserShmemConfigWire config = { c->nregions };
  GError *signalled = NULL;
  int sv[2], fd = -1;
  guint n = 1;
  gsize len;

  memcpy (config.memory_sizes, c->sizes, sizeof c->sizes);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_signal_connect (master, "disconnected", G_CALLBACK (on_master_disconnected), &signalled);
  g_assert_true (vhost_user_master_set_protocol_features (master, VHOST_USER_PROTOCOL_F_SHMEM, &error));
  len = build (buf, VHOST_USER_GET_SHMEM_CONFIG, R, c->size, &config, MIN (c->size, sizeof config));
  if (c->n_fds > 0)
    fd = vhost_test_memfd (4096);
  raw_send (sv[0], buf, len, &fd, c->n_fds);
  if (fd >= 0)
    close (fd);

  g_assert_null (vhost_user_master_get_shmem_config (master, &n, &error));
  g_assert_cmpuint (n, ==, 0);
  g_assert_error (error, VHOST_ERROR, (gint) c->code);
  if (strstr (error->message, c->message) == NULL)
    g_error ("'%s' does not name '%s'", error->message, c->message);
  g_assert_false (vhost_user_master_get_connected (master));
  g_assert_nonnull (signalled);
  g_clear_error (&signalled);
  g_assert_null (vhost_user_master_get_shmem_region (master, 0, NULL));
  close (sv[0]);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
}

/* SHMEM_MAP and SHMEM_UNMAP from a raw back-end: a malformed one ends the session
 * (the back-end channel's failure is the session's); a well-formed one the master
 * cannot carry out is answered with a failure status, and the session goes on. */
typedef struct
{
  const char *name;
  guint32 request;
  guint32 size;
  VhostUserMMapWire mmap;
  guint n_fds;
  gboolean regions;           /* GET_SHMEM_CONFIG first: one region of 4 pages */
  VhostError code;            /* the session's end, or 0: a failure status */
  const char *message;
} ShmemRequestCase;

#define MMAP(shmid, fd_offset, shm_offset, len, flags) { shmid, { 0 }, fd_offset, shm_offset, len, flags }

static const ShmemRequestCase shmem_request_cases[] = {
  { "map-no-fd", VHOST_USER_BACKEND_SHMEM_MAP, 40, MMAP (0, 0, 0, 4096, 0), 0, TRUE, VHOST_ERROR_FDS, "SHMEM_MAP" },
  { "map-two-fds", VHOST_USER_BACKEND_SHMEM_MAP, 40, MMAP (0, 0, 0, 4096, 0), 2, TRUE, VHOST_ERROR_FDS, "SHMEM_MAP" },
  { "map-short", VHOST_USER_BACKEND_SHMEM_MAP, 32, MMAP (0, 0, 0, 4096, 0), 1, TRUE, VHOST_ERROR_MESSAGE_SIZE, "SHMEM_MAP" },
  { "unmap-fd", VHOST_USER_BACKEND_SHMEM_UNMAP, 40, MMAP (0, 0, 0, 4096, 0), 1, TRUE, VHOST_ERROR_FDS, "SHMEM_UNMAP" },
  { "map-unknown-flags", VHOST_USER_BACKEND_SHMEM_MAP, 40, MMAP (0, 0, 0, 4096, 2), 1, TRUE, 0, "*SHMEM_MAP: unknown flags 0x2" },
  { "map-no-regions", VHOST_USER_BACKEND_SHMEM_MAP, 40, MMAP (0, 0, 0, 4096, 0), 1, FALSE, 0, "*SHMEM_MAP: the front-end has not read*" },
  { "unmap-nothing", VHOST_USER_BACKEND_SHMEM_UNMAP, 40, MMAP (0, 0, 0, 4096, 0), 0, TRUE, 0, "*SHMEM_UNMAP: region 0 has no mapping*" },
};

static void
test_master_shmem_request (gconstpointer data)
{
  const ShmemRequestCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  GError *signalled = NULL;
  int raw, backend, fds[2] = { -1, -1 };
  guint8 buf[sizeof (VhostUserHeader) + sizeof (VhostUserShmemConfigWire)];
  gsize len;

  master = master_with_backend_channel (VHOST_USER_PROTOCOL_F_SHMEM | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD, &raw,
                                        &backend, &signalled);
  if (c->regions)
    {
      VhostUserShmemConfigWire config = { 1, 0, { 4 * 4096 } };
      g_autofree guint64 *sizes = NULL;
      guint n = 0;

      len = build (buf, VHOST_USER_GET_SHMEM_CONFIG, R, sizeof config, &config, sizeof config);
      raw_send (raw, buf, len, NULL, 0);
      sizes = vhost_user_master_get_shmem_config (master, &n, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (n, ==, 1);
    }
  for (guint i = 0; i < c->n_fds; i++)
    fds[i] = vhost_test_memfd (4096);
  len = build (buf, c->request, VHOST_USER_VERSION | VHOST_USER_FLAG_NEED_REPLY, c->size, &c->mmap, c->size);
  /* The master's refusals are rate-limited (structured) log lines. */
  if (c->code == 0)
    vhost_test_log_capture_start ("Vhost");
  raw_send (backend, buf, len, fds, c->n_fds);
  for (guint i = 0; i < c->n_fds; i++)
    close (fds[i]);

  if (c->code != 0)
    {
      while (signalled == NULL)
        g_main_context_iteration (NULL, TRUE);
      g_assert_error (signalled, VHOST_ERROR, (gint) c->code);
      if (strstr (signalled->message, c->message) == NULL)
        g_error ("'%s' does not name '%s'", signalled->message, c->message);
      g_clear_error (&signalled);
      g_assert_false (vhost_user_master_get_connected (master));
    }
  else
    {
      VhostUserHeader hdr;
      guint64 status = 0;
      struct pollfd pfd = { backend, POLLIN, 0 };

      /* The acknowledgement says failure; nothing else changes. */
      while (poll (&pfd, 1, 0) == 0)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (recv (backend, buf, sizeof hdr + 8, MSG_WAITALL), ==, sizeof hdr + 8);
      memcpy (&hdr, buf, sizeof hdr);
      memcpy (&status, buf + sizeof hdr, 8);
      g_assert_cmpuint (hdr.request, ==, c->request);
      g_assert_cmpuint (hdr.flags, ==, R);
      g_assert_cmpuint (status, !=, 0);
      {
        g_autofree char *pattern = g_strconcat ("M ", c->message, NULL);

        vhost_test_log_capture_assert (pattern);
        vhost_test_log_capture_stop ();
      }
      g_assert_null (signalled);
      g_assert_true (vhost_user_master_get_connected (master));
    }
  close (backend);
  close (raw);
  g_clear_object (&master);
  g_clear_error (&signalled);
  vhost_test_assert_fd_count (fds_before);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  for (guint i = 0; i < G_N_ELEMENTS (slave_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/bad-input/to-slave/", slave_cases[i].name, NULL);
      g_test_add_data_func (path, &slave_cases[i], test_slave_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (master_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/bad-input/to-master/", master_cases[i].name, NULL);
      g_test_add_data_func (path, &master_cases[i], test_master_case);
    }
  g_test_add_func ("/vhost/bad-input/to-slave/vring-enable-order", test_slave_vring_enable_order);
  g_test_add_func ("/vhost/bad-input/to-slave/unread-replies", test_slave_unread_replies);
  g_test_add_func ("/vhost/bad-input/to-master/timeout", test_master_timeout);
  for (guint i = 0; i < G_N_ELEMENTS (postcopy_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/bad-input/to-master/", postcopy_cases[i].name, NULL);
      g_test_add_data_func (path, &postcopy_cases[i], test_master_postcopy_reply);
    }
  g_test_add_data_func ("/vhost/bad-input/to-master/backend-unknown-request", GUINT_TO_POINTER (42),
                        test_master_backend_channel);
  g_test_add_data_func ("/vhost/bad-input/to-master/backend-area-overflow",
                        GUINT_TO_POINTER (VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG), test_master_backend_channel);
  for (guint i = 0; i < G_N_ELEMENTS (shmem_config_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/bad-input/to-master/shmem-config/", shmem_config_cases[i].name,
                                           NULL);
      g_test_add_data_func (path, &shmem_config_cases[i], test_master_shmem_config);
    }
  for (guint i = 0; i < G_N_ELEMENTS (shmem_request_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/bad-input/to-master/backend-shmem/", shmem_request_cases[i].name,
                                           NULL);
      g_test_add_data_func (path, &shmem_request_cases[i], test_master_shmem_request);
    }
  return g_test_run ();
}
