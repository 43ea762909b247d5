/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVdpa: VhostBackend through the VHOST_VDPA_* ioctls and IOTLB messages on /dev/vhost-vdpa-N
 * (the discovery of the devices is in vhost-vdpa-discovery.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/vhost.h>

#include "vhost-vdpa.h"
#include "vhost-kernel-private.h"

/**
 * SECTION:vhost-vdpa
 * @title: VhostVdpa
 * @short_description: a vDPA device through vhost-vdpa, as a #VhostBackend
 *
 * #VhostVdpa drives a vDPA device (a hardware virtio data path, or one of the
 * kernel's simulators vdpa_sim_net and vdpa_sim_blk) through its vhost-vdpa
 * character device, /dev/vhost-vdpa-N, opened with vhost_vdpa_new() or adopted
 * with vhost_vdpa_new_for_fd(). It is a #VhostKernel: the file descriptor and
 * the device node are vhost_kernel_get_fd() and vhost_kernel_get_device_path(),
 * and the vhost ioctls that vhost-vdpa shares with the other kernel vhost devices
 * (features, owner, queue size, base and eventfds) are #VhostKernel's.
 *
 * Beside the #VhostBackend control plane it has the virtio device's own:
 * vhost_vdpa_get_device_id(), the status byte (vhost_vdpa_get_status(),
 * vhost_vdpa_set_status(), vhost_vdpa_reset()), the configuration space
 * (vhost_vdpa_get_config(), vhost_vdpa_set_config(),
 * vhost_vdpa_get_config_size(), and its change notifications,
 * vhost_vdpa_set_config_call()), the queue limits (vhost_vdpa_get_vring_num(),
 * vhost_vdpa_get_vring_size(), vhost_vdpa_get_vqs_count()), virtqueue groups and
 * address spaces (vhost_vdpa_get_group_num(), vhost_vdpa_get_as_num(),
 * vhost_vdpa_get_vring_group(), vhost_vdpa_get_vring_desc_group(),
 * vhost_vdpa_set_group_asid()), and vhost_vdpa_suspend() and
 * vhost_vdpa_resume(). The ioctls newer than the running kernel (Linux 6.1
 * lacks VHOST_VDPA_GET_VRING_DESC_GROUP, VHOST_VDPA_GET_VRING_SIZE and
 * VHOST_VDPA_RESUME) fail with %VHOST_ERROR_NOT_SUPPORTED.
 *
 * The device reaches memory through I/O virtual addresses (IOVAs), which
 * vhost_vdpa_dma_map() and vhost_vdpa_dma_unmap() map to this process's memory
 * with IOTLB update and invalidate messages written to the device's fd; the IOVAs
 * must lie in vhost_vdpa_get_iova_range(). The backend features are negotiated at
 * construction: every one of #VhostVdpaBackendFeature that both the kernel
 * (vhost_kernel_get_backend_features()) and this library know is acked (see
 * vhost_vdpa_get_acked_backend_features()). With
 * %VHOST_VDPA_BACKEND_F_IOTLB_BATCH, vhost_vdpa_dma_batch_begin() and
 * vhost_vdpa_dma_batch_end() group mappings, which the device then applies at
 * once.
 *
 * As a #VhostBackend, vhost_backend_set_mem_table() maps each region at its guest
 * physical address (IOVA = guest physical address, in address space 0, in one
 * batch where the device takes batches) and unmaps the previous table's regions,
 * and vhost_backend_set_vring_addr() then translates the ring addresses, given
 * as user addresses in this process as for the other back-ends, into IOVAs
 * through that table. Without a memory table, ring addresses are taken as IOVAs
 * that the caller mapped. So a #VhostDriver brings a vDPA device up as it brings
 * up a vhost-user one: it sets the status (ACKNOWLEDGE, DRIVER, FEATURES_OK,
 * DRIVER_OK), the features, the memory table and the queues, and enables each
 * queue. The device must be reset (status 0) before it is brought up again.
 *
 * vhost_vdpa_set_status() follows the virtio status state machine: bits are only
 * added, in order (DRIVER after ACKNOWLEDGE, FEATURES_OK after DRIVER,
 * DRIVER_OK after FEATURES_OK), except FAILED at any time and status 0, a
 * reset; any other change fails with %VHOST_ERROR_BROKEN and leaves the device
 * as it was. If the device does not keep FEATURES_OK, the features were refused:
 * %VHOST_ERROR_REJECTED. vhost_backend_get_vring_base() suspends the device first
 * where %VHOST_VDPA_BACKEND_F_SUSPEND was acked and the device is running. The
 * device has no dirty log here: vhost_backend_set_log_base() and
 * vhost_backend_set_log_fd() fail with %VHOST_ERROR_NOT_SUPPORTED. vhost-vdpa
 * cannot give up its owner: vhost_backend_set_owner() does nothing the second
 * time, and vhost_backend_reset_owner() resets the device and unmaps the memory
 * table instead.
 *
 * Management daemons find the devices with vhost_vdpa_list_devices().
 *
 * Errors are in the %VHOST_ERROR domain and name the ioctl or the IOTLB message
 * and the errno text, as in "VHOST_VDPA_SET_STATUS: Invalid argument"; errno
 * values map to codes as for #VhostKernel. The kernel reports every IOTLB message
 * it refuses (a range that overlaps a mapping, pages it cannot pin) as EFAULT,
 * %VHOST_ERROR_INVALID_ARGUMENT. Per-queue calls (and DMA mappings) need the
 * owner first: without it they fail with EPERM, %VHOST_ERROR_BROKEN.
 *
 * A #VhostVdpa has no sources, and never emits #VhostKernel::iotlb-message
 * (vhost-vdpa reports no IOTLB misses): its calls are synchronous ioctls and
 * writes that do not block for long, made from any one thread at a time.
 */

/**
 * VhostVdpa:
 *
 * A vhost-vdpa device. All its fields are private.
 */

typedef struct
{
  guint64 iova;  /* the guest physical address */
  guint64 size;
  guint64 uaddr;
} MappedRegion;

struct _VhostVdpa
{
  VhostKernel parent_instance;

  gboolean owner_set;
  gboolean in_batch;
  gboolean have_iova_range;
  guint64 iova_first;
  guint64 iova_last;
  gboolean suspended;
  GArray *mem_table;          /* (element-type MappedRegion) what set_mem_table mapped in AS 0 */
};

static void vhost_vdpa_backend_iface_init (VhostBackendInterface *iface);
static void vhost_vdpa_initable_iface_init (GInitableIface *iface);

/* VhostKernel's implementations, which these chain up to. */
static VhostBackendInterface *vhost_vdpa_backend_parent_iface;
static GInitableIface *vhost_vdpa_initable_parent_iface;

G_DEFINE_FINAL_TYPE_WITH_CODE (VhostVdpa, vhost_vdpa, VHOST_TYPE_KERNEL,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, vhost_vdpa_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND, vhost_vdpa_backend_iface_init))

