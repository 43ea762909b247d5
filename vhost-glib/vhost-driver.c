/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostDriver: shareable guest memory, ring layout, device bring-up over a VhostBackend, submit and reap. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib-unix.h>

#include "vhost-driver.h"
#include "vhost-user-master.h"
#include "core/vhost-driver-ring.h"
#include "core/vhost-iotlb.h"

/**
 * SECTION:vhost-driver
 * @title: VhostDriver
 * @short_description: the driver side of a device
 *
 * A #VhostDriver plays the part a guest's virtio driver plays: it owns guest
 * memory (a memfd the back-end maps), lays out split or packed rings in it, brings
 * the device up over any #VhostBackend and then submits chains of buffers and
 * reaps their completions. Tests, tools and libblkio-style programs use it to move
 * data through a vhost device themselves.
 *
 * Buffers come from vhost_driver_alloc(); their contents are reached with
 * vhost_driver_get_host_address() (C) or vhost_driver_write() and
 * vhost_driver_read() (bindings). vhost_driver_submit() adds a chain (readable
 * buffers, then writable ones) with a tag; vhost_driver_kick() tells the device,
 * when it asked to be told. Completions are reaped by polling with
 * vhost_driver_reap() (and vhost_driver_wait() to sleep on the call eventfd), or
 * delivered as callbacks on the driver's #GMainContext with vhost_driver_watch().
 *
 * The bring-up in vhost_driver_start() follows what QEMU does: features (and
 * protocol features where the back-end has them, see
 * vhost_backend_negotiate_protocol()), owner, memory table, then per queue the
 * size, base, addresses, kick and call eventfds, and enable; the device status
 * where the back-end has one (vhost_backend_has_status()). vhost_driver_stop()
 * stops the queues with GET_VRING_BASE and keeps what it returned
 * (vhost_driver_get_vring_base()).
 *
 * With #VhostDriver:access-platform, a vhost-user device goes through a
 * device IOTLB (%VHOST_VIRTIO_F_ACCESS_PLATFORM): the driver's guest addresses
 * are then its I/O virtual addresses, and the driver keeps the back-end's
 * IOTLB as a platform IOMMU would: it maps its whole memory when the device
 * starts, or (#VhostDriver:iotlb-page-size) answers each IOTLB miss with the
 * page that holds the address, as QEMU's vIOMMU does.
 *
 * On a #VhostUserMaster, the device survives its back-end: when the back-end
 * process dies (#VhostUserMaster::disconnected) and a new one listens on the same
 * socket path, vhost_driver_reconnect() or vhost_driver_reconnect_async() brings
 * the device up on it with the same rings, and the requests in flight complete
 * once each (see the "Restarting a back-end" chapter).
 *
 * A #VhostDriver is not thread-safe: use it from one thread, the one whose
 * thread-default #GMainContext was current when it was created.
 *
 * A driver makes its guest memory when it is constructed, so that one made from
 * its properties with g_object_new() (as bindings make objects) works as well as
 * one from vhost_driver_new(). If it cannot (no #VhostDriver:backend, a
 * #VhostDriver:memory-size that is not a positive multiple of 4096 bytes per
 * region, no memory), g_initable_init() (and so g_initable_new() and
 * vhost_driver_new()) fails with the reason, and so does every call that needs
 * the memory.
 *
 * Reading a virtio-blk disk's first sector, once the device is up:
 * |[<!-- language="C" -->
 * g_autoptr(VhostDriver) driver = vhost_driver_new (VHOST_BACKEND (master), 1 << 20, &error);
 * struct { guint32 type, reserved; guint64 sector; } header = { 0, 0, 0 };  // VIRTIO_BLK_T_IN
 * guint64 out, in, tag;
 * guint len;
 *
 * if (driver == NULL ||
 *     !vhost_driver_start (driver, 1, 64, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &error) ||
 *     !vhost_driver_alloc (driver, sizeof header, &out, &error) ||
 *     !vhost_driver_alloc (driver, 512 + 1, &in, &error))
 *   return FALSE;
 * memcpy (vhost_driver_get_host_address (driver, out, sizeof header), &header, sizeof header);
 * if (!vhost_driver_submit (driver, 0, &(VhostDriverBuffer) { out, sizeof header }, 1,
 *                           &(VhostDriverBuffer) { in, 512 + 1 }, 1, 42, &error))
 *   return FALSE;
 * vhost_driver_kick (driver, 0);
 * while (!vhost_driver_reap (driver, 0, &tag, &len, &error))
 *   if (error != NULL || !vhost_driver_wait (driver, 0, 10000, &error))
 *     return FALSE;
 * // The sector is at `in`, its status byte (0: done) after it.
 * ]|
 */

/**
 * VhostDriver:
 *
 * The driver side of a device. All its fields are private.
 */

#define ALLOC_ALIGN 64
#define MAX_INDIRECT 64
/* The protocol features the driver takes when a vhost-user back-end offers them. */
#define WANTED_PROTOCOL_FEATURES                                                                       \
  (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_CONFIG |        \
   VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)

typedef struct
{
  guint64 addr;
  guint64 size;
} Extent;

typedef struct
{
  VhostDriverRing ring;
  guint64 area_addr[4]; /* desc, avail, used, indirect tables: allocations to free */
  int kick_fd;          /* (owned) */
  int call_fd;          /* (owned) */
  guint base;           /* what GET_VRING_BASE returned at stop */
  GSource *watch;       /* (owned) (nullable) */
  VhostDriverCompletionFunc func;
  gpointer func_data;
  GDestroyNotify func_notify;
} DriverQueue;

struct _VhostDriver
{
  GObject parent_instance;

  VhostBackend *backend; /* (owned) */
  GMainContext *context; /* (owned) */
  guint64 memory_size;
  guint n_regions;
  int memfd;             /* (owned) */
  guint8 *memory;        /* (owned) mapping of the whole memfd */
  GArray *free_extents;  /* (element-type Extent) sorted by address */
  GHashTable *allocated; /* guest address → size */

  gboolean running;
  gboolean reconnecting; /* a vhost_driver_reconnect_async() is under way */
  guint64 acked_features;
  guint64 protocol_features; /* acked by a vhost-user back-end; 0 for the others */
  guint queue_size;
  GArray *queues;        /* (element-type DriverQueue) */
  /* The inflight area GET_INFLIGHT_FD gave at start, for the back-ends that follow. */
  int inflight_fd;       /* (owned) -1 without one */
  guint64 inflight_size;
  guint64 inflight_offset;
  GError *init_error;    /* (owned) (nullable) why constructed() could not make the memory */
  /* ACCESS_PLATFORM on vhost-user: the IOTLB the driver keeps in the back-end. */
  gboolean access_platform;
  gboolean inflight;       /* ask a vhost-user back-end for an inflight area */
  guint64 iotlb_page_size; /* 0: the whole memory at start; else a page per miss */
  gulong iotlb_handler;    /* on the master's iotlb-message */
};

static void vhost_driver_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VhostDriver, vhost_driver, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, vhost_driver_initable_iface_init))

G_DEFINE_BOXED_TYPE (VhostDriverBuffer, vhost_driver_buffer, vhost_driver_buffer_copy, vhost_driver_buffer_free)

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_MEMORY_SIZE,
  PROP_N_REGIONS,
  PROP_RUNNING,
  PROP_ACKED_FEATURES,
  PROP_ACCESS_PLATFORM,
  PROP_IOTLB_PAGE_SIZE,
  PROP_INFLIGHT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/**
 * vhost_driver_buffer_copy:
 * @buffer: a #VhostDriverBuffer
 *
 * Copies a buffer description.
 *
 * Returns: (transfer full): a copy of @buffer
 */
VhostDriverBuffer *
vhost_driver_buffer_copy (const VhostDriverBuffer *buffer)
{
  return g_memdup2 (buffer, sizeof *buffer);
}

/**
 * vhost_driver_buffer_free:
 * @buffer: a #VhostDriverBuffer from vhost_driver_buffer_copy()
 *
 * Frees @buffer.
 */
void
vhost_driver_buffer_free (VhostDriverBuffer *buffer)
{
  g_free (buffer);
}

/* Guest addresses: the memory is one range starting at guest address 0, shown to
 * the back-end as n_regions regions of equal size, each mapped on its own. */
static void *
hva_of (VhostDriver *self, guint64 addr, guint64 len)
{
  if (self->memory == NULL || addr > self->memory_size || len > self->memory_size - addr)
    return NULL;
  return self->memory + addr;
}

