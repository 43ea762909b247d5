/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ref-counted boxed records of vhost-glib and the names of the request codes. */
#include <fcntl.h>

#include <unistd.h>
#include <glib-unix.h>

#include "vhost-types.h"
#include "protocol/vhost-user-protocol.h"

/**
 * SECTION:vhost-types
 * @title: Common types
 * @short_description: memory regions and vring addresses
 *
 * The records shared by every class of vhost-glib: #VhostMemoryRegion and
 * #VhostVringAddr, ref-counted and immutable, describe guest memory and
 * virtqueue rings. The error domain is described with #VhostError, the
 * feature bits and request codes with #VhostVirtioFeature,
 * #VhostUserProtocolFeatures and #VhostUserRequest.
 */

/* Allocated with g_atomic_rc_box_new0(): the box keeps the reference count. */
struct _VhostMemoryRegion
{
  guint64 guest_phys_addr;
  guint64 size;
  guint64 userspace_addr;
  guint64 mmap_offset;
  gint fd; /* (owned) */
};

G_DEFINE_BOXED_TYPE (VhostMemoryRegion, vhost_memory_region,
                     vhost_memory_region_ref, vhost_memory_region_unref)

/**
 * vhost_memory_region_new:
 * @guest_phys_addr: where the region starts in guest physical memory
 * @size: the size of the region in bytes
 * @userspace_addr: where the region starts in the front-end's address space
 * @fd: a file descriptor the back-end can map the region from, or -1
 * @mmap_offset: the offset of the region's first byte in @fd
 *
 * Creates a memory region. @fd is duplicated; the caller keeps its own.
 *
 * Returns: (transfer full): a new #VhostMemoryRegion
 */
VhostMemoryRegion *
vhost_memory_region_new (guint64 guest_phys_addr,
                         guint64 size,
                         guint64 userspace_addr,
                         gint fd,
                         guint64 mmap_offset)
{
  VhostMemoryRegion *region = g_atomic_rc_box_new0 (VhostMemoryRegion);

  region->guest_phys_addr = guest_phys_addr;
  region->size = size;
  region->userspace_addr = userspace_addr;
  region->mmap_offset = mmap_offset;
  region->fd = fd >= 0 ? fcntl (fd, F_DUPFD_CLOEXEC, 3) : -1;
  return region;
}

static void
memory_region_clear (gpointer data)
{
  VhostMemoryRegion *region = data;

  if (region->fd >= 0)
    close (region->fd);
}

/**
 * vhost_memory_region_ref:
 * @region: a #VhostMemoryRegion
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @region, with one more reference
 */
VhostMemoryRegion *
vhost_memory_region_ref (VhostMemoryRegion *region)
{
  g_return_val_if_fail (region != NULL, NULL);
  return g_atomic_rc_box_acquire (region);
}

/**
 * vhost_memory_region_unref:
 * @region: (transfer full): a #VhostMemoryRegion
 *
 * Drops a reference; the last one closes the region's fd and frees it.
 */
void
vhost_memory_region_unref (VhostMemoryRegion *region)
{
  g_return_if_fail (region != NULL);
  g_atomic_rc_box_release_full (region, memory_region_clear);
}

/**
 * vhost_memory_region_get_guest_phys_addr:
 * @region: a #VhostMemoryRegion
 *
 * Gets the guest physical address of the region's first byte.
 *
 * Returns: the guest physical address of the region's first byte
 */
guint64
vhost_memory_region_get_guest_phys_addr (VhostMemoryRegion *region)
{
  return region->guest_phys_addr;
}

/**
 * vhost_memory_region_get_size:
 * @region: a #VhostMemoryRegion
 *
 * Gets the size of the region in bytes.
 *
 * Returns: the size of the region in bytes
 */
guint64
vhost_memory_region_get_size (VhostMemoryRegion *region)
{
  return region->size;
}

/**
 * vhost_memory_region_get_userspace_addr:
 * @region: a #VhostMemoryRegion
 *
 * Gets the front-end's virtual address of the region's first byte.
 *
 * Returns: the front-end's virtual address of the region's first byte
 */
guint64
vhost_memory_region_get_userspace_addr (VhostMemoryRegion *region)
{
  return region->userspace_addr;
}

/**
 * vhost_memory_region_get_fd:
 * @region: a #VhostMemoryRegion
 *
 * Gets the region's file descriptor, owned by @region, or -1.
 *
 * Returns: the region's file descriptor, owned by @region, or -1
 */
gint
vhost_memory_region_get_fd (VhostMemoryRegion *region)
{
  return region->fd;
}

/**
 * vhost_memory_region_get_mmap_offset:
 * @region: a #VhostMemoryRegion
 *
 * Gets the offset of the region's first byte in its file descriptor.
 *
 * Returns: the offset of the region's first byte in its file descriptor
 */
guint64
vhost_memory_region_get_mmap_offset (VhostMemoryRegion *region)
{
  return region->mmap_offset;
}

/* Allocated with g_atomic_rc_box_new0(), like #VhostMemoryRegion. */
struct _VhostVringAddr
{
  guint index;
  guint flags;
  guint64 desc_user_addr;
  guint64 used_user_addr;
  guint64 avail_user_addr;
  guint64 log_guest_addr;
};

