/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vhost-user wire format: every request of both channels validated, built right and built wrong, and the
 * library's request table checked against the specification's requests transcribed here. */
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

  memset (p->bytes, 0, sizeof p->bytes);
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
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      p->shmem_config.nregions = 1;
      p->shmem_config.memory_sizes[2] = 0x10000;
      return sizeof (VhostUserShmemConfigWire);
    case VHOST_USER_PAYLOAD_MMAP:
      p->mmap.shmid = 2;
      p->mmap.len = 0x1000;
      return sizeof (VhostUserMMapWire);
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

/* The requests of the vhost-user specification, transcribed by hand from QEMU's
 * docs/interop/vhost-user.rst ("Front-end message types", "Back-end message types",
 * the Communication section's list of requests with a reply, and "Protocol
 * features"), as data of their own: the library's table (vhost_user_request_info())
 * is checked against this one, never the other way round. */
typedef enum
{
  SPEC_NONE,          /* N/A */
  SPEC_U64,           /* a single 64-bit integer: 8 */
  SPEC_STATE,         /* a vring state description (or descriptor index): index, num: 8 */
  SPEC_ADDR,          /* a vring address description: index, flags, 4 addresses: 40 */
  SPEC_REGIONS,       /* multiple memory regions: num, padding, 1..8 regions of 32: 8 + 32 n */
  SPEC_ONE_REGION,    /* single memory region description: padding, region: 40 */
  SPEC_LOG,           /* log description: size, offset: 16 */
  SPEC_IOTLB,         /* struct vhost_iotlb_msg: 3 u64, 2 u8, 8-aligned: 32 */
  SPEC_CONFIG,        /* virtio device config space: offset, size, flags, size bytes: 12 + size */
  SPEC_AREA,          /* vring area description: u64, size, offset: 24 */
  SPEC_INFLIGHT,      /* inflight description: 2 u64, 2 u16, as QEMU's 8-aligned struct: 24 */
  SPEC_SHARED,        /* VhostUserShared: a 16-byte UUID */
  SPEC_DEVICE_STATE,  /* device state transfer parameters: direction, phase: 8 */
  SPEC_SHMEM_CONFIG,  /* VIRTIO Shared Memory Region configuration: num regions, padding, 256 sizes: 2056 */
  SPEC_MMAP,          /* MMAP request: shmid, 7 padding, fd_offset, shm_offset, len, flags: 40 */
  SPEC_CRYPTO,        /* crypto session description: no layout in the specification */
  SPEC_UNSAID,        /* the specification names no payload (the reply of GET_SHARED_OBJECT) */
} SpecShape;

/* The fixed size of a shape, or -1 when it varies (or the specification has none). */
static const gint spec_shape_size[] = {
  [SPEC_NONE] = 0, [SPEC_U64] = 8, [SPEC_STATE] = 8, [SPEC_ADDR] = 40, [SPEC_REGIONS] = -1,
  [SPEC_ONE_REGION] = 40, [SPEC_LOG] = 16, [SPEC_IOTLB] = 32, [SPEC_CONFIG] = -1, [SPEC_AREA] = 24,
  [SPEC_INFLIGHT] = 24, [SPEC_SHARED] = 16, [SPEC_DEVICE_STATE] = 8, [SPEC_SHMEM_CONFIG] = 2056, [SPEC_MMAP] = 40,
  [SPEC_CRYPTO] = -1, [SPEC_UNSAID] = -1,
};

typedef enum
{
  SPEC_FDS_NONE,
  SPEC_FDS_ONE,
  SPEC_FDS_PER_REGION,     /* one per region, in order */
  SPEC_FDS_ONE_UNLESS_FLAG, /* one, or none when the "invalid FD" flag (bit 8) is set */
  SPEC_FDS_AT_MOST_ONE,    /* none, or one (REM_MEM_REG from old front-ends; a failed lookup) */
} SpecFds;

typedef enum
{
  SPEC_REPLY_ACK,          /* "reply payload: N/A": a u64 status only for need_reply with REPLY_ACK */
  SPEC_REPLY_ALWAYS,       /* always, with reply_payload */
  SPEC_REPLY_IF_FEATURE,   /* always once reply_feature is negotiated, else as SPEC_REPLY_ACK */
} SpecReply;