/* Whether the driver has its memory; if it has not, the error that says why. */
static gboolean
driver_check_memory (VhostDriver *self, GError **error)
{
  if (self->init_error == NULL)
    return TRUE;
  g_set_error (error, self->init_error->domain, self->init_error->code, "The driver has no guest memory: %s",
               self->init_error->message);
  return FALSE;
}

static void
free_extent (VhostDriver *self, guint64 addr, guint64 size)
{
  guint i;

  for (i = 0; i < self->free_extents->len; i++)
    if (g_array_index (self->free_extents, Extent, i).addr > addr)
      break;
  g_array_insert_val (self->free_extents, i, ((Extent) { addr, size }));
  /* Merge with the next and the previous extent. */
  if (i + 1 < self->free_extents->len)
    {
      Extent *e = &g_array_index (self->free_extents, Extent, i), *next = e + 1;

      if (e->addr + e->size == next->addr)
        {
          e->size += next->size;
          g_array_remove_index (self->free_extents, i + 1);
        }
    }
  if (i > 0)
    {
      Extent *prev = &g_array_index (self->free_extents, Extent, i - 1), *e = prev + 1;

      if (prev->addr + prev->size == e->addr)
        {
          prev->size += e->size;
          g_array_remove_index (self->free_extents, i);
        }
    }
}

static gboolean
alloc_aligned (VhostDriver *self, gsize size, gsize align, guint64 *addr, GError **error)
{
  if (!driver_check_memory (self, error))
    return FALSE;
  if (size == 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "Cannot allocate 0 bytes");
      return FALSE;
    }
  if (size > self->memory_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NO_SPACE,
                   "%" G_GSIZE_FORMAT " bytes do not fit in %" G_GUINT64_FORMAT " bytes of driver memory", size,
                   self->memory_size);
      return FALSE;
    }
  size = (size + ALLOC_ALIGN - 1) & ~(guint64) (ALLOC_ALIGN - 1);
  for (guint i = 0; i < self->free_extents->len; i++)
    {
      Extent *e = &g_array_index (self->free_extents, Extent, i);
      guint64 start = (e->addr + align - 1) & ~(guint64) (align - 1);
      guint64 pad = start - e->addr;

      if (pad > e->size || e->size - pad < size)
        continue;
      {
        Extent before = { e->addr, pad };
        Extent after = { start + size, e->size - pad - size };

        g_array_remove_index (self->free_extents, i);
        if (after.size > 0)
          free_extent (self, after.addr, after.size);
        if (before.size > 0)
          free_extent (self, before.addr, before.size);
      }
      g_hash_table_insert (self->allocated, g_memdup2 (&start, sizeof start), g_memdup2 (&size, sizeof size));
      *addr = start;
      return TRUE;
    }
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NO_SPACE,
               "No room for %" G_GSIZE_FORMAT " bytes in %" G_GUINT64_FORMAT " bytes of driver memory", size,
               self->memory_size);
  return FALSE;
}

/**
 * vhost_driver_alloc:
 * @driver: a #VhostDriver
 * @size: bytes to allocate
 * @addr: (out): the guest address of the buffer
 * @error: return location for a #GError
 *
 * Allocates a buffer in the driver's guest memory, 64-byte aligned.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NO_SPACE when the memory is full
 */
gboolean
vhost_driver_alloc (VhostDriver *driver, gsize size, guint64 *addr, GError **error)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return alloc_aligned (driver, size, ALLOC_ALIGN, addr, error);
}

/**
 * vhost_driver_alloc_address:
 * @driver: a #VhostDriver
 * @size: bytes to allocate
 * @error: return location for a #GError
 *
 * Allocates a buffer in the driver's guest memory, 64-byte aligned, as
 * vhost_driver_alloc() does, and returns its address: the form for languages
 * where out-arguments are awkward.
 *
 * Returns: the guest address of the buffer; on error 0, with @error set (0 is
 *   also the address of a first allocation: check @error)
 */
guint64
vhost_driver_alloc_address (VhostDriver *driver, gsize size, GError **error)
{
  guint64 addr = 0;

  return vhost_driver_alloc (driver, size, &addr, error) ? addr : 0;
}

/**
 * vhost_driver_free:
 * @driver: a #VhostDriver
 * @addr: a guest address vhost_driver_alloc() returned
 *
 * Frees a buffer. The device must be done with it.
 */
void
vhost_driver_free (VhostDriver *driver, guint64 addr)
{
  gpointer key, size;

  g_return_if_fail (VHOST_IS_DRIVER (driver));

  if (!g_hash_table_steal_extended (driver->allocated, &addr, &key, &size))
    {
      g_critical ("vhost_driver_free: 0x%" G_GINT64_MODIFIER "x was not allocated", addr);
      return;
    }
  free_extent (driver, addr, *(guint64 *) size);
  g_free (key);
  g_free (size);
}

/**
 * vhost_driver_get_host_address: (skip)
 * @driver: a #VhostDriver
 * @addr: a guest address
 * @len: the bytes from @addr the caller will touch
 *
 * Translates a guest address of the driver's memory to this process's address.
 *
 * Returns: where @addr is in this process, or %NULL if [@addr, @addr + @len) is
 *   not inside the driver's memory
 */
gpointer
vhost_driver_get_host_address (VhostDriver *driver, guint64 addr, gsize len)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), NULL);
  return hva_of (driver, addr, len);
}

static void *
checked_hva (VhostDriver *self, guint64 addr, gsize len, GError **error)
{
  void *hva;

  if (!driver_check_memory (self, error))
    return NULL;
  hva = hva_of (self, addr, len);
  if (hva == NULL)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                 "[0x%" G_GINT64_MODIFIER "x, +%" G_GSIZE_FORMAT ") is outside the driver's %" G_GUINT64_FORMAT
                 " bytes of memory", addr, len, self->memory_size);
  return hva;
}

/**
 * vhost_driver_write:
 * @driver: a #VhostDriver
 * @addr: a guest address
 * @data: the bytes to store there
 * @error: return location for a #GError
 *
 * Copies @data into guest memory.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT if the range
 *   is outside the driver's memory
 */
gboolean
vhost_driver_write (VhostDriver *driver, guint64 addr, GBytes *data, GError **error)
{
  gsize size;
  const guint8 *p;

  g_return_val_if_fail (data != NULL, FALSE);

  p = g_bytes_get_data (data, &size);
  return vhost_driver_write_data (driver, addr, p, size, error);
}

/**
 * vhost_driver_write_data:
 * @driver: a #VhostDriver
 * @addr: a guest address
 * @data: (array length=len): the bytes to store there
 * @len: how many bytes
 * @error: return location for a #GError
 *
 * Copies @len bytes into guest memory, as vhost_driver_write() does: a byte
 * array in bindings, without a #GBytes.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT if the range
 *   is outside the driver's memory
 */
gboolean
vhost_driver_write_data (VhostDriver *driver, guint64 addr, const guint8 *data, gsize len, GError **error)
{
  void *hva;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (len == 0 || data != NULL, FALSE);

  hva = checked_hva (driver, addr, len, error);
  if (hva == NULL)
    return FALSE;
  if (len > 0)
    memcpy (hva, data, len);
  return TRUE;
}

/**
 * vhost_driver_read:
 * @driver: a #VhostDriver
 * @addr: a guest address
 * @len: how many bytes to copy
 * @error: return location for a #GError
 *
 * Copies bytes out of guest memory.
 *
 * Returns: (transfer full): the bytes, or %NULL with %VHOST_ERROR_INVALID_ARGUMENT
 *   if the range is outside the driver's memory
 */
GBytes *
vhost_driver_read (VhostDriver *driver, guint64 addr, gsize len, GError **error)
{
  gsize size;
  guint8 *data = vhost_driver_read_data (driver, addr, len, &size, error);

  return data == NULL ? NULL : g_bytes_new_take (data, size);
}

/**
 * vhost_driver_read_data:
 * @driver: a #VhostDriver
 * @addr: a guest address
 * @len: how many bytes to copy
 * @out_len: (out): the length of the returned array, @len
 * @error: return location for a #GError
 *
 * Copies bytes out of guest memory, as vhost_driver_read() does, into memory
 * that the caller frees with g_free(): a byte array in bindings, without a
 * #GBytes.
 *
 * Returns: (transfer full) (array length=out_len) (nullable): the bytes, or %NULL
 *   with %VHOST_ERROR_INVALID_ARGUMENT if the range is outside the driver's memory
 */
