/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rate limiter of what a peer can make the back-end log (core/vhost-log-limit.c), on a clock the test drives. */
#include <string.h>

#include "test-support.h"
#include "vhost-glib/core/vhost-log-limit.h"

#define SECOND G_USEC_PER_SEC
#define DOMAIN "vhost-test-limit"

/* What the limiter logged in DOMAIN since the last call, one string per line ("W ..." for a warning,
 * "M ..." for a message). */
static GPtrArray *lines;

static void
take_lines (void)
{
  g_autoptr(GPtrArray) more = vhost_test_log_capture_take ();

  for (guint i = 0; i < more->len; i++)
    g_ptr_array_add (lines, g_strdup (g_ptr_array_index (more, i)));
}

static guint
n_lines (void)
{
  take_lines ();
  return lines->len;
}

static void
reset_lines (void)
{
  take_lines ();
  g_ptr_array_set_size (lines, 0);
}

static void
assert_line (guint index, const char *expected)
{
  take_lines ();
  g_assert_cmpuint (index, <, lines->len);
  g_assert_cmpstr (g_ptr_array_index (lines, index), ==, expected);
}

/* A burst, then one token per interval; the count of what was dropped comes with the
 * next token. */
static void
test_bucket (void)
{
  VhostRateBucket bucket = { 0 };
  guint64 suppressed = 99;
  gint64 t0 = 1000 * SECOND;

  for (guint i = 0; i < 10; i++)
    {
      g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0, &suppressed));
      g_assert_cmpuint (suppressed, ==, 0);
    }
  for (guint i = 0; i < 5; i++)
    g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + i * 1000, &suppressed));
  /* Not a whole interval yet. */
  g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + SECOND - 1, &suppressed));
  /* The window reopens: one message, with the count of the six dropped. */
  g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + SECOND, &suppressed));
  g_assert_cmpuint (suppressed, ==, 6);
  g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + SECOND, &suppressed));
  /* Two and a half intervals: two tokens, the half kept towards the third. */
  g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 3 * SECOND + SECOND / 2, &suppressed));
  g_assert_cmpuint (suppressed, ==, 1);
  g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 3 * SECOND + SECOND / 2, &suppressed));
  g_assert_cmpuint (suppressed, ==, 0);
  g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 3 * SECOND + SECOND / 2, &suppressed));
  g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 4 * SECOND, &suppressed));
  g_assert_cmpuint (suppressed, ==, 1);
  /* A clock read earlier by another thread earns nothing and loses nothing. */
  g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0, &suppressed));
  g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 5 * SECOND, &suppressed));
  g_assert_cmpuint (suppressed, ==, 1);
  /* A long quiet time gives the whole burst back, not more. */
  for (guint i = 0; i < 10; i++)
    g_assert_true (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 100 * SECOND, NULL));
  g_assert_false (vhost_rate_bucket_take (&bucket, 10, SECOND, t0 + 100 * SECOND, NULL));
}

/* A flood of 200 messages a second for 5 s of one reason: the burst, then one message a
 * second, each after the count of those dropped; the rest at the flush. Another reason
 * keeps its own burst. */
static void
test_flood (void)
{
  VhostLogLimiter limiter;
  gint64 t0 = 50 * SECOND;
  g_autofree char *count = NULL;

  reset_lines ();
  vhost_log_limiter_init (&limiter, "Queue 3: ", 10, SECOND);
  for (guint i = 0; i < 1000; i++)
    vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_WARNING, "bad chain", t0 + i * (SECOND / 200), "chain %u", i);
  /* 10, then at 1, 2, 3 and 4 s a count and a message. */
  g_assert_cmpuint (n_lines (), ==, 10 + 4 * 2);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *expected = g_strdup_printf ("W chain %u", i);

      assert_line (i, expected);
    }
  assert_line (10, "W Queue 3: 190 similar messages suppressed (bad chain)");
  assert_line (11, "W chain 200");
  assert_line (12, "W Queue 3: 199 similar messages suppressed (bad chain)");
  assert_line (13, "W chain 400");
  assert_line (17, "W chain 800");

  /* Its own bucket for another reason, at another level. */
  vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_MESSAGE, "ring broken", t0 + 5 * SECOND - 1, "broken");
  assert_line (18, "M broken");

  /* No token yet: the count waits. */
  vhost_log_limiter_flush (&limiter, t0 + 5 * SECOND - 1);
  g_assert_cmpuint (n_lines (), ==, 19);
  /* The count of what came after 4 s, once. */
  vhost_log_limiter_flush (&limiter, t0 + 5 * SECOND);
  g_assert_cmpuint (n_lines (), ==, 20);
  assert_line (19, "W Queue 3: 199 similar messages suppressed (bad chain)");
  vhost_log_limiter_flush (&limiter, t0 + 10 * SECOND);
  g_assert_cmpuint (n_lines (), ==, 20);

  /* One dropped message says so in the singular. */
  for (guint i = 0; i < 11; i++)
    vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_WARNING, "bad chain", t0 + 20 * SECOND, "again %u", i);
  vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_WARNING, "bad chain", t0 + 21 * SECOND, "later");
  g_assert_cmpuint (n_lines (), ==, 32);
  assert_line (30, "W Queue 3: 1 similar message suppressed (bad chain)");
  assert_line (31, "W later");
  vhost_log_limiter_clear (&limiter);
}

