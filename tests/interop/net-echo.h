/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A virtio-net device on VhostUserSlave that sends every transmitted frame straight back on receive. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

#define VHOST_TYPE_TEST_NET_ECHO (vhost_test_net_echo_get_type ())
G_DECLARE_FINAL_TYPE (VhostTestNetEcho, vhost_test_net_echo, VHOST, TEST_NET_ECHO, VhostUserSlave)

struct _VhostTestNetEcho
{
  VhostUserSlave parent_instance;

  guint64 features;      /* offered */
  gint echoed;           /* (atomic) frames sent back */
  gint dropped;          /* (atomic) frames dropped: the receive queue stopped, or a buffer too short */
};

G_END_DECLS