enum {
  PROP_0,
  PROP_BACKEND_FEATURES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The backend features this library knows how to use: all of VhostVdpaBackendFeature. */
#define KNOWN_BACKEND_FEATURES                                                                         \
  (VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_MSG_V2) | VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_BATCH) | \
   VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_ASID) | VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_SUSPEND) |    \
   VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_RESUME) |                                                  \
   VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK) |                                  \
   VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_DESC_ASID) | VHOST_FEATURE_MASK (VHOST_VDPA_BACKEND_F_IOTLB_PERSIST))

G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_IOTLB_MSG_V2 == VHOST_BACKEND_F_IOTLB_MSG_V2);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_IOTLB_BATCH == VHOST_BACKEND_F_IOTLB_BATCH);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_IOTLB_ASID == VHOST_BACKEND_F_IOTLB_ASID);
G_STATIC_ASSERT (VHOST_IOTLB_ACCESS_READ == VHOST_ACCESS_RO);
G_STATIC_ASSERT (VHOST_IOTLB_ACCESS_WRITE == VHOST_ACCESS_WO);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_SUSPEND == VHOST_BACKEND_F_SUSPEND);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_RESUME == VHOST_BACKEND_F_RESUME);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK == VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_DESC_ASID == VHOST_BACKEND_F_DESC_ASID);
G_STATIC_ASSERT (VHOST_VDPA_BACKEND_F_IOTLB_PERSIST == VHOST_BACKEND_F_IOTLB_PERSIST);
G_STATIC_ASSERT (VHOST_VDPA_SUSPEND == _IO (VHOST_VIRTIO, 0x7D));
G_STATIC_ASSERT (VHOST_VDPA_RESUME == VHOST_KERNEL_VDPA_RESUME);
G_STATIC_ASSERT (VHOST_VDPA_GET_VRING_DESC_GROUP == VHOST_KERNEL_VDPA_GET_VRING_DESC_GROUP);

