/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rate limits for what a peer can make the back-end log: token buckets by reason, the suppressed counts. */
#include <string.h>

#include "vhost-log-limit.h"

/* Bring the bucket's tokens up to `now`. */
static void
bucket_refill (VhostRateBucket *bucket, guint burst, gint64 interval, gint64 now)
{
  gint64 earned;

  if (!bucket->started)
    {
      bucket->started = TRUE;
      bucket->tokens = burst;
      bucket->refilled = now;
      return;
    }
  /* A clock that went back (another thread's older reading) earns nothing. */
  if (now <= bucket->refilled)
    return;
  earned = (now - bucket->refilled) / interval;
  if (earned >= (gint64) (burst - bucket->tokens))
    {
      bucket->tokens = burst;
      bucket->refilled = now;
    }
  else
    {
      /* Whole intervals only: the rest of one counts towards the next token. */
      bucket->tokens += earned;
      bucket->refilled += earned * interval;
    }
}

gboolean
vhost_rate_bucket_take (VhostRateBucket *bucket, guint burst, gint64 interval, gint64 now, guint64 *suppressed)
{
  bucket_refill (bucket, burst, interval, now);
  if (bucket->tokens == 0)
    {
      bucket->suppressed++;
      return FALSE;
    }
  bucket->tokens--;
  if (suppressed != NULL)
    *suppressed = bucket->suppressed;
  bucket->suppressed = 0;
  return TRUE;
}

void
vhost_log_limiter_init (VhostLogLimiter *limiter, const char *label, guint burst, gint64 interval)
{
  g_return_if_fail (burst > 0 && interval > 0);

  memset (limiter, 0, sizeof *limiter);
  g_mutex_init (&limiter->mutex);
  if (label != NULL)
    g_strlcpy (limiter->label, label, sizeof limiter->label);
  limiter->burst = burst;
  limiter->interval = interval;
}

void
vhost_log_limiter_clear (VhostLogLimiter *limiter)
{
  for (guint i = 0; i < G_N_ELEMENTS (limiter->slots); i++)
    {
      g_free (limiter->slots[i].reason);
      g_free (limiter->slots[i].domain);
    }
  g_mutex_clear (&limiter->mutex);
  memset (limiter, 0, sizeof *limiter);
}

/* With the mutex held: the slot of `reason`, taken on its first message. */
static VhostLogLimitSlot *
find_slot (VhostLogLimiter *limiter, const char *domain, GLogLevelFlags level, const char *reason)
{
  VhostLogLimitSlot *slot = NULL;

  for (guint i = 0; i < VHOST_LOG_LIMIT_REASONS; i++)
    {
      slot = &limiter->slots[i];
      if (slot->reason == NULL || strcmp (slot->reason, reason) == 0)
        break;
      slot = NULL;
    }
  /* Every slot has another reason: they all share the last one. */
  if (slot == NULL)
    {
      slot = &limiter->slots[VHOST_LOG_LIMIT_REASONS];
      reason = "other messages";
    }
  if (slot->reason == NULL)
    {
      slot->reason = g_strdup (reason);
      slot->domain = g_strdup (domain);
      slot->level = level;
    }
  return slot;
}

/* Whether a message of `reason` goes out at `now`; if so, *suppressed is the count
 * of those dropped before it, and *counted the reason they were counted under (its
 * own, or that of the slot every further reason shares). */
static gboolean
limiter_take (VhostLogLimiter *limiter,
              const char *domain,
              GLogLevelFlags level,
              const char *reason,
              gint64 now,
              guint64 *suppressed,
              const char **counted)
{
  VhostLogLimitSlot *slot;
  gboolean allowed;

  g_mutex_lock (&limiter->mutex);
  slot = find_slot (limiter, domain, level, reason);
  allowed = vhost_rate_bucket_take (&slot->bucket, limiter->burst, limiter->interval, now, suppressed);
  /* Slots live as long as the limiter. */
  *counted = slot->reason;
  g_mutex_unlock (&limiter->mutex);
  return allowed;
}

