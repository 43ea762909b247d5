/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The numbers of the specifications: virtio status and feature bits, vhost-user protocol features and request codes. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * SECTION:vhost-constants
 * @title: Specification constants
 * @short_description: virtio status and feature bits, vhost-user protocol features and request codes
 *
 * The numbers that the virtio and vhost-user specifications define and that
 * the API of vhost-glib passes around: the device status bits, the transport
 * feature bit numbers, the vhost-user protocol features, and the codes of the
 * front-end and back-end requests.
 */

/**
 * VhostVirtioStatus:
 * @VHOST_VIRTIO_STATUS_ACKNOWLEDGE: the driver found the device.
 * @VHOST_VIRTIO_STATUS_DRIVER: the driver knows how to drive it.
 * @VHOST_VIRTIO_STATUS_DRIVER_OK: the driver is ready.
 * @VHOST_VIRTIO_STATUS_FEATURES_OK: the features are negotiated.
 * @VHOST_VIRTIO_STATUS_NEEDS_RESET: the device hit an error it cannot recover from.
 * @VHOST_VIRTIO_STATUS_FAILED: the driver gave up on the device.
 *
 * The bits of the virtio device status byte (SET_STATUS, GET_STATUS).
 */
typedef enum /*< flags >*/
{
  VHOST_VIRTIO_STATUS_ACKNOWLEDGE = 1 << 0,
  VHOST_VIRTIO_STATUS_DRIVER = 1 << 1,
  VHOST_VIRTIO_STATUS_DRIVER_OK = 1 << 2,
  VHOST_VIRTIO_STATUS_FEATURES_OK = 1 << 3,
  VHOST_VIRTIO_STATUS_NEEDS_RESET = 1 << 6,
  VHOST_VIRTIO_STATUS_FAILED = 1 << 7,
} VhostVirtioStatus;

/**
 * VhostVirtioFeature:
 * @VHOST_VIRTIO_F_NOTIFY_ON_EMPTY: bit 24, notify when the available ring is empty (legacy).
 * @VHOST_VIRTIO_F_LOG_ALL: bit 26, VHOST_F_LOG_ALL: log all writes for migration.
 * @VHOST_VIRTIO_F_ANY_LAYOUT: bit 27, any descriptor layout (legacy).
 * @VHOST_VIRTIO_F_RING_INDIRECT_DESC: bit 28, indirect descriptors.
 * @VHOST_VIRTIO_F_RING_EVENT_IDX: bit 29, used and available event indices.
 * @VHOST_VIRTIO_F_PROTOCOL_FEATURES: bit 30, VHOST_USER_F_PROTOCOL_FEATURES:
 *   the back-end speaks the protocol feature negotiation.
 * @VHOST_VIRTIO_F_VERSION_1: bit 32, VIRTIO 1.0 compliance.
 * @VHOST_VIRTIO_F_ACCESS_PLATFORM: bit 33, the device goes through the platform IOMMU.
 * @VHOST_VIRTIO_F_RING_PACKED: bit 34, the packed virtqueue layout.
 * @VHOST_VIRTIO_F_IN_ORDER: bit 35, buffers are used in the order they are made available.
 * @VHOST_VIRTIO_F_ORDER_PLATFORM: bit 36, platform memory ordering.
 * @VHOST_VIRTIO_F_SR_IOV: bit 37, single root I/O virtualization.
 * @VHOST_VIRTIO_F_NOTIFICATION_DATA: bit 38, extra data in driver notifications.
 * @VHOST_VIRTIO_F_RING_RESET: bit 40, individual virtqueue reset.
 *
 * The transport and vhost feature bits, by bit number. Feature sets travel as
 * #guint64 masks, since a #GFlags type holds only 32 bits; use
 * VHOST_FEATURE_MASK() to turn a bit number into a mask. Device-specific bits
 * (0 to 23) are defined by each device type.
 */
