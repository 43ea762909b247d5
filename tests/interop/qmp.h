/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A QMP client for interop tests: commands to a running QEMU over its unix socket, waiting for their answers. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _VhostQmp VhostQmp;

/* Connect to the QMP socket at `path` (QEMU started with
 * `-qmp unix:PATH,server=on,wait=off`), read the greeting and leave the
 * capabilities negotiation mode. Fails the test if that does not work. */
VhostQmp *vhost_qmp_connect (const char *path);

/* Run `command` with the arguments `arguments` (the JSON text of an object, or
 * NULL) and wait up to a minute for its answer: the "return" member, or NULL
 * and `error` set to QEMU's "desc" if QEMU answered with an error. Events that
 * come meanwhile are noted in the test's log. Fails the test if the connection
 * breaks or the answer does not come. */
JsonNode *vhost_qmp_try (VhostQmp *qmp, const char *command, const char *arguments, GError **error);

/* The same, failing the test if QEMU answers with an error. */
JsonNode *vhost_qmp_execute (VhostQmp *qmp, const char *command, const char *arguments);

/* The object that `command` returns (as vhost_qmp_execute() runs it). */
JsonObject *vhost_qmp_execute_object (VhostQmp *qmp, const char *command, const char *arguments);

void vhost_qmp_free (VhostQmp *qmp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostQmp, vhost_qmp_free)

G_END_DECLS
