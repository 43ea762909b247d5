/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostScsi: the kernel's vhost-scsi device (/dev/vhost-scsi): the ABI version and the endpoint. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <vhost-glib/vhost-kernel.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_SCSI:
 *
 * The #GType of #VhostScsi.
 */
#define VHOST_TYPE_SCSI (vhost_scsi_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostScsi, vhost_scsi, VHOST, SCSI, VhostKernel)

VHOST_AVAILABLE_IN_ALL
VhostScsi *vhost_scsi_new (const char *path,
                           GError **error);
VHOST_AVAILABLE_IN_ALL
VhostScsi *vhost_scsi_new_for_fd (gint fd,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_scsi_get_abi_version (VhostScsi *scsi,
                                     gint *version,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_scsi_set_endpoint (VhostScsi *scsi,
                                  const char *wwpn,
                                  guint tpgt,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_scsi_clear_endpoint (VhostScsi *scsi,
                                    const char *wwpn,
                                    guint tpgt,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_scsi_set_events_missed (VhostScsi *scsi,
                                       gboolean missed,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_scsi_get_events_missed (VhostScsi *scsi,
                                       gboolean *missed,
                                       GError **error);

G_END_DECLS