typedef enum {
  VHOST_VIRTIO_F_NOTIFY_ON_EMPTY = 24,
  VHOST_VIRTIO_F_LOG_ALL = 26,
  VHOST_VIRTIO_F_ANY_LAYOUT = 27,
  VHOST_VIRTIO_F_RING_INDIRECT_DESC = 28,
  VHOST_VIRTIO_F_RING_EVENT_IDX = 29,
  VHOST_VIRTIO_F_PROTOCOL_FEATURES = 30,
  VHOST_VIRTIO_F_VERSION_1 = 32,
  VHOST_VIRTIO_F_ACCESS_PLATFORM = 33,
  VHOST_VIRTIO_F_RING_PACKED = 34,
  VHOST_VIRTIO_F_IN_ORDER = 35,
  VHOST_VIRTIO_F_ORDER_PLATFORM = 36,
  VHOST_VIRTIO_F_SR_IOV = 37,
  VHOST_VIRTIO_F_NOTIFICATION_DATA = 38,
  VHOST_VIRTIO_F_RING_RESET = 40,
} VhostVirtioFeature;

/**
 * VHOST_FEATURE_MASK:
 * @bit: a feature bit number, such as %VHOST_VIRTIO_F_VERSION_1
 *
 * Turns a feature bit number into a mask.
 *
 * Returns: the #guint64 mask with only @bit set.
 */
#define VHOST_FEATURE_MASK(bit) (G_GUINT64_CONSTANT (1) << (bit))

/**
 * VhostUserProtocolFeatures:
 * @VHOST_USER_PROTOCOL_F_NONE: no protocol feature.
 * @VHOST_USER_PROTOCOL_F_MQ: bit 0, multiple queues (GET_QUEUE_NUM).
 * @VHOST_USER_PROTOCOL_F_LOG_SHMFD: bit 1, the dirty log is shared memory passed as an fd.
 * @VHOST_USER_PROTOCOL_F_RARP: bit 2, SEND_RARP.
 * @VHOST_USER_PROTOCOL_F_REPLY_ACK: bit 3, the NEED_REPLY flag asks for an acknowledgement.
 * @VHOST_USER_PROTOCOL_F_NET_MTU: bit 4, NET_SET_MTU.
 * @VHOST_USER_PROTOCOL_F_BACKEND_REQ: bit 5, the back-end request channel (SET_BACKEND_REQ_FD).
 * @VHOST_USER_PROTOCOL_F_CROSS_ENDIAN: bit 6, SET_VRING_ENDIAN.
 * @VHOST_USER_PROTOCOL_F_CRYPTO_SESSION: bit 7, crypto sessions.
 * @VHOST_USER_PROTOCOL_F_PAGEFAULT: bit 8, postcopy migration with userfaultfd.
 * @VHOST_USER_PROTOCOL_F_CONFIG: bit 9, GET_CONFIG, SET_CONFIG and CONFIG_CHANGE_MSG.
 * @VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD: bit 10, back-end requests may carry fds.
 * @VHOST_USER_PROTOCOL_F_HOST_NOTIFIER: bit 11, VRING_HOST_NOTIFIER_MSG.
 * @VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD: bit 12, GET_INFLIGHT_FD and SET_INFLIGHT_FD.
 * @VHOST_USER_PROTOCOL_F_RESET_DEVICE: bit 13, RESET_DEVICE.
 * @VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS: bit 14, kicks and calls as messages.
 * @VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS: bit 15, GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG.
 * @VHOST_USER_PROTOCOL_F_STATUS: bit 16, SET_STATUS and GET_STATUS.
 * @VHOST_USER_PROTOCOL_F_XEN_MMAP: bit 17, Xen memory mappings (not supported by this library).
 * @VHOST_USER_PROTOCOL_F_SHARED_OBJECT: bit 18, shared objects identified by UUID.
 * @VHOST_USER_PROTOCOL_F_DEVICE_STATE: bit 19, device state transfer (SET_DEVICE_STATE_FD).
 * @VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT: bit 20, GET_VRING_BASE may leave
 *   requests in flight, recorded in the inflight area, instead of completing them;
 *   only with %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD.
 * @VHOST_USER_PROTOCOL_F_SHMEM: bit 21, VIRTIO Shared Memory Regions: GET_SHMEM_CONFIG,
 *   and the back-end requests SHMEM_MAP and SHMEM_UNMAP.
 *
 * The vhost-user protocol features, negotiated with GET_PROTOCOL_FEATURES and
 * SET_PROTOCOL_FEATURES once %VHOST_VIRTIO_F_PROTOCOL_FEATURES is on.
 */