guint8 *
vhost_driver_read_data (VhostDriver *driver, guint64 addr, gsize len, gsize *out_len, GError **error)
{
  guint8 *data;
  void *hva;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), NULL);
  g_return_val_if_fail (out_len != NULL, NULL);

  *out_len = 0;
  hva = checked_hva (driver, addr, len, error);
  if (hva == NULL)
    return NULL;
  data = g_malloc (MAX (len, 1));
  memcpy (data, hva, len);
  *out_len = len;
  return data;
}

/* The guest memory, made when the driver is constructed. */
static gboolean
driver_make_memory (VhostDriver *self, GError **error)
{
  void *map;

  if (self->backend == NULL)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "A VhostDriver needs a backend");
      return FALSE;
    }
  if (self->memory_size == 0 || self->memory_size % (4096 * (guint64) self->n_regions) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "The memory size %" G_GUINT64_FORMAT " is not a positive multiple of %u pages",
                   self->memory_size, self->n_regions);
      return FALSE;
    }
  self->memfd = memfd_create ("vhost-driver", MFD_CLOEXEC);
  if (self->memfd < 0 || ftruncate (self->memfd, self->memory_size) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot create %" G_GUINT64_FORMAT " bytes of driver memory: %s",
                   self->memory_size, g_strerror (errsv));
      return FALSE;
    }
  map = mmap (NULL, self->memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->memfd, 0);
  if (map == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot map the driver memory: %s", g_strerror (errsv));
      return FALSE;
    }
  self->memory = map;
  g_array_set_size (self->free_extents, 0);
  free_extent (self, 0, self->memory_size);
  return TRUE;
}

static void
vhost_driver_constructed (GObject *object)
{
  VhostDriver *self = VHOST_DRIVER (object);

  G_OBJECT_CLASS (vhost_driver_parent_class)->constructed (object);
  driver_make_memory (self, &self->init_error);
}

static gboolean
vhost_driver_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  VhostDriver *self = VHOST_DRIVER (initable);

  if (self->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return FALSE;
    }
  return TRUE;
}

static void
vhost_driver_initable_iface_init (GInitableIface *iface)
{
  iface->init = vhost_driver_initable_init;
}

/**
 * vhost_driver_new:
 * @backend: the device's control plane
 * @memory_size: bytes of guest memory, a multiple of 4096
 * @error: return location for a #GError
 *
 * Creates a driver with @memory_size bytes of shareable guest memory (one
 * region; set #VhostDriver:n-regions through g_initable_new() or g_object_new()
 * for more).
 *
 * Returns: (transfer full): the driver, or %NULL with @error set
 */
VhostDriver *
vhost_driver_new (VhostBackend *backend, guint64 memory_size, GError **error)
{
  g_return_val_if_fail (VHOST_IS_BACKEND (backend), NULL);

  return g_initable_new (VHOST_TYPE_DRIVER, NULL, error, "backend", backend, "memory-size", memory_size, NULL);
}

static void
vhost_driver_init (VhostDriver *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->memfd = -1;
  self->inflight_fd = -1;
  self->inflight = TRUE;
  self->n_regions = 1;
  self->free_extents = g_array_new (FALSE, FALSE, sizeof (Extent));
  self->allocated = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  self->queues = g_array_new (FALSE, TRUE, sizeof (DriverQueue));
}

static DriverQueue *
get_queue (VhostDriver *self, guint index)
{
  return &g_array_index (self->queues, DriverQueue, index);
}

static void
queue_unwatch (DriverQueue *q)
{
  if (q->watch != NULL)
    g_source_destroy (q->watch);
  g_clear_pointer (&q->watch, g_source_unref);
  if (q->func_notify != NULL)
    q->func_notify (q->func_data);
  q->func = NULL;
  q->func_data = NULL;
  q->func_notify = NULL;
}

/* Forget the queues: free their areas and fds. */
static void
clear_queues (VhostDriver *self)
{
  for (guint i = 0; i < self->queues->len; i++)
    {
      DriverQueue *q = get_queue (self, i);

      queue_unwatch (q);
      for (guint j = 0; j < G_N_ELEMENTS (q->area_addr); j++)
        if (q->area_addr[j] != G_MAXUINT64)
          vhost_driver_free (self, q->area_addr[j]);
      if (q->kick_fd >= 0)
        close (q->kick_fd);
      if (q->call_fd >= 0)
        close (q->call_fd);
      vhost_driver_ring_clear (&q->ring);
    }
}

static void
clear_inflight (VhostDriver *self)
{
  if (self->inflight_fd >= 0)
    close (self->inflight_fd);
  self->inflight_fd = -1;
  self->inflight_size = self->inflight_offset = 0;
}

static void
vhost_driver_dispose (GObject *object)
{
  VhostDriver *self = VHOST_DRIVER (object);

  for (guint i = 0; i < self->queues->len; i++)
    queue_unwatch (get_queue (self, i));
  if (self->iotlb_handler != 0)
    g_clear_signal_handler (&self->iotlb_handler, self->backend);
  G_OBJECT_CLASS (vhost_driver_parent_class)->dispose (object);
}

static void
vhost_driver_finalize (GObject *object)
{
  VhostDriver *self = VHOST_DRIVER (object);

  clear_queues (self);
  clear_inflight (self);
  g_array_unref (self->queues);
  if (self->memory != NULL)
    munmap (self->memory, self->memory_size);
  if (self->memfd >= 0)
    close (self->memfd);
  g_array_unref (self->free_extents);
  g_hash_table_unref (self->allocated);
  g_clear_object (&self->backend);
  g_clear_error (&self->init_error);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (vhost_driver_parent_class)->finalize (object);
}

