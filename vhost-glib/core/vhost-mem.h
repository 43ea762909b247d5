/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest memory as the device sees it: the front-end's regions and bounds-checked address translation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VHOST_MEM_MAX_REGIONS 256
#define VHOST_LOG_PAGE 4096

typedef struct
{
  guint64 gpa;   /* guest physical address of the first byte */
  guint64 size;  /* bytes */
  guint64 uaddr; /* the same byte in the front-end's address space */
  guint8 *hva;   /* the same byte in ours */
} VhostMemRegion;

/* A table of regions plus the dirty log. The owner changes it only while every
 * queue that reads it is quiesced, so the data path needs no lock. */
typedef struct
{
  guint n_regions;
  VhostMemRegion regions[VHOST_MEM_MAX_REGIONS];
  guint8 *log;      /* (nullable) dirty bitmap, one bit per VHOST_LOG_PAGE of guest memory */
  guint64 log_size; /* bytes of bitmap */
  int log_call_fd;  /* (not owned) -1 for none: signalled when a publication logged writes */
} VhostMem;

/* The host address of @addr, a guest physical address or (@user) a front-end
 * user address, or NULL if no region holds it. *len is clipped to what is
 * contiguous in that region. */
static inline void *
vhost_mem_to_hva (const VhostMem *mem, gboolean user, guint64 addr, guint64 *len)
{
  for (guint i = 0; i < mem->n_regions; i++)
    {
      const VhostMemRegion *r = &mem->regions[i];
      guint64 start = user ? r->uaddr : r->gpa, off = addr - start;

      if (addr >= start && off < r->size)
        {
          if (*len > r->size - off)
            *len = r->size - off;
          return r->hva + off;
        }
    }
  return NULL;
}

/* The host address of guest physical address @gpa, or NULL if no region holds it.
 * *len is clipped to what is contiguous in that region. */
static inline void *
vhost_mem_gpa_to_hva (const VhostMem *mem, guint64 gpa, guint64 *len)
{
  return vhost_mem_to_hva (mem, FALSE, gpa, len);
}

/* The host address of @len bytes at guest physical address @gpa, or NULL unless one
 * region holds all of them. */
static inline void *
vhost_mem_gpa_to_hva_whole (const VhostMem *mem, guint64 gpa, guint64 len)
{
  guint64 got = len;
  void *hva = vhost_mem_gpa_to_hva (mem, gpa, &got);

  return got == len ? hva : NULL;
}

/* The host address of front-end user address @uaddr, or NULL if no region holds
 * it. *len is clipped to what is contiguous in that region. */
static inline void *
vhost_mem_uaddr_to_hva_clip (const VhostMem *mem, guint64 uaddr, guint64 *len)
{
  return vhost_mem_to_hva (mem, TRUE, uaddr, len);
}

/* The host address of @len bytes at front-end user address @uaddr (vring
 * addresses), or NULL unless one region holds all of them. */
void *vhost_mem_uaddr_to_hva (const VhostMem *mem, guint64 uaddr, guint64 len);

/* Mark the guest pages behind [hva, hva + len) dirty in the log, if there is one. */
void vhost_mem_log_write (const VhostMem *mem, const void *hva, guint64 len);
/* Mark the guest pages of [gpa, gpa + len) dirty in the log, if there is one. */
void vhost_mem_log_gpa (const VhostMem *mem, guint64 gpa, guint64 len);
/* Tell the front-end the log changed (SET_LOG_FD), if it asked to be told. */
void vhost_mem_log_kick (const VhostMem *mem);

G_END_DECLS