typedef enum /*< flags >*/ {
  VHOST_USER_PROTOCOL_F_NONE = 0,
  VHOST_USER_PROTOCOL_F_MQ = 1 << 0,
  VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1 << 1,
  VHOST_USER_PROTOCOL_F_RARP = 1 << 2,
  VHOST_USER_PROTOCOL_F_REPLY_ACK = 1 << 3,
  VHOST_USER_PROTOCOL_F_NET_MTU = 1 << 4,
  VHOST_USER_PROTOCOL_F_BACKEND_REQ = 1 << 5,
  VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 1 << 6,
  VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 1 << 7,
  VHOST_USER_PROTOCOL_F_PAGEFAULT = 1 << 8,
  VHOST_USER_PROTOCOL_F_CONFIG = 1 << 9,
  VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 1 << 10,
  VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 1 << 11,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 1 << 12,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE = 1 << 13,
  VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 1 << 14,
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 1 << 15,
  VHOST_USER_PROTOCOL_F_STATUS = 1 << 16,
  VHOST_USER_PROTOCOL_F_XEN_MMAP = 1 << 17,
  VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 1 << 18,
  VHOST_USER_PROTOCOL_F_DEVICE_STATE = 1 << 19,
  VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT = 1 << 20,
  VHOST_USER_PROTOCOL_F_SHMEM = 1 << 21,
} VhostUserProtocolFeatures;

