/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The testable halves of vhost_vdpa_list_devices(): the sysfs walk under any root, and the decoder
 * of the "vdpa" generic netlink family's VDPA_CMD_DEV_GET replies. */
#pragma once

#include "vhost-vdpa.h"

G_BEGIN_DECLS

/* Decodes @len bytes of netlink messages into @by_name (name → VhostVdpaDeviceInfo, owned by the
 * table, whose keys are the infos' names); sets *@done at NLMSG_DONE or an ack. */
gboolean vhost_vdpa_parse_dev_dump (GHashTable *by_name,
                                    const guint8 *buf,
                                    gsize len,
                                    gboolean *done,
                                    GError **error);

/* Lists the devices under @sysfs_root/bus/vdpa/devices, completed from @netlink_infos (nullable),
 * a table that vhost_vdpa_parse_dev_dump() filled. */
GPtrArray *vhost_vdpa_list_devices_at (const char *sysfs_root,
                                       GHashTable *netlink_infos,
                                       GError **error);

G_END_DECLS