static void
vhost_driver_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostDriver *self = VHOST_DRIVER (object);

  switch (prop_id)
    {
    case PROP_BACKEND:
      g_value_set_object (value, self->backend);
      break;
    case PROP_MEMORY_SIZE:
      g_value_set_uint64 (value, self->memory_size);
      break;
    case PROP_N_REGIONS:
      g_value_set_uint (value, self->n_regions);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, self->acked_features);
      break;
    case PROP_ACCESS_PLATFORM:
      g_value_set_boolean (value, self->access_platform);
      break;
    case PROP_INFLIGHT:
      g_value_set_boolean (value, self->inflight);
      break;
    case PROP_IOTLB_PAGE_SIZE:
      g_value_set_uint64 (value, self->iotlb_page_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_driver_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostDriver *self = VHOST_DRIVER (object);

  switch (prop_id)
    {
    case PROP_BACKEND:
      self->backend = g_value_dup_object (value);
      break;
    case PROP_MEMORY_SIZE:
      self->memory_size = g_value_get_uint64 (value);
      break;
    case PROP_N_REGIONS:
      self->n_regions = g_value_get_uint (value);
      break;
    case PROP_ACCESS_PLATFORM:
      vhost_driver_set_access_platform (self, g_value_get_boolean (value));
      break;
    case PROP_INFLIGHT:
      vhost_driver_set_inflight (self, g_value_get_boolean (value));
      break;
    case PROP_IOTLB_PAGE_SIZE:
      vhost_driver_set_iotlb_page_size (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_driver_class_init (VhostDriverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = vhost_driver_constructed;
  object_class->dispose = vhost_driver_dispose;
  object_class->finalize = vhost_driver_finalize;
  object_class->get_property = vhost_driver_get_property;
  object_class->set_property = vhost_driver_set_property;

  /**
   * VhostDriver:backend:
   *
   * The device's control plane.
   */
  properties[PROP_BACKEND] = g_param_spec_object (
      "backend", "Backend", "The device's control plane.", VHOST_TYPE_BACKEND,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostDriver:memory-size:
   *
   * Bytes of guest memory the driver owns, a multiple of 4096 per region.
   */
  properties[PROP_MEMORY_SIZE] = g_param_spec_uint64 (
      "memory-size", "Memory size",
      "Bytes of guest memory the driver owns, a multiple of 4096 per region.", 0, G_MAXUINT64, 0,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostDriver:n-regions:
   *
   * How many memory regions of equal size the back-end is given for the guest
   * memory; each is mapped on its own by the back-end, so a buffer that crosses a
   * boundary is two pieces of memory there.
   */
  properties[PROP_N_REGIONS] = g_param_spec_uint (
      "n-regions", "N regions",
      "How many memory regions of equal size the back-end is given for the guest memory; each is "
      "mapped on its own by the back-end, so a buffer that crosses a boundary is two pieces of "
      "memory there.",
      1, 8, 1, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostDriver:running:
   *
   * Whether the device is up (between vhost_driver_start() and vhost_driver_stop()).
   */
  properties[PROP_RUNNING] = g_param_spec_boolean (
      "running", "Running",
      "Whether the device is up (between vhost_driver_start() and vhost_driver_stop()).", FALSE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostDriver:acked-features:
   *
   * The virtio features vhost_driver_start() negotiated.
   */
  properties[PROP_ACKED_FEATURES] = g_param_spec_uint64 (
      "acked-features", "Acked features", "The virtio features vhost_driver_start() negotiated.", 0,
      G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostDriver:access-platform:
   *
   * Whether vhost_driver_start() negotiates %VHOST_VIRTIO_F_ACCESS_PLATFORM
   * with a vhost-user back-end that offers it (with the protocol features
   * %VHOST_USER_PROTOCOL_F_BACKEND_REQ and %VHOST_USER_PROTOCOL_F_REPLY_ACK,
   * which IOTLB misses need). The ring and buffer addresses the back-end sees
   * are then I/O virtual addresses, equal to the driver's guest addresses, and
   * the driver fills the back-end's IOTLB (see #VhostDriver:iotlb-page-size)
   * and answers its misses (#VhostUserMaster::iotlb-message) on its
   * #GMainContext or inside its calls: a program that waits for completions
   * without iterating that context should map the whole memory at start.
   * Without it, %VHOST_VIRTIO_F_ACCESS_PLATFORM is never acked on vhost-user.
   * Other back-ends do not support it. Takes effect at the next start.
   */
  properties[PROP_ACCESS_PLATFORM] = g_param_spec_boolean (
      "access-platform", "Access platform",
      "Whether vhost_driver_start() negotiates VHOST_VIRTIO_F_ACCESS_PLATFORM with a vhost-user "
      "back-end that offers it.",
      FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostDriver:iotlb-page-size:
   *
   * With #VhostDriver:access-platform: 0 (the default) maps the driver's whole
   * memory in the back-end's IOTLB with one update when the device starts, so
   * that it never misses; a size in bytes sends nothing at start and answers
   * each IOTLB miss with an update of the page of that size that holds the
   * address, as a vIOMMU that maps pages does. Takes effect at the next start.
   */
  properties[PROP_IOTLB_PAGE_SIZE] = g_param_spec_uint64 (
      "iotlb-page-size", "IOTLB page size",
      "With access-platform: 0 maps the driver's whole memory in the back-end's IOTLB at start; a "
      "size in bytes answers each IOTLB miss with the page of that size that holds the address.",
      0, G_MAXUINT64, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostDriver:inflight:
   *
   * Whether vhost_driver_start() asks a vhost-user back-end that offers
   * %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD for an inflight area (the default),
   * which the back-end updates for every request it takes and gives back, so
   * that vhost_driver_reconnect() can have a new back-end resume what a dead
   * one held. A program that never reconnects can turn it off and save the
   * back-end that work; vhost_driver_reconnect() then fails while requests are
   * in flight. Takes effect at the next start.
   */
  properties[PROP_INFLIGHT] = g_param_spec_boolean (
      "inflight", "Inflight area",
      "Whether vhost_driver_start() asks a vhost-user back-end for an inflight area, so that a "
      "new back-end can resume the requests a dead one held.",
      TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/**
 * vhost_driver_get_backend:
 * @driver: a #VhostDriver
 *
 * Gets the device's control plane.
 *
 * Returns: (transfer none): the device's control plane
 */
VhostBackend *
vhost_driver_get_backend (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), NULL);
  return driver->backend;
}

/**
 * vhost_driver_get_memory_size:
 * @driver: a #VhostDriver
 *
 * Gets bytes of guest memory the driver owns.
 *
 * Returns: bytes of guest memory the driver owns
 */
guint64
vhost_driver_get_memory_size (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->memory_size;
}

/**
 * vhost_driver_get_n_regions:
 * @driver: a #VhostDriver
 *
 * Gets how many regions the guest memory is shown to the back-end as.
 *
 * Returns: how many regions the guest memory is shown to the back-end as
 */
guint
vhost_driver_get_n_regions (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->n_regions;
}

/**
 * vhost_driver_get_memory_fd:
 * @driver: a #VhostDriver
 *
 * Gets the memfd behind the guest memory, which guest address 0 is the start of.
 *
 * Returns: the memfd, owned by @driver
 */
gint
vhost_driver_get_memory_fd (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), -1);
  return driver->memfd;
}

/**
 * vhost_driver_get_running:
 * @driver: a #VhostDriver
 *
 * Gets the value of #VhostDriver:running.
 *
 * Returns: #VhostDriver:running
 */
gboolean
vhost_driver_get_running (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  return driver->running;
}

/**
 * vhost_driver_get_acked_features:
 * @driver: a #VhostDriver
 *
 * Gets the value of #VhostDriver:acked-features.
 *
 * Returns: #VhostDriver:acked-features
 */
guint64
vhost_driver_get_acked_features (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->acked_features;
}

/**
 * vhost_driver_get_n_queues:
 * @driver: a #VhostDriver
 *
 * Gets the number of queues vhost_driver_start() set up.
 *
 * Returns: the number of queues vhost_driver_start() set up
 */
guint
vhost_driver_get_n_queues (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->queues->len;
}

/**
 * vhost_driver_get_queue_size:
 * @driver: a #VhostDriver
 *
 * Gets the size of each queue vhost_driver_start() set up.
 *
 * Returns: the size of each queue vhost_driver_start() set up
 */
guint
vhost_driver_get_queue_size (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->queue_size;
}

/**
 * vhost_driver_set_access_platform:
 * @driver: a #VhostDriver
 * @access_platform: whether to negotiate %VHOST_VIRTIO_F_ACCESS_PLATFORM
 *
 * Sets #VhostDriver:access-platform.
 */
void
vhost_driver_set_access_platform (VhostDriver *driver, gboolean access_platform)
{
  g_return_if_fail (VHOST_IS_DRIVER (driver));

  access_platform = !!access_platform;
  if (driver->access_platform == access_platform)
    return;
  driver->access_platform = access_platform;
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_ACCESS_PLATFORM]);
}

/**
 * vhost_driver_get_access_platform:
 * @driver: a #VhostDriver
 *
 * Gets #VhostDriver:access-platform.
 *
 * Returns: whether the driver negotiates %VHOST_VIRTIO_F_ACCESS_PLATFORM
 */
gboolean
vhost_driver_get_access_platform (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  return driver->access_platform;
}

/**
 * vhost_driver_set_inflight:
 * @driver: a #VhostDriver
 * @inflight: whether to ask a vhost-user back-end for an inflight area
 *
 * Sets #VhostDriver:inflight.
 */
void
vhost_driver_set_inflight (VhostDriver *driver, gboolean inflight)
{
  g_return_if_fail (VHOST_IS_DRIVER (driver));

  inflight = !!inflight;
  if (driver->inflight == inflight)
    return;
  driver->inflight = inflight;
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_INFLIGHT]);
}

/**
 * vhost_driver_get_inflight:
 * @driver: a #VhostDriver
 *
 * Gets #VhostDriver:inflight.
 *
 * Returns: whether the driver asks a vhost-user back-end for an inflight area
 */
gboolean
vhost_driver_get_inflight (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  return driver->inflight;
}

/**
 * vhost_driver_set_iotlb_page_size:
 * @driver: a #VhostDriver
 * @page_size: 0 to map the whole memory at start, or the size in bytes of the
 *   page an IOTLB miss is answered with
 *
 * Sets #VhostDriver:iotlb-page-size.
 */
void
vhost_driver_set_iotlb_page_size (VhostDriver *driver, guint64 page_size)
{
  g_return_if_fail (VHOST_IS_DRIVER (driver));

  if (driver->iotlb_page_size == page_size)
    return;
  driver->iotlb_page_size = page_size;
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_IOTLB_PAGE_SIZE]);
}

/**
 * vhost_driver_get_iotlb_page_size:
 * @driver: a #VhostDriver
 *
 * Gets #VhostDriver:iotlb-page-size.
 *
 * Returns: the page size of IOTLB updates, or 0 for the whole memory at start
 */
guint64
vhost_driver_get_iotlb_page_size (VhostDriver *driver)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  return driver->iotlb_page_size;
}

/**
 * vhost_driver_get_vring_base:
 * @driver: a #VhostDriver
 * @queue: a queue index
 *
 * Gets a queue's final state after vhost_driver_stop(): what the back-end
 * returned for GET_VRING_BASE. For a split ring, the next available index; for a
 * packed ring, the next available index with its wrap counter in bit 15, and the
 * next used index with its wrap counter in bits 16 to 31, as the specification
 * gives them (a back-end that predates that leaves bits 16 to 31 zero).
 *
 * Returns: the queue's final base
 */
guint
vhost_driver_get_vring_base (VhostDriver *driver, guint queue)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  g_return_val_if_fail (queue < driver->queues->len, 0);
  return get_queue (driver, queue)->base;
}

static gboolean
has_feature (guint64 features, guint bit)
{
  return (features & VHOST_FEATURE_MASK (bit)) != 0;
}

/* Lay out one queue's rings and indirect tables in guest memory. */
static gboolean
layout_queue (VhostDriver *self, DriverQueue *q, guint num, GError **error)
{
  VhostDriverRing *ring = &q->ring;
  guint64 sizes[4];
  gboolean packed = has_feature (self->acked_features, VHOST_VIRTIO_F_RING_PACKED);
  gboolean indirect = has_feature (self->acked_features, VHOST_VIRTIO_F_RING_INDIRECT_DESC);

  vhost_driver_ring_sizes (num, packed, &sizes[0], &sizes[1], &sizes[2]);
  sizes[3] = indirect ? (guint64) num * MAX_INDIRECT * 16 : 0;
  for (guint j = 0; j < 4; j++)
    {
      /* The device needs each ring area, and each indirect table, inside one region:
       * aligning an area to its size (rounded up to a power of 2) and an indirect
       * table to its own size keeps them off region boundaries. */
      guint64 align = j == 3 ? MAX_INDIRECT * 16 : MAX (64, (guint64) 1 << g_bit_storage (sizes[j] - 1));

      q->area_addr[j] = G_MAXUINT64;
      if (sizes[j] > 0 && !alloc_aligned (self, sizes[j], align, &q->area_addr[j], error))
        return FALSE;
    }
  memset (ring, 0, sizeof *ring);
  if (packed)
    {
      ring->pdesc = hva_of (self, q->area_addr[0], sizes[0]);
      ring->driver_event = hva_of (self, q->area_addr[1], sizes[1]);
      ring->device_event = hva_of (self, q->area_addr[2], sizes[2]);
      memset (ring->device_event, 0, sizes[2]);
    }
  else
    {
      ring->desc = hva_of (self, q->area_addr[0], sizes[0]);
      ring->avail = hva_of (self, q->area_addr[1], sizes[1]);
      ring->used = hva_of (self, q->area_addr[2], sizes[2]);
      memset (ring->used, 0, sizes[2]);
    }
  if (indirect)
    {
      ring->indirect_hva = hva_of (self, q->area_addr[3], sizes[3]);
      ring->indirect_gpa = q->area_addr[3];
      ring->max_indirect = MAX_INDIRECT;
    }
  vhost_driver_ring_init (ring, num, packed, has_feature (self->acked_features, VHOST_VIRTIO_F_RING_EVENT_IDX),
                          indirect);
  return TRUE;
}

/* The user address of a guest address: where the driver maps it (the back-end
 * translates ring addresses with the memory table's userspace_addr). */
static guint64
uaddr_of (VhostDriver *self, guint64 addr)
{
  return (guint64) (guintptr) self->memory + addr;
}

/* Whether the device goes through the IOTLB the driver keeps in a vhost-user back-end. */
static gboolean
has_iotlb (VhostDriver *self)
{
  return VHOST_IS_USER_MASTER (self->backend) && has_feature (self->acked_features, VHOST_VIRTIO_F_ACCESS_PLATFORM);
}

/* What the back-end sees of a guest address in the rings: an I/O virtual
 * address (the same) through the IOTLB, or the user address. */
static guint64
ring_addr_of (VhostDriver *self, guint64 addr)
{
  return has_iotlb (self) ? addr : uaddr_of (self, addr);
}

/* The back-end misses an IOTLB translation (or reports an access it was
 * refused): the driver, as the platform IOMMU, maps what holds the address.
 * A miss outside its memory gets no update (the specification: the front-end
 * sends nothing for an invalid miss). */
static void
iotlb_message_cb (VhostUserMaster *master, guint64 iova, guint64 size, guint64 uaddr, guint perm, guint type,
                  gpointer user_data)
{
  VhostDriver *self = user_data;
  g_autoptr(GError) error = NULL;
  guint64 start = 0, len = self->memory_size;

  if (!has_iotlb (self))
    return;
  if (type != VHOST_IOTLB_MESSAGE_MISS)
    {
      g_debug ("The back-end was refused %s access at IOVA 0x%" G_GINT64_MODIFIER "x (IOTLB message type %u)",
               vhost_iotlb_perm_name (perm), iova, type);
      return;
    }
  if (iova >= self->memory_size)
    {
      g_debug ("IOTLB miss at IOVA 0x%" G_GINT64_MODIFIER "x, outside the driver's memory: not answered", iova);
      return;
    }
  if (self->iotlb_page_size > 0)
    {
      start = iova - iova % self->iotlb_page_size;
      len = MIN (self->iotlb_page_size, self->memory_size - start);
    }
  if (!vhost_user_master_iotlb_msg (master, start, len, uaddr_of (self, start),
                                    VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE, VHOST_IOTLB_MESSAGE_UPDATE,
                                    &error))
    g_debug ("Answering the IOTLB miss at IOVA 0x%" G_GINT64_MODIFIER "x: %s", iova, error->message);
}

/* With the IOTLB, after the memory table: answer the back-end's misses, and map
 * the whole memory unless pages are mapped as they are missed. */
static gboolean
setup_iotlb (VhostDriver *self, GError **error)
{
  if (!has_iotlb (self))
    return TRUE;
  if (self->iotlb_handler == 0)
    self->iotlb_handler = g_signal_connect (self->backend, "iotlb-message", G_CALLBACK (iotlb_message_cb), self);
  return self->iotlb_page_size > 0 ||
         vhost_user_master_iotlb_msg (VHOST_USER_MASTER (self->backend), 0, self->memory_size, uaddr_of (self, 0),
                                      VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE, VHOST_IOTLB_MESSAGE_UPDATE,
                                      error);
}

/* Features and protocol features. A restore asks the back-end for exactly what
 * the device runs with, and fails if it no longer has all of it. */
static gboolean
negotiate (VhostDriver *self, guint64 wanted, gboolean restore, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 offered, acked, protocol = 0;
  guint64 wanted_protocol = WANTED_PROTOCOL_FEATURES & ~(self->inflight ? 0 : VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
  const guint64 iotlb_protocol = VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK;

  if (!vhost_backend_get_features (self->backend, &offered, error))
    return FALSE;
  /* IN_ORDER lets a device give back a run of buffers with one used entry; the
   * driver does not take completions that way, so it never acks it. */
  acked = offered & (restore ? self->acked_features : wanted | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES)) &
          ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER);
  /* On vhost-user, ACCESS_PLATFORM means the IOTLB the driver keeps: only when
   * asked for, with the back-end channel its misses come on. */
  if (VHOST_IS_USER_MASTER (self->backend) && !restore)
    {
      acked &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
      if (self->access_platform)
        {
          acked |= offered & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
          wanted_protocol |= iotlb_protocol;
        }
    }
  /* A back-end without protocol features (or that did not offer them) says
   * NOT_SUPPORTED, and the bit that announces them is not acked. */
  if ((!restore || (acked & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES))) &&
      !vhost_backend_negotiate_protocol (self->backend, restore ? self->protocol_features : wanted_protocol,
                                         &protocol, &local_error))
    {
      if (!g_error_matches (local_error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      acked &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
    }
  if (VHOST_IS_USER_MASTER (self->backend) && !restore && (protocol & iotlb_protocol) != iotlb_protocol)
    acked &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
  if (restore && (acked != self->acked_features || protocol != self->protocol_features))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "The back-end offers features 0x%" G_GINT64_MODIFIER "x and protocol features 0x%"
                   G_GINT64_MODIFIER "x, without all of the 0x%" G_GINT64_MODIFIER "x and 0x%" G_GINT64_MODIFIER
                   "x the device runs with", acked, protocol, self->acked_features, self->protocol_features);
      return FALSE;
    }
  self->acked_features = acked;
  self->protocol_features = protocol;
  return TRUE;
}