G_DEFINE_BOXED_TYPE (VhostVringAddr, vhost_vring_addr, vhost_vring_addr_ref, vhost_vring_addr_unref)

/**
 * vhost_vring_addr_new:
 * @index: the queue index
 * @flags: 0, or `1 << VHOST_VRING_F_LOG` to log writes to the used ring
 * @desc_user_addr: the front-end's address of the descriptor table
 * @used_user_addr: the front-end's address of the used ring
 * @avail_user_addr: the front-end's address of the available ring
 * @log_guest_addr: the guest physical address of the used ring, for logging
 *
 * Creates a vring address record.
 *
 * Returns: (transfer full): a new #VhostVringAddr
 */
VhostVringAddr *
vhost_vring_addr_new (guint index,
                      guint flags,
                      guint64 desc_user_addr,
                      guint64 used_user_addr,
                      guint64 avail_user_addr,
                      guint64 log_guest_addr)
{
  VhostVringAddr *addr = g_atomic_rc_box_new0 (VhostVringAddr);

  addr->index = index;
  addr->flags = flags;
  addr->desc_user_addr = desc_user_addr;
  addr->used_user_addr = used_user_addr;
  addr->avail_user_addr = avail_user_addr;
  addr->log_guest_addr = log_guest_addr;
  return addr;
}

/**
 * vhost_vring_addr_ref:
 * @addr: a #VhostVringAddr
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @addr, with one more reference
 */
VhostVringAddr *
vhost_vring_addr_ref (VhostVringAddr *addr)
{
  g_return_val_if_fail (addr != NULL, NULL);
  return g_atomic_rc_box_acquire (addr);
}

/**
 * vhost_vring_addr_unref:
 * @addr: (transfer full): a #VhostVringAddr
 *
 * Drops a reference; the last one frees @addr.
 */
void
vhost_vring_addr_unref (VhostVringAddr *addr)
{
  g_return_if_fail (addr != NULL);
  g_atomic_rc_box_release (addr);
}

/**
 * vhost_vring_addr_get_index:
 * @addr: a #VhostVringAddr
 *
 * Gets the queue index.
 *
 * Returns: the queue index
 */
guint
vhost_vring_addr_get_index (VhostVringAddr *addr)
{
  return addr->index;
}

/**
 * vhost_vring_addr_get_flags:
 * @addr: a #VhostVringAddr
 *
 * Gets the flags.
 *
 * Returns: the flags
 */
guint
vhost_vring_addr_get_flags (VhostVringAddr *addr)
{
  return addr->flags;
}

/**
 * vhost_vring_addr_get_desc_user_addr:
 * @addr: a #VhostVringAddr
 *
 * Gets the front-end's address of the descriptor table.
 *
 * Returns: the front-end's address of the descriptor table
 */
guint64
vhost_vring_addr_get_desc_user_addr (VhostVringAddr *addr)
{
  return addr->desc_user_addr;
}

/**
 * vhost_vring_addr_get_used_user_addr:
 * @addr: a #VhostVringAddr
 *
 * Gets the front-end's address of the used ring.
 *
 * Returns: the front-end's address of the used ring
 */
guint64
vhost_vring_addr_get_used_user_addr (VhostVringAddr *addr)
{
  return addr->used_user_addr;
}

/**
 * vhost_vring_addr_get_avail_user_addr:
 * @addr: a #VhostVringAddr
 *
 * Gets the front-end's address of the available ring.
 *
 * Returns: the front-end's address of the available ring
 */
guint64
vhost_vring_addr_get_avail_user_addr (VhostVringAddr *addr)
{
  return addr->avail_user_addr;
}

/**
 * vhost_vring_addr_get_log_guest_addr:
 * @addr: a #VhostVringAddr
 *
 * Gets the guest physical address of the used ring, for dirty logging.
 *
 * Returns: the guest physical address of the used ring, for dirty logging
 */
guint64
vhost_vring_addr_get_log_guest_addr (VhostVringAddr *addr)
{
  return addr->log_guest_addr;
}

/**
 * vhost_user_request_get_name:
 * @request: a front-end request code
 *
 * Returns the name of @request as the specification spells it, without the
 * `VHOST_USER_` prefix, such as "GET_FEATURES"; "UNKNOWN" for a code the
 * specification does not define.
 *
 * Returns: (transfer none): a static string
 */
const char *
vhost_user_request_get_name (VhostUserRequest request)
{
  return vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, request);
}

/**
 * vhost_user_backend_request_get_name:
 * @request: a back-end request code
 *
 * Returns the name of @request as the specification spells it, without the
 * `VHOST_USER_BACKEND_` prefix, such as "CONFIG_CHANGE_MSG"; "UNKNOWN" for a code
 * the specification does not define.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Takes a reference.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Gets a static string.
 *
 *
 * Takes a reference.
 *
 * Returns: (transfer none): a static string
 */
const char *
vhost_user_backend_request_get_name (VhostUserBackendRequest request)
{
  return vhost_user_request_name (VHOST_USER_CHANNEL_BACKEND, request);
}
