/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user wire format: message structs, the request table, validation. Pure; no I/O. */
#pragma once

#include <glib.h>
#include "vhost-error.h"
#include "vhost-constants.h"

G_BEGIN_DECLS

#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_FLAG_REPLY (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY (1u << 3)
/* Flags bits that a valid message may carry. */
#define VHOST_USER_FLAGS_KNOWN (VHOST_USER_VERSION_MASK | VHOST_USER_FLAG_REPLY | VHOST_USER_FLAG_NEED_REPLY)

#define VHOST_USER_HDR_SIZE 12u
#define VHOST_USER_MAX_FDS 8u           /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VHOST_USER_MAX_REGIONS 8u
#define VHOST_USER_MAX_CONFIG_SIZE 256u
#define VHOST_USER_MAX_PAYLOAD 4096u    /* the largest payload of any request (crypto sessions) */
#define VHOST_USER_MAX_QUEUES 256u      /* the vring index is 8 bits in SET_VRING_KICK/CALL/ERR */

#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* The protocol features this library implements, on either side. XEN_MMAP changes the
 * region layout and is deliberately absent. */
#define VHOST_USER_PROTOCOL_FEATURES_SUPPORTED \
  ((guint64) (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_LOG_SHMFD | VHOST_USER_PROTOCOL_F_RARP | \
              VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_NET_MTU | \
              VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_CROSS_ENDIAN | \
              VHOST_USER_PROTOCOL_F_CRYPTO_SESSION | VHOST_USER_PROTOCOL_F_PAGEFAULT | \
              VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD | \
              VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD | \
              VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS | \
              VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_F_STATUS | \
              VHOST_USER_PROTOCOL_F_SHARED_OBJECT | VHOST_USER_PROTOCOL_F_DEVICE_STATE | \
              VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT | VHOST_USER_PROTOCOL_F_SHMEM))

/* Which channel a message travels on: the front-end's socket carries front-end requests
 * (VhostUserRequest) and their replies; the back-end request channel carries back-end
 * requests (VhostUserBackendRequest) and their replies. */
typedef enum {
  VHOST_USER_CHANNEL_FRONTEND = 0,
  VHOST_USER_CHANNEL_BACKEND = 1,
} VhostUserChannelKind;

typedef struct __attribute__ ((packed)) {
  guint32 request;
  guint32 flags;
  guint32 size;
} VhostUserHeader;

typedef struct {
  guint32 index;
  guint32 num;
} VhostUserVringState;

typedef struct {
  guint32 index;
  guint32 flags;
  guint64 desc_user_addr;
  guint64 used_user_addr;
  guint64 avail_user_addr;
  guint64 log_guest_addr;
} VhostUserVringAddrWire;

typedef struct {
  guint64 guest_phys_addr;
  guint64 memory_size;
  guint64 userspace_addr;
  guint64 mmap_offset;
} VhostUserRegionWire;

typedef struct {
  guint32 nregions;
  guint32 padding;
  VhostUserRegionWire regions[VHOST_USER_MAX_REGIONS];
} VhostUserMemoryWire;

typedef struct {
  guint64 padding;
  VhostUserRegionWire region;
} VhostUserMemRegWire;

typedef struct {
  guint64 mmap_size;
  guint64 mmap_offset;
} VhostUserLogWire;

typedef struct {
  guint64 iova;
  guint64 size;
  guint64 uaddr;
  guint8 perm;
  guint8 type;
  guint8 padding[6];
} VhostUserIotlbWire;

#define VHOST_USER_CONFIG_HDR_SIZE 12u
typedef struct {
  guint32 offset;
  guint32 size;
  guint32 flags;
  guint8 region[VHOST_USER_MAX_CONFIG_SIZE];
} VhostUserConfigWire;

typedef struct {
  guint64 u64;            /* vring index in bits 0-7, VHOST_USER_VRING_NOFD_MASK */
  guint64 size;
  guint64 offset;
} VhostUserVringAreaWire;

typedef struct {
  guint64 mmap_size;
  guint64 mmap_offset;
  guint16 num_queues;
  guint16 queue_size;
  guint8 padding[4];
} VhostUserInflightWire;

#define VHOST_USER_UUID_SIZE 16u
typedef struct {
  guint8 uuid[VHOST_USER_UUID_SIZE];
} VhostUserSharedWire;

typedef struct {
  guint32 direction;      /* 0: save (back-end to front-end), 1: load */
  guint32 phase;          /* 0: stopped */
} VhostUserDeviceStateWire;