/* VHOST_KERNEL_IOCTL on a VhostVdpa (stringified here, before @request is expanded). */
#define VDPA_IOCTL(self, request, arg, error) \
  vhost_kernel_ioctl (VHOST_KERNEL (self), (request), #request, (arg), (error))

/* Issues @request, an ioctl that reads a struct vhost_vring_state for queue @index, and gives its num. */
static gboolean
vring_state_ioctl (VhostVdpa *self, unsigned long request, const char *name, guint index, guint *num, GError **error)
{
  struct vhost_vring_state state = { .index = index };

  if (!vhost_kernel_ioctl (VHOST_KERNEL (self), request, name, &state, error))
    return FALSE;
  *num = state.num;
  return TRUE;
}

#define GET_VRING_STATE(self, request, index, num, error) \
  vring_state_ioctl ((self), (request), #request, (index), (num), (error))

static gboolean
has_backend_feature (VhostVdpa *self, guint bit)
{
  return (vhost_kernel_get_acked_backend_features (VHOST_KERNEL (self)) & VHOST_FEATURE_MASK (bit)) != 0;
}

static gboolean
ensure_iova_range (VhostVdpa *self, GError **error)
{
  struct vhost_vdpa_iova_range range = { 0 };
  GError *local = NULL;

  if (self->have_iova_range)
    return TRUE;
  if (!VDPA_IOCTL (self, VHOST_VDPA_GET_IOVA_RANGE, &range, &local))
    {
      if (!g_error_matches (local, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      /* A kernel without the ioctl: the device takes any IOVA. */
      g_clear_error (&local);
      range.first = 0;
      range.last = G_MAXUINT64;
    }
  self->iova_first = range.first;
  self->iova_last = range.last;
  self->have_iova_range = TRUE;
  return TRUE;
}

/* A range of @size bytes at @iova, checked against overflow and the IOVA range. */
static gboolean
check_iova (VhostVdpa *self, guint64 iova, guint64 size, const char *name, GError **error)
{
  if (size == 0 || iova + (size - 1) < iova)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: the range of %" G_GUINT64_FORMAT " bytes at 0x%" G_GINT64_MODIFIER "x is empty or wraps around",
                   name, size, iova);
      return FALSE;
    }
  if (!ensure_iova_range (self, error))
    return FALSE;
  if (iova < self->iova_first || iova + (size - 1) > self->iova_last)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: the range [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x] is outside the device's "
                   "IOVA range [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x]",
                   name, iova, iova + (size - 1), self->iova_first, self->iova_last);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_vdpa_dma_map:
 * @vdpa: a #VhostVdpa
 * @asid: the address space, 0 unless %VHOST_VDPA_BACKEND_F_IOTLB_ASID was acked
 * @iova: the first I/O virtual address of the mapping
 * @size: its size in bytes
 * @uaddr: the address in this process that @iova maps to
 * @access: what the device may do with the memory
 * @error: return location for a #GError
 *
 * Maps @size bytes of this process's memory at @uaddr for the device at @iova
 * (an IOTLB update message). The kernel pins the pages, within this process's
 * RLIMIT_MEMLOCK. Needs the owner (vhost_backend_set_owner()) first.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT for a
 *   range that is empty, wraps around, or is outside vhost_vdpa_get_iova_range()
 *   (checked before anything is sent), and also when the kernel refuses the
 *   mapping (EFAULT: part of the range is already mapped, or the pages cannot be
 *   pinned)
 */
gboolean
vhost_vdpa_dma_map (VhostVdpa *vdpa,
                    guint asid,
                    guint64 iova,
                    guint64 size,
                    guint64 uaddr,
                    VhostIotlbAccess access,
                    GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((access & (VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE)) == 0 ||
      (access & ~(VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE)) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_IOTLB_UPDATE: invalid access 0x%x",
                   (guint) access);
      return FALSE;
    }
  if (!check_iova (vdpa, iova, size, "VHOST_IOTLB_UPDATE", error))
    return FALSE;
  return vhost_kernel_iotlb_write (VHOST_KERNEL (vdpa), asid, VHOST_IOTLB_UPDATE, iova, size, uaddr, access, error);
}

/**
 * vhost_vdpa_dma_unmap:
 * @vdpa: a #VhostVdpa
 * @asid: the address space of the mapping
 * @iova: the first I/O virtual address to unmap
 * @size: the size of the range in bytes
 * @error: return location for a #GError
 *
 * Unmaps every mapping in the range (an IOTLB invalidate message) and unpins
 * its pages. Unmapping a range where nothing is mapped succeeds.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_dma_unmap (VhostVdpa *vdpa, guint asid, guint64 iova, guint64 size, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (size == 0 || iova + (size - 1) < iova)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "VHOST_IOTLB_INVALIDATE: the range of %" G_GUINT64_FORMAT " bytes is empty or wraps around", size);
      return FALSE;
    }
  return vhost_kernel_iotlb_write (VHOST_KERNEL (vdpa), asid, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0, error);
}

/**
 * vhost_vdpa_dma_batch_begin:
 * @vdpa: a #VhostVdpa
 * @asid: the address space that the batch changes
 * @error: return location for a #GError
 *
 * Starts a batch of mappings of address space @asid (an IOTLB BATCH_BEGIN
 * message): the device applies the following vhost_vdpa_dma_map() and
 * vhost_vdpa_dma_unmap() calls at vhost_vdpa_dma_batch_end(). Without
 * %VHOST_VDPA_BACKEND_F_IOTLB_BATCH this does nothing and each mapping applies
 * at once.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_BROKEN inside a batch
 */
gboolean
vhost_vdpa_dma_batch_begin (VhostVdpa *vdpa, guint asid, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (vdpa->in_batch)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "VHOST_IOTLB_BATCH_BEGIN: already in a batch");
      return FALSE;
    }
  if (!has_backend_feature (vdpa, VHOST_VDPA_BACKEND_F_IOTLB_BATCH))
    return TRUE;
  if (!vhost_kernel_iotlb_write (VHOST_KERNEL (vdpa), asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0, error))
    return FALSE;
  vdpa->in_batch = TRUE;
  return TRUE;
}

/**
 * vhost_vdpa_dma_batch_end:
 * @vdpa: a #VhostVdpa
 * @error: return location for a #GError
 *
 * Ends the batch that vhost_vdpa_dma_batch_begin() started (an IOTLB
 * BATCH_END message): the device applies its mappings. Does nothing outside a
 * batch.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_dma_batch_end (VhostVdpa *vdpa, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!vdpa->in_batch)
    return TRUE;
  vdpa->in_batch = FALSE;
  return vhost_kernel_iotlb_write (VHOST_KERNEL (vdpa), 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0, error);
}

/* VhostBackend */

static gboolean
vdpa_set_features (VhostBackend *backend, guint64 features, GError **error)
{
  __u64 value = features;

  /* The ioctl alone: vhost-vdpa reports no IOTLB misses, so its fd is not watched for them even
   * with ACCESS_PLATFORM. */
  return VDPA_IOCTL (backend, VHOST_SET_FEATURES, &value, error);
}

static gboolean
vdpa_set_owner (VhostBackend *backend, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (backend);

  if (self->owner_set)
    return TRUE;
  if (!vhost_vdpa_backend_parent_iface->set_owner (backend, error))
    return FALSE;
  self->owner_set = TRUE;
  return TRUE;
}

/* Unmap what set_mem_table mapped; the first error is kept, the table forgotten. */
static gboolean
unmap_mem_table (VhostVdpa *self, GError **error)
{
  GError *first = NULL;

  for (guint i = 0; i < self->mem_table->len; i++)
    {
      MappedRegion *r = &g_array_index (self->mem_table, MappedRegion, i);
      GError *local = NULL;

      if (!vhost_vdpa_dma_unmap (self, 0, r->iova, r->size, first == NULL ? &first : &local))
        g_clear_error (&local);
    }
  g_array_set_size (self->mem_table, 0);
  if (first != NULL)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return TRUE;
}

static gboolean
vdpa_reset_owner (VhostBackend *backend, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (backend);

  if (!vhost_vdpa_reset (self, error))
    return FALSE;
  return unmap_mem_table (self, error);
}

