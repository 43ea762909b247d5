/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live migration of a test guest between two QEMU processes on this machine, driven over QMP. */
#pragma once

#include "guest.h"
#include "qmp.h"

G_BEGIN_DECLS

/* Guest memory that QEMU 7.2 migrates with vhost-user back-ends: a shareable file,
 * an unlinked one in /dev/shm for each QEMU (memory-backend-memfd makes the
 * destination guest panic after the migration under TCG). */
#define VHOST_MIGRATION_MEMORY "memory-backend-file,id=mem,size=512M,share=on,mem-path=/dev/shm"

typedef struct
{
  gboolean postcopy;      /* postcopy-ram on both sides, switched to at once */
  guint64 max_bandwidth;  /* bytes per second; 0 for QEMU's default */
} VhostMigrationOptions;

/* What query-migrate reports once the migration completed. */
typedef struct
{
  gint64 total_ms;
  gint64 downtime_ms;
  gint64 setup_ms;
  gint64 transferred;     /* bytes of RAM sent */
  gint64 postcopy_bytes;  /* of which after the switch to postcopy */
  gint64 postcopy_requests;
  gint64 dirty_syncs;
} VhostMigrationStats;

typedef struct _VhostMigration VhostMigration;

/* Boot the source guest ("qemu-source") with `source_devices`, and start the
 * destination QEMU ("qemu-destination", waiting for the migration) with
 * `destination_devices`; each has its QMP socket in `dir`. */
VhostMigration *vhost_migration_new (const char *dir,
                                     const char *kver,
                                     const char *initrd,
                                     guint smp,
                                     const char *const *source_devices,
                                     const char *const *destination_devices);

VhostPeer *vhost_migration_get_source (VhostMigration *migration);
VhostPeer *vhost_migration_get_destination (VhostMigration *migration);

/* Migrate the guest over a unix socket and wait up to `timeout_ms` for the
 * migration to complete; fails the test if it fails. The destination runs the
 * guest afterwards; the source is paused. */
void vhost_migration_run (VhostMigration *migration,
                          const VhostMigrationOptions *options,
                          guint timeout_ms,
                          VhostMigrationStats *stats);

/* Quit the paused source QEMU (QMP quit): it must exit with status 0. */
void vhost_migration_quit_source (VhostMigration *migration);

/* Kill what still runs. */
void vhost_migration_free (VhostMigration *migration);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostMigration, vhost_migration_free)

G_END_DECLS
