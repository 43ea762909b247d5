/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SIGBUS handler and the registry of memory it protects (see vhost-guard.h). */
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "vhost-guard.h"

#define MAX_RANGES 1024

/* The registry: read by the signal handler, so plain words changed atomically.
 * A slot is free while its start is 0. */
static struct
{
  guintptr start;
  guintptr end;
} ranges[MAX_RANGES];

static __thread VhostGuard *current;
static struct sigaction previous;

static gboolean
in_registered (guintptr addr)
{
  for (guint i = 0; i < MAX_RANGES; i++)
    {
      guintptr start = __atomic_load_n (&ranges[i].start, __ATOMIC_ACQUIRE);

      if (start != 0 && addr >= start && addr < __atomic_load_n (&ranges[i].end, __ATOMIC_ACQUIRE))
        return TRUE;
    }
  return FALSE;
}

static void
sigbus_handler (int sig, siginfo_t *info, void *context)
{
  VhostGuard *guard = current;

  if (guard != NULL && in_registered ((guintptr) info->si_addr))
    {
      guard->fault = info->si_addr;
      current = guard->outer;
      siglongjmp (guard->env, 1);
    }
  /* Not a fault of ours: back to what was there before, which the faulting
   * instruction, run again on return, meets. */
  sigaction (SIGBUS, &previous, NULL);
}

static gpointer
install (gpointer data)
{
  struct sigaction action;

  memset (&action, 0, sizeof action);
  action.sa_sigaction = sigbus_handler;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset (&action.sa_mask);
  sigaction (SIGBUS, &action, &previous);
  return NULL;
}

void
vhost_guard_push (VhostGuard *guard)
{
  guard->outer = current;
  guard->fault = NULL;
  current = guard;
}

void
vhost_guard_leave (VhostGuard *guard)
{
  current = guard->outer;
}

/* Registration is rare (a memory table): one lock for it; the handler only
 * reads, a slot's end written before its start. */
static GMutex registry_lock;

gboolean
vhost_guard_register (gpointer start, gsize size)
{
  static GOnce once = G_ONCE_INIT;
  gboolean done = FALSE;

  g_once (&once, install, NULL);
  g_mutex_lock (&registry_lock);
  for (guint i = 0; i < MAX_RANGES && !done; i++)
    if (ranges[i].start == 0)
      {
        __atomic_store_n (&ranges[i].end, (guintptr) start + size, __ATOMIC_RELEASE);
        __atomic_store_n (&ranges[i].start, (guintptr) start, __ATOMIC_RELEASE);
        done = TRUE;
      }
  g_mutex_unlock (&registry_lock);
  return done;
}

void
vhost_guard_unregister (gpointer start)
{
  g_mutex_lock (&registry_lock);
  for (guint i = 0; i < MAX_RANGES; i++)
    if (ranges[i].start == (guintptr) start)
      {
        __atomic_store_n (&ranges[i].start, 0, __ATOMIC_RELEASE);
        break;
      }
  g_mutex_unlock (&registry_lock);
}

gboolean
vhost_guard_fd_is_sealed (int fd)
{
  int seals = fcntl (fd, F_GET_SEALS);

  return seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}