#define VHOST_USER_DEVICE_STATE_NOFD (1u << 8) /* in the SET_DEVICE_STATE_FD reply */

/* GET_SHMEM_CONFIG's reply: the size of each shared memory region, by shmid (0: no
 * region there); nregions counts the regions of non-zero size. */
typedef struct {
  guint32 nregions;
  guint32 padding;
  guint64 memory_sizes[VHOST_USER_MAX_SHMEM_REGIONS];
} VhostUserShmemConfigWire;

/* SHMEM_MAP and SHMEM_UNMAP (the specification's VhostUserMMap). */
typedef struct {
  guint8 shmid;
  guint8 padding[7];
  guint64 fd_offset;
  guint64 shm_offset;
  guint64 len;
  guint64 flags;          /* VhostUserShmemMapFlags */
} VhostUserMMapWire;

typedef union {
  guint64 u64;
  VhostUserVringState state;
  VhostUserVringAddrWire addr;
  VhostUserMemoryWire memory;
  VhostUserMemRegWire mem_reg;
  VhostUserLogWire log;
  VhostUserIotlbWire iotlb;
  VhostUserConfigWire config;
  VhostUserVringAreaWire area;
  VhostUserInflightWire inflight;
  VhostUserSharedWire shared;
  VhostUserDeviceStateWire device_state;
  VhostUserShmemConfigWire shmem_config;
  VhostUserMMapWire mmap;
  guint8 bytes[VHOST_USER_MAX_PAYLOAD];
} VhostUserPayload;

/* One message with the fds that came with it. The fds are owned by whoever holds the
 * message: vhost_user_msg_close_fds() closes them and sets n_fds to 0. */
typedef struct {
  VhostUserHeader hdr;
  VhostUserPayload payload;
  int fds[VHOST_USER_MAX_FDS];
  guint n_fds;
} VhostUserMsg;

/* The shape of a payload. */
typedef enum {
  VHOST_USER_PAYLOAD_NONE,          /* size 0 */
  VHOST_USER_PAYLOAD_U64,           /* 8 */
  VHOST_USER_PAYLOAD_STATE,         /* 8 */
  VHOST_USER_PAYLOAD_ADDR,          /* 40 */
  VHOST_USER_PAYLOAD_MEMORY,        /* 8 + 32 * nregions, nregions 1..8 */
  VHOST_USER_PAYLOAD_MEM_REG,       /* 40 */
  VHOST_USER_PAYLOAD_LOG,           /* 16 */
  VHOST_USER_PAYLOAD_IOTLB,         /* 32 */
  VHOST_USER_PAYLOAD_CONFIG,        /* 12 + size, size <= 256 (a GET_CONFIG reply may have size 0 payload) */
  VHOST_USER_PAYLOAD_AREA,          /* 24 */
  VHOST_USER_PAYLOAD_INFLIGHT,      /* 24 */
  VHOST_USER_PAYLOAD_SHARED,        /* 16 */
  VHOST_USER_PAYLOAD_DEVICE_STATE,  /* 8 */
  VHOST_USER_PAYLOAD_OPAQUE,        /* 1..VHOST_USER_MAX_PAYLOAD (crypto sessions) */
  VHOST_USER_PAYLOAD_SHMEM_CONFIG,  /* 8 + 8 * 256, nregions <= 256 */
  VHOST_USER_PAYLOAD_MMAP,          /* 40 */
} VhostUserPayloadKind;

/* How many fds a message carries. */
typedef enum {
  VHOST_USER_FDS_NONE,              /* exactly 0 */
  VHOST_USER_FDS_ONE,               /* exactly 1 */
  VHOST_USER_FDS_REGIONS,           /* exactly payload.memory.nregions */
  VHOST_USER_FDS_VRING,             /* 1, or 0 when VHOST_USER_VRING_NOFD_MASK is set in payload.u64 */
  VHOST_USER_FDS_AREA,              /* 1, or 0 when VHOST_USER_VRING_NOFD_MASK is set in payload.area.u64 */
  VHOST_USER_FDS_DEVICE_STATE,      /* reply of SET_DEVICE_STATE_FD: 0 if VHOST_USER_DEVICE_STATE_NOFD set in u64, else 1 */
  VHOST_USER_FDS_AT_MOST_ONE,       /* 0 or 1 (REM_MEM_REG for old front-ends; an extra fd is closed) */
} VhostUserFdsKind;

