/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user wire format: the table of requests and the validation of every message. */
#include <string.h>
#include <unistd.h>

#include "vhost-user-protocol.h"

#include "vhost-user-requests.h"

/* The table of protocol/vhost-user-requests.h, without its handler column. */
#define ROW(prefix, code, pl, fd, rep, rpl, rfd, rfeat, needs, queues, failure)                              \
  [prefix##code] = { prefix##code, #code, VHOST_USER_PAYLOAD_##pl, VHOST_USER_FDS_##fd, VHOST_USER_REPLY_##rep, \
                     VHOST_USER_PAYLOAD_##rpl, VHOST_USER_FDS_##rfd, VHOST_USER_PROTOCOL_F_##rfeat,             \
                     VHOST_USER_PROTOCOL_F_##needs, VHOST_USER_QUEUES_##queues, VHOST_USER_FAILURE_##failure },
#define FRONTEND_ROW(code, handler, ...) ROW (VHOST_USER_, code, __VA_ARGS__)
#define BACKEND_ROW(code, handler, ...) ROW (VHOST_USER_BACKEND_, code, __VA_ARGS__)

static const VhostUserRequestInfo frontend_requests[] = { VHOST_USER_FRONTEND_REQUESTS (FRONTEND_ROW) };
static const VhostUserRequestInfo backend_requests[] = { VHOST_USER_BACKEND_REQUESTS (BACKEND_ROW) };

#undef FRONTEND_ROW
#undef BACKEND_ROW
#undef ROW

const VhostUserRequestInfo *
vhost_user_request_info (VhostUserChannelKind channel, guint32 request)
{
  const VhostUserRequestInfo *table = channel == VHOST_USER_CHANNEL_FRONTEND ? frontend_requests : backend_requests;
  guint n = channel == VHOST_USER_CHANNEL_FRONTEND ? G_N_ELEMENTS (frontend_requests) : G_N_ELEMENTS (backend_requests);

  if (request == 0 || request >= n || table[request].name == NULL)
    return NULL;
  return &table[request];
}

const char *
vhost_user_request_name (VhostUserChannelKind channel, guint32 request)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (channel, request);

  return info != NULL ? info->name : "UNKNOWN";
}

const char *
vhost_user_protocol_feature_name (guint64 features)
{
  static const char *const names[] = {
    "MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "NET_MTU", "BACKEND_REQ", "CROSS_ENDIAN", "CRYPTO_SESSION",
    "PAGEFAULT", "CONFIG", "BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
    "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS", "XEN_MMAP", "SHARED_OBJECT", "DEVICE_STATE",
    "GET_VRING_BASE_INFLIGHT", "SHMEM",
  };
  guint bit;

  if (features == 0)
    return "NONE";
  bit = __builtin_ctzll (features);
  return bit < G_N_ELEMENTS (names) ? names[bit] : "UNKNOWN";
}

VhostUserReplyForm
vhost_user_request_reply_form (VhostUserChannelKind channel, const VhostUserMsg *msg, guint64 protocol_features)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (channel, msg->hdr.request);

  if (info == NULL)
    return VHOST_USER_REPLY_FORM_NONE;
  if (info->reply == VHOST_USER_REPLY_ALWAYS ||
      (info->reply == VHOST_USER_REPLY_IF_FEATURE && (protocol_features & info->reply_feature)))
    return VHOST_USER_REPLY_FORM_FULL;
  if ((msg->hdr.flags & VHOST_USER_FLAG_NEED_REPLY) && (protocol_features & VHOST_USER_PROTOCOL_F_REPLY_ACK))
    return VHOST_USER_REPLY_FORM_ACK;
  return VHOST_USER_REPLY_FORM_NONE;
}

void
vhost_user_request_set_need_reply (VhostUserChannelKind channel, VhostUserMsg *msg, guint64 protocol_features)
{
  if ((protocol_features & VHOST_USER_PROTOCOL_F_REPLY_ACK) &&
      vhost_user_request_reply_form (channel, msg, protocol_features) != VHOST_USER_REPLY_FORM_FULL)
    msg->hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
}

