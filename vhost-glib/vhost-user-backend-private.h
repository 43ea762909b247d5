/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the discovery and the launcher of back-end programs share, inside the library only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "exited with status N" or "was killed by signal N", for a wait status. */
char *vhost_user_backend_describe_status (gint status);

/* ": TEXT" with the first non-empty line of `length` bytes (-1: up to a nul) of a
 * program's output (made valid UTF-8), or "" if there is none: the end of an error message. */
char *vhost_user_backend_describe_output (const char *output, gssize length);

G_END_DECLS