static gboolean
vdpa_set_mem_table (VhostBackend *backend, VhostMemoryRegion **regions, guint n_regions, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (backend);
  g_autoptr(GArray) mapped = g_array_new (FALSE, FALSE, sizeof (MappedRegion));
  GError *local = NULL;

  for (guint i = 0; i < n_regions; i++)
    if (!check_iova (self, vhost_memory_region_get_guest_phys_addr (regions[i]),
                     vhost_memory_region_get_size (regions[i]), "VHOST_IOTLB_UPDATE", error))
      return FALSE;
  if (!vhost_vdpa_dma_batch_begin (self, 0, error))
    return FALSE;
  if (!unmap_mem_table (self, &local))
    goto fail;
  for (guint i = 0; i < n_regions; i++)
    {
      MappedRegion r = {
        .iova = vhost_memory_region_get_guest_phys_addr (regions[i]),
        .size = vhost_memory_region_get_size (regions[i]),
        .uaddr = vhost_memory_region_get_userspace_addr (regions[i]),
      };

      if (!vhost_vdpa_dma_map (self, 0, r.iova, r.size, r.uaddr, VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE,
                               &local))
        goto fail;
      g_array_append_val (mapped, r);
    }
  if (!vhost_vdpa_dma_batch_end (self, error))
    {
      g_array_append_vals (self->mem_table, mapped->data, mapped->len);
      return FALSE;
    }
  g_array_append_vals (self->mem_table, mapped->data, mapped->len);
  return TRUE;

fail:
  /* Take back what this call mapped, then report the first failure. */
  g_array_append_vals (self->mem_table, mapped->data, mapped->len);
  unmap_mem_table (self, NULL);
  vhost_vdpa_dma_batch_end (self, NULL);
  g_propagate_error (error, local);
  return FALSE;
}

static gboolean
vdpa_set_log_base (VhostBackend *backend, guint64 base, guint64 size, gint fd, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "vhost-vdpa has no dirty log");
  return FALSE;
}

static gboolean
vdpa_set_log_fd (VhostBackend *backend, gint fd, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "vhost-vdpa has no dirty log");
  return FALSE;
}

/* The IOVA of a user address in the memory table, or the address itself without a table. */
static gboolean
to_iova (VhostVdpa *self, guint64 uaddr, guint64 *iova, const char *what, GError **error)
{
  if (self->mem_table->len == 0)
    {
      *iova = uaddr;
      return TRUE;
    }
  for (guint i = 0; i < self->mem_table->len; i++)
    {
      MappedRegion *r = &g_array_index (self->mem_table, MappedRegion, i);

      if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size)
        {
          *iova = r->iova + (uaddr - r->uaddr);
          return TRUE;
        }
    }
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
               "VHOST_SET_VRING_ADDR: the %s address 0x%" G_GINT64_MODIFIER "x is not in the memory table", what,
               uaddr);
  return FALSE;
}

static gboolean
vdpa_set_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (backend);
  guint64 desc, used, avail;
  g_autoptr(VhostVringAddr) translated = NULL;

  if (!to_iova (self, vhost_vring_addr_get_desc_user_addr (addr), &desc, "descriptor table", error) ||
      !to_iova (self, vhost_vring_addr_get_used_user_addr (addr), &used, "used ring", error) ||
      !to_iova (self, vhost_vring_addr_get_avail_user_addr (addr), &avail, "available ring", error))
    return FALSE;
  /* No dirty log: neither its flag nor its address. */
  translated = vhost_vring_addr_new (vhost_vring_addr_get_index (addr), 0, desc, used, avail, 0);
  return vhost_vdpa_backend_parent_iface->set_vring_addr (backend, translated, error);
}

/* VhostKernelClass.stop_queue, before VHOST_GET_VRING_BASE: a running device's queue state is only
 * stable once the device is suspended. */
static gboolean
vdpa_stop_queue (VhostKernel *kernel, guint index, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (kernel);
  guint8 status = 0;

  if (!has_backend_feature (self, VHOST_VDPA_BACKEND_F_SUSPEND) || self->suspended)
    return TRUE;
  if (!vhost_vdpa_get_status (self, &status, error))
    return FALSE;
  if ((status & VHOST_VIRTIO_STATUS_DRIVER_OK) != 0 && !vhost_vdpa_suspend (self, error))
    return FALSE;
  return TRUE;
}

static gboolean
vdpa_set_vring_enable (VhostBackend *backend, guint index, gboolean enable, GError **error)
{
  struct vhost_vring_state state = { .index = index, .num = enable ? 1 : 0 };

  return VDPA_IOCTL (VHOST_VDPA (backend), VHOST_VDPA_SET_VRING_ENABLE, &state, error);
}

static gboolean
vdpa_set_status (VhostBackend *backend, guint8 status, GError **error)
{
  return vhost_vdpa_set_status (VHOST_VDPA (backend), status, error);
}

static gboolean
vdpa_get_status (VhostBackend *backend, guint8 *status, GError **error)
{
  return vhost_vdpa_get_status (VHOST_VDPA (backend), status, error);
}

/* What vDPA does differently; the rest (features, queue size, base and eventfds, and the
 * VHOST_GET_VRING_BASE that follows vdpa_stop_queue()) is VhostKernel's, copied into @iface. */
static void
vhost_vdpa_backend_iface_init (VhostBackendInterface *iface)
{
  vhost_vdpa_backend_parent_iface = g_type_interface_peek_parent (iface);

  iface->set_features = vdpa_set_features;
  iface->set_owner = vdpa_set_owner;
  iface->reset_owner = vdpa_reset_owner;
  iface->set_mem_table = vdpa_set_mem_table;
  iface->set_log_base = vdpa_set_log_base;
  iface->set_log_fd = vdpa_set_log_fd;
  iface->set_vring_addr = vdpa_set_vring_addr;
  iface->set_vring_enable = vdpa_set_vring_enable;
  iface->set_status = vdpa_set_status;
  iface->get_status = vdpa_get_status;
}

/* The device */

