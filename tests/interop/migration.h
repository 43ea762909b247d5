/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live migration of a test guest between two QEMU processes on this machine, driven over QMP. */
#pragma once

#include "guest.h"
#include "qmp.h"

G_BEGIN_DECLS

/* Bounds for the steps of a migration test, generous for a busy machine. */
#define VHOST_MIGRATION_BOOT_TIMEOUT_MS (240 * 1000)
#define VHOST_MIGRATION_TIMEOUT_MS (300 * 1000)
/* A precopy slow enough that the guest works for seconds while its memory moves. */
#define VHOST_MIGRATION_MAX_BANDWIDTH (32 * 1024 * 1024)

typedef struct
{
  gboolean postcopy;      /* postcopy-ram on both sides, switched to at once */
  guint64 max_bandwidth;  /* bytes per second; 0 for QEMU's default */
} VhostMigrationOptions;

/* What query-migrate reports once the migration completed, and what the
 * comparison of the two memories found. */
typedef struct
{
  gint64 total_ms;
  gint64 downtime_ms;
  gint64 setup_ms;
  gint64 transferred;     /* bytes of RAM sent */
  gint64 postcopy_bytes;  /* of which after the switch to postcopy */
  gint64 postcopy_requests;
  gint64 dirty_syncs;
  gint64 differing_pages; /* precopy: pages of guest memory that the destination got wrong; -1 if not compared */
} VhostMigrationStats;

typedef struct _VhostMigration VhostMigration;

/* Boot the source guest ("qemu-source") with `source_devices`, and start the
 * destination QEMU ("qemu-destination", waiting for the migration) with
 * `destination_devices`; each has its QMP socket in `dir`, and its memory in a
 * file of /dev/shm (QEMU 7.2 under TCG migrates a guest on memfd memory into
 * a kernel panic), unlinked once QEMU has it. The guests' kernels run with
 * init_on_alloc=0: Debian's zeroes every page it allocates, receive buffers
 * included, and so has QEMU send them whether the back-end logs its writes or
 * not. */
VhostMigration *vhost_migration_new (const char *dir,
                                     const char *kver,
                                     const char *initrd,
                                     guint smp,
                                     const VhostMigrationOptions *options,
                                     const char *const *source_devices,
                                     const char *const *destination_devices);

VhostPeer *vhost_migration_get_source (VhostMigration *migration);
VhostPeer *vhost_migration_get_destination (VhostMigration *migration);

/* Migrate the guest over a unix socket and wait up to `timeout_ms` for the
 * migration to complete; fails the test if it fails. After a precopy
 * migration, before the destination runs the guest, its memory is compared
 * page by page with the source's (stats->differing_pages). The destination
 * runs the guest afterwards; the source is paused. */
void vhost_migration_run (VhostMigration *migration, guint timeout_ms, VhostMigrationStats *stats);

/* Quit the paused source QEMU (QMP quit): it must exit with status 0. */
void vhost_migration_quit_source (VhostMigration *migration);

/* Kill what still runs. */
void vhost_migration_free (VhostMigration *migration);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostMigration, vhost_migration_free)

G_END_DECLS