gboolean
vhost_user_request_check_features (VhostUserChannelKind channel,
                                   guint32 request,
                                   guint n_fds,
                                   guint64 protocol_features,
                                   GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (channel, request);
  guint64 missing;

  g_return_val_if_fail (info != NULL, FALSE);
  missing = info->needs_protocol_feature & ~protocol_features;
  if (channel == VHOST_USER_CHANNEL_BACKEND && n_fds > 0)
    missing |= VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD & ~protocol_features;
  if (missing == 0)
    return TRUE;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
               "%s needs the protocol feature %s, which was not negotiated", info->name,
               vhost_user_protocol_feature_name (missing));
  return FALSE;
}

static const char *
header_name (VhostUserChannelKind channel, guint32 request)
{
  return vhost_user_request_info (channel, request) != NULL ? vhost_user_request_name (channel, request)
                                                           : "Message";
}

gboolean
vhost_user_header_validate (VhostUserChannelKind channel, const VhostUserHeader *hdr, GError **error)
{
  const char *name = header_name (channel, hdr->request);

  if ((hdr->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s (code %u): flags 0x%x do not carry version %u",
                   name, hdr->request, hdr->flags, VHOST_USER_VERSION);
      return FALSE;
    }
  if (hdr->flags & ~VHOST_USER_FLAGS_KNOWN)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s (code %u): unknown flags 0x%x", name,
                   hdr->request, hdr->flags & ~VHOST_USER_FLAGS_KNOWN);
      return FALSE;
    }
  if (hdr->size > VHOST_USER_MAX_PAYLOAD)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s (code %u): payload size %u is over the limit of %u",
                   name, hdr->request, hdr->size, VHOST_USER_MAX_PAYLOAD);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_size (const char *name, guint32 size, guint32 expected, GError **error)
{
  if (size != expected)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: payload size %u, expected %u", name, size,
                   expected);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_vring_index (const char *name, guint32 index, GError **error)
{
  if (index >= VHOST_USER_MAX_QUEUES)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: vring index %u out of range", name, index);
      return FALSE;
    }
  return TRUE;
}