/* Flushes take tokens: a queue stopped and started in a loop cannot flood with counts. */
static void
test_flush_bounded (void)
{
  VhostLogLimiter limiter;
  gint64 t0 = 10 * SECOND;
  guint64 shown = 0, counted = 0;

  reset_lines ();
  vhost_log_limiter_init (&limiter, NULL, 2, SECOND);
  for (guint cycle = 0; cycle < 1000; cycle++)
    {
      gint64 now = t0 + cycle * (SECOND / 100);

      for (guint i = 0; i < 5; i++)
        vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_MESSAGE, "went away", now, "gone");
      vhost_log_limiter_flush (&limiter, now);
    }
  /* 10 s: the burst of 2, then a token a second (9 of them after the first second),
   * each for a message and the count line before it. */
  g_assert_cmpuint (n_lines (), <=, 2 + 2 * 9);
  g_assert_cmpuint (n_lines (), >=, 2 + 9);
  /* Later, a last count: every message was shown or counted, once. */
  vhost_log_limiter_flush (&limiter, t0 + 20 * SECOND);
  for (guint i = 0; i < n_lines (); i++)
    {
      const char *line = g_ptr_array_index (lines, i);

      if (strcmp (line, "M gone") == 0)
        shown++;
      else
        {
          g_assert_true (g_str_has_suffix (line, " similar messages suppressed (went away)"));
          counted += g_ascii_strtoull (line + 2, NULL, 10);
        }
    }
  g_assert_cmpuint (shown + counted, ==, 5000);
  vhost_log_limiter_clear (&limiter);
}

/* Reasons beyond the limiter's slots share one. */
static void
test_many_reasons (void)
{
  VhostLogLimiter limiter;

  reset_lines ();
  vhost_log_limiter_init (&limiter, NULL, 1, SECOND);
  for (guint r = 0; r < VHOST_LOG_LIMIT_REASONS + 4; r++)
    {
      g_autofree char *reason = g_strdup_printf ("reason %u", r);

      vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_MESSAGE, reason, 0, "%s", reason);
      vhost_log_limiter_log (&limiter, DOMAIN, G_LOG_LEVEL_MESSAGE, reason, 0, "%s again", reason);
    }
  /* One each for the first ones, one for all the others. */
  g_assert_cmpuint (n_lines (), ==, VHOST_LOG_LIMIT_REASONS + 1);
  assert_line (VHOST_LOG_LIMIT_REASONS, "M reason 8");
  vhost_log_limiter_flush (&limiter, SECOND);
  g_assert_cmpuint (n_lines (), ==, 2 * VHOST_LOG_LIMIT_REASONS + 2);
  assert_line (2 * VHOST_LOG_LIMIT_REASONS + 1, "M 7 similar messages suppressed (other messages)");
  vhost_log_limiter_clear (&limiter);
}

int
main (int argc, char **argv)
{
  lines = g_ptr_array_new_with_free_func (g_free);
  vhost_test_init (&argc, &argv);
  /* The limiter's lines are what the tests look at. */
  vhost_test_log_capture_start (DOMAIN);
  g_test_add_func ("/vhost/log-limit/bucket", test_bucket);
  g_test_add_func ("/vhost/log-limit/flood", test_flood);
  g_test_add_func ("/vhost/log-limit/flush-bounded", test_flush_bounded);
  g_test_add_func ("/vhost/log-limit/many-reasons", test_many_reasons);
  return g_test_run ();
}
