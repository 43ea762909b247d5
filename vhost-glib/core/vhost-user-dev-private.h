/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's state and request handlers, shared by its source files (vhost-user-dev.c, -mem.c, -inflight.c). */
#pragma once

#include "vhost-user-dev.h"
#include "vhost-glib/protocol/vhost-user-requests.h"
#include "vhost-iotlb.h"

G_BEGIN_DECLS

#define VHOST_USER_DEV_MAX_MEM_SLOTS 256

typedef struct
{
  guint num;
  guint base;
  VhostUserVringAddrWire addr;
  gboolean addr_set;
  gboolean base_set;             /* base is to be applied when the ring next starts */
  int kick_fd;                   /* (owned) */
  int call_fd;                   /* (owned) */
  int err_fd;                    /* (owned) */
  gboolean started;
  gboolean enabled;
} VhostUserDevVring;

typedef struct
{
  VhostUserRegionWire wire;
  guint8 *map;                   /* (owned) the mapping of the fd from offset 0 */
  gsize map_size;
  guint refs;                    /* ADD_MEM_REGs of this very region not yet removed */
} VhostUserDevRegion;

struct _VhostUserDev
{
  const VhostUserDevOps *ops;
  gpointer user_data;
  gboolean connected;

  guint64 acked_features;
  guint64 acked_protocol_features;
  gboolean features_set;
  guint8 status;

  VhostUserDevVring *vrings;     /* (owned) (array length=n_vrings) */
  guint n_vrings;
  guint max_queue_size;
  VhostQueue *queues[VHOST_USER_MAX_QUEUES]; /* (not owned) asked of get_queue once each */

  GArray *regions;               /* (element-type VhostUserDevRegion) (owned) */
  VhostMem mem;                  /* the regions as the rings see them; rebuilt while queues are stopped */
  guint mem_epoch;               /* bumped whenever guest memory is unmapped */
  guint8 *log_map;               /* (owned) (nullable) the mapping, from file offset 0 */
  gsize log_map_size;
  guint8 *log_area;              /* (nullable) the log itself, at its mmap_offset in log_map */
  guint64 log_area_size;
  int log_call_fd;               /* (owned) */
  guint8 *inflight_map;          /* (owned) (nullable) the area of SET_INFLIGHT_FD, mapped from file offset 0 */
  gsize inflight_map_size;
  guint8 *inflight_area;         /* (nullable) the area itself, at its mmap_offset in inflight_map */
  guint64 inflight_size;
  guint inflight_queues;         /* the area's queues and their size */
  guint inflight_queue_size;
  gboolean inflight_recover[VHOST_USER_MAX_QUEUES]; /* take the area up at the queue's next start */

  struct _VhostUserDevTransfer *transfer; /* (owned) (nullable) a device state transfer under way */

  int uffd;                      /* (owned) postcopy: the userfaultfd the front-end serves */
  gboolean postcopy_listening;   /* postcopy: guest memory is registered with it */
  gboolean postcopy_ack_pending; /* postcopy: a table was answered; no queue runs until it is acknowledged */

  VhostIotlb iotlb;              /* ACCESS_PLATFORM: the front-end's translations (vhost-user-iotlb.c) */

  GHashTable *workers;           /* (owned) worker group → VhostWorker */
  guint busy_poll_us;
  guint coalesce_us;
};

/* One function per request, named after the table's handler column: it carries
 * the request out and, for a request with a full reply, fills `reply`. */
#define VHOST_USER_DEV_DECLARE_HANDLER(code, handler, ...) \
  gboolean vhost_user_dev_request_##handler (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, \
                                             GError **error);
VHOST_USER_FRONTEND_REQUESTS (VHOST_USER_DEV_DECLARE_HANDLER)
#undef VHOST_USER_DEV_DECLARE_HANDLER

void vhost_user_dev_close_fd (int *fd);
/* A vring's started/enabled state, the device told of a change. */
void vhost_user_dev_vring_set_state (VhostUserDev *dev, guint index, gboolean started, gboolean enabled);
/* Guest memory went away: requests that the device still holds are stale. */
void vhost_user_dev_memory_unmapped (VhostUserDev *dev);
/* Memory (vhost-user-mem.c). */
void vhost_user_dev_mem_init (VhostUserDev *dev);
void vhost_user_dev_mem_clear (VhostUserDev *dev);
void vhost_user_dev_mem_rebuild (VhostUserDev *dev);
/* Device state (vhost-user-state.c). */
void vhost_user_dev_state_clear (VhostUserDev *dev);
/* Postcopy (vhost-user-postcopy.c). */
void vhost_user_dev_postcopy_clear (VhostUserDev *dev);
gboolean vhost_user_dev_postcopy_register (VhostUserDev *dev, VhostUserDevRegion *region, const char *what,
                                           GError **error);
void vhost_user_dev_postcopy_reply (VhostUserDev *dev, const VhostUserMsg *msg, const VhostUserDevRegion *regions,
                                    guint n_regions);
gboolean vhost_user_dev_postcopy_ack (VhostUserDev *dev, const VhostUserMsg *msg, GError **error);
/* Inflight (vhost-user-inflight.c). */
void vhost_user_dev_inflight_clear (VhostUserDev *dev);
/* Give vring `index`'s ring its region of the inflight area, if there is one. */
void vhost_user_dev_inflight_attach (VhostUserDev *dev, guint index, VhostRing *ring);
/* IOTLB (vhost-user-iotlb.c). The virtio features the engine offers of
 * `features`: ACCESS_PLATFORM only with what it needs. */
guint64 vhost_user_dev_iotlb_offered (VhostUserDev *dev, guint64 features, guint64 protocol_features);
/* Whether `features` and `protocol_features` go together (`what`: the request). */
gboolean vhost_user_dev_iotlb_check (guint64 features, guint64 protocol_features, const char *what, GError **error);
/* Give a ring the IOTLB when ACCESS_PLATFORM was negotiated, before it maps. */
void vhost_user_dev_iotlb_attach (VhostUserDev *dev, VhostRing *ring);
/* Map a front-end's file as memory (guest memory, the log, the inflight area):
 * `size` bytes at `offset`, after checking that the file holds them. */
gboolean vhost_user_dev_map_file (int fd, guint64 offset, guint64 size, const char *what, guint i,
                                  guint8 **map, gsize *map_size, GError **error);
/* Undo vhost_user_dev_map_file() (NULL: nothing). */
void vhost_user_dev_unmap_file (guint8 *map, gsize map_size);

G_END_DECLS