/* The payload: its size for its kind, and the bounds of what is inside. */
static gboolean
validate_payload (const char *name, VhostUserPayloadKind kind, gboolean is_reply, const VhostUserMsg *msg,
                  GError **error)
{
  guint32 size = msg->hdr.size;
  const VhostUserPayload *p = &msg->payload;

  switch (kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
      return check_size (name, size, 0, error);
    case VHOST_USER_PAYLOAD_U64:
      return check_size (name, size, sizeof (guint64), error);
    case VHOST_USER_PAYLOAD_STATE:
      return check_size (name, size, sizeof (VhostUserVringState), error) &&
             check_vring_index (name, p->state.index, error);
    case VHOST_USER_PAYLOAD_ADDR:
      return check_size (name, size, sizeof (VhostUserVringAddrWire), error) &&
             check_vring_index (name, p->addr.index, error);
    case VHOST_USER_PAYLOAD_MEMORY:
      if (size < 8)
        return check_size (name, size, 8, error);
      if (p->memory.nregions == 0 || p->memory.nregions > VHOST_USER_MAX_REGIONS)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: %u regions; a message carries 1 to %u",
                       name, p->memory.nregions, VHOST_USER_MAX_REGIONS);
          return FALSE;
        }
      /* QEMU, DPDK and libvhost-user all send exactly the regions in use. */
      return check_size (name, size, 8 + p->memory.nregions * sizeof (VhostUserRegionWire), error) &&
             vhost_user_regions_validate (p->memory.regions, p->memory.nregions, name, error);
    case VHOST_USER_PAYLOAD_MEM_REG:
      return check_size (name, size, sizeof (VhostUserMemRegWire), error) &&
             vhost_user_regions_validate (&p->mem_reg.region, 1, name, error);
    case VHOST_USER_PAYLOAD_LOG:
      return check_size (name, size, sizeof (VhostUserLogWire), error);
    case VHOST_USER_PAYLOAD_IOTLB:
      return check_size (name, size, sizeof (VhostUserIotlbWire), error);
    case VHOST_USER_PAYLOAD_CONFIG:
      /* A GET_CONFIG reply of size 0 is how a back-end says it failed. */
      if (is_reply && size == 0)
        return TRUE;
      if (size < VHOST_USER_CONFIG_HDR_SIZE)
        return check_size (name, size, VHOST_USER_CONFIG_HDR_SIZE, error);
      if (p->config.size > VHOST_USER_MAX_CONFIG_SIZE)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: config size %u is over the limit of %u",
                       name, p->config.size, VHOST_USER_MAX_CONFIG_SIZE);
          return FALSE;
        }
      return check_size (name, size, VHOST_USER_CONFIG_HDR_SIZE + p->config.size, error);
    case VHOST_USER_PAYLOAD_AREA:
      if (!check_size (name, size, sizeof (VhostUserVringAreaWire), error))
        return FALSE;
      if ((p->area.u64 & ~(guint64) (VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) != 0 ||
          p->area.offset + p->area.size < p->area.offset)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                       "%s: bad area (u64 0x%" G_GINT64_MODIFIER "x, offset %" G_GUINT64_FORMAT ", size %"
                       G_GUINT64_FORMAT ")", name, p->area.u64, p->area.offset, p->area.size);
          return FALSE;
        }
      return TRUE;
    case VHOST_USER_PAYLOAD_INFLIGHT:
      return check_size (name, size, sizeof (VhostUserInflightWire), error);
    case VHOST_USER_PAYLOAD_SHARED:
      return check_size (name, size, sizeof (VhostUserSharedWire), error);
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
      return check_size (name, size, sizeof (VhostUserDeviceStateWire), error);
    case VHOST_USER_PAYLOAD_OPAQUE:
      if (size == 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: empty payload", name);
          return FALSE;
        }
      return TRUE;
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      if (!check_size (name, size, sizeof (VhostUserShmemConfigWire), error))
        return FALSE;
      if (p->shmem_config.nregions > VHOST_USER_MAX_SHMEM_REGIONS)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: %u regions; a device has at most %u",
                       name, p->shmem_config.nregions, VHOST_USER_MAX_SHMEM_REGIONS);
          return FALSE;
        }
      return TRUE;
    case VHOST_USER_PAYLOAD_MMAP:
      return check_size (name, size, sizeof (VhostUserMMapWire), error);
    default:
      g_assert_not_reached ();
    }
}

/* The fds: how many the message must carry, given its payload. */
static gboolean
validate_fds (const char *name, VhostUserFdsKind kind, const VhostUserMsg *msg, GError **error)
{
  guint min = 0, max = 0;

  switch (kind)
    {
    case VHOST_USER_FDS_NONE:
      break;
    case VHOST_USER_FDS_ONE:
      min = max = 1;
      break;
    case VHOST_USER_FDS_REGIONS:
      min = max = msg->payload.memory.nregions;
      break;
    case VHOST_USER_FDS_VRING:
      if (msg->payload.u64 & ~(guint64) (VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: unknown bits in 0x%" G_GINT64_MODIFIER "x",
                       name, msg->payload.u64);
          return FALSE;
        }
      min = max = (msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK) ? 0 : 1;
      break;
    case VHOST_USER_FDS_AREA:
      min = max = (msg->payload.area.u64 & VHOST_USER_VRING_NOFD_MASK) ? 0 : 1;
      break;
    case VHOST_USER_FDS_DEVICE_STATE:
      min = max = (msg->payload.u64 & VHOST_USER_DEVICE_STATE_NOFD) ? 0 : 1;
      break;
    case VHOST_USER_FDS_AT_MOST_ONE:
      max = 1;
      break;
    default:
      g_assert_not_reached ();
    }
  if (msg->n_fds < min || msg->n_fds > max)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_FDS, "%s: %u file descriptors, expected %s%u", name, msg->n_fds,
                   min == max ? "" : "at most ", max);
      return FALSE;
    }
  return TRUE;
}