/**
 * vhost_vdpa_get_device_id:
 * @vdpa: a #VhostVdpa
 * @device_id: (out): the virtio device id (1 network, 2 block, ...)
 * @error: return location for a #GError
 *
 * Reads the virtio device id (VHOST_VDPA_GET_DEVICE_ID).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_device_id (VhostVdpa *vdpa, guint32 *device_id, GError **error)
{
  __u32 value = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_DEVICE_ID, &value, error))
    return FALSE;
  *device_id = value;
  return TRUE;
}

/**
 * vhost_vdpa_get_status:
 * @vdpa: a #VhostVdpa
 * @status: (out): the device status, a mask of #VhostVirtioStatus
 * @error: return location for a #GError
 *
 * Reads the virtio device status (VHOST_VDPA_GET_STATUS).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_status (VhostVdpa *vdpa, guint8 *status, GError **error)
{
  __u8 value = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (status != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_STATUS, &value, error))
    return FALSE;
  *status = value;
  return TRUE;
}

static const char *
missing_status_step (guint8 status)
{
  if ((status & VHOST_VIRTIO_STATUS_DRIVER) != 0 && (status & VHOST_VIRTIO_STATUS_ACKNOWLEDGE) == 0)
    return "DRIVER needs ACKNOWLEDGE first";
  if ((status & VHOST_VIRTIO_STATUS_FEATURES_OK) != 0 && (status & VHOST_VIRTIO_STATUS_DRIVER) == 0)
    return "FEATURES_OK needs DRIVER first";
  if ((status & VHOST_VIRTIO_STATUS_DRIVER_OK) != 0 && (status & VHOST_VIRTIO_STATUS_FEATURES_OK) == 0)
    return "DRIVER_OK needs FEATURES_OK first";
  return NULL;
}

/**
 * vhost_vdpa_set_status:
 * @vdpa: a #VhostVdpa
 * @status: the new device status, a mask of #VhostVirtioStatus; 0 resets the device
 * @error: return location for a #GError
 *
 * Sets the virtio device status (VHOST_VDPA_SET_STATUS), following the virtio
 * state machine: a new status keeps every bit of the current one and adds bits in
 * order (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK), or adds FAILED, or is 0
 * (see vhost_vdpa_reset()). NEEDS_RESET is the device's to set. A status that
 * breaks these rules is not sent. After FEATURES_OK is added, the status is read
 * back: a device that cleared it refused the features.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_BROKEN for a step out of
 *   order (the device status is unchanged), %VHOST_ERROR_REJECTED when the
 *   device refused the features
 */
gboolean
vhost_vdpa_set_status (VhostVdpa *vdpa, guint8 status, GError **error)
{
  guint8 old = 0, now = 0;
  __u8 value = status;
  const char *why;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (status == 0)
    return vhost_vdpa_reset (vdpa, error);
  if (!vhost_vdpa_get_status (vdpa, &old, error))
    return FALSE;
  if ((old & ~status) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                   "VHOST_VDPA_SET_STATUS: 0x%02x would clear bits of the status 0x%02x; only a reset (0) does",
                   status, old);
      return FALSE;
    }
  if ((status & ~old & VHOST_VIRTIO_STATUS_NEEDS_RESET) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "VHOST_VDPA_SET_STATUS: 0x%02x sets NEEDS_RESET, which only the device sets", status);
      return FALSE;
    }
  if ((status & VHOST_VIRTIO_STATUS_FAILED) == 0 && (why = missing_status_step (status)) != NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "VHOST_VDPA_SET_STATUS: 0x%02x: %s (the status is 0x%02x)",
                   status, why, old);
      return FALSE;
    }
  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_SET_STATUS, &value, error))
    return FALSE;
  if ((status & ~old & VHOST_VIRTIO_STATUS_FEATURES_OK) != 0)
    {
      if (!vhost_vdpa_get_status (vdpa, &now, error))
        return FALSE;
      if ((now & VHOST_VIRTIO_STATUS_FEATURES_OK) == 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                       "VHOST_VDPA_SET_STATUS: the device did not accept the features (status 0x%02x)", now);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * vhost_vdpa_reset:
 * @vdpa: a #VhostVdpa
 * @error: return location for a #GError
 *
 * Resets the device: sets the status to 0 and checks that it reads back as 0.
 * The queues stop and forget their state; a suspended device runs again once
 * brought up. vhost-vdpa keeps its record of the DMA mappings (and the memory
 * table stays), but only a device with %VHOST_VDPA_BACKEND_F_IOTLB_PERSIST is
 * sure to keep using them (the simulators of Linux 6.1 drop theirs): map the
 * memory again (vhost_backend_set_mem_table(), as vhost_driver_start() does)
 * before the device is brought up again.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_IO when the status is not
 *   0 afterwards
 */
gboolean
vhost_vdpa_reset (VhostVdpa *vdpa, GError **error)
{
  __u8 value = 0;
  guint8 now = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_SET_STATUS, &value, error))
    return FALSE;
  vdpa->suspended = FALSE;
  if (!vhost_vdpa_get_status (vdpa, &now, error))
    return FALSE;
  if (now != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "VHOST_VDPA_SET_STATUS: the status is 0x%02x after a reset", now);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_vdpa_get_config_size:
 * @vdpa: a #VhostVdpa
 * @size: (out): the size of the device's configuration space in bytes
 * @error: return location for a #GError
 *
 * Reads the size of the configuration space (VHOST_VDPA_GET_CONFIG_SIZE).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_config_size (VhostVdpa *vdpa, guint32 *size, GError **error)
{
  __u32 value = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (size != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_CONFIG_SIZE, &value, error))
    return FALSE;
  *size = value;
  return TRUE;
}

/**
 * vhost_vdpa_get_config:
 * @vdpa: a #VhostVdpa
 * @offset: the first byte to read
 * @length: how many bytes to read, at least 1
 * @error: return location for a #GError
 *
 * Reads part of the device's configuration space (VHOST_VDPA_GET_CONFIG), such
 * as a network device's MAC address or a block device's capacity, in the
 * device's byte order (little-endian for virtio 1.0).
 *
 * Returns: (transfer full): the bytes, or %NULL with %VHOST_ERROR_INVALID_ARGUMENT
 *   for a range outside vhost_vdpa_get_config_size()
 */