/**
 * VhostUserRequest:
 * @VHOST_USER_NONE: not a request.
 * @VHOST_USER_GET_FEATURES: get the virtio features the back-end offers.
 * @VHOST_USER_SET_FEATURES: set the negotiated virtio features.
 * @VHOST_USER_SET_OWNER: start a session.
 * @VHOST_USER_RESET_OWNER: deprecated; disables all rings.
 * @VHOST_USER_SET_MEM_TABLE: replace the memory table.
 * @VHOST_USER_SET_LOG_BASE: set the dirty log.
 * @VHOST_USER_SET_LOG_FD: set the log notification eventfd.
 * @VHOST_USER_SET_VRING_NUM: set a queue's size.
 * @VHOST_USER_SET_VRING_ADDR: set a queue's ring addresses.
 * @VHOST_USER_SET_VRING_BASE: set a queue's next available index.
 * @VHOST_USER_GET_VRING_BASE: stop a queue and get its state.
 * @VHOST_USER_SET_VRING_KICK: set a queue's kick eventfd.
 * @VHOST_USER_SET_VRING_CALL: set a queue's call eventfd.
 * @VHOST_USER_SET_VRING_ERR: set a queue's error eventfd.
 * @VHOST_USER_GET_PROTOCOL_FEATURES: get the protocol features the back-end offers.
 * @VHOST_USER_SET_PROTOCOL_FEATURES: set the negotiated protocol features.
 * @VHOST_USER_GET_QUEUE_NUM: get the maximum number of queues.
 * @VHOST_USER_SET_VRING_ENABLE: enable or disable a queue.
 * @VHOST_USER_SEND_RARP: broadcast a RARP for a MAC address.
 * @VHOST_USER_NET_SET_MTU: set the MTU.
 * @VHOST_USER_SET_BACKEND_REQ_FD: pass the back-end request channel.
 * @VHOST_USER_IOTLB_MSG: update or invalidate an IOTLB entry.
 * @VHOST_USER_SET_VRING_ENDIAN: set a legacy queue's endianness.
 * @VHOST_USER_GET_CONFIG: read the device configuration space.
 * @VHOST_USER_SET_CONFIG: write the device configuration space.
 * @VHOST_USER_CREATE_CRYPTO_SESSION: create a crypto session.
 * @VHOST_USER_CLOSE_CRYPTO_SESSION: close a crypto session.
 * @VHOST_USER_POSTCOPY_ADVISE: prepare for postcopy migration.
 * @VHOST_USER_POSTCOPY_LISTEN: enter postcopy mode.
 * @VHOST_USER_POSTCOPY_END: leave postcopy mode.
 * @VHOST_USER_GET_INFLIGHT_FD: get the inflight tracking area.
 * @VHOST_USER_SET_INFLIGHT_FD: pass the inflight tracking area back.
 * @VHOST_USER_GPU_SET_SOCKET: pass the vhost-user-gpu socket.
 * @VHOST_USER_RESET_DEVICE: reset the device.
 * @VHOST_USER_VRING_KICK: an in-band kick.
 * @VHOST_USER_GET_MAX_MEM_SLOTS: get the maximum number of memory slots.
 * @VHOST_USER_ADD_MEM_REG: add one memory region.
 * @VHOST_USER_REM_MEM_REG: remove one memory region.
 * @VHOST_USER_SET_STATUS: set the virtio device status.
 * @VHOST_USER_GET_STATUS: get the virtio device status.
 * @VHOST_USER_GET_SHARED_OBJECT: get the fd of a shared object.
 * @VHOST_USER_SET_DEVICE_STATE_FD: start a device state transfer.
 * @VHOST_USER_CHECK_DEVICE_STATE: check that a device state transfer succeeded.
 * @VHOST_USER_GET_SHMEM_CONFIG: get the sizes of the device's shared memory regions.
 *
 * The front-end requests of the vhost-user specification, with their wire codes.
 */
typedef enum {
  VHOST_USER_NONE = 0,
  VHOST_USER_GET_FEATURES = 1,
  VHOST_USER_SET_FEATURES = 2,
  VHOST_USER_SET_OWNER = 3,
  VHOST_USER_RESET_OWNER = 4,
  VHOST_USER_SET_MEM_TABLE = 5,
  VHOST_USER_SET_LOG_BASE = 6,
  VHOST_USER_SET_LOG_FD = 7,
  VHOST_USER_SET_VRING_NUM = 8,
  VHOST_USER_SET_VRING_ADDR = 9,
  VHOST_USER_SET_VRING_BASE = 10,
  VHOST_USER_GET_VRING_BASE = 11,
  VHOST_USER_SET_VRING_KICK = 12,
  VHOST_USER_SET_VRING_CALL = 13,
  VHOST_USER_SET_VRING_ERR = 14,
  VHOST_USER_GET_PROTOCOL_FEATURES = 15,
  VHOST_USER_SET_PROTOCOL_FEATURES = 16,
  VHOST_USER_GET_QUEUE_NUM = 17,
  VHOST_USER_SET_VRING_ENABLE = 18,
  VHOST_USER_SEND_RARP = 19,
  VHOST_USER_NET_SET_MTU = 20,
  VHOST_USER_SET_BACKEND_REQ_FD = 21,
  VHOST_USER_IOTLB_MSG = 22,
  VHOST_USER_SET_VRING_ENDIAN = 23,
  VHOST_USER_GET_CONFIG = 24,
  VHOST_USER_SET_CONFIG = 25,
  VHOST_USER_CREATE_CRYPTO_SESSION = 26,
  VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
  VHOST_USER_POSTCOPY_ADVISE = 28,
  VHOST_USER_POSTCOPY_LISTEN = 29,
  VHOST_USER_POSTCOPY_END = 30,
  VHOST_USER_GET_INFLIGHT_FD = 31,
  VHOST_USER_SET_INFLIGHT_FD = 32,
  VHOST_USER_GPU_SET_SOCKET = 33,
  VHOST_USER_RESET_DEVICE = 34,
  VHOST_USER_VRING_KICK = 35,
  VHOST_USER_GET_MAX_MEM_SLOTS = 36,
  VHOST_USER_ADD_MEM_REG = 37,
  VHOST_USER_REM_MEM_REG = 38,
  VHOST_USER_SET_STATUS = 39,
  VHOST_USER_GET_STATUS = 40,
  VHOST_USER_GET_SHARED_OBJECT = 41,
  VHOST_USER_SET_DEVICE_STATE_FD = 42,
  VHOST_USER_CHECK_DEVICE_STATE = 43,
  VHOST_USER_GET_SHMEM_CONFIG = 44,
} VhostUserRequest;

