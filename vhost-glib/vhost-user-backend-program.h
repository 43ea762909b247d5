/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserBackendProgram and VhostUserBackendDiscovery: the installed vhost-user back-end programs,
 * found through QEMU's JSON descriptors with the search rules that libvirt applies. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_USER_BACKEND_PROGRAM:
 *
 * The #GType of #VhostUserBackendProgram.
 */
#define VHOST_TYPE_USER_BACKEND_PROGRAM (vhost_user_backend_program_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserBackendProgram, vhost_user_backend_program, VHOST, USER_BACKEND_PROGRAM, GObject)

VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_program_get_descriptor_path (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_program_get_name (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_program_get_backend_type (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_program_get_binary (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_program_get_description (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *const *vhost_user_backend_program_get_tags (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
const char *const *vhost_user_backend_program_get_features (VhostUserBackendProgram *program);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_backend_program_has_features (VhostUserBackendProgram *program,
                                                  const char *const *features);

/**
 * VHOST_TYPE_USER_BACKEND_DISCOVERY:
 *
 * The #GType of #VhostUserBackendDiscovery.
 */
#define VHOST_TYPE_USER_BACKEND_DISCOVERY (vhost_user_backend_discovery_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserBackendDiscovery, vhost_user_backend_discovery, VHOST, USER_BACKEND_DISCOVERY, GObject)

VHOST_AVAILABLE_IN_ALL
VhostUserBackendDiscovery *vhost_user_backend_discovery_new (void);
VHOST_AVAILABLE_IN_ALL
char **vhost_user_backend_discovery_get_default_search_path (void);
VHOST_AVAILABLE_IN_ALL
const char *const *vhost_user_backend_discovery_get_search_path (VhostUserBackendDiscovery *discovery);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_discovery_set_search_path (VhostUserBackendDiscovery *discovery,
                                                   const char *const *search_path);
VHOST_AVAILABLE_IN_ALL
guint vhost_user_backend_discovery_get_timeout (VhostUserBackendDiscovery *discovery);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_discovery_set_timeout (VhostUserBackendDiscovery *discovery,
                                               guint timeout_ms);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_discovery_list_async (VhostUserBackendDiscovery *discovery,
                                              const char *backend_type,
                                              const char *const *required_features,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
VHOST_AVAILABLE_IN_ALL
GList *vhost_user_backend_discovery_list_finish (VhostUserBackendDiscovery *discovery,
                                                GAsyncResult *result,
                                                GError **error);

G_END_DECLS
