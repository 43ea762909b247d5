/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vhost-user wire format: every request of both channels validated, built right and built wrong. */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test-support.h"
#include "vhost-glib/protocol/vhost-user-protocol.h"

typedef struct
{
  VhostUserChannelKind channel;
  guint32 request;
} Case;

/* A payload of `kind` that is valid, and its size. */
static guint32
fill_payload (VhostUserMsg *msg, VhostUserPayloadKind kind, gboolean is_reply)
{
  VhostUserPayload *p = &msg->payload;

  memset (p->bytes, 0, 512);
  switch (kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
      return 0;
    case VHOST_USER_PAYLOAD_U64:
      p->u64 = 1;
      return 8;
    case VHOST_USER_PAYLOAD_STATE:
      p->state.index = 3;
      return sizeof (VhostUserVringState);
    case VHOST_USER_PAYLOAD_ADDR:
      p->addr.index = 1;
      return sizeof (VhostUserVringAddrWire);
    case VHOST_USER_PAYLOAD_MEMORY:
      p->memory.nregions = 2;
      p->memory.regions[0] = (VhostUserRegionWire) { 0, 0x100000, 0x7f0000000000, 0 };
      p->memory.regions[1] = (VhostUserRegionWire) { 0x100000, 0x100000, 0x7f0000100000, 0 };
      return 8 + 2 * sizeof (VhostUserRegionWire);
    case VHOST_USER_PAYLOAD_MEM_REG:
      p->mem_reg.region = (VhostUserRegionWire) { 0x200000, 0x1000, 0x7f1000000000, 0x1000 };
      return sizeof (VhostUserMemRegWire);
    case VHOST_USER_PAYLOAD_LOG:
      p->log.mmap_size = 4096;
      return sizeof (VhostUserLogWire);
    case VHOST_USER_PAYLOAD_IOTLB:
      return sizeof (VhostUserIotlbWire);
    case VHOST_USER_PAYLOAD_CONFIG:
      p->config.size = 16;
      return VHOST_USER_CONFIG_HDR_SIZE + 16;
    case VHOST_USER_PAYLOAD_AREA:
      p->area.u64 = 2;
      return sizeof (VhostUserVringAreaWire);
    case VHOST_USER_PAYLOAD_INFLIGHT:
      return sizeof (VhostUserInflightWire);
    case VHOST_USER_PAYLOAD_SHARED:
      return sizeof (VhostUserSharedWire);
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
      return sizeof (VhostUserDeviceStateWire);
    case VHOST_USER_PAYLOAD_OPAQUE:
      return 40;
    default:
      g_assert_not_reached ();
    }
}

/* How many fds a message of `kind` carries once filled by fill_payload(). */
static guint
fds_for (VhostUserFdsKind kind, const VhostUserMsg *msg)
{
  switch (kind)
    {
    case VHOST_USER_FDS_NONE:
      return 0;
    case VHOST_USER_FDS_REGIONS:
      return msg->payload.memory.nregions;
    case VHOST_USER_FDS_DEVICE_STATE:
      return (msg->payload.u64 & VHOST_USER_DEVICE_STATE_NOFD) ? 0 : 1;
    default:
      return 1;
    }
}

static void
add_fds (VhostUserMsg *msg, guint n)
{
  vhost_user_msg_close_fds (msg);
  for (guint i = 0; i < n; i++)
    {
      msg->fds[i] = eventfd (0, EFD_CLOEXEC);
      g_assert_cmpint (msg->fds[i], >=, 0);
    }
  msg->n_fds = n;
}

/* `ok` must be FALSE with *error set to `code`, naming `name`; *error is cleared. */
static void
assert_invalid (gboolean ok, GError **error, VhostError code, const char *name)
{
  g_assert_false (ok);
  g_assert_error (*error, VHOST_ERROR, (gint) code);
  if (name != NULL && strstr ((*error)->message, name) == NULL)
    g_error ("'%s' does not name %s", (*error)->message, name);
  g_clear_error (error);
}