typedef struct
{
  guint id;
  const char *name;        /* without VHOST_USER_ or VHOST_USER_BACKEND_ */
  SpecShape payload;
  SpecFds fds;
  SpecReply reply;
  SpecShape reply_payload;
  SpecFds reply_fds;
  gint reply_feature;      /* protocol feature bit for SPEC_REPLY_IF_FEATURE, else -1 */
  gint gate;               /* protocol feature bit that must be negotiated before sending, or -1 */
} SpecRequest;

/* Protocol feature bits, as the specification numbers them. */
enum
{
  F_MQ = 0, F_LOG_SHMFD = 1, F_RARP = 2, F_REPLY_ACK = 3, F_NET_MTU = 4, F_BACKEND_REQ = 5,
  F_CROSS_ENDIAN = 6, F_CRYPTO_SESSION = 7, F_PAGEFAULT = 8, F_CONFIG = 9, F_BACKEND_SEND_FD = 10,
  F_HOST_NOTIFIER = 11, F_INFLIGHT_SHMFD = 12, F_RESET_DEVICE = 13, F_INBAND_NOTIFICATIONS = 14,
  F_CONFIGURE_MEM_SLOTS = 15, F_STATUS = 16, F_XEN_MMAP = 17, F_SHARED_OBJECT = 18, F_DEVICE_STATE = 19,
  F_GET_VRING_BASE_INFLIGHT = 20, F_SHMEM = 21,
};

#define NO (-1)