static gboolean
set_mem_table (VhostDriver *self, GError **error)
{
  g_autoptr(GPtrArray) regions = g_ptr_array_new_with_free_func ((GDestroyNotify) vhost_memory_region_unref);
  guint64 region_size = self->memory_size / self->n_regions;

  for (guint i = 0; i < self->n_regions; i++)
    {
      guint64 gpa = i * region_size;

      g_ptr_array_add (regions, vhost_memory_region_new (gpa, region_size, uaddr_of (self, gpa), self->memfd, gpa));
    }
  return vhost_backend_set_mem_table (self->backend, (VhostMemoryRegion **) regions->pdata, regions->len, error);
}

/* The base a queue starts from again on a back-end that replaced a dead one, as
 * QEMU gives it: for a split ring, the used ring's index (the back-end goes on
 * from there past the chains the inflight area holds); for a packed ring, which
 * has no such index in memory, the next used position the driver expects, in
 * both halves (the back-end rebuilds its positions from the inflight area). With
 * no chain unused by the device, both are where the device stopped. */
static guint
restore_base (DriverQueue *q)
{
  guint pos;

  if (!q->ring.packed)
    return GUINT16_FROM_LE (__atomic_load_n (&q->ring.used->idx, __ATOMIC_ACQUIRE));
  pos = q->ring.last_used | ((guint) q->ring.used_wrap << 15);
  return pos | pos << 16;
}