static void
test_request (gconstpointer data)
{
  const Case *c = data;
  const VhostUserRequestInfo *info = vhost_user_request_info (c->channel, c->request);
  gint fds_before = vhost_test_count_open_fds ();
  VhostUserMsg msg;
  GError *error = NULL;
  guint32 size;
  guint n_fds;

  g_assert_nonnull (info);
  g_assert_cmpuint (info->request, ==, c->request);
  g_assert_cmpstr (vhost_user_request_name (c->channel, c->request), ==, info->name);

  /* Valid. */
  vhost_user_msg_init (&msg, c->request, 0);
  size = fill_payload (&msg, info->payload, FALSE);
  msg.hdr.size = size;
  n_fds = fds_for (info->fds, &msg);
  add_fds (&msg, n_fds);
  g_assert_true (vhost_user_request_validate (c->channel, &msg, &error));
  g_assert_no_error (error);

  /* The size off by one either way (any size of 1 or more fits an opaque payload). */
  if (info->payload != VHOST_USER_PAYLOAD_OPAQUE)
    {
      msg.hdr.size = size + 1;
      assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_MESSAGE_SIZE,
                      info->name);
    }
  if (size > 0)
    {
      msg.hdr.size = info->payload == VHOST_USER_PAYLOAD_OPAQUE ? 0 : size - 1;
      assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_MESSAGE_SIZE,
                      info->name);
    }
  msg.hdr.size = size;

  /* One fd too many, one too few. */
  if (n_fds < VHOST_USER_MAX_FDS)
    {
      add_fds (&msg, n_fds + 1);
      if (info->fds == VHOST_USER_FDS_AT_MOST_ONE && n_fds == 0)
        g_assert_true (vhost_user_request_validate (c->channel, &msg, NULL));
      else
        {
          assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_FDS,
                          info->name);
        }
    }
  if (n_fds > 0 && info->fds != VHOST_USER_FDS_AT_MOST_ONE)
    {
      add_fds (&msg, n_fds - 1);
      assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_FDS, info->name);
    }
  add_fds (&msg, n_fds);

  /* Flags: the reply flag on a request, no version, an unknown bit. */
  msg.hdr.flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY;
  assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_PROTOCOL, info->name);
  msg.hdr.flags = 0;
  assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_PROTOCOL, info->name);
  msg.hdr.flags = VHOST_USER_VERSION | (1u << 7);
  assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_PROTOCOL, info->name);
  msg.hdr.flags = VHOST_USER_VERSION;

  /* Replies: the full reply, or the REPLY_ACK status. */
  {
    VhostUserMsg reply;
    gboolean ack = info->reply != VHOST_USER_REPLY_ALWAYS;

    vhost_user_msg_init_reply (&reply, &msg, 0);
    reply.hdr.size = ack ? fill_payload (&reply, VHOST_USER_PAYLOAD_U64, TRUE)
                         : fill_payload (&reply, info->reply_payload, TRUE);
    if (!ack && info->reply_fds != VHOST_USER_FDS_AT_MOST_ONE)
      add_fds (&reply, fds_for (info->reply_fds, &reply));
    g_assert_true (vhost_user_reply_validate (c->channel, c->request, ack, &reply, &error));
    g_assert_no_error (error);

    reply.hdr.flags = VHOST_USER_VERSION;
    assert_invalid (vhost_user_reply_validate (c->channel, c->request, ack, &reply, &error), &error,
                    VHOST_ERROR_PROTOCOL, info->name);
    reply.hdr.flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY;
    reply.hdr.request = c->request == 1 ? 2 : 1;
    assert_invalid (vhost_user_reply_validate (c->channel, c->request, ack, &reply, &error), &error,
                    VHOST_ERROR_PROTOCOL, info->name);
    vhost_user_msg_close_fds (&reply);
  }

  /* When a reply is expected. */
  msg.hdr.flags = VHOST_USER_VERSION;
  g_assert_cmpint (vhost_user_request_expects_reply (c->channel, &msg, 0), ==, info->reply == VHOST_USER_REPLY_ALWAYS);
  msg.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
  g_assert_cmpint (vhost_user_request_expects_reply (c->channel, &msg, 0), ==, info->reply == VHOST_USER_REPLY_ALWAYS);
  g_assert_true (vhost_user_request_expects_reply (c->channel, &msg, VHOST_USER_PROTOCOL_F_REPLY_ACK));
  msg.hdr.flags = VHOST_USER_VERSION;
  g_assert_cmpint (vhost_user_request_expects_reply (c->channel, &msg, G_MAXUINT64), ==,
                   info->reply != VHOST_USER_REPLY_ACK_ONLY);

  vhost_user_msg_close_fds (&msg);
  vhost_test_assert_fd_count (fds_before);
}

