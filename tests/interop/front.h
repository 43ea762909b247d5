/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A front-end that behaves, for tests of the tools: it connects, brings every queue up and moves real data through
 * each (a blk read, a net frame echoed), checked. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

/* Connect to the back-end on `sock` and ask for its features (which must include
 * VIRTIO_F_VERSION_1): returns the connected front-end. A back-end serves one
 * front-end at a time, so once it answers, the connection before is gone. */
VhostUserMaster *vhost_test_front_connect (const char *sock);

typedef enum
{
  VHOST_TEST_FRONT_BLK, /* one 4 KiB read per queue: status OK, 4097 bytes used */
  VHOST_TEST_FRONT_NET, /* one frame per queue pair, echoed back whole (--echo) */
} VhostTestFrontKind;

/* Bring `n_queues` queues up on `sock`, move data through each, stop them; `rounds`
 * times on one connection. Returns the number of requests that completed. */
guint vhost_test_front_cycle (const char *sock, VhostTestFrontKind kind, guint n_queues, guint rounds);

G_END_DECLS
