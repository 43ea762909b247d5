/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Public value types of vhost-glib: the boxed records, and (from protocol/) the error domain, feature bits and request codes. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include <vhost-glib/vhost-version-macros.h>
#include <vhost-glib/protocol/vhost-error.h>
#include <vhost-glib/protocol/vhost-constants.h>

G_BEGIN_DECLS

/**
 * VhostDeviceStateDirection:
 * @VHOST_DEVICE_STATE_DIRECTION_SAVE: the back-end writes its state into the
 *   file descriptor, for the front-end to save.
 * @VHOST_DEVICE_STATE_DIRECTION_LOAD: the back-end reads its state from the file
 *   descriptor.
 *
 * The direction of a device state transfer (SET_DEVICE_STATE_FD), numbered as
 * the vhost-user specification numbers it.
 */
typedef enum {
  VHOST_DEVICE_STATE_DIRECTION_SAVE = 0,
  VHOST_DEVICE_STATE_DIRECTION_LOAD = 1,
} VhostDeviceStateDirection;

/**
 * VhostDeviceStatePhase:
 * @VHOST_DEVICE_STATE_PHASE_STOPPED: the device is stopped (its queues are
 *   stopped and it processes nothing); the one phase the specification defines.
 *
 * The migration phase in which a device state transfer (SET_DEVICE_STATE_FD)
 * happens.
 */
typedef enum {
  VHOST_DEVICE_STATE_PHASE_STOPPED = 0,
} VhostDeviceStatePhase;

/**
 * VhostIotlbMessageType:
 * @VHOST_IOTLB_MESSAGE_MISS: the back-end found no translation for an address.
 * @VHOST_IOTLB_MESSAGE_UPDATE: the front-end adds a translation.
 * @VHOST_IOTLB_MESSAGE_INVALIDATE: the front-end removes the translations of a range.
 * @VHOST_IOTLB_MESSAGE_ACCESS_FAIL: the back-end was denied an access.
 *
 * The type of an IOTLB message (IOTLB_MSG, on either channel), numbered as the
 * specification (and the kernel's struct vhost_iotlb_msg) numbers it.
 */
typedef enum {
  VHOST_IOTLB_MESSAGE_MISS = 1,
  VHOST_IOTLB_MESSAGE_UPDATE = 2,
  VHOST_IOTLB_MESSAGE_INVALIDATE = 3,
  VHOST_IOTLB_MESSAGE_ACCESS_FAIL = 4,
} VhostIotlbMessageType;

/**
 * VhostIotlbAccess:
 * @VHOST_IOTLB_ACCESS_NONE: no access.
 * @VHOST_IOTLB_ACCESS_READ: read access (VHOST_ACCESS_RO; with @VHOST_IOTLB_ACCESS_WRITE, VHOST_ACCESS_RW).
 * @VHOST_IOTLB_ACCESS_WRITE: write access (VHOST_ACCESS_WO).
 *
 * The access an IOTLB message is about (its `perm` field), on the vhost-user
 * channels (vhost_user_master_iotlb_msg(), vhost_user_slave_send_iotlb_msg()) and
 * on kernel vhost (vhost_kernel_iotlb_msg()), and the access a vDPA DMA mapping
 * gives the device (vhost_vdpa_dma_map()): the kernel's and the specification's
 * VHOST_ACCESS_RO, _WO and _RW.
 */
typedef enum /*< flags >*/ {
  VHOST_IOTLB_ACCESS_NONE = 0,
  VHOST_IOTLB_ACCESS_READ = 1 << 0,
  VHOST_IOTLB_ACCESS_WRITE = 1 << 1,
} VhostIotlbAccess;

/**
 * VhostMemoryRegion:
 *
 * One region of guest memory as a front-end describes it to a back-end: where
 * it is in the guest's physical address space, where the front-end has it mapped,
 * and the file descriptor (and offset in it) that lets the back-end map it too.
 * A ref-counted, immutable record.
 */
typedef struct _VhostMemoryRegion VhostMemoryRegion;

#define VHOST_TYPE_MEMORY_REGION (vhost_memory_region_get_type ())
VHOST_AVAILABLE_IN_ALL
GType vhost_memory_region_get_type (void) G_GNUC_CONST;
VHOST_AVAILABLE_IN_ALL
VhostMemoryRegion *vhost_memory_region_new (guint64 guest_phys_addr,
                                            guint64 size,
                                            guint64 userspace_addr,
                                            gint fd,
                                            guint64 mmap_offset);
VHOST_AVAILABLE_IN_ALL
VhostMemoryRegion *vhost_memory_region_ref (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
void vhost_memory_region_unref (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_memory_region_get_guest_phys_addr (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_memory_region_get_size (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_memory_region_get_userspace_addr (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
gint vhost_memory_region_get_fd (VhostMemoryRegion *region);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_memory_region_get_mmap_offset (VhostMemoryRegion *region);

/**
 * VhostVringAddr:
 *
 * The addresses of one virtqueue's rings, as the front-end sees them, with the
 * queue index, the VHOST_VRING_F_LOG flag and the guest address of the used ring
 * for dirty logging. A ref-counted, immutable record.
 */
typedef struct _VhostVringAddr VhostVringAddr;


#define VHOST_TYPE_VRING_ADDR (vhost_vring_addr_get_type ())
VHOST_AVAILABLE_IN_ALL
GType vhost_vring_addr_get_type (void) G_GNUC_CONST;
VHOST_AVAILABLE_IN_ALL
VhostVringAddr *vhost_vring_addr_new (guint index,
                                      guint flags,
                                      guint64 desc_user_addr,
                                      guint64 used_user_addr,
                                      guint64 avail_user_addr,
                                      guint64 log_guest_addr);
VHOST_AVAILABLE_IN_ALL
VhostVringAddr *vhost_vring_addr_ref (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
void vhost_vring_addr_unref (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint vhost_vring_addr_get_index (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint vhost_vring_addr_get_flags (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vring_addr_get_desc_user_addr (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vring_addr_get_used_user_addr (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vring_addr_get_avail_user_addr (VhostVringAddr *addr);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vring_addr_get_log_guest_addr (VhostVringAddr *addr);

VHOST_AVAILABLE_IN_ALL
const char *vhost_user_request_get_name (VhostUserRequest request);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_request_get_name (VhostUserBackendRequest request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostMemoryRegion, vhost_memory_region_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostVringAddr, vhost_vring_addr_unref)

G_END_DECLS
