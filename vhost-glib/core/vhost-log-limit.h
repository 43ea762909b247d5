/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rate limits for what a peer can make the back-end log: a token bucket per queue and reason. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A front-end (or the guest behind it) can make a back-end log as often as it
 * likes: a malformed chain resubmitted in a loop is a warning per chain. Every
 * such message goes through a limiter: each key (a queue, or the device, and a
 * reason, a constant string naming the kind of message) has a token bucket of
 * VHOST_LOG_LIMIT_BURST messages, refilled with one every
 * VHOST_LOG_LIMIT_INTERVAL_US. A message without a token is counted and
 * dropped; the next one let through is preceded by one line "N similar messages
 * suppressed (reason)". Counts still pending when the owner stops (a queue
 * stops, a device closes) are printed then, if the bucket has a token for them.
 * So a key prints at most two lines per interval once its burst is spent.
 *
 * The lines go out with g_log_structured(), with the field VHOST_LOG_REASON
 * besides MESSAGE. The time is the caller's (g_get_monotonic_time() in the library, a test's
 * own clock in the unit tests), in microseconds.
 */

/* Messages a key may print at once... */
#define VHOST_LOG_LIMIT_BURST 10
/* ...and then one per this many microseconds. */
#define VHOST_LOG_LIMIT_INTERVAL_US G_USEC_PER_SEC
/* Reasons a limiter keeps apart; more share one bucket. */
#define VHOST_LOG_LIMIT_REASONS 8

/* One key's bucket. Zeroed: full, its clock not started. */
typedef struct
{
  gboolean started;
  guint tokens;
  gint64 refilled;       /* when `tokens` was last brought up to date */
  guint64 suppressed;    /* messages dropped since the last one let through */
} VhostRateBucket;

/* Take a token at `now`: TRUE if the message goes out, with *suppressed (may be
 * NULL) the count dropped before it, which the bucket forgets; FALSE if it is
 * dropped (and counted). `burst` tokens at most, one more every `interval` µs. */
gboolean vhost_rate_bucket_take (VhostRateBucket *bucket,
                                 guint burst,
                                 gint64 interval,
                                 gint64 now,
                                 guint64 *suppressed);

typedef struct
{
  char *reason;          /* (owned) (nullable) a free slot */
  char *domain;          /* (owned) (nullable) the log domain of its first message */
  GLogLevelFlags level;  /* ...and its level, for the count printed at a flush */
  VhostRateBucket bucket;
} VhostLogLimitSlot;

/* The buckets of one queue or device, by reason. Any thread. */
typedef struct
{
  GMutex mutex;
  char label[32];        /* what the count lines start with ("Queue 3: "), or "" */
  guint burst;
  gint64 interval;
  VhostLogLimitSlot slots[VHOST_LOG_LIMIT_REASONS + 1]; /* the last one: every other reason */
} VhostLogLimiter;

/* `label` (nullable) names the queue or device in the count lines; `burst` and
 * `interval` as vhost_rate_bucket_take() (VHOST_LOG_LIMIT_BURST and
 * VHOST_LOG_LIMIT_INTERVAL_US in the library). */
void vhost_log_limiter_init (VhostLogLimiter *limiter, const char *label, guint burst, gint64 interval);
void vhost_log_limiter_clear (VhostLogLimiter *limiter);

/* Log a message of `reason` in `domain` at `level`, if its bucket lets it go out at
 * `now`, after the count of those dropped before it if there were any; it is
 * formatted only then. */
void vhost_log_limiter_log (VhostLogLimiter *limiter,
                            const char *domain,
                            GLogLevelFlags level,
                            const char *reason,
                            gint64 now,
                            const char *format,
                            ...) G_GNUC_PRINTF (6, 7);
void vhost_log_limiter_logv (VhostLogLimiter *limiter,
                             const char *domain,
                             GLogLevelFlags level,
                             const char *reason,
                             gint64 now,
                             const char *format,
                             va_list args) G_GNUC_PRINTF (6, 0);
/* vhost_log_limiter_logv() now, for the public functions: `level` one level (or
 * several), not G_LOG_LEVEL_ERROR, which would abort. */
void vhost_log_limiter_logv_now (VhostLogLimiter *limiter,
                                 const char *domain,
                                 GLogLevelFlags level,
                                 const char *reason,
                                 const char *format,
                                 va_list args) G_GNUC_PRINTF (5, 0);
/* Print the counts still pending, each as its reason's own message would be
 * (domain, level), for the reasons whose bucket has a token at `now`. */
void vhost_log_limiter_flush (VhostLogLimiter *limiter, gint64 now);

/* Messages that belong to no queue or device (a region the guard cannot
 * register): one process-wide limiter, keyed by reason only. */
void vhost_log_limited (const char *domain, GLogLevelFlags level, const char *reason, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

G_END_DECLS