GBytes *
vhost_vdpa_get_config (VhostVdpa *vdpa, guint offset, guint length, GError **error)
{
  g_autofree struct vhost_vdpa_config *config = NULL;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length == 0 || length > 65536)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "VHOST_VDPA_GET_CONFIG: the length %u is not between 1 and 65536", length);
      return NULL;
    }
  config = g_malloc0 (sizeof *config + length);
  config->off = offset;
  config->len = length;
  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_CONFIG, config, error))
    return NULL;
  return g_bytes_new (config->buf, length);
}

/**
 * vhost_vdpa_set_config:
 * @vdpa: a #VhostVdpa
 * @offset: the first byte to write
 * @data: the bytes to write there
 * @error: return location for a #GError
 *
 * Writes part of the device's configuration space (VHOST_VDPA_SET_CONFIG), in
 * the device's byte order, such as a network device's MAC address. What a write
 * changes is the device's business: the virtio specification makes most fields
 * read-only for the driver, and a device may ignore writes to them.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT for a
 *   range outside vhost_vdpa_get_config_size()
 */
gboolean
vhost_vdpa_set_config (VhostVdpa *vdpa, guint offset, GBytes *data, GError **error)
{
  g_autofree struct vhost_vdpa_config *config = NULL;
  gsize length;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  length = g_bytes_get_size (data);
  if (length == 0 || length > 65536)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "VHOST_VDPA_SET_CONFIG: the length %" G_GSIZE_FORMAT " is not between 1 and 65536", length);
      return FALSE;
    }
  config = g_malloc0 (sizeof *config + length);
  config->off = offset;
  config->len = length;
  memcpy (config->buf, g_bytes_get_data (data, NULL), length);
  return VDPA_IOCTL (vdpa, VHOST_VDPA_SET_CONFIG, config, error);
}

/**
 * vhost_vdpa_set_config_call:
 * @vdpa: a #VhostVdpa
 * @fd: an eventfd, or -1 to stop the notifications
 * @error: return location for a #GError
 *
 * Sets the eventfd that the device signals when its configuration space
 * changes (VHOST_VDPA_SET_CONFIG_CALL), as a virtio device raises its
 * configuration change interrupt. @fd is borrowed: the kernel takes its own
 * reference to the eventfd. Devices that never change their configuration (the
 * vDPA simulators) take the eventfd and never signal it.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT if @fd is
 *   not an eventfd, %VHOST_ERROR_FDS if it is not open
 */
gboolean
vhost_vdpa_set_config_call (VhostVdpa *vdpa, gint fd, GError **error)
{
  int value = fd < 0 ? VHOST_FILE_UNBIND : fd;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VDPA_IOCTL (vdpa, VHOST_VDPA_SET_CONFIG_CALL, &value, error);
}

/**
 * vhost_vdpa_get_vring_num:
 * @vdpa: a #VhostVdpa
 * @max_size: (out): the largest queue size the device takes
 * @error: return location for a #GError
 *
 * Reads the maximum queue size (VHOST_VDPA_GET_VRING_NUM).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_vring_num (VhostVdpa *vdpa, guint *max_size, GError **error)
{
  __u16 value = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (max_size != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_VRING_NUM, &value, error))
    return FALSE;
  *max_size = value;
  return TRUE;
}

/**
 * vhost_vdpa_get_vring_size:
 * @vdpa: a #VhostVdpa
 * @index: a virtqueue index
 * @size: (out): the size the device gives that queue by default
 * @error: return location for a #GError
 *
 * Reads the size of one virtqueue (VHOST_VDPA_GET_VRING_SIZE, newer than Linux
 * 6.1), for devices whose queues differ (vhost_vdpa_get_vring_num() gives the
 * largest any queue takes). Needs the owner first.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED on a kernel
 *   without the ioctl or a device that does not tell,
 *   %VHOST_ERROR_INVALID_ARGUMENT for an index the device does not have
 */
gboolean
vhost_vdpa_get_vring_size (VhostVdpa *vdpa, guint index, guint *size, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (size != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return GET_VRING_STATE (vdpa, VHOST_VDPA_GET_VRING_SIZE, index, size, error);
}

/**
 * vhost_vdpa_get_vqs_count:
 * @vdpa: a #VhostVdpa
 * @count: (out): how many virtqueues the device has
 * @error: return location for a #GError
 *
 * Reads the number of virtqueues (VHOST_VDPA_GET_VQS_COUNT), control queues
 * included.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_vqs_count (VhostVdpa *vdpa, guint *count, GError **error)
{
  __u32 value = 0;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (count != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VDPA_IOCTL (vdpa, VHOST_VDPA_GET_VQS_COUNT, &value, error))
    return FALSE;
  *count = value;
  return TRUE;
}

/**
 * vhost_vdpa_get_iova_range:
 * @vdpa: a #VhostVdpa
 * @first: (out) (optional): the first IOVA the device can use
 * @last: (out) (optional): the last IOVA the device can use (inclusive)
 * @error: return location for a #GError
 *
 * Reads the range of I/O virtual addresses that DMA mappings may use
 * (VHOST_VDPA_GET_IOVA_RANGE; the whole 64-bit space on a kernel without it).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_iova_range (VhostVdpa *vdpa, guint64 *first, guint64 *last, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ensure_iova_range (vdpa, error))
    return FALSE;
  if (first != NULL)
    *first = vdpa->iova_first;
  if (last != NULL)
    *last = vdpa->iova_last;
  return TRUE;
}

/**
 * vhost_vdpa_set_backend_features:
 * @vdpa: a #VhostVdpa
 * @features: the backend features to use: offered ones
 *   (vhost_kernel_get_backend_features()) that this library knows
 * @error: return location for a #GError
 *
 * Acks backend features (VHOST_SET_BACKEND_FEATURES, through
 * vhost_kernel_set_backend_features()), replacing what construction acked: with
 * less, IOTLB messages fall back to struct vhost_msg and single updates, and
 * vhost_vdpa_suspend() is refused.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED for a
 *   feature that this library or the kernel does not know
 */
gboolean
vhost_vdpa_set_backend_features (VhostVdpa *vdpa, guint64 features, GError **error)
{
  guint64 old;

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((features & ~KNOWN_BACKEND_FEATURES) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "VHOST_SET_BACKEND_FEATURES: unknown backend features 0x%" G_GINT64_MODIFIER "x",
                   features & ~KNOWN_BACKEND_FEATURES);
      return FALSE;
    }
  if (vdpa->in_batch)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "VHOST_SET_BACKEND_FEATURES: inside a DMA batch");
      return FALSE;
    }
  old = vhost_kernel_get_acked_backend_features (VHOST_KERNEL (vdpa));
  if (!vhost_kernel_set_backend_features (VHOST_KERNEL (vdpa), features, error))
    return FALSE;
  if (old != features)
    g_object_notify_by_pspec (G_OBJECT (vdpa), properties[PROP_BACKEND_FEATURES]);
  return TRUE;
}

