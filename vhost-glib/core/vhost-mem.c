/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest memory: translation of front-end addresses and dirty-page logging. */
#include <errno.h>
#include <sys/eventfd.h>

#include "vhost-mem.h"

void *
vhost_mem_uaddr_to_hva (const VhostMem *mem, guint64 uaddr, guint64 len)
{
  guint64 got = len;
  void *hva = vhost_mem_uaddr_to_hva_clip (mem, uaddr, &got);

  return got == len ? hva : NULL;
}

void
vhost_mem_log_gpa (const VhostMem *mem, guint64 gpa, guint64 len)
{
  guint64 first = gpa / VHOST_LOG_PAGE;
  guint64 last = (gpa + len - 1) / VHOST_LOG_PAGE;

  if (mem->log == NULL || len == 0 || gpa + len < gpa)
    return;
  for (guint64 page = first; page <= last; page++)
    {
      if (page / 8 >= mem->log_size)
        return; /* the log does not cover this page: nothing to mark */
      __atomic_fetch_or (&mem->log[page / 8], (guint8) (1u << (page % 8)), __ATOMIC_RELAXED);
    }
}

void
vhost_mem_log_write (const VhostMem *mem, const void *hva, guint64 len)
{
  const guint8 *p = hva;

  if (mem->log == NULL || len == 0)
    return;
  /* A range can cross from one region into the next one in our address space only
   * if they are adjacent there, so walk region by region. */
  while (len > 0)
    {
      guint i;

      for (i = 0; i < mem->n_regions; i++)
        {
          const VhostMemRegion *r = &mem->regions[i];
          guint64 off = (guint64) (p - r->hva);

          if (p >= r->hva && off < r->size)
            {
              guint64 n = MIN (len, r->size - off);

              vhost_mem_log_gpa (mem, r->gpa + off, n);
              p += n;
              len -= n;
              break;
            }
        }
      if (i == mem->n_regions)
        return;
    }
}

void
vhost_mem_log_kick (const VhostMem *mem)
{
  if (mem->log_call_fd < 0)
    return;
  while (eventfd_write (mem->log_call_fd, 1) < 0 && errno == EINTR)
    ;
}