static const SpecRequest spec_frontend[] = {
  /* id  name                     request payload    fds                       reply              reply payload    reply fds        reply feature      gate */
  { 1, "GET_FEATURES",            SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                NO },
  { 2, "SET_FEATURES",            SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 3, "SET_OWNER",               SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 4, "RESET_OWNER",             SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  /* The postcopy reply (the mapped regions) is not modelled here, nor in the library. */
  { 5, "SET_MEM_TABLE",           SPEC_REGIONS,      SPEC_FDS_PER_REGION,      SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  /* The entry says "request payload: u64", but the message carries the log
   * description (size and offset, "provided in the message"), as QEMU sends it.
   * The fd and the reply come with LOG_SHMFD; the request itself is not gated. */
  { 6, "SET_LOG_BASE",            SPEC_LOG,          SPEC_FDS_AT_MOST_ONE,     SPEC_REPLY_IF_FEATURE, SPEC_U64,    SPEC_FDS_NONE,   F_LOG_SHMFD,       NO },
  { 7, "SET_LOG_FD",              SPEC_NONE,         SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 8, "SET_VRING_NUM",           SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 9, "SET_VRING_ADDR",          SPEC_ADDR,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 10, "SET_VRING_BASE",         SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 11, "GET_VRING_BASE",         SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_STATE,      SPEC_FDS_NONE,   NO,                NO },
  { 12, "SET_VRING_KICK",         SPEC_U64,          SPEC_FDS_ONE_UNLESS_FLAG, SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 13, "SET_VRING_CALL",         SPEC_U64,          SPEC_FDS_ONE_UNLESS_FLAG, SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 14, "SET_VRING_ERR",          SPEC_U64,          SPEC_FDS_ONE_UNLESS_FLAG, SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  /* 15, 16 and 18 need VHOST_USER_F_PROTOCOL_FEATURES (a virtio feature bit), no protocol feature. */
  { 15, "GET_PROTOCOL_FEATURES",  SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                NO },
  { 16, "SET_PROTOCOL_FEATURES",  SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 17, "GET_QUEUE_NUM",          SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                F_MQ },
  { 18, "SET_VRING_ENABLE",       SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 19, "SEND_RARP",              SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_RARP },
  { 20, "NET_SET_MTU",            SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_NET_MTU },
  { 21, "SET_BACKEND_REQ_FD",     SPEC_NONE,         SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_BACKEND_REQ },
  /* "The back-end has to acknowledge the request with sending zero as u64." */
  { 22, "IOTLB_MSG",              SPEC_IOTLB,        SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                NO },
  { 23, "SET_VRING_ENDIAN",       SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CROSS_ENDIAN },
  { 24, "GET_CONFIG",             SPEC_CONFIG,       SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_CONFIG,     SPEC_FDS_NONE,   NO,                F_CONFIG },
  { 25, "SET_CONFIG",             SPEC_CONFIG,       SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CONFIG },
  { 26, "CREATE_CRYPTO_SESSION",  SPEC_CRYPTO,       SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_CRYPTO,     SPEC_FDS_NONE,   NO,                F_CRYPTO_SESSION },
  { 27, "CLOSE_CRYPTO_SESSION",   SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CRYPTO_SESSION },
  /* "reply payload: userfault fd": the fd, no payload. */
  { 28, "POSTCOPY_ADVISE",        SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_NONE,       SPEC_FDS_ONE,    NO,                F_PAGEFAULT },
  { 29, "POSTCOPY_LISTEN",        SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_PAGEFAULT },
  { 30, "POSTCOPY_END",           SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                F_PAGEFAULT },
  /* The entry says "reply payload: N/A", but the Communication section lists it
   * among the requests with a reply (given INFLIGHT_SHMFD, its gate): the back-end
   * answers with the inflight description and the buffer's fd, which
   * SET_INFLIGHT_FD later sends back. */
  { 31, "GET_INFLIGHT_FD",        SPEC_INFLIGHT,     SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_INFLIGHT,   SPEC_FDS_ONE,    NO,                F_INFLIGHT_SHMFD },
  { 32, "SET_INFLIGHT_FD",        SPEC_INFLIGHT,     SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_INFLIGHT_SHMFD },
  { 33, "GPU_SET_SOCKET",         SPEC_NONE,         SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 34, "RESET_DEVICE",           SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_RESET_DEVICE },
  { 35, "VRING_KICK",             SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_INBAND_NOTIFICATIONS },
  { 36, "GET_MAX_MEM_SLOTS",      SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                F_CONFIGURE_MEM_SLOTS },
  /* The entries of 37 and 38 say "request payload: N/A, reply payload: single
   * memory region description"; their text says the request carries the region,
   * and only postcopy brings a reply (not modelled). */
  { 37, "ADD_MEM_REG",            SPEC_ONE_REGION,   SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CONFIGURE_MEM_SLOTS },
  { 38, "REM_MEM_REG",            SPEC_ONE_REGION,   SPEC_FDS_AT_MOST_ONE,     SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CONFIGURE_MEM_SLOTS },
  { 39, "SET_STATUS",             SPEC_U64,          SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_STATUS },
  { 40, "GET_STATUS",             SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                F_STATUS },
  /* "reply payload: dmabuf fd ... or no fd otherwise"; no payload is named. */
  { 41, "GET_SHARED_OBJECT",      SPEC_SHARED,       SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_UNSAID,     SPEC_FDS_AT_MOST_ONE, NO,           F_SHARED_OBJECT },
  /* The reply's u64: bits 0-7 the status, bit 8 the invalid FD flag. */
  { 42, "SET_DEVICE_STATE_FD",    SPEC_DEVICE_STATE, SPEC_FDS_ONE,             SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_ONE_UNLESS_FLAG, NO,       F_DEVICE_STATE },
  { 43, "CHECK_DEVICE_STATE",     SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_NONE,   NO,                F_DEVICE_STATE },
  { 44, "GET_SHMEM_CONFIG",       SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_SHMEM_CONFIG, SPEC_FDS_NONE, NO,                F_SHMEM },
};

/* Back-end requests: sent on the channel that BACKEND_REQ sets up, so every one of
 * them needs that; the gate column is what each needs besides. */
static const SpecRequest spec_backend[] = {
  { 1, "IOTLB_MSG",               SPEC_IOTLB,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                NO },
  { 2, "CONFIG_CHANGE_MSG",       SPEC_NONE,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_CONFIG },
  { 3, "VRING_HOST_NOTIFIER_MSG", SPEC_AREA,         SPEC_FDS_ONE_UNLESS_FLAG, SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_HOST_NOTIFIER },
  { 4, "VRING_CALL",              SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_INBAND_NOTIFICATIONS },
  { 5, "VRING_ERR",               SPEC_STATE,        SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_INBAND_NOTIFICATIONS },
  { 6, "SHARED_OBJECT_ADD",       SPEC_SHARED,       SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_SHARED_OBJECT },
  { 7, "SHARED_OBJECT_REMOVE",    SPEC_SHARED,       SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_SHARED_OBJECT },
  /* "reply payload: dmabuf fd and u64 ... if the operation fails, no fd is sent". */
  { 8, "SHARED_OBJECT_LOOKUP",    SPEC_SHARED,       SPEC_FDS_NONE,            SPEC_REPLY_ALWAYS, SPEC_U64,        SPEC_FDS_AT_MOST_ONE, NO,           F_SHARED_OBJECT },
  /* "request payload: fd and struct VhostUserMMap"; "If REPLY_ACK is negotiated, and
   * back-end set the NEED_REPLY flag, the front-end must respond with zero when
   * operation is successfully completed, or non-zero otherwise." */
  { 9, "SHMEM_MAP",               SPEC_MMAP,         SPEC_FDS_ONE,             SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_SHMEM },
  { 10, "SHMEM_UNMAP",            SPEC_MMAP,         SPEC_FDS_NONE,            SPEC_REPLY_ACK,    SPEC_NONE,       SPEC_FDS_NONE,   NO,                F_SHMEM },
};

#undef NO

/* Where the library knowingly departs from the specification, in one column. */
typedef struct
{
  VhostUserChannelKind channel;
  guint id;
  const char *column;
  const char *why;
} SpecDeviation;

static const SpecDeviation spec_deviations[] = {
  { VHOST_USER_CHANNEL_FRONTEND, 6, "gate",
    "SET_LOG_BASE without LOG_SHMFD would carry no fd, and a separate process cannot reach a log without one: "
    "the master refuses to send it" },
};

static const char *
spec_deviation (VhostUserChannelKind channel, guint id, const char *column)
{
  for (guint i = 0; i < G_N_ELEMENTS (spec_deviations); i++)
    if (spec_deviations[i].channel == channel && spec_deviations[i].id == id &&
        strcmp (spec_deviations[i].column, column) == 0)
      return spec_deviations[i].why;
  return NULL;
}

/* The library's payload kinds, as the specification's shapes. */
static SpecShape
spec_shape_of (VhostUserPayloadKind kind)
{
  switch (kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
      return SPEC_NONE;
    case VHOST_USER_PAYLOAD_U64:
      return SPEC_U64;
    case VHOST_USER_PAYLOAD_STATE:
      return SPEC_STATE;
    case VHOST_USER_PAYLOAD_ADDR:
      return SPEC_ADDR;
    case VHOST_USER_PAYLOAD_MEMORY:
      return SPEC_REGIONS;
    case VHOST_USER_PAYLOAD_MEM_REG:
      return SPEC_ONE_REGION;
    case VHOST_USER_PAYLOAD_LOG:
      return SPEC_LOG;
    case VHOST_USER_PAYLOAD_IOTLB:
      return SPEC_IOTLB;
    case VHOST_USER_PAYLOAD_CONFIG:
      return SPEC_CONFIG;
    case VHOST_USER_PAYLOAD_AREA:
      return SPEC_AREA;
    case VHOST_USER_PAYLOAD_INFLIGHT:
      return SPEC_INFLIGHT;
    case VHOST_USER_PAYLOAD_SHARED:
      return SPEC_SHARED;
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
      return SPEC_DEVICE_STATE;
    case VHOST_USER_PAYLOAD_OPAQUE:
      return SPEC_CRYPTO;
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      return SPEC_SHMEM_CONFIG;
    case VHOST_USER_PAYLOAD_MMAP:
      return SPEC_MMAP;
    default:
      g_assert_not_reached ();
    }
}

static SpecFds
spec_fds_of (VhostUserFdsKind kind)
{
  switch (kind)
    {
    case VHOST_USER_FDS_NONE:
      return SPEC_FDS_NONE;
    case VHOST_USER_FDS_ONE:
      return SPEC_FDS_ONE;
    case VHOST_USER_FDS_REGIONS:
      return SPEC_FDS_PER_REGION;
    case VHOST_USER_FDS_VRING:
    case VHOST_USER_FDS_AREA:
    case VHOST_USER_FDS_DEVICE_STATE:
      return SPEC_FDS_ONE_UNLESS_FLAG;
    case VHOST_USER_FDS_AT_MOST_ONE:
      return SPEC_FDS_AT_MOST_ONE;
    default:
      g_assert_not_reached ();
    }
}

static guint64
spec_bit (gint bit)
{
  return bit < 0 ? 0 : G_GUINT64_CONSTANT (1) << bit;
}

/* One column: the library agrees with the specification, or departs from it
 * exactly where spec_deviations says. */
static void
spec_check (VhostUserChannelKind channel, const SpecRequest *spec, const char *column, gboolean agrees)
{
  const char *why = spec_deviation (channel, spec->id, column);

  if (why == NULL && !agrees)
    g_error ("%s (%u): the library's %s disagrees with the specification", spec->name, spec->id, column);
  if (why != NULL && agrees)
    g_error ("%s (%u): the deviation in %s is gone; drop it from spec_deviations", spec->name, spec->id, column);
  if (why != NULL)
    g_test_message ("%s: %s departs from the specification: %s", spec->name, column, why);
}

typedef struct
{
  VhostUserChannelKind channel;
  const SpecRequest *spec;
} SpecCase;

static void
test_spec (gconstpointer data)
{
  const SpecCase *c = data;
  const SpecRequest *spec = c->spec;
  const VhostUserRequestInfo *info = vhost_user_request_info (c->channel, spec->id);
  gint fds_before = vhost_test_count_open_fds ();
  gint size = spec_shape_size[spec->payload];
  gboolean reply_unsaid = spec->reply_payload == SPEC_UNSAID;
  VhostUserMsg msg;

  if (info == NULL)
    g_error ("%s (%u) is missing from the library's table", spec->name, spec->id);
  g_assert_cmpuint (info->request, ==, spec->id);
  g_assert_cmpstr (info->name, ==, spec->name);

  spec_check (c->channel, spec, "payload", spec_shape_of (info->payload) == spec->payload);
  spec_check (c->channel, spec, "fds", spec_fds_of (info->fds) == spec->fds);
  spec_check (c->channel, spec, "reply",
              (spec->reply == SPEC_REPLY_ACK && info->reply == VHOST_USER_REPLY_ACK_ONLY) ||
                (spec->reply == SPEC_REPLY_ALWAYS && info->reply == VHOST_USER_REPLY_ALWAYS) ||
                (spec->reply == SPEC_REPLY_IF_FEATURE && info->reply == VHOST_USER_REPLY_IF_FEATURE &&
                 info->reply_feature == spec_bit (spec->reply_feature)));
  if (spec->reply != SPEC_REPLY_ACK)
    {
      spec_check (c->channel, spec, "reply payload",
                  reply_unsaid || spec_shape_of (info->reply_payload) == spec->reply_payload);
      spec_check (c->channel, spec, "reply fds", spec_fds_of (info->reply_fds) == spec->reply_fds);
    }
  spec_check (c->channel, spec, "gate", info->needs_protocol_feature == spec_bit (spec->gate));

  /* When a reply comes, as the validator sees it: without any protocol feature,
   * with REPLY_ACK and need_reply, with the reply's own feature. */
  vhost_user_msg_init (&msg, spec->id, 0);
  g_assert_cmpint (vhost_user_request_expects_reply (c->channel, &msg, 0), ==, spec->reply == SPEC_REPLY_ALWAYS);
  msg.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
  g_assert_true (vhost_user_request_expects_reply (c->channel, &msg, VHOST_USER_PROTOCOL_F_REPLY_ACK));
  msg.hdr.flags = VHOST_USER_VERSION;
  if (spec->reply == SPEC_REPLY_IF_FEATURE)
    g_assert_true (vhost_user_request_expects_reply (c->channel, &msg, spec_bit (spec->reply_feature)));

  /* A fixed-size payload: the validator takes exactly the specification's size. */
  if (size >= 0)
    {
      GError *error = NULL;
      guint n_fds;

      g_assert_cmpint (fill_payload (&msg, info->payload, FALSE), ==, size);
      msg.hdr.size = size;
      n_fds = fds_for (info->fds, &msg);
      add_fds (&msg, n_fds);
      g_assert_true (vhost_user_request_validate (c->channel, &msg, &error));
      g_assert_no_error (error);
      msg.hdr.size = size + 1;
      assert_invalid (vhost_user_request_validate (c->channel, &msg, &error), &error, VHOST_ERROR_MESSAGE_SIZE,
                      spec->name);
      vhost_user_msg_close_fds (&msg);
    }
  vhost_test_assert_fd_count (fds_before);
}

/* Every request of the library's table is one of the specification's. */
static void
test_spec_complete (void)
{
  for (guint ch = 0; ch < 2; ch++)
    {
      guint n = ch == VHOST_USER_CHANNEL_FRONTEND ? G_N_ELEMENTS (spec_frontend) : G_N_ELEMENTS (spec_backend);

      for (guint32 r = 0; r < 256; r++)
        if (vhost_user_request_info (ch, r) != NULL && (r == 0 || r > n))
          g_error ("the library knows request %u on the %s channel, which the specification does not have", r,
                   ch == VHOST_USER_CHANNEL_FRONTEND ? "front-end" : "back-end");
    }
  for (guint i = 0; i < G_N_ELEMENTS (spec_frontend); i++)
    g_assert_cmpuint (spec_frontend[i].id, ==, i + 1);
  for (guint i = 0; i < G_N_ELEMENTS (spec_backend); i++)
    g_assert_cmpuint (spec_backend[i].id, ==, i + 1);
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
  static const guint32 frontend[] = { 0, 45, 1000, G_MAXUINT32 };
  static const guint32 backend[] = { 0, 11, 1000 };
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

  /* No region and nothing else: the front-end's acknowledgement of a postcopy
   * table, a u64 0 (which the back-end refuses outside postcopy). */
  vhost_user_msg_init (&msg, VHOST_USER_SET_MEM_TABLE, 8);
  msg.payload.memory.nregions = 0;
  g_assert_true (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, NULL));
  g_assert_true (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_FRONTEND, &msg));
  g_assert_false (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_BACKEND, &msg));
  /* No region but something in the padding: not that, and no table. */
  msg.payload.memory.padding = 1;
  g_assert_false (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_FRONTEND, &msg));
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_INVALID_ARGUMENT, "SET_MEM_TABLE");
  msg.payload.memory.padding = 0;
  /* The acknowledgement carries no fd. */
  msg.fds[0] = eventfd (0, EFD_CLOEXEC);
  msg.n_fds = 1;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_FDS, "SET_MEM_TABLE");
  vhost_user_msg_close_fds (&msg);
  /* An ADD_MEM_REG of 8 bytes is one only if they are 0. */
  vhost_user_msg_init_u64 (&msg, VHOST_USER_ADD_MEM_REG, 0);
  g_assert_true (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, NULL));
  msg.payload.u64 = 1;
  assert_invalid (vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error), &error,
                  VHOST_ERROR_MESSAGE_SIZE, "ADD_MEM_REG");
  vhost_user_msg_init (&msg, VHOST_USER_SET_MEM_TABLE, 8);
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

