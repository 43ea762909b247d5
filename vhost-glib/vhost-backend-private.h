/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostBackend's internals: the defaults of its asynchronous virtual functions. */
#pragma once

#include "vhost-backend.h"

G_BEGIN_DECLS

/* vhost-backend-async.c: the default `_async` and `_finish` virtual functions. */
void vhost_backend_async_default_init (VhostBackendInterface *iface);

G_END_DECLS