gboolean
vhost_user_request_validate (VhostUserChannelKind channel, const VhostUserMsg *msg, GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (channel, msg->hdr.request);

  if (!vhost_user_header_validate (channel, &msg->hdr, error))
    return FALSE;
  if (info == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_UNKNOWN_REQUEST, "Unknown %s request code %u",
                   channel == VHOST_USER_CHANNEL_FRONTEND ? "front-end" : "back-end", msg->hdr.request);
      return FALSE;
    }
  if (msg->hdr.flags & VHOST_USER_FLAG_REPLY)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s: a request with the reply flag set", info->name);
      return FALSE;
    }
  /* The short postcopy acknowledgements: a u64 0 and no fd. */
  if (vhost_user_msg_is_postcopy_ack (channel, msg))
    return validate_fds (info->name, VHOST_USER_FDS_NONE, msg, error);
  return validate_payload (info->name, info->payload, FALSE, msg, error) &&
         validate_fds (info->name, info->fds, msg, error);
}

gboolean
vhost_user_msg_is_postcopy_ack (VhostUserChannelKind channel, const VhostUserMsg *msg)
{
  if (channel != VHOST_USER_CHANNEL_FRONTEND)
    return FALSE;
  switch (msg->hdr.request)
    {
    case VHOST_USER_SET_MEM_TABLE:
    case VHOST_USER_ADD_MEM_REG:
    case VHOST_USER_REM_MEM_REG:
      return msg->hdr.size == sizeof (guint64) && msg->payload.u64 == 0 && !(msg->hdr.flags & VHOST_USER_FLAG_REPLY);
    default:
      return FALSE;
    }
}

gboolean
vhost_user_reply_validate (VhostUserChannelKind channel, guint32 request, gboolean ack, const VhostUserMsg *msg,
                           GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (channel, request);
  const char *name = info != NULL ? info->name : "UNKNOWN";

  g_return_val_if_fail (info != NULL, FALSE);
  if (!vhost_user_header_validate (channel, &msg->hdr, error))
    return FALSE;
  if (!(msg->hdr.flags & VHOST_USER_FLAG_REPLY))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s: the reply lacks the reply flag", name);
      return FALSE;
    }
  if (msg->hdr.request != request)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s: the reply is for request %s (code %u)", name,
                   vhost_user_request_name (channel, msg->hdr.request), msg->hdr.request);
      return FALSE;
    }
  if (ack)
    return validate_payload (name, VHOST_USER_PAYLOAD_U64, TRUE, msg, error) &&
           validate_fds (name, VHOST_USER_FDS_NONE, msg, error);
  /* A failed GET_INFLIGHT_FD has no fd to send: only a full reply must carry it. */
  return validate_payload (name, info->reply_payload, TRUE, msg, error) &&
         validate_fds (name, info->reply_fds, msg, error);
}

gboolean
vhost_user_echo_reply_validate (VhostUserChannelKind channel, guint32 request, guint32 size, const VhostUserMsg *msg,
                                GError **error)
{
  const char *name = vhost_user_request_name (channel, request);

  if (!vhost_user_header_validate (channel, &msg->hdr, error))
    return FALSE;
  if (!(msg->hdr.flags & VHOST_USER_FLAG_REPLY) || msg->hdr.request != request)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "%s: expected its reply, got %s (code %u, flags 0x%x)",
                   name, vhost_user_request_name (channel, msg->hdr.request), msg->hdr.request, msg->hdr.flags);
      return FALSE;
    }
  if (msg->hdr.size != size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: the reply has %u bytes, the request had %u", name,
                   msg->hdr.size, size);
      return FALSE;
    }
  return validate_fds (name, VHOST_USER_FDS_NONE, msg, error);
}

