/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The testable parts of vhost_vdpa_list_devices(): the decoders of the kernel's generic netlink
 * replies (pure functions over bytes, no socket) and the sysfs walk under any root. */
#pragma once

#include "vhost-vdpa.h"

G_BEGIN_DECLS

/* The sequence numbers that vhost_vdpa_list_devices() gives its two requests. */
#define VHOST_VDPA_SEQ_FAMILY 1
#define VHOST_VDPA_SEQ_DEV_GET 2

/* Decodes the reply to CTRL_CMD_GETFAMILY "vdpa": sets *@family to the family's id, or to 0 when
 * the kernel has no such family (an ENOENT error: vdpa.ko not loaded). @seq and @portid are those
 * of the request and of the socket; 0 takes any. A reply that is malformed, or a message from
 * another request, is a VHOST_ERROR_PROTOCOL error naming what was wrong; any other error the
 * kernel sent is named by its errno text. */
gboolean vhost_vdpa_parse_family_reply (const guint8 *buf,
                                        gsize len,
                                        guint32 seq,
                                        guint32 portid,
                                        guint16 *family,
                                        GError **error);

/* Decodes one datagram (@len bytes) of the VDPA_CMD_DEV_GET dump into @by_name (name →
 * VhostVdpaDeviceInfo, owned by the table, whose keys are the infos' names); sets *@done at
 * NLMSG_DONE or an ack. Devices whose names could not be sysfs names ("", ".x", "a/b") are
 * skipped. Errors as for vhost_vdpa_parse_family_reply(). */
gboolean vhost_vdpa_parse_dev_dump (GHashTable *by_name,
                                    const guint8 *buf,
                                    gsize len,
                                    guint32 seq,
                                    guint32 portid,
                                    gboolean *done,
                                    GError **error);

/* A table for vhost_vdpa_parse_dev_dump(). */
GHashTable *vhost_vdpa_device_table_new (void);

/* Lists the devices under @sysfs_root/bus/vdpa/devices, completed from @netlink_infos (nullable),
 * a table that vhost_vdpa_parse_dev_dump() filled. */
GPtrArray *vhost_vdpa_list_devices_at (const char *sysfs_root,
                                       GHashTable *netlink_infos,
                                       GError **error);

G_END_DECLS
