/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVdpa: a vDPA device (/dev/vhost-vdpa-N), a VhostKernel that re-implements the parts of
 * VhostBackend where vDPA differs, and discovery of the vDPA devices. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-backend.h>
#include <vhost-glib/vhost-kernel.h>

G_BEGIN_DECLS

/**
 * VhostVdpaBackendFeature:
 * @VHOST_VDPA_BACKEND_F_IOTLB_MSG_V2: IOTLB messages are struct vhost_msg_v2,
 *   which carries an address space identifier.
 * @VHOST_VDPA_BACKEND_F_IOTLB_BATCH: the device takes a batch of IOTLB updates
 *   between BATCH_BEGIN and BATCH_END messages and applies it at once.
 * @VHOST_VDPA_BACKEND_F_IOTLB_ASID: IOTLB messages may name an address space
 *   other than 0.
 * @VHOST_VDPA_BACKEND_F_SUSPEND: the device can be suspended
 *   (vhost_vdpa_suspend()).
 * @VHOST_VDPA_BACKEND_F_RESUME: a suspended device can be resumed
 *   (vhost_vdpa_resume()). Linux 6.3.
 * @VHOST_VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK: queues may be enabled
 *   (vhost_backend_set_vring_enable()) after DRIVER_OK too; without it, enable
 *   each queue before setting DRIVER_OK.
 * @VHOST_VDPA_BACKEND_F_DESC_ASID: a queue's descriptor table and rings may be
 *   in a group of their own (vhost_vdpa_get_vring_desc_group()), which can then
 *   be given an address space apart from the buffers'. Needs
 *   %VHOST_VDPA_BACKEND_F_IOTLB_ASID.
 * @VHOST_VDPA_BACKEND_F_IOTLB_PERSIST: the device keeps its DMA mappings across
 *   a reset.
 *
 * The backend features of vhost-vdpa (VHOST_BACKEND_F_* in
 * &lt;linux/vhost_types.h&gt;), as bit numbers: use VHOST_FEATURE_MASK() to make
 * masks of them. The Debian 12 kernel (6.1) offers at most IOTLB_MSG_V2,
 * IOTLB_BATCH, IOTLB_ASID and SUSPEND.
 */
typedef enum {
  VHOST_VDPA_BACKEND_F_IOTLB_MSG_V2 = 1,
  VHOST_VDPA_BACKEND_F_IOTLB_BATCH = 2,
  VHOST_VDPA_BACKEND_F_IOTLB_ASID = 3,
  VHOST_VDPA_BACKEND_F_SUSPEND = 4,
  VHOST_VDPA_BACKEND_F_RESUME = 5,
  VHOST_VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK = 6,
  VHOST_VDPA_BACKEND_F_DESC_ASID = 7,
  VHOST_VDPA_BACKEND_F_IOTLB_PERSIST = 8,
} VhostVdpaBackendFeature;

/**
 * VhostVdpaDeviceInfo:
 *
 * What vhost_vdpa_list_devices() knows about one vDPA device. An opaque,
 * reference-counted record; read it with its accessors.
 */
typedef struct _VhostVdpaDeviceInfo VhostVdpaDeviceInfo;

/**
 * VHOST_TYPE_VDPA_DEVICE_INFO:
 *
 * The #GType of #VhostVdpaDeviceInfo.
 */
#define VHOST_TYPE_VDPA_DEVICE_INFO (vhost_vdpa_device_info_get_type ())
VHOST_AVAILABLE_IN_ALL
GType vhost_vdpa_device_info_get_type (void) G_GNUC_CONST;
VHOST_AVAILABLE_IN_ALL
VhostVdpaDeviceInfo *vhost_vdpa_device_info_ref (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
void vhost_vdpa_device_info_unref (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
const char *vhost_vdpa_device_info_get_name (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
guint32 vhost_vdpa_device_info_get_device_id (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
guint32 vhost_vdpa_device_info_get_vendor_id (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
const char *vhost_vdpa_device_info_get_mgmtdev (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
const char *vhost_vdpa_device_info_get_device_path (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
const char *vhost_vdpa_device_info_get_driver (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
guint vhost_vdpa_device_info_get_max_vqs (VhostVdpaDeviceInfo *info);
VHOST_AVAILABLE_IN_ALL
guint vhost_vdpa_device_info_get_max_vq_size (VhostVdpaDeviceInfo *info);

VHOST_AVAILABLE_IN_ALL
GPtrArray *vhost_vdpa_list_devices (GError **error);

/**
 * VHOST_TYPE_VDPA:
 *
 * The #GType of #VhostVdpa.
 */
#define VHOST_TYPE_VDPA (vhost_vdpa_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostVdpa, vhost_vdpa, VHOST, VDPA, VhostKernel)

VHOST_AVAILABLE_IN_ALL
VhostVdpa *vhost_vdpa_new (const char *device_path,
                           GError **error);
VHOST_AVAILABLE_IN_ALL
VhostVdpa *vhost_vdpa_new_for_fd (gint fd,
                                  GError **error);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_device_id (VhostVdpa *vdpa,
                                   guint32 *device_id,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_status (VhostVdpa *vdpa,
                                guint8 *status,
                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_set_status (VhostVdpa *vdpa,
                                guint8 status,
                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_reset (VhostVdpa *vdpa,
                           GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_config_size (VhostVdpa *vdpa,
                                     guint32 *size,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_vdpa_get_config (VhostVdpa *vdpa,
                               guint offset,
                               guint length,
                               GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_set_config (VhostVdpa *vdpa,
                                guint offset,
                                GBytes *data,
                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_set_config_call (VhostVdpa *vdpa,
                                     gint fd,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_vring_num (VhostVdpa *vdpa,
                                   guint *max_size,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_vring_size (VhostVdpa *vdpa,
                                    guint index,
                                    guint *size,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_vqs_count (VhostVdpa *vdpa,
                                   guint *count,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_iova_range (VhostVdpa *vdpa,
                                    guint64 *first,
                                    guint64 *last,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_set_backend_features (VhostVdpa *vdpa,
                                          guint64 features,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vdpa_get_acked_backend_features (VhostVdpa *vdpa);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_group_num (VhostVdpa *vdpa,
                                   guint *n_groups,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_as_num (VhostVdpa *vdpa,
                                guint *n_address_spaces,
                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_vring_group (VhostVdpa *vdpa,
                                     guint index,
                                     guint *group,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_get_vring_desc_group (VhostVdpa *vdpa,
                                          guint index,
                                          guint *group,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_set_group_asid (VhostVdpa *vdpa,
                                    guint group,
                                    guint asid,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_suspend (VhostVdpa *vdpa,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_resume (VhostVdpa *vdpa,
                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_dma_map (VhostVdpa *vdpa,
                             guint asid,
                             guint64 iova,
                             guint64 size,
                             guint64 uaddr,
                             VhostIotlbAccess access,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_dma_unmap (VhostVdpa *vdpa,
                               guint asid,
                               guint64 iova,
                               guint64 size,
                               GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_dma_batch_begin (VhostVdpa *vdpa,
                                     guint asid,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vdpa_dma_batch_end (VhostVdpa *vdpa,
                                   GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostVdpaDeviceInfo, vhost_vdpa_device_info_unref)

G_END_DECLS
