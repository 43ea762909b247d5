/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Visibility and availability macros for the public symbols of vhost-glib. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <glib.h>

#ifndef _VHOST_EXTERN
#define _VHOST_EXTERN __attribute__((visibility ("default"))) extern
#endif

/**
 * VHOST_AVAILABLE_IN_ALL:
 *
 * Marks a symbol as part of the public API of every version of vhost-glib.
 */
#define VHOST_AVAILABLE_IN_ALL _VHOST_EXTERN
