/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every fuzz target shares: the libFuzzer entry point's prototype and a reader of the input's bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The input, read front to back; past its end every value reads as zero. */
typedef struct
{
  const guint8 *p;
  gsize left;
} FuzzInput;

static inline guint8
fuzz_u8 (FuzzInput *in)
{
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->p++;
}

static inline guint16
fuzz_u16 (FuzzInput *in)
{
  guint16 lo = fuzz_u8 (in);

  return lo | (guint16) (fuzz_u8 (in) << 8);
}

static inline guint32
fuzz_u32 (FuzzInput *in)
{
  guint32 lo = fuzz_u16 (in);

  return lo | ((guint32) fuzz_u16 (in) << 16);
}

static inline guint64
fuzz_u64 (FuzzInput *in)
{
  guint64 lo = fuzz_u32 (in);

  return lo | ((guint64) fuzz_u32 (in) << 32);
}

/* Copy up to @len of the next bytes to @dest; returns how many there were. */
static inline gsize
fuzz_bytes (FuzzInput *in, void *dest, gsize len)
{
  len = MIN (len, in->left);
  if (len > 0)
    memcpy (dest, in->p, len);
  in->p += len;
  in->left -= len;
  return len;
}