static gboolean
start_queue (VhostDriver *self, guint index, gboolean restore, GError **error)
{
  DriverQueue *q = get_queue (self, index);
  g_autoptr(VhostVringAddr) addr = NULL;
  g_autoptr(GError) local_error = NULL;

  addr = vhost_vring_addr_new (index, 0, ring_addr_of (self, q->area_addr[0]), ring_addr_of (self, q->area_addr[2]),
                               ring_addr_of (self, q->area_addr[1]), q->area_addr[2]);
  if (!vhost_backend_set_vring_num (self->backend, index, self->queue_size, error) ||
      /* A packed ring's base carries the wrap counter in bit 15; it starts at 1. */
      !vhost_backend_set_vring_base (self->backend, index,
                                     restore ? restore_base (q) : q->ring.packed ? 0x8000 : 0, error) ||
      !vhost_backend_set_vring_addr (self->backend, addr, error) ||
      !vhost_backend_set_vring_kick (self->backend, index, q->kick_fd, error) ||
      !vhost_backend_set_vring_call (self->backend, index, q->call_fd, error))
    return FALSE;
  /* Enable the queue where the back-end has the notion (vDPA, vhost-user with
   * PROTOCOL_FEATURES, whose queues start disabled); the others say NOT_SUPPORTED,
   * and their queues run once set up. */
  if (!vhost_backend_set_vring_enable (self->backend, index, TRUE, &local_error))
    {
      if (!g_error_matches (local_error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
update_status (VhostDriver *self, guint8 status, GError **error)
{
  return !vhost_backend_has_status (self->backend) || vhost_backend_set_status (self->backend, status, error);
}

/* The inflight area of a vhost-user back-end with INFLIGHT_SHMFD, as QEMU does
 * it: at start the back-end makes one (GET_INFLIGHT_FD) and the driver keeps it;
 * every back-end, the first and those that replace it, is given it
 * (SET_INFLIGHT_FD), and takes up the requests it holds. */
static gboolean
set_inflight (VhostDriver *self, guint n_queues, gboolean restore, GError **error)
{
  VhostUserMaster *master;
  int fd;

  /* A start forgets the area of an earlier start, even when it makes none. */
  if (!restore)
    clear_inflight (self);
  if (!VHOST_IS_USER_MASTER (self->backend) || !(self->protocol_features & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
    return TRUE;
  master = VHOST_USER_MASTER (self->backend);
  if (!restore)
    {
      fd = vhost_user_master_get_inflight_fd (master, n_queues, self->queue_size, &self->inflight_size,
                                              &self->inflight_offset, error);
      if (fd < 0)
        return FALSE;
      self->inflight_fd = fd;
    }
  return vhost_user_master_set_inflight_fd (master, self->inflight_fd, self->inflight_size, self->inflight_offset,
                                            n_queues, self->queue_size, error);
}

/* The device-wide part of a bring-up: features and protocol features, owner,
 * status, memory table, inflight area. A restore gives a back-end that replaces a
 * dead one what the device runs with. */
static gboolean
setup_device (VhostDriver *self, guint64 wanted, guint n_queues, gboolean restore, GError **error)
{
  guint8 status = VHOST_VIRTIO_STATUS_ACKNOWLEDGE | VHOST_VIRTIO_STATUS_DRIVER;

  return negotiate (self, wanted, restore, error) && vhost_backend_set_owner (self->backend, error) &&
         update_status (self, status, error) &&
         vhost_backend_set_features (self->backend, self->acked_features, error) &&
         update_status (self, status | VHOST_VIRTIO_STATUS_FEATURES_OK, error) && set_mem_table (self, error) &&
         setup_iotlb (self, error) && set_inflight (self, n_queues, restore, error);
}

/* Every queue, then DRIVER_OK. */
static gboolean
start_queues (VhostDriver *self, gboolean restore, GError **error)
{
  for (guint i = 0; i < self->queues->len; i++)
    if (!start_queue (self, i, restore, error))
      return FALSE;
  return update_status (self,
                        VHOST_VIRTIO_STATUS_ACKNOWLEDGE | VHOST_VIRTIO_STATUS_DRIVER |
                          VHOST_VIRTIO_STATUS_FEATURES_OK | VHOST_VIRTIO_STATUS_DRIVER_OK,
                        error);
}

/**
 * vhost_driver_start:
 * @driver: a #VhostDriver
 * @n_queues: how many queues to set up
 * @queue_size: the size of each, a power of 2 up to 32768
 * @features: the virtio features the driver wants, as a mask of
 *   VHOST_FEATURE_MASK() bits; the device's offer limits them. The ring layout
 *   follows %VHOST_VIRTIO_F_RING_PACKED, %VHOST_VIRTIO_F_RING_EVENT_IDX and
 *   %VHOST_VIRTIO_F_RING_INDIRECT_DESC as negotiated. %VHOST_VIRTIO_F_IN_ORDER is
 *   never acked.
 * @error: return location for a #GError
 *
 * Brings the device up: negotiates features (and vhost-user protocol features),
 * sets the owner and the memory table, lays out and starts every queue (and
 * enables it, on vhost-user with %VHOST_VIRTIO_F_PROTOCOL_FEATURES and on
 * #VhostVdpa), and sets the status to DRIVER_OK where the back-end has a status.
 * A vhost-user back-end that offers %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD is
 * asked for an inflight area (GET_INFLIGHT_FD) before the queues start, and
 * given it (SET_INFLIGHT_FD): the driver keeps it, so that
 * vhost_driver_reconnect() can hand it to a back-end that replaces this one.
 * A #VhostVdpa device must be reset (vhost_vdpa_reset()) before it is brought up
 * a second time. On vhost-user, %VHOST_VIRTIO_F_ACCESS_PLATFORM is acked only
 * with #VhostDriver:access-platform, whatever @features says.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_driver_start (VhostDriver *driver, guint n_queues, guint queue_size, guint64 features, GError **error)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (n_queues > 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!driver_check_memory (driver, error))
    return FALSE;
  if (driver->running || driver->reconnecting)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "The driver is already running");
      return FALSE;
    }
  if (driver->access_platform && !VHOST_IS_USER_MASTER (driver->backend))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "VhostDriver:access-platform is for vhost-user back-ends, not a %s",
                   G_OBJECT_TYPE_NAME (driver->backend));
      return FALSE;
    }
  if (queue_size == 0 || queue_size > 32768 || (queue_size & (queue_size - 1)) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "The queue size %u is not a power of 2 up to 32768",
                   queue_size);
      return FALSE;
    }
  clear_queues (driver);
  g_array_set_size (driver->queues, 0);
  driver->queue_size = queue_size;
  if (!setup_device (driver, features, n_queues, FALSE, error))
    return FALSE;

  g_array_set_size (driver->queues, n_queues);
  for (guint i = 0; i < n_queues; i++)
    {
      DriverQueue *q = get_queue (driver, i);

      q->kick_fd = q->call_fd = -1;
      for (guint j = 0; j < G_N_ELEMENTS (q->area_addr); j++)
        q->area_addr[j] = G_MAXUINT64;
    }
  for (guint i = 0; i < n_queues; i++)
    {
      DriverQueue *q = get_queue (driver, i);

      q->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      q->call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (q->kick_fd < 0 || q->call_fd < 0)
        {
          int errsv = errno;

          g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Cannot create the eventfds of queue %u: %s", i,
                       g_strerror (errsv));
          return FALSE;
        }
      if (!layout_queue (driver, q, queue_size, error))
        return FALSE;
      vhost_driver_ring_enable_notify (&q->ring, TRUE);
    }
  if (!start_queues (driver, FALSE, error))
    return FALSE;
  driver->running = TRUE;
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_ACKED_FEATURES]);
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_RUNNING]);
  return TRUE;
}

/**
 * vhost_driver_stop:
 * @driver: a #VhostDriver
 * @error: return location for a #GError
 *
 * Stops every queue with GET_VRING_BASE and keeps the final state (see
 * vhost_driver_get_vring_base()). The driver does not negotiate
 * %VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, so the back-end completes the
 * chains its device took before it answers; chains completed but not reaped, and
 * those the device had not taken, stay so. Every queue is asked even if one
 * fails; the first error is returned.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_driver_stop (VhostDriver *driver, GError **error)
{
  GError *first = NULL;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);

  if (!driver->running)
    return TRUE;
  for (guint i = 0; i < driver->queues->len; i++)
    {
      DriverQueue *q = get_queue (driver, i);
      GError *local = NULL;

      queue_unwatch (q);
      if (!vhost_backend_get_vring_base (driver->backend, i, &q->base, first == NULL ? &first : &local))
        g_clear_error (&local);
    }
  driver->running = FALSE;
  g_object_notify_by_pspec (G_OBJECT (driver), properties[PROP_RUNNING]);
  if (first != NULL)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return TRUE;
}

/* Whether the driver can be brought up again on a new back-end, before dialing. */
static gboolean
check_reconnect (VhostDriver *self, GError **error)
{
  if (!VHOST_IS_USER_MASTER (self->backend))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "Reconnecting: only a vhost-user back-end can be replaced, not a %s",
                   G_OBJECT_TYPE_NAME (self->backend));
      return FALSE;
    }
  if (!self->running || self->reconnecting)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                           self->running ? "Reconnecting: a reconnection is already under way"
                                         : "Reconnecting: the driver is not running");
      return FALSE;
    }
  /* Without an inflight area a new back-end cannot know which chains the dead
   * one had taken: they would be lost, or done twice. */
  if (self->inflight_fd < 0)
    for (guint i = 0; i < self->queues->len; i++)
      {
        guint unused = vhost_driver_ring_unused (&get_queue (self, i)->ring);

        if (unused > 0)
          {
            g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                         "Reconnecting: queue %u has %u chains the device did not complete, and the back-end keeps "
                         "no inflight area (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) to resume them from", i, unused);
            return FALSE;
          }
      }
  return TRUE;
}

/* Give the new back-end the device as the driver runs it, then kick every queue
 * (the back-end resubmits what the inflight area holds, and takes what was made
 * available since) and wake the driver's own completion waiters once. */
static gboolean
replay (VhostDriver *self, GError **error)
{
  if (!setup_device (self, self->acked_features, self->queues->len, TRUE, error) ||
      !start_queues (self, TRUE, error))
    return FALSE;
  for (guint i = 0; i < self->queues->len; i++)
    {
      DriverQueue *q = get_queue (self, i);

      while (eventfd_write (q->kick_fd, 1) < 0 && errno == EINTR)
        ;
      while (eventfd_write (q->call_fd, 1) < 0 && errno == EINTR)
        ;
    }
  return TRUE;
}

static GError *
reconnect_error (GError *error)
{
  g_prefix_error (&error, "Reconnecting the driver: ");
  return error;
}

/**
 * vhost_driver_reconnect:
 * @driver: a running #VhostDriver on a #VhostUserMaster
 * @timeout_ms: how long to wait for a back-end to answer on the socket path, in
 *   milliseconds; -1 for no limit
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Brings the device up again on a new back-end, after the one it ran on went
 * away (#VhostUserMaster::disconnected): connects the master to its socket path
 * again (vhost_user_master_reconnect(), which waits for a back-end to listen
 * there), then replays what vhost_driver_start() set up, as QEMU does when its
 * back-end reconnects: features and protocol features, owner, status, the
 * memory table, the inflight area the driver kept (SET_INFLIGHT_FD), each
 * queue's size, base, addresses, kick and call eventfds and enable, and
 * DRIVER_OK; then it kicks every queue.
 *
 * The rings, the buffers and the chains in flight live in the driver's memory,
 * so they survive: nothing is submitted again by the driver. The new back-end
 * resubmits to its device the chains the old one had taken and not completed,
 * from the inflight area, and the chains made available meanwhile (submitting
 * while the back-end is away is allowed) are taken as usual. Every chain then
 * completes once: vhost_driver_reap() (or the vhost_driver_watch() callback)
 * gives each tag exactly once, whether it completed before the back-end died or
 * after the new one took over. The device may process a chain twice (the dead
 * back-end may have done the work without publishing it), so its requests must
 * be idempotent, as block reads and writes are.
 *
 * This needs a back-end that offers %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD unless
 * every chain was completed when it died (%VHOST_ERROR_NOT_SUPPORTED otherwise,
 * before anything is sent), and the new back-end must offer every feature and
 * protocol feature the device runs with (%VHOST_ERROR_NOT_SUPPORTED). The driver
 * stays running throughout, and after a failure: the call can be made again.
 *
 * This call blocks until a back-end answers and while the state is replayed; see
 * vhost_driver_reconnect_async().
 *
 * Returns: %TRUE if the device runs on the new back-end
 */
gboolean
vhost_driver_reconnect (VhostDriver *driver, gint timeout_ms, GCancellable *cancellable, GError **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_reconnect (driver, error))
    return FALSE;
  if (!vhost_user_master_reconnect (VHOST_USER_MASTER (driver->backend), timeout_ms, cancellable, &local_error) ||
      !replay (driver, &local_error))
    {
      g_propagate_error (error, reconnect_error (local_error));
      return FALSE;
    }
  return TRUE;
}