gboolean
vhost_user_regions_validate (const VhostUserRegionWire *regions, guint n_regions, const char *what, GError **error)
{
  for (guint i = 0; i < n_regions; i++)
    {
      const VhostUserRegionWire *r = &regions[i];

      if (r->memory_size == 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: region %u has size 0", what, i);
          return FALSE;
        }
      if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
          r->userspace_addr + r->memory_size < r->userspace_addr ||
          r->mmap_offset + r->memory_size < r->mmap_offset)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                       "%s: region %u: an address or offset plus the size %" G_GUINT64_FORMAT " overflows", what, i,
                       r->memory_size);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        {
          const VhostUserRegionWire *o = &regions[j];

          if (r->guest_phys_addr < o->guest_phys_addr + o->memory_size &&
              o->guest_phys_addr < r->guest_phys_addr + r->memory_size)
            {
              g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "%s: region %u overlaps region %u in guest physical addresses", what, i, j);
              return FALSE;
            }
          if (r->userspace_addr < o->userspace_addr + o->memory_size &&
              o->userspace_addr < r->userspace_addr + r->memory_size)
            {
              g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "%s: region %u overlaps region %u in user addresses", what, i, j);
              return FALSE;
            }
        }
    }
  return TRUE;
}

void
vhost_user_msg_init (VhostUserMsg *msg, guint32 request, guint32 size)
{
  msg->hdr.request = request;
  msg->hdr.flags = VHOST_USER_VERSION;
  msg->hdr.size = size;
  memset (msg->payload.bytes, 0, MIN (size, VHOST_USER_MAX_PAYLOAD));
  for (guint i = 0; i < VHOST_USER_MAX_FDS; i++)
    msg->fds[i] = -1;
  msg->n_fds = 0;
}

void
vhost_user_msg_init_u64 (VhostUserMsg *msg, guint32 request, guint64 value)
{
  vhost_user_msg_init (msg, request, sizeof (guint64));
  msg->payload.u64 = value;
}

void
vhost_user_msg_init_state (VhostUserMsg *msg, guint32 request, guint32 index, guint32 num)
{
  vhost_user_msg_init (msg, request, sizeof (VhostUserVringState));
  msg->payload.state.index = index;
  msg->payload.state.num = num;
}

void
vhost_user_msg_init_reply (VhostUserMsg *msg, const VhostUserMsg *request, guint32 size)
{
  vhost_user_msg_init (msg, request->hdr.request, size);
  msg->hdr.flags |= VHOST_USER_FLAG_REPLY;
}

void
vhost_user_msg_init_reply_u64 (VhostUserMsg *msg, const VhostUserMsg *request, guint64 value)
{
  vhost_user_msg_init_reply (msg, request, sizeof (guint64));
  msg->payload.u64 = value;
}

void
vhost_user_msg_init_iotlb (VhostUserMsg *msg, guint32 request, guint64 iova, guint64 size, guint64 uaddr,
                           guint8 perm, guint8 type)
{
  vhost_user_msg_init (msg, request, sizeof (VhostUserIotlbWire));
  msg->payload.iotlb.iova = iova;
  msg->payload.iotlb.size = size;
  msg->payload.iotlb.uaddr = uaddr;
  msg->payload.iotlb.perm = perm;
  msg->payload.iotlb.type = type;
}

int
vhost_user_msg_take_fd (VhostUserMsg *msg, guint i)
{
  int fd = i < msg->n_fds ? msg->fds[i] : -1;

  if (i < msg->n_fds)
    msg->fds[i] = -1;
  return fd;
}

void
vhost_user_msg_close_fds (VhostUserMsg *msg)
{
  for (guint i = 0; i < msg->n_fds; i++)
    if (msg->fds[i] >= 0)
      close (msg->fds[i]);
  for (guint i = 0; i < VHOST_USER_MAX_FDS; i++)
    msg->fds[i] = -1;
  msg->n_fds = 0;
}