/* When a request gets a reply. */
typedef enum {
  VHOST_USER_REPLY_ACK_ONLY,        /* only if NEED_REPLY was set and REPLY_ACK negotiated: u64 status */
  VHOST_USER_REPLY_ALWAYS,          /* always, with reply_payload/reply_fds */
  VHOST_USER_REPLY_IF_FEATURE,      /* always when reply_feature is negotiated; otherwise as ACK_ONLY */
} VhostUserReplyKind;

/* What the back-end does with its queues around a request. */
typedef enum {
  VHOST_USER_QUEUES_KEEP,           /* they run on */
  VHOST_USER_QUEUES_STOP,           /* quiesced before, started again after (memory, features, log, vrings) */
} VhostUserQueuesKind;

/* How the receiver answers a request it could not carry out. */
typedef enum {
  VHOST_USER_FAILURE_CLOSE,         /* a REPLY_ACK status of 1 if one is due, else the connection ends */
  VHOST_USER_FAILURE_EMPTY,         /* a reply with an empty payload (GET_CONFIG) */
  VHOST_USER_FAILURE_STATUS,        /* the u64 reply carries a non-zero status */
} VhostUserFailureKind;

/* The row of a request in the table of protocol/vhost-user-requests.h. */
typedef struct {
  guint32 request;
  const char *name;                  /* "SET_MEM_TABLE", "CONFIG_CHANGE_MSG" */
  VhostUserPayloadKind payload;
  VhostUserFdsKind fds;
  VhostUserReplyKind reply;
  VhostUserPayloadKind reply_payload;
  VhostUserFdsKind reply_fds;
  guint64 reply_feature;             /* protocol feature mask for VHOST_USER_REPLY_IF_FEATURE */
  guint64 needs_protocol_feature;    /* the protocol feature the request depends on, 0 if none */
  VhostUserQueuesKind queues;
  VhostUserFailureKind failure;
} VhostUserRequestInfo;

/* The table entry of a request code on a channel, NULL for an unknown code. */
const VhostUserRequestInfo *vhost_user_request_info (VhostUserChannelKind channel, guint32 request);

/* "GET_FEATURES", or "UNKNOWN" for an unknown code. */
const char *vhost_user_request_name (VhostUserChannelKind channel, guint32 request);

/* "REPLY_ACK" for VHOST_USER_PROTOCOL_F_REPLY_ACK: the name of the lowest bit of
 * `features`, "NONE" for 0. */
const char *vhost_user_protocol_feature_name (guint64 features);

/* What comes back for a request. */
typedef enum {
  VHOST_USER_REPLY_FORM_NONE,       /* nothing */
  VHOST_USER_REPLY_FORM_ACK,        /* a u64 status (REPLY_ACK) */
  VHOST_USER_REPLY_FORM_FULL,       /* the request's own reply (reply_payload, reply_fds) */
} VhostUserReplyForm;

/* The one answer to "what reply does this request get", for its sender and its
 * receiver alike, given the negotiated protocol features and the request's
 * NEED_REPLY flag. */
VhostUserReplyForm vhost_user_request_reply_form (VhostUserChannelKind channel,
                                                  const VhostUserMsg *msg,
                                                  guint64 protocol_features);

/* Whether the sender of `msg` (a request) must wait for a reply. */
static inline gboolean
vhost_user_request_expects_reply (VhostUserChannelKind channel, const VhostUserMsg *msg, guint64 protocol_features)
{
  return vhost_user_request_reply_form (channel, msg, protocol_features) != VHOST_USER_REPLY_FORM_NONE;
}

/* For a sender: set NEED_REPLY on a request that has no reply of its own when
 * REPLY_ACK is negotiated, so that every request is acknowledged. */
void vhost_user_request_set_need_reply (VhostUserChannelKind channel,
                                        VhostUserMsg *msg,
                                        guint64 protocol_features);

/* The one check of a request against the negotiated protocol features, for its
 * sender and its receiver: the protocol feature it needs, and for back-end
 * requests with `n_fds` > 0, BACKEND_SEND_FD. VHOST_ERROR_NOT_SUPPORTED names the
 * request and the missing feature. */
gboolean vhost_user_request_check_features (VhostUserChannelKind channel,
                                            guint32 request,
                                            guint n_fds,
                                            guint64 protocol_features,
                                            GError **error);

