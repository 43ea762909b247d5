/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The front-end's VIRTIO Shared Memory Regions: reservations, SHMEM_MAP and SHMEM_UNMAP checked and carried out. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost-user-shmem-private.h"
#include "core/vhost-guard.h"

/* Mappings cost the process memory areas and guard slots: a back-end gets this
 * many at a time, over all its regions. */
#define MAX_MAPPINGS 256

typedef struct
{
  guint64 offset;
  guint64 len;
  gboolean guarded;
} Mapping;

typedef struct
{
  guint8 *base;                  /* (owned) (nullable) the reservation, NULL for an unused shmid */
  guint64 size;
  GArray *mappings;              /* (element-type Mapping) (owned) */
} Region;

struct _VhostUserShmem
{
  Region *regions;               /* (owned) (array length=n_regions) */
  guint n_regions;               /* up to the last region of non-zero size */
  guint n_mappings;
};

static guint64
page_size (void)
{
  return sysconf (_SC_PAGESIZE);
}

/* Make `len` bytes at `addr` reserved again, over whatever is there. */
static gboolean
reserve (gpointer addr, guint64 len, int extra_flags)
{
  return mmap (addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra_flags, -1, 0) != MAP_FAILED;
}

VhostUserShmem *
vhost_user_shmem_new (const guint64 *sizes, guint n_sizes, GError **error)
{
  VhostUserShmem *shmem = g_new0 (VhostUserShmem, 1);

  for (guint i = 0; i < n_sizes; i++)
    if (sizes[i] != 0)
      shmem->n_regions = i + 1;
  shmem->regions = g_new0 (Region, shmem->n_regions);
  for (guint i = 0; i < shmem->n_regions; i++)
    {
      Region *region = &shmem->regions[i];

      region->mappings = g_array_new (FALSE, FALSE, sizeof (Mapping));
      if (sizes[i] == 0)
        continue;
      region->base = sizes[i] <= G_MAXSIZE ? mmap (NULL, sizes[i], PROT_NONE,
                                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                                           : MAP_FAILED;
      if (region->base == MAP_FAILED)
        {
          int errsv = sizes[i] <= G_MAXSIZE ? errno : ENOMEM;

          region->base = NULL;
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                       "GET_SHMEM_CONFIG: cannot reserve %" G_GUINT64_FORMAT " bytes for region %u: %s", sizes[i], i,
                       g_strerror (errsv));
          vhost_user_shmem_free (shmem);
          return NULL;
        }
      region->size = sizes[i];
    }
  return shmem;
}

void
vhost_user_shmem_free (VhostUserShmem *shmem)
{
  for (guint i = 0; i < shmem->n_regions; i++)
    {
      Region *region = &shmem->regions[i];

      for (guint j = 0; j < region->mappings->len; j++)
        if (g_array_index (region->mappings, Mapping, j).guarded)
          vhost_guard_unregister (region->base + g_array_index (region->mappings, Mapping, j).offset);
      if (region->base != NULL)
        munmap (region->base, region->size);
      g_array_unref (region->mappings);
    }
  g_free (shmem->regions);
  g_free (shmem);
}

gboolean
vhost_user_shmem_has_sizes (VhostUserShmem *shmem, const guint64 *sizes, guint n_sizes)
{
  for (guint i = 0; i < MAX (n_sizes, shmem->n_regions); i++)
    if ((i < n_sizes ? sizes[i] : 0) != (i < shmem->n_regions ? shmem->regions[i].size : 0))
      return FALSE;
  return TRUE;
}

gpointer
vhost_user_shmem_get_region (VhostUserShmem *shmem, guint shmid, guint64 *size)
{
  if (shmid >= shmem->n_regions || shmem->regions[shmid].base == NULL)
    {
      *size = 0;
      return NULL;
    }
  *size = shmem->regions[shmid].size;
  return shmem->regions[shmid].base;
}

/* The checks every request passes: a region of the device, a range of it. */
static Region *
check_range (VhostUserShmem *shmem, const char *what, const VhostUserMMapWire *m, GError **error)
{
  Region *region = m->shmid < shmem->n_regions ? &shmem->regions[m->shmid] : NULL;

  if (region == NULL || region->base == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: the device has no shared memory region %u", what, m->shmid);
      return NULL;
    }
  if (m->len == 0 || m->shm_offset + m->len < m->shm_offset || m->shm_offset + m->len > region->size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT " are not inside region %u of %"
                   G_GUINT64_FORMAT " bytes", what, m->len, m->shm_offset, m->shmid, region->size);
      return NULL;
    }
  return region;
}