/* GET_SHMEM_CONFIG's reply counts at most 256 regions; SHMEM_MAP's payload is
 * exactly 40 bytes whatever it says (its values are the front-end's to check). */
static void
test_shmem_sizes (void)
{
  VhostUserMsg msg, reply;
  GError *error = NULL;

  vhost_user_msg_init (&msg, VHOST_USER_GET_SHMEM_CONFIG, 0);
  vhost_user_msg_init_reply (&reply, &msg, sizeof (VhostUserShmemConfigWire));
  reply.payload.shmem_config.nregions = VHOST_USER_MAX_SHMEM_REGIONS;
  g_assert_true (vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_GET_SHMEM_CONFIG, FALSE, &reply,
                                            NULL));
  reply.payload.shmem_config.nregions = VHOST_USER_MAX_SHMEM_REGIONS + 1;
  assert_invalid (vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_GET_SHMEM_CONFIG, FALSE, &reply,
                                             &error),
                  &error, VHOST_ERROR_INVALID_ARGUMENT, "GET_SHMEM_CONFIG");
  /* A reply of the number of regions only, as a truncated struct would be. */
  reply.hdr.size = 8 + 8 * 4;
  reply.payload.shmem_config.nregions = 4;
  assert_invalid (vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_GET_SHMEM_CONFIG, FALSE, &reply,
                                             &error),
                  &error, VHOST_ERROR_MESSAGE_SIZE, "GET_SHMEM_CONFIG");

  vhost_user_msg_init (&msg, VHOST_USER_BACKEND_SHMEM_UNMAP, sizeof (VhostUserMMapWire));
  msg.payload.mmap.shmid = 255;
  msg.payload.mmap.shm_offset = G_MAXUINT64;
  msg.payload.mmap.len = G_MAXUINT64;
  msg.payload.mmap.flags = G_MAXUINT64;
  g_assert_true (vhost_user_request_validate (VHOST_USER_CHANNEL_BACKEND, &msg, NULL));
  g_assert_cmpstr (vhost_user_protocol_feature_name (VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT), ==,
                   "GET_VRING_BASE_INFLIGHT");
  g_assert_cmpstr (vhost_user_protocol_feature_name (VHOST_USER_PROTOCOL_F_SHMEM), ==, "SHMEM");
  g_assert_cmpstr (vhost_user_protocol_feature_name (G_GUINT64_CONSTANT (1) << 22), ==, "UNKNOWN");
}