static void
reconnect_master_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  VhostDriver *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->reconnecting = FALSE;
  if (!vhost_user_master_reconnect_finish (VHOST_USER_MASTER (source), result, &error))
    g_task_return_error (task, reconnect_error (error));
  else if (!self->running)
    g_task_return_new_error (task, VHOST_ERROR, VHOST_ERROR_BROKEN,
                             "Reconnecting the driver: it was stopped meanwhile");
  else if (!replay (self, &error))
    g_task_return_error (task, reconnect_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * vhost_driver_reconnect_async:
 * @driver: a running #VhostDriver on a #VhostUserMaster
 * @timeout_ms: how long to wait for a back-end to answer on the socket path, in
 *   milliseconds; -1 for no limit
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the device runs on the new back-end, or
 *   the attempt has failed
 * @user_data: data for @callback
 *
 * Does what vhost_driver_reconnect() does, waiting for the back-end without
 * blocking (vhost_user_master_reconnect_async()); the replay of the state, once
 * a back-end answers, is a short series of synchronous requests, each bounded by
 * #VhostUserMaster:timeout. @callback runs on the thread-default #GMainContext of
 * the caller; it calls vhost_driver_reconnect_finish().
 *
 * A program that wants its device back whenever the back-end restarts calls this
 * from its #VhostUserMaster::disconnected handler.
 */
void
vhost_driver_reconnect_async (VhostDriver *driver,
                              gint timeout_ms,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_IS_DRIVER (driver));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (driver, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_driver_reconnect_async);
  if (!check_reconnect (driver, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  driver->reconnecting = TRUE;
  vhost_user_master_reconnect_async (VHOST_USER_MASTER (driver->backend), timeout_ms, cancellable,
                                     reconnect_master_cb, g_steal_pointer (&task));
}

/**
 * vhost_driver_reconnect_finish:
 * @driver: a #VhostDriver
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_driver_reconnect_async().
 *
 * Returns: %TRUE if the device runs on the new back-end
 */
gboolean
vhost_driver_reconnect_finish (VhostDriver *driver, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, driver), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_driver_reconnect_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static DriverQueue *
running_queue (VhostDriver *self, guint queue, GError **error)
{
  if (!self->running || queue >= self->queues->len)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "Queue %u is not running", queue);
      return NULL;
    }
  return get_queue (self, queue);
}

static gboolean
check_buffers (VhostDriver *self, const VhostDriverBuffer *buffers, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (checked_hva (self, buffers[i].addr, buffers[i].len, error) == NULL)
      return FALSE;
  return TRUE;
}