/**
 * vhost_vdpa_get_acked_backend_features:
 * @vdpa: a #VhostVdpa
 *
 * Gets the value of #VhostVdpa:backend-features.
 *
 * Returns: the acked backend features, a mask of VHOST_FEATURE_MASK() of
 *   #VhostVdpaBackendFeature bits
 */
guint64
vhost_vdpa_get_acked_backend_features (VhostVdpa *vdpa)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), 0);
  return vhost_kernel_get_acked_backend_features (VHOST_KERNEL (vdpa));
}

static gboolean
get_u32 (VhostVdpa *self, unsigned long request, const char *name, guint *out, GError **error)
{
  __u32 value = 0;

  if (!vhost_kernel_ioctl (VHOST_KERNEL (self), request, name, &value, error))
    return FALSE;
  *out = value;
  return TRUE;
}

/**
 * vhost_vdpa_get_group_num:
 * @vdpa: a #VhostVdpa
 * @n_groups: (out): how many virtqueue groups the device has
 * @error: return location for a #GError
 *
 * Reads the number of virtqueue groups (VHOST_VDPA_GET_GROUP_NUM): queues of one
 * group share an address space.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_group_num (VhostVdpa *vdpa, guint *n_groups, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (n_groups != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return get_u32 (vdpa, VHOST_VDPA_GET_GROUP_NUM, "VHOST_VDPA_GET_GROUP_NUM", n_groups, error);
}

/**
 * vhost_vdpa_get_as_num:
 * @vdpa: a #VhostVdpa
 * @n_address_spaces: (out): how many address spaces the device has
 * @error: return location for a #GError
 *
 * Reads the number of address spaces (VHOST_VDPA_GET_AS_NUM).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_get_as_num (VhostVdpa *vdpa, guint *n_address_spaces, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (n_address_spaces != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return get_u32 (vdpa, VHOST_VDPA_GET_AS_NUM, "VHOST_VDPA_GET_AS_NUM", n_address_spaces, error);
}

/**
 * vhost_vdpa_get_vring_group:
 * @vdpa: a #VhostVdpa
 * @index: a virtqueue index
 * @group: (out): the group of that virtqueue
 * @error: return location for a #GError
 *
 * Reads which group a virtqueue belongs to (VHOST_VDPA_GET_VRING_GROUP).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT for an
 *   index the device does not have
 */
gboolean
vhost_vdpa_get_vring_group (VhostVdpa *vdpa, guint index, guint *group, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return GET_VRING_STATE (vdpa, VHOST_VDPA_GET_VRING_GROUP, index, group, error);
}

/**
 * vhost_vdpa_get_vring_desc_group:
 * @vdpa: a #VhostVdpa
 * @index: a virtqueue index
 * @group: (out): the group of that virtqueue's descriptor table and rings
 * @error: return location for a #GError
 *
 * Reads which group a virtqueue's descriptor table, driver area and device area
 * belong to (VHOST_VDPA_GET_VRING_DESC_GROUP, newer than Linux 6.1), which may
 * differ from the group of its buffers (vhost_vdpa_get_vring_group()) on devices
 * with %VHOST_VDPA_BACKEND_F_DESC_ASID. Needs the owner first.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED on a kernel
 *   without the ioctl or a device without separate descriptor groups,
 *   %VHOST_ERROR_INVALID_ARGUMENT for an index the device does not have
 */
gboolean
vhost_vdpa_get_vring_desc_group (VhostVdpa *vdpa, guint index, guint *group, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return GET_VRING_STATE (vdpa, VHOST_VDPA_GET_VRING_DESC_GROUP, index, group, error);
}

/**
 * vhost_vdpa_set_group_asid:
 * @vdpa: a #VhostVdpa
 * @group: a virtqueue group
 * @asid: the address space its queues are to use
 * @error: return location for a #GError
 *
 * Attaches a virtqueue group to an address space (VHOST_VDPA_SET_GROUP_ASID).
 * Needs %VHOST_VDPA_BACKEND_F_IOTLB_ASID for a non-zero @asid to be mapped.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vdpa_set_group_asid (VhostVdpa *vdpa, guint group, guint asid, GError **error)
{
  struct vhost_vring_state state = { .index = group, .num = asid };

  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VDPA_IOCTL (vdpa, VHOST_VDPA_SET_GROUP_ASID, &state, error);
}

/**
 * vhost_vdpa_suspend:
 * @vdpa: a #VhostVdpa
 * @error: return location for a #GError
 *
 * Suspends the device (VHOST_VDPA_SUSPEND): it stops processing its queues and
 * their state (vhost_backend_get_vring_base()) stays as it is. A reset, or
 * vhost_vdpa_resume() where offered, makes it run again.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED without
 *   %VHOST_VDPA_BACKEND_F_SUSPEND
 */
