/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The frames of echo-stream (a program for test guests) and their payloads, which the host computes again to check. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An ethertype for local experiments (IEEE 802): no stack in the guest takes these. */
#define ECHO_STREAM_ETHERTYPE 0x88b5
#define ECHO_STREAM_PAYLOAD 1400

/* The payload of frame `seq` of a stream seeded with `seed`. */
static inline void
echo_stream_payload (guint32 seed, guint64 seq, guint8 *payload)
{
  guint64 x = (seq + 1) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) ^ seed;

  for (guint i = 0; i < ECHO_STREAM_PAYLOAD; i++)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      payload[i] = (guint8) x;
    }
}

G_END_DECLS
