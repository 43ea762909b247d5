/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The umbrella header of vhost-glib: the only header applications include. */
#pragma once

#define __VHOST_GLIB_INSIDE__

#include <vhost-glib/vhost-version-macros.h>
#include <vhost-glib/vhost-enum-types.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-backend.h>
#include <vhost-glib/vhost-user-master.h>
#include <vhost-glib/vhost-virtqueue.h>
#include <vhost-glib/vhost-user-slave.h>
#include <vhost-glib/vhost-driver.h>
#include <vhost-glib/vhost-kernel.h>
#include <vhost-glib/vhost-net.h>
#include <vhost-glib/vhost-vsock.h>
#include <vhost-glib/vhost-scsi.h>
#include <vhost-glib/vhost-vdpa.h>
#include <vhost-glib/vhost-user-backend-program.h>
#include <vhost-glib/vhost-user-backend-process.h>

#undef __VHOST_GLIB_INSIDE__