/* Structured, as the tools log: a writer may then pick out the reason too. */
static void
log_line (const char *domain, GLogLevelFlags level, const char *reason, const char *message)
{
  g_log_structured (domain, level, "VHOST_LOG_REASON", reason, "MESSAGE", "%s", message);
}

static void
log_count (VhostLogLimiter *limiter, const char *domain, GLogLevelFlags level, const char *reason, guint64 count)
{
  g_autofree char *message = g_strdup_printf ("%s%" G_GUINT64_FORMAT " similar message%s suppressed (%s)",
                                              limiter->label, count, count == 1 ? "" : "s", reason);

  log_line (domain, level, reason, message);
}

void
vhost_log_limiter_logv (VhostLogLimiter *limiter,
                        const char *domain,
                        GLogLevelFlags level,
                        const char *reason,
                        gint64 now,
                        const char *format,
                        va_list args)
{
  g_autofree char *message = NULL;
  const char *counted = NULL;
  guint64 suppressed = 0;

  if (!limiter_take (limiter, domain, level, reason, now, &suppressed, &counted))
    return;
  /* Formatted only now that it goes out. */
  message = g_strdup_vprintf (format, args);
  if (suppressed > 0)
    log_count (limiter, domain, level, counted, suppressed);
  log_line (domain, level, reason, message);
}

void
vhost_log_limiter_logv_now (VhostLogLimiter *limiter,
                            const char *domain,
                            GLogLevelFlags level,
                            const char *reason,
                            const char *format,
                            va_list args)
{
  g_return_if_fail (reason != NULL && format != NULL);
  g_return_if_fail ((level & G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR) != 0);

  vhost_log_limiter_logv (limiter, domain, level & ~G_LOG_LEVEL_ERROR, reason, g_get_monotonic_time (), format, args);
}

void
vhost_log_limiter_log (VhostLogLimiter *limiter,
                       const char *domain,
                       GLogLevelFlags level,
                       const char *reason,
                       gint64 now,
                       const char *format,
                       ...)
{
  va_list args;

  va_start (args, format);
  vhost_log_limiter_logv (limiter, domain, level, reason, now, format, args);
  va_end (args);
}

typedef struct
{
  char *reason;   /* (owned) */
  char *domain;   /* (owned) */
  GLogLevelFlags level;
  guint64 count;
} PendingCount;

void
vhost_log_limiter_flush (VhostLogLimiter *limiter, gint64 now)
{
  PendingCount pending[G_N_ELEMENTS (limiter->slots)];
  guint n = 0;

  /* Taken under the mutex, logged after it: a log handler may log again. */
  g_mutex_lock (&limiter->mutex);
  for (guint i = 0; i < G_N_ELEMENTS (limiter->slots); i++)
    {
      VhostLogLimitSlot *slot = &limiter->slots[i];
      guint64 count = slot->bucket.suppressed;

      if (count == 0)
        continue;
      /* The count line takes a token like a message: flushes cannot flood either. */
      bucket_refill (&slot->bucket, limiter->burst, limiter->interval, now);
      if (slot->bucket.tokens == 0)
        continue;
      slot->bucket.tokens--;
      slot->bucket.suppressed = 0;
      pending[n].reason = g_strdup (slot->reason);
      pending[n].domain = g_strdup (slot->domain);
      pending[n].level = slot->level;
      pending[n].count = count;
      n++;
    }
  g_mutex_unlock (&limiter->mutex);
  for (guint i = 0; i < n; i++)
    {
      log_count (limiter, pending[i].domain, pending[i].level, pending[i].reason, pending[i].count);
      g_free (pending[i].reason);
      g_free (pending[i].domain);
    }
}

static VhostLogLimiter *
process_limiter (void)
{
  static VhostLogLimiter limiter;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      vhost_log_limiter_init (&limiter, NULL, VHOST_LOG_LIMIT_BURST, VHOST_LOG_LIMIT_INTERVAL_US);
      g_once_init_leave (&initialized, 1);
    }
  return &limiter;
}

void
vhost_log_limited (const char *domain, GLogLevelFlags level, const char *reason, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vhost_log_limiter_logv (process_limiter (), domain, level, reason, g_get_monotonic_time (), format, args);
  va_end (args);
}