/* Check a header that was just read, before its payload: the version bit is set, no
 * unknown flag is set, the size is within VHOST_USER_MAX_PAYLOAD. Errors:
 * VHOST_ERROR_PROTOCOL (flags), VHOST_ERROR_MESSAGE_SIZE (size). */
gboolean vhost_user_header_validate (VhostUserChannelKind channel,
                                     const VhostUserHeader *hdr,
                                     GError **error);

/* Validate a complete received request: known code (VHOST_ERROR_UNKNOWN_REQUEST), REPLY
 * flag clear (VHOST_ERROR_PROTOCOL), payload size right for the request
 * (VHOST_ERROR_MESSAGE_SIZE), fd count right (VHOST_ERROR_FDS), and the payload's own
 * bounds: nregions 1..8, config size <= 256 and equal to what the size says, vring
 * index < VHOST_USER_MAX_QUEUES for STATE/ADDR payloads (VHOST_ERROR_INVALID_ARGUMENT),
 * memory regions through vhost_user_regions_validate(). Does not close fds. The error
 * message names the request. */
gboolean vhost_user_request_validate (VhostUserChannelKind channel,
                                      const VhostUserMsg *msg,
                                      GError **error);

/* Whether a request is the front-end's acknowledgement of a postcopy memory
 * table: SET_MEM_TABLE, ADD_MEM_REG or REM_MEM_REG carrying only a u64 0. The
 * validation takes it; the back-end refuses it outside postcopy. */
gboolean vhost_user_msg_is_postcopy_ack (VhostUserChannelKind channel, const VhostUserMsg *msg);

/* Validate a complete received reply to `request`: the REPLY flag set and the request code
 * equal (VHOST_ERROR_PROTOCOL), the payload and fds as the table says for a full reply, or
 * a u64 with no fds for a REPLY_ACK. `ack` says which of the two is expected. */
gboolean vhost_user_reply_validate (VhostUserChannelKind channel,
                                    guint32 request,
                                    gboolean ack,
                                    const VhostUserMsg *msg,
                                    GError **error);

/* Check a memory table: every region has a non-zero size; guest_phys_addr + size,
 * userspace_addr + size and mmap_offset + size do not overflow; no two regions overlap
 * in guest physical or in user space. VHOST_ERROR_INVALID_ARGUMENT, naming `what`. */
/* A reply that gives the request's own payload back (postcopy's memory tables):
 * the reply flag, the same request code, `size` bytes, no fd. */
gboolean vhost_user_echo_reply_validate (VhostUserChannelKind channel,
                                         guint32 request,
                                         guint32 size,
                                         const VhostUserMsg *msg,
                                         GError **error);
gboolean vhost_user_regions_validate (const VhostUserRegionWire *regions,
                                      guint n_regions,
                                      const char *what,
                                      GError **error);

/* Building messages. All of these reset `msg` (n_fds = 0, flags = VERSION) and set
 * hdr.request and hdr.size; fds are not duplicated: the caller puts them into
 * msg->fds after. */
void vhost_user_msg_init (VhostUserMsg *msg, guint32 request, guint32 size);
void vhost_user_msg_init_u64 (VhostUserMsg *msg, guint32 request, guint64 value);
void vhost_user_msg_init_state (VhostUserMsg *msg, guint32 request, guint32 index, guint32 num);
/* Start a reply to `request`: REPLY flag set. */
void vhost_user_msg_init_reply (VhostUserMsg *msg, const VhostUserMsg *request, guint32 size);
void vhost_user_msg_init_reply_u64 (VhostUserMsg *msg, const VhostUserMsg *request, guint64 value);

/* The total number of bytes on the wire for this message. */
static inline gsize
vhost_user_msg_wire_size (const VhostUserMsg *msg)
{
  return VHOST_USER_HDR_SIZE + msg->hdr.size;
}

void vhost_user_msg_init_iotlb (VhostUserMsg *msg, guint32 request, guint64 iova, guint64 size, guint64 uaddr,
                                guint8 perm, guint8 type);

/* Take fd slot `i` out of the message (the slot becomes -1); -1 if there is none. */
int vhost_user_msg_take_fd (VhostUserMsg *msg, guint i);

void vhost_user_msg_close_fds (VhostUserMsg *msg);

G_STATIC_ASSERT (sizeof (VhostUserShmemConfigWire) == 8 + 8 * VHOST_USER_MAX_SHMEM_REGIONS);
G_STATIC_ASSERT (sizeof (VhostUserMMapWire) == 40);

G_END_DECLS
