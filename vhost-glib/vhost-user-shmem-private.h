/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The front-end's VIRTIO Shared Memory Regions: reserved address space, and the back-end's files mapped into it. */
#pragma once

#include <glib.h>
#include "protocol/vhost-user-protocol.h"

G_BEGIN_DECLS

/*
 * The regions of one connection, as GET_SHMEM_CONFIG gave them: each one an
 * anonymous PROT_NONE reservation of its size, into which SHMEM_MAP maps a
 * back-end's file (MAP_FIXED, PROT_READ and PROT_WRITE if writable) and from
 * which SHMEM_UNMAP takes it again (the range becomes reserved again). Every
 * field of a request is checked first: a bad one is VHOST_ERROR_INVALID_ARGUMENT
 * (or NO_SPACE, MAP_FAILED) naming the request, and nothing changes. Mapped
 * files are guarded (vhost-guard.h): a back-end that shrinks one makes a read
 * fail, not the process. Used from one thread, the master's.
 */
typedef struct _VhostUserShmem VhostUserShmem;

/* Reserve the regions: `sizes[shmid]`, 0 for none, n_sizes entries. */
VhostUserShmem *vhost_user_shmem_new (const guint64 *sizes, guint n_sizes, GError **error);
/* Unmap everything. */
void vhost_user_shmem_free (VhostUserShmem *shmem);

/* Whether the regions are those of `sizes`. */
gboolean vhost_user_shmem_has_sizes (VhostUserShmem *shmem, const guint64 *sizes, guint n_sizes);
/* The region's reservation and size, or NULL. */
gpointer vhost_user_shmem_get_region (VhostUserShmem *shmem, guint shmid, guint64 *size);

/* SHMEM_MAP of `fd` (borrowed), SHMEM_UNMAP. */
gboolean vhost_user_shmem_map (VhostUserShmem *shmem, const VhostUserMMapWire *mmap, int fd, GError **error);
gboolean vhost_user_shmem_unmap (VhostUserShmem *shmem, const VhostUserMMapWire *mmap, GError **error);

/* Unmap every mapping (a device reset), calling `func` for each. */
typedef void (*VhostUserShmemFunc) (guint shmid, guint64 offset, guint64 len, gpointer data);
void vhost_user_shmem_unmap_all (VhostUserShmem *shmem, VhostUserShmemFunc func, gpointer data);

/* A copy of `len` bytes at `offset` of a region, all of them mapped. */
GBytes *vhost_user_shmem_read (VhostUserShmem *shmem, guint shmid, guint64 offset, gsize len, GError **error);

G_END_DECLS
