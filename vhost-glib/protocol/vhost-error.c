/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain of vhost-glib, defined below the GObject layer so that protocol/ and core/ report errors alone. */
#include "vhost-error.h"

/**
 * SECTION:vhost-error
 * @title: Errors
 * @short_description: the %VHOST_ERROR domain and its codes
 *
 * Every function of vhost-glib that can fail reports a #GError in the
 * %VHOST_ERROR domain, with one #VhostError code per kind of failure a caller
 * can act on. The message names the request, the ioctl or the system call, and
 * the errno text where there is one.
 */

/**
 * vhost_error_quark:
 *
 * The quark of the %VHOST_ERROR domain.
 *
 * Returns: the error domain
 */
G_DEFINE_QUARK (vhost-error-quark, vhost_error)