static void
test_unknown (void)
{
  static const guint32 frontend[] = { 0, 44, 1000, G_MAXUINT32 };
  static const guint32 backend[] = { 0, 9, 1000 };
  VhostUserMsg msg;
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (frontend); i++)
    {
      vhost_user_msg_init (&msg, frontend[i], 0);
      g_assert_null (vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, frontend[i]));
      g_assert_cmpstr (vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, frontend[i]), ==, "UNKNOWN");
      assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                      VHOST_ERROR_UNKNOWN_REQUEST, NULL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (backend); i++)
    {
      vhost_user_msg_init (&msg, backend[i], 0);
      assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_BACKEND, &msg, &error), &error,
                      VHOST_ERROR_UNKNOWN_REQUEST, NULL);
    }
  g_assert_cmpstr (vhost_user_request_get_name (VHOST_USER_SET_MEM_TABLE), ==, "SET_MEM_TABLE");
  g_assert_cmpstr (vhost_user_backend_request_get_name (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG), ==,
                   "CONFIG_CHANGE_MSG");
}

static void
test_header (void)
{
  VhostUserHeader hdr = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0 };
  GError *error = NULL;

  g_assert_true (vhost_user_header_validate (VHOST_USER_CHANNEL_FRONTEND, &hdr, &error));
  hdr.flags = 2;
  assert_invalid (vhost_user_header_validate (VHOST_USER_CHANNEL_FRONTEND, &hdr, &error), &error,
                  VHOST_ERROR_PROTOCOL, "GET_FEATURES");
  hdr.flags = VHOST_USER_VERSION;
  hdr.size = VHOST_USER_MAX_PAYLOAD;
  g_assert_true (vhost_user_header_validate (VHOST_USER_CHANNEL_FRONTEND, &hdr, NULL));
  hdr.size = VHOST_USER_MAX_PAYLOAD + 1;
  assert_invalid (vhost_user_header_validate (VHOST_USER_CHANNEL_FRONTEND, &hdr, &error), &error,
                  VHOST_ERROR_MESSAGE_SIZE, "GET_FEATURES");
}

static void
test_regions (void)
{
  VhostUserRegionWire r[3];
  GError *error = NULL;

  r[0] = (VhostUserRegionWire) { 0, 0x1000, 0x10000, 0 };
  r[1] = (VhostUserRegionWire) { 0x1000, 0x1000, 0x11000, 0 }; /* adjacent in both spaces */
  g_assert_true (vhost_user_regions_validate (r, 2, "T", &error));
  g_assert_no_error (error);

  r[1].guest_phys_addr = 0xfff;
  assert_invalid (vhost_user_regions_validate (r, 2, "T", &error), &error, VHOST_ERROR_INVALID_ARGUMENT, "guest");
  r[1].guest_phys_addr = 0x1000;
  r[1].userspace_addr = 0x10800;
  assert_invalid (vhost_user_regions_validate (r, 2, "T", &error), &error, VHOST_ERROR_INVALID_ARGUMENT, "user");

  r[2] = (VhostUserRegionWire) { 0x5000, 0, 0x50000, 0 };
  assert_invalid (vhost_user_regions_validate (&r[2], 1, "T", &error), &error, VHOST_ERROR_INVALID_ARGUMENT, "size 0");
  for (guint field = 0; field < 3; field++)
    {
      r[2] = (VhostUserRegionWire) { 0x5000, 0x2000, 0x50000, 0 };
      if (field == 0)
        r[2].guest_phys_addr = G_MAXUINT64 - 0x1000;
      else if (field == 1)
        r[2].userspace_addr = G_MAXUINT64 - 0x1000;
      else
        r[2].mmap_offset = G_MAXUINT64 - 0x1000;
      assert_invalid (vhost_user_regions_validate (&r[2], 1, "T", &error), &error, VHOST_ERROR_INVALID_ARGUMENT,
                      "overflows");
    }
}

