/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guarded access to memory a front-end can take away: a SIGBUS there becomes an error instead of killing the process. */
#pragma once

#include <setjmp.h>
#include <glib.h>

G_BEGIN_DECLS

/*
 * A front-end shares guest memory (and the dirty log, and the inflight area)
 * as files; if it truncates one while we have it mapped, touching the pages past
 * the new end raises SIGBUS. That happens in the rings and in the device's own
 * accesses to the buffers, anywhere in a handler. So every stretch of code that
 * touches such memory runs under a guard:
 *
 *   VhostGuard guard;
 *
 *   if (VHOST_GUARD_ENTER (&guard))
 *     {
 *       ... touch guest memory ...
 *       vhost_guard_leave (&guard);
 *     }
 *   else
 *     ... guard.fault is the address that faulted: fail cleanly ...
 *
 * The library's SIGBUS handler (installed once, chaining to whatever was there
 * before for faults that are not ours) jumps back to the innermost guard of the
 * faulting thread when the address lies in memory registered with
 * vhost_guard_register(). A fault anywhere else takes the previous disposition.
 * Guards nest; a jump leaves every inner guard.
 *
 * Memory a file seal protects (F_SEAL_SHRINK) cannot vanish and need not be
 * registered.
 */
typedef struct _VhostGuard VhostGuard;

struct _VhostGuard
{
  sigjmp_buf env;
  VhostGuard *outer;             /* the guard this one is inside, if any */
  gpointer fault;                /* after a jump: the address that faulted */
};

/* Arm `guard` for this thread; TRUE now, FALSE when a fault jumped back. */
#define VHOST_GUARD_ENTER(guard) (vhost_guard_push (guard), sigsetjmp ((guard)->env, 0) == 0)

void vhost_guard_push (VhostGuard *guard);
void vhost_guard_leave (VhostGuard *guard);

/* Memory that may vanish under us: a fault inside it is caught. Returns FALSE
 * when the registry is full (the memory is then not protected). */
gboolean vhost_guard_register (gpointer start, gsize size);
void vhost_guard_unregister (gpointer start);

/* Whether the file behind `fd` cannot shrink (an F_SEAL_SHRINK seal). */
gboolean vhost_guard_fd_is_sealed (int fd);

G_END_DECLS
