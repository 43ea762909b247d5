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