/**
 * VhostUserBackendRequest:
 * @VHOST_USER_BACKEND_NONE: not a request.
 * @VHOST_USER_BACKEND_IOTLB_MSG: an IOTLB miss or access failure.
 * @VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: the configuration space changed.
 * @VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG: set or clear a queue's host notifier.
 * @VHOST_USER_BACKEND_VRING_CALL: an in-band call.
 * @VHOST_USER_BACKEND_VRING_ERR: an in-band error notification.
 * @VHOST_USER_BACKEND_SHARED_OBJECT_ADD: a shared object was exported.
 * @VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE: a shared object was withdrawn.
 * @VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP: ask the front-end for a shared object's fd.
 * @VHOST_USER_BACKEND_SHMEM_MAP: map a file into a shared memory region.
 * @VHOST_USER_BACKEND_SHMEM_UNMAP: remove a mapping from a shared memory region.
 *
 * The back-end requests of the vhost-user specification, sent on the back-end
 * request channel, with their wire codes.
 */
typedef enum {
  VHOST_USER_BACKEND_NONE = 0,
  VHOST_USER_BACKEND_IOTLB_MSG = 1,
  VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
  VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
  VHOST_USER_BACKEND_VRING_CALL = 4,
  VHOST_USER_BACKEND_VRING_ERR = 5,
  VHOST_USER_BACKEND_SHARED_OBJECT_ADD = 6,
  VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE = 7,
  VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP = 8,
  VHOST_USER_BACKEND_SHMEM_MAP = 9,
  VHOST_USER_BACKEND_SHMEM_UNMAP = 10,
} VhostUserBackendRequest;

/**
 * VhostUserShmemMapFlags:
 * @VHOST_USER_SHMEM_MAP_READ_ONLY: the front-end maps the file read-only (no flag).
 * @VHOST_USER_SHMEM_MAP_WRITABLE: bit 0, the front-end maps the file writable.
 *
 * The flags of a SHMEM_MAP back-end request (the `flags` field of the
 * specification's VhostUserMMap).
 */
typedef enum /*< flags >*/ {
  VHOST_USER_SHMEM_MAP_READ_ONLY = 0,
  VHOST_USER_SHMEM_MAP_WRITABLE = 1 << 0,
} VhostUserShmemMapFlags;

/**
 * VHOST_USER_MAX_SHMEM_REGIONS:
 *
 * The most shared memory regions a device can have: their IDs (shmid) are
 * 0 to 255.
 */
#define VHOST_USER_MAX_SHMEM_REGIONS 256

/**
 * VHOST_VRING_F_LOG:
 *
 * The bit number, in the flags of a #VhostVringAddr, that asks the back-end to
 * log writes to the used ring (the flag value is `1 << VHOST_VRING_F_LOG`).
 */
#define VHOST_VRING_F_LOG 0

G_END_DECLS