/* The mapping at `offset` exactly, or the first that overlaps `len` bytes from
 * there (`exact` FALSE); -1 if none. */
static gint
find_mapping (Region *region, guint64 offset, guint64 len, gboolean exact)
{
  for (guint i = 0; i < region->mappings->len; i++)
    {
      const Mapping *mapping = &g_array_index (region->mappings, Mapping, i);

      if (exact ? mapping->offset == offset && mapping->len == len
                : mapping->offset < offset + len && offset < mapping->offset + mapping->len)
        return i;
    }
  return -1;
}

/* What the file behind `fd` lets us map. */
static gboolean
check_file (int fd, const VhostUserMMapWire *m, GError **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "SHMEM_MAP: fstat: %s", g_strerror (errsv));
      return FALSE;
    }
  /* A memory file (memfd, hugetlbfs, tmpfs, a regular file) must hold the
   * range: pages past its end would fault at the first access. Devices such as
   * dma-bufs have no size to check; mmap() says what they allow. */
  if (S_ISREG (st.st_mode) && (guint64) st.st_size < m->fd_offset + m->len)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "SHMEM_MAP: the mapping needs %" G_GUINT64_FORMAT " bytes of its file, which holds %" G_GINT64_FORMAT,
                   m->fd_offset + m->len, (gint64) st.st_size);
      return FALSE;
    }
  return TRUE;
}

gboolean
vhost_user_shmem_map (VhostUserShmem *shmem, const VhostUserMMapWire *m, int fd, GError **error)
{
  guint64 page = page_size ();
  Region *region;
  Mapping mapping = { m->shm_offset, m->len, FALSE };
  gint other;
  guint8 *addr;

  if ((region = check_range (shmem, "SHMEM_MAP", m, error)) == NULL)
    return FALSE;
  if (m->flags & ~(guint64) VHOST_USER_SHMEM_MAP_WRITABLE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "SHMEM_MAP: unknown flags 0x%" G_GINT64_MODIFIER "x",
                   m->flags & ~(guint64) VHOST_USER_SHMEM_MAP_WRITABLE);
      return FALSE;
    }
  if (m->fd_offset + m->len < m->fd_offset || m->fd_offset > (guint64) G_MAXINT64 - m->len)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SHMEM_MAP: file offset %" G_GUINT64_FORMAT " plus %" G_GUINT64_FORMAT " bytes overflows",
                   m->fd_offset, m->len);
      return FALSE;
    }
  if (m->shm_offset % page != 0 || m->fd_offset % page != 0 || m->len % page != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SHMEM_MAP: offsets %" G_GUINT64_FORMAT " (region) and %" G_GUINT64_FORMAT " (file) and length %"
                   G_GUINT64_FORMAT " must be multiples of the page size (%" G_GUINT64_FORMAT ")", m->shm_offset,
                   m->fd_offset, m->len, page);
      return FALSE;
    }
  if ((other = find_mapping (region, m->shm_offset, m->len, FALSE)) >= 0)
    {
      const Mapping *o = &g_array_index (region->mappings, Mapping, other);

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SHMEM_MAP: %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT " of region %u overlap the "
                   "mapping of %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT, m->len, m->shm_offset, m->shmid,
                   o->len, o->offset);
      return FALSE;
    }
  if (shmem->n_mappings >= MAX_MAPPINGS)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NO_SPACE, "SHMEM_MAP: the back-end already has %u mappings",
                   MAX_MAPPINGS);
      return FALSE;
    }
  if (!check_file (fd, m, error))
    return FALSE;

  addr = region->base + m->shm_offset;
  if (mmap (addr, m->len, PROT_READ | ((m->flags & VHOST_USER_SHMEM_MAP_WRITABLE) ? PROT_WRITE : 0),
            MAP_SHARED | MAP_FIXED, fd, m->fd_offset) == MAP_FAILED)
    {
      int errsv = errno;

      /* A failed MAP_FIXED may have taken the reservation away. */
      reserve (addr, m->len, MAP_FIXED);
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "SHMEM_MAP: mmap of %" G_GUINT64_FORMAT
                   " bytes of the file at %" G_GUINT64_FORMAT "%s: %s", m->len, m->fd_offset,
                   (m->flags & VHOST_USER_SHMEM_MAP_WRITABLE) ? ", writable" : "", g_strerror (errsv));
      return FALSE;
    }
  /* A file that can shrink can take pages away under a reader: faults there
   * are caught. */
  if (!vhost_guard_fd_is_sealed (fd))
    {
      if (!vhost_guard_register (addr, m->len))
        {
          reserve (addr, m->len, MAP_FIXED);
          g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NO_SPACE,
                               "SHMEM_MAP: too many mappings in the process to guard another one");
          return FALSE;
        }
      mapping.guarded = TRUE;
    }
  g_array_append_val (region->mappings, mapping);
  shmem->n_mappings++;
  return TRUE;
}