static void
test_mem_table_counts (void)
{
  VhostUserMsg msg;
  GError *error = NULL;

  vhost_user_msg_init (&msg, VHOST_USER_SET_MEM_TABLE, 8);
  msg.payload.memory.nregions = 0;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_INVALID_ARGUMENT, "SET_MEM_TABLE");
  msg.payload.memory.nregions = 9;
  msg.hdr.size = 8 + 9 * 32;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_INVALID_ARGUMENT, "SET_MEM_TABLE");
}

static void
test_vring_index (void)
{
  VhostUserMsg msg;
  GError *error = NULL;
  int fd = eventfd (0, EFD_CLOEXEC);

  vhost_user_msg_init_state (&msg, VHOST_USER_SET_VRING_NUM, 255, 64);
  g_assert_true (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, NULL));
  msg.payload.state.index = 256;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_INVALID_ARGUMENT, "SET_VRING_NUM");

  /* KICK with the no-fd flag: no fd; with an fd anyway: rejected. Unknown bits: rejected. */
  vhost_user_msg_init_u64 (&msg, VHOST_USER_SET_VRING_KICK, 3 | VHOST_USER_VRING_NOFD_MASK);
  g_assert_true (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, NULL));
  msg.fds[0] = fd;
  msg.n_fds = 1;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error, VHOST_ERROR_FDS,
                  "SET_VRING_KICK");
  msg.payload.u64 = 3 | (1u << 12);
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_INVALID_ARGUMENT, "SET_VRING_KICK");
  vhost_user_msg_close_fds (&msg);
}

static void
test_config_sizes (void)
{
  VhostUserMsg msg, reply;
  GError *error = NULL;

  vhost_user_msg_init (&msg, VHOST_USER_GET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + 257);
  msg.payload.config.size = 257;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_MESSAGE_SIZE, "GET_CONFIG");
  msg.payload.config.size = 8;
  msg.hdr.size = VHOST_USER_CONFIG_HDR_SIZE + 9;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_MESSAGE_SIZE, "GET_CONFIG");
  /* An empty GET_CONFIG reply is how a back-end fails it. */
  vhost_user_msg_init_reply (&reply, &msg, 0);
  g_assert_true (vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_GET_CONFIG, FALSE, &reply, NULL));
}

int
main (int argc, char **argv)
{
  static Case cases[2][64];

  vhost_test_init (&argc, &argv);
  for (guint ch = 0; ch < 2; ch++)
    for (guint32 r = 1; r < 64; r++)
      {
        const VhostUserRequestInfo *info = vhost_user_request_info (ch, r);
        g_autofree char *path = NULL;

        if (info == NULL)
          continue;
        cases[ch][r] = (Case) { ch, r };
        path = g_strdup_printf ("/vhost/protocol/%s/%s", ch == VHOST_USER_CHANNEL_FRONTEND ? "front-end" : "back-end",
                                info->name);
        g_test_add_data_func (path, &cases[ch][r], test_request);
      }
  g_test_add_func ("/vhost/protocol/unknown", test_unknown);
  g_test_add_func ("/vhost/protocol/header", test_header);
  g_test_add_func ("/vhost/protocol/regions", test_regions);
  g_test_add_func ("/vhost/protocol/mem-table-counts", test_mem_table_counts);
  g_test_add_func ("/vhost/protocol/vring-index", test_vring_index);
  g_test_add_func ("/vhost/protocol/config-sizes", test_config_sizes);
  return g_test_run ();
}