int
main (int argc, char **argv)
{
  static Case cases[2][G_N_ELEMENTS (spec_frontend)];
  static SpecCase spec_cases[2][G_N_ELEMENTS (spec_frontend)];

  vhost_test_init (&argc, &argv);
  /* The requests come from the specification's table, not from the library's. */
  for (guint ch = 0; ch < 2; ch++)
    {
      const SpecRequest *table = ch == VHOST_USER_CHANNEL_FRONTEND ? spec_frontend : spec_backend;
      guint n = ch == VHOST_USER_CHANNEL_FRONTEND ? G_N_ELEMENTS (spec_frontend) : G_N_ELEMENTS (spec_backend);
      const char *side = ch == VHOST_USER_CHANNEL_FRONTEND ? "front-end" : "back-end";

      for (guint i = 0; i < n; i++)
        {
          g_autofree char *path = g_strdup_printf ("/vhost/protocol/%s/%s", side, table[i].name);
          g_autofree char *spec_path = g_strdup_printf ("/vhost/protocol/spec/%s/%s", side, table[i].name);

          cases[ch][i] = (Case) { ch, table[i].id };
          spec_cases[ch][i] = (SpecCase) { ch, &table[i] };
          g_test_add_data_func (spec_path, &spec_cases[ch][i], test_spec);
          g_test_add_data_func (path, &cases[ch][i], test_request);
        }
    }
  g_test_add_func ("/vhost/protocol/spec/complete", test_spec_complete);
  g_test_add_func ("/vhost/protocol/unknown", test_unknown);
  g_test_add_func ("/vhost/protocol/header", test_header);
  g_test_add_func ("/vhost/protocol/regions", test_regions);
  g_test_add_func ("/vhost/protocol/mem-table-counts", test_mem_table_counts);
  g_test_add_func ("/vhost/protocol/vring-index", test_vring_index);
  g_test_add_func ("/vhost/protocol/config-sizes", test_config_sizes);
  g_test_add_func ("/vhost/protocol/shmem-sizes", test_shmem_sizes);
  return g_test_run ();
}