/**
 * vhost_driver_submit:
 * @driver: a #VhostDriver
 * @queue: a queue index
 * @out: (array length=n_out): the buffers the device reads, in order
 * @n_out: the length of @out
 * @in: (array length=n_in): the buffers the device writes, in order
 * @n_in: the length of @in
 * @tag: a value given back with the completion
 * @error: return location for a #GError
 *
 * Makes a chain available to the device. It uses one indirect table when
 * %VHOST_VIRTIO_F_RING_INDIRECT_DESC was negotiated and the chain has more than
 * one buffer. The device is not told: call vhost_driver_kick().
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NO_SPACE when the queue is
 *   full, %VHOST_ERROR_INVALID_ARGUMENT for a buffer outside the driver's memory
 */
gboolean
vhost_driver_submit (VhostDriver *driver,
                     guint queue,
                     const VhostDriverBuffer *out,
                     guint n_out,
                     const VhostDriverBuffer *in,
                     guint n_in,
                     guint64 tag,
                     GError **error)
{
  DriverQueue *q;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (n_out == 0 || out != NULL, FALSE);
  g_return_val_if_fail (n_in == 0 || in != NULL, FALSE);

  q = running_queue (driver, queue, error);
  if (q == NULL || !check_buffers (driver, out, n_out, error) || !check_buffers (driver, in, n_in, error))
    return FALSE;
  G_STATIC_ASSERT (sizeof (VhostDriverBuffer) == sizeof (VhostDriverRingBuffer));
  if (n_out + n_in == 0 ||
      vhost_driver_ring_add (&q->ring, (const VhostDriverRingBuffer *) out, n_out, (const VhostDriverRingBuffer *) in,
                             n_in, tag) < 0)
    {
      g_set_error (error, VHOST_ERROR, n_out + n_in == 0 ? VHOST_ERROR_INVALID_ARGUMENT : VHOST_ERROR_NO_SPACE,
                   "Queue %u has no room for a chain of %u buffers", queue, n_out + n_in);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_driver_kick:
 * @driver: a #VhostDriver
 * @queue: a queue index
 *
 * Tells the device about the chains submitted since the last kick, if it asked
 * for notifications (%VHOST_VIRTIO_F_RING_EVENT_IDX aware).
 *
 * Returns: %TRUE if the kick eventfd was signalled
 */
gboolean
vhost_driver_kick (VhostDriver *driver, guint queue)
{
  DriverQueue *q;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);

  q = running_queue (driver, queue, NULL);
  if (q == NULL || !vhost_driver_ring_kick_needed (&q->ring))
    return FALSE;
  while (eventfd_write (q->kick_fd, 1) < 0 && errno == EINTR)
    ;
  return TRUE;
}

/* What vhost_driver_ring_get_used() refuses. */
#define BAD_USED "the device used a chain that was not in flight, or more chains than were in flight"

/**
 * vhost_driver_reap:
 * @driver: a #VhostDriver
 * @queue: a queue index
 * @tag: (out): the completed chain's tag
 * @len: (out): how many bytes the device wrote into it; never more than the
 *   chain's writable buffers hold (a longer length from the device is clipped)
 * @error: return location for a #GError
 *
 * Takes one completed chain, if there is one.
 *
 * Returns: %TRUE if a chain was reaped; %FALSE with no error if none has
 *   completed; %FALSE with %VHOST_ERROR_PROTOCOL if the device returned a chain
 *   that was not in flight, or more chains than were in flight
 */
gboolean
vhost_driver_reap (VhostDriver *driver, guint queue, guint64 *tag, guint *len, GError **error)
{
  DriverQueue *q;
  guint32 written = 0;
  int r;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);
  g_return_val_if_fail (tag != NULL && len != NULL, FALSE);

  q = running_queue (driver, queue, error);
  if (q == NULL)
    return FALSE;
  r = vhost_driver_ring_get_used (&q->ring, tag, &written);
  if (r < 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_PROTOCOL, "Queue %u: %s", queue, BAD_USED);
      return FALSE;
    }
  *len = written;
  return r > 0;
}

static void
drain (int fd)
{
  eventfd_t value;

  while (eventfd_read (fd, &value) < 0 && errno == EINTR)
    ;
}

/**
 * vhost_driver_wait:
 * @driver: a #VhostDriver
 * @queue: a queue index
 * @timeout_ms: the longest wait, in milliseconds; -1 for no limit
 * @error: return location for a #GError
 *
 * Sleeps on the queue's call eventfd until a completion can be reaped.
 *
 * Returns: %TRUE when one can; %FALSE with %VHOST_ERROR_TIMED_OUT after @timeout_ms
 */
gboolean
vhost_driver_wait (VhostDriver *driver, guint queue, gint timeout_ms, GError **error)
{
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  DriverQueue *q;

  g_return_val_if_fail (VHOST_IS_DRIVER (driver), FALSE);

  q = running_queue (driver, queue, error);
  if (q == NULL)
    return FALSE;
  for (;;)
    {
      struct pollfd pfd = { .fd = q->call_fd, .events = POLLIN };
      int wait_ms = -1;

      if (vhost_driver_ring_enable_notify (&q->ring, TRUE))
        return TRUE;
      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();

          if (left <= 0)
            {
              g_set_error (error, VHOST_ERROR, VHOST_ERROR_TIMED_OUT,
                           "Queue %u: no completion within %d ms (%u in flight)", queue, timeout_ms,
                           vhost_driver_ring_in_flight (&q->ring));
              return FALSE;
            }
          wait_ms = (int) MIN (left / 1000 + 1, G_MAXINT);
        }
      if (poll (&pfd, 1, wait_ms) > 0)
        drain (q->call_fd);
    }
}

/**
 * vhost_driver_get_in_flight:
 * @driver: a #VhostDriver
 * @queue: a queue index
 *
 * Gets how many chains of @queue the device has not completed.
 *
 * Returns: how many chains of @queue the device has not completed
 */
guint
vhost_driver_get_in_flight (VhostDriver *driver, guint queue)
{
  g_return_val_if_fail (VHOST_IS_DRIVER (driver), 0);
  g_return_val_if_fail (queue < driver->queues->len, 0);
  return vhost_driver_ring_in_flight (&get_queue (driver, queue)->ring);
}

typedef struct
{
  VhostDriver *driver; /* (not owned) the source goes before the driver */
  guint queue;
} WatchData;

static gboolean
watch_cb (gint fd, GIOCondition condition, gpointer user_data)
{
  WatchData *data = user_data;
  VhostDriver *self = data->driver;
  DriverQueue *q = get_queue (self, data->queue);
  guint64 tag;
  guint32 len;
  int r = 0;

  drain (fd);
  g_object_ref (self);
  do
    {
      while (q->func != NULL && (r = vhost_driver_ring_get_used (&q->ring, &tag, &len)) > 0)
        {
          q->func (self, data->queue, tag, len, q->func_data);
          q = get_queue (self, data->queue);
        }
      if (q->func != NULL && r < 0)
        {
          g_message ("Queue %u: %s; no longer watching it", data->queue, BAD_USED);
          queue_unwatch (q);
          break;
        }
    }
  while (q->func != NULL && vhost_driver_ring_enable_notify (&q->ring, TRUE));
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

/**
 * vhost_driver_watch:
 * @driver: a #VhostDriver
 * @queue: a running queue's index
 * @func: (nullable) (scope notified) (closure user_data) (destroy notify): called
 *   for each completion, or %NULL to stop watching
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * Delivers the queue's completions as calls to @func on the driver's
 * #GMainContext, woken by the call eventfd. Do not mix with vhost_driver_reap()
 * on the same queue. Watching ends with vhost_driver_stop().
 */
void
vhost_driver_watch (VhostDriver *driver,
                    guint queue,
                    VhostDriverCompletionFunc func,
                    gpointer user_data,
                    GDestroyNotify notify)
{
  DriverQueue *q;
  WatchData *data;

  g_return_if_fail (VHOST_IS_DRIVER (driver));
  g_return_if_fail (driver->running && queue < driver->queues->len);

  q = get_queue (driver, queue);
  queue_unwatch (q);
  if (func == NULL)
    return;
  q->func = func;
  q->func_data = user_data;
  q->func_notify = notify;
  data = g_new (WatchData, 1);
  data->driver = driver;
  data->queue = queue;
  q->watch = g_unix_fd_source_new (q->call_fd, G_IO_IN);
  g_source_set_name (q->watch, "[vhost-glib] driver completions");
  g_source_set_callback (q->watch, (GSourceFunc) (void (*) (void)) watch_cb, data, g_free);
  g_source_attach (q->watch, driver->context);
  /* Completions may already be waiting. */
  vhost_driver_ring_enable_notify (&q->ring, TRUE);
  while (eventfd_write (q->call_fd, 1) < 0 && errno == EINTR)
    ;
}
