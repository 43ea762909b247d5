/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostToolNet: the virtio-net device of vhost-user-net (a TAP interface or an echo), for the program, the tests
 * and the benchmarks. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

#define VHOST_TOOL_NET_MAX_QUEUE_PAIRS 8
#define VHOST_TOOL_NET_DEFAULT_MTU 1500

typedef enum
{
  VHOST_TOOL_NET_MODE_TAP,  /* frames go to and come from a TAP interface */
  VHOST_TOOL_NET_MODE_ECHO, /* every transmitted frame comes back on the same pair's receive queue */
} VhostToolNetMode;

/* What the device is; read by vhost_tool_net_configure() and not kept. */
typedef struct
{
  VhostToolNetMode mode;
  const char *tap;      /* TAP: the interface's name (created if it does not exist) */
  guint8 mac[6];        /* VIRTIO_NET_F_MAC */
  int mtu;              /* VIRTIO_NET_F_MTU, set on the TAP too; <= 0: the TAP's, or 1500 for the echo */
  guint queue_pairs;    /* 1 to VHOST_TOOL_NET_MAX_QUEUE_PAIRS; 0 means 1 */
  guint threads;        /* worker threads, pair i in thread i % threads (at most queue_pairs);
                         * 0: one per pair */
  gboolean mergeable;   /* offer VIRTIO_NET_F_MRG_RXBUF */
} VhostToolNetConfig;

/* What one queue pair did. Frames the guest sent count as transmitted, frames it
 * got as received (in echo mode, the same frames); bytes leave the header out. */
typedef struct
{
  guint64 rx_frames;
  guint64 rx_bytes;
  guint64 tx_frames;
  guint64 tx_bytes;
  guint64 rx_dropped;   /* frames that fit no receive buffers, receive chains without room for a header */
  guint64 tx_dropped;   /* transmitted chains too short or too long, frames the TAP refused */
} VhostToolNetStats;

#define VHOST_TYPE_TOOL_NET (vhost_tool_net_get_type ())
G_DECLARE_FINAL_TYPE (VhostToolNet, vhost_tool_net, VHOST, TOOL_NET, VhostUserSlave)

/* Set the device up once, before it serves a front-end, in the thread whose main
 * context the slave belongs to: the queue pairs and their handlers, the TAP (opened,
 * offloads probed, MTU read or set), the features and the configuration space. */
gboolean vhost_tool_net_configure (VhostToolNet *self, const VhostToolNetConfig *config, GError **error);

/* The number of queue pairs the device offers. */
guint vhost_tool_net_get_queue_pairs (VhostToolNet *self);

/* The number of worker threads that serve them. */
guint vhost_tool_net_get_threads (VhostToolNet *self);

/* A snapshot of one queue pair's counters, or (pair = -1) of all of them added up;
 * may be called from any thread. */
void vhost_tool_net_get_stats (VhostToolNet *self, int pair, VhostToolNetStats *stats);

/* Log each queue pair's counters as a message. */
void vhost_tool_net_log_stats (VhostToolNet *self);

G_END_DECLS