gboolean
vhost_vdpa_suspend (VhostVdpa *vdpa, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (has_backend_feature (vdpa, VHOST_VDPA_BACKEND_F_SUSPEND))
    {
      if (!VDPA_IOCTL (vdpa, VHOST_VDPA_SUSPEND, NULL, error))
        return FALSE;
      vdpa->suspended = TRUE;
      return TRUE;
    }
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "VHOST_VDPA_SUSPEND: the device does not offer the backend feature SUSPEND");
  return FALSE;
}

/**
 * vhost_vdpa_resume:
 * @vdpa: a #VhostVdpa
 * @error: return location for a #GError
 *
 * Resumes a device that vhost_vdpa_suspend() suspended (VHOST_VDPA_RESUME): it
 * goes on processing its queues from where it stopped. The ioctl is only issued
 * where %VHOST_VDPA_BACKEND_F_RESUME was acked (Linux 6.3 and a device that can
 * resume; the Debian 12 kernel, 6.1, never offers it).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED without
 *   %VHOST_VDPA_BACKEND_F_RESUME
 */
gboolean
vhost_vdpa_resume (VhostVdpa *vdpa, GError **error)
{
  g_return_val_if_fail (VHOST_IS_VDPA (vdpa), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (has_backend_feature (vdpa, VHOST_VDPA_BACKEND_F_RESUME))
    {
      if (!VDPA_IOCTL (vdpa, VHOST_VDPA_RESUME, NULL, error))
        return FALSE;
      vdpa->suspended = FALSE;
      return TRUE;
    }
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "VHOST_VDPA_RESUME: the device does not offer the backend feature RESUME (Linux 6.3)");
  return FALSE;
}

/**
 * vhost_vdpa_new:
 * @device_path: the device node, such as /dev/vhost-vdpa-0
 * @error: return location for a #GError
 *
 * Opens a vhost-vdpa device (see #VhostKernel:device-path) and acks its backend
 * features. vhost-vdpa lets one
 * process at a time open a device: a second open fails with
 * %VHOST_ERROR_BROKEN (EBUSY).
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 *   (%VHOST_ERROR_NOT_FOUND for a node that does not exist)
 */
VhostVdpa *
vhost_vdpa_new (const char *device_path, GError **error)
{
  g_return_val_if_fail (device_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (VHOST_TYPE_VDPA, NULL, error, "device-path", device_path, NULL);
}

/**
 * vhost_vdpa_new_for_fd:
 * @fd: an open vhost-vdpa file descriptor, which the object takes
 * @error: return location for a #GError
 *
 * Adopts an open vhost-vdpa device (one passed by a management daemon, for
 * example) and acks its backend features. The fd is closed when the object is
 * finalized, and also when this fails (see #VhostKernel:fd).
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 */
VhostVdpa *
vhost_vdpa_new_for_fd (gint fd, GError **error)
{
  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (VHOST_TYPE_VDPA, NULL, error, "fd", fd, NULL);
}

/* GObject */

static gboolean
vhost_vdpa_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  VhostVdpa *self = VHOST_VDPA (initable);
  guint64 offered = 0;
  GError *local = NULL;

  /* VhostKernel opens the device or adopts the fd. */
  if (!vhost_vdpa_initable_parent_iface->init (initable, cancellable, error))
    return FALSE;
  if (!vhost_kernel_get_backend_features (VHOST_KERNEL (self), &offered, &local))
    {
      /* A kernel without backend features: plain IOTLB messages. */
      if (!g_error_matches (local, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      g_clear_error (&local);
      return TRUE;
    }
  return vhost_vdpa_set_backend_features (self, offered & KNOWN_BACKEND_FEATURES, error);
}

static void
vhost_vdpa_initable_iface_init (GInitableIface *iface)
{
  vhost_vdpa_initable_parent_iface = g_type_interface_peek_parent (iface);
  iface->init = vhost_vdpa_initable_init;
}

static void
vhost_vdpa_init (VhostVdpa *self)
{
  self->mem_table = g_array_new (FALSE, FALSE, sizeof (MappedRegion));
}

static void
vhost_vdpa_finalize (GObject *object)
{
  VhostVdpa *self = VHOST_VDPA (object);

  /* VhostKernel closes the fd, which unmaps and unpins everything. */
  g_array_unref (self->mem_table);
  G_OBJECT_CLASS (vhost_vdpa_parent_class)->finalize (object);
}

static void
vhost_vdpa_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostVdpa *self = VHOST_VDPA (object);

  switch (prop_id)
    {
    case PROP_BACKEND_FEATURES:
      g_value_set_uint64 (value, vhost_kernel_get_acked_backend_features (VHOST_KERNEL (self)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_vdpa_class_init (VhostVdpaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  VhostKernelClass *kernel_class = VHOST_KERNEL_CLASS (klass);

  object_class->finalize = vhost_vdpa_finalize;
  object_class->get_property = vhost_vdpa_get_property;
  kernel_class->stop_queue = vdpa_stop_queue;
  /**
   * VhostVdpa:backend-features:
   *
   * The acked backend features, a mask of VHOST_FEATURE_MASK() of
   * #VhostVdpaBackendFeature bits.
   */
  properties[PROP_BACKEND_FEATURES] = g_param_spec_uint64 ("backend-features", "Backend features",
                                                           "The acked backend features, a mask of "
                                                           "VHOST_FEATURE_MASK() of VhostVdpaBackendFeature bits.",
                                                           0, G_MAXUINT64, 0,
                                                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                                             G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}