static void
remove_mapping (VhostUserShmem *shmem, Region *region, guint i)
{
  const Mapping *mapping = &g_array_index (region->mappings, Mapping, i);
  guint8 *addr = region->base + mapping->offset;

  if (mapping->guarded)
    vhost_guard_unregister (addr);
  /* The reservation replaces the file at once; should that fail, the range at
   * least goes (no reader looks there, having no mapping for it). */
  if (!reserve (addr, mapping->len, MAP_FIXED))
    munmap (addr, mapping->len);
  g_array_remove_index_fast (region->mappings, i);
  shmem->n_mappings--;
}

gboolean
vhost_user_shmem_unmap (VhostUserShmem *shmem, const VhostUserMMapWire *m, GError **error)
{
  Region *region;
  gint i;

  if ((region = check_range (shmem, "SHMEM_UNMAP", m, error)) == NULL)
    return FALSE;
  if ((i = find_mapping (region, m->shm_offset, m->len, TRUE)) < 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SHMEM_UNMAP: region %u has no mapping of %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT,
                   m->shmid, m->len, m->shm_offset);
      return FALSE;
    }
  remove_mapping (shmem, region, i);
  return TRUE;
}

void
vhost_user_shmem_unmap_all (VhostUserShmem *shmem, VhostUserShmemFunc func, gpointer data)
{
  for (guint i = 0; i < shmem->n_regions; i++)
    while (shmem->regions[i].mappings->len > 0)
      {
        Mapping mapping = g_array_index (shmem->regions[i].mappings, Mapping, 0);

        remove_mapping (shmem, &shmem->regions[i], 0);
        func (i, mapping.offset, mapping.len, data);
      }
}

/* memcpy() from memory the back-end can take away: FALSE, with the address, if it did. */
static gboolean
guarded_copy (void *dest, const void *src, gsize len, gpointer *fault)
{
  VhostGuard guard;

  if (!VHOST_GUARD_ENTER (&guard))
    {
      *fault = guard.fault;
      return FALSE;
    }
  memcpy (dest, src, len);
  vhost_guard_leave (&guard);
  return TRUE;
}

GBytes *
vhost_user_shmem_read (VhostUserShmem *shmem, guint shmid, guint64 offset, gsize len, GError **error)
{
  VhostUserMMapWire range = { .shmid = shmid, .shm_offset = offset, .len = len };
  g_autofree guint8 *copy = NULL;
  gpointer fault = NULL;
  Region *region;
  guint64 pos;

  if (shmid > G_MAXUINT8)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "Reading shared memory: the device has no shared memory region %u", shmid);
      return NULL;
    }
  if ((region = check_range (shmem, "Reading shared memory", &range, error)) == NULL)
    return NULL;
  /* Every byte must be mapped: the rest of a region is inaccessible. */
  for (pos = offset; pos < offset + len;)
    {
      gint i = find_mapping (region, pos, 1, FALSE);

      if (i < 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                       "Reading shared memory: offset %" G_GUINT64_FORMAT " of region %u is not mapped", pos, shmid);
          return NULL;
        }
      pos = g_array_index (region->mappings, Mapping, i).offset + g_array_index (region->mappings, Mapping, i).len;
    }
  copy = g_malloc (len);
  if (!guarded_copy (copy, region->base + offset, len, &fault))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "Reading shared memory: region %u faulted at %p: the back-end shrank the file behind it", shmid,
                   fault);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&copy), len);
}
