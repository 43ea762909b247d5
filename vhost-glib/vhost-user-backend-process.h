/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserBackendProcess: a vhost-user back-end program launched and supervised for a management
 * daemon, connected over a socketpair (--fd) or a socket in a private runtime folder (--socket-path). */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-user-master.h>
#include <vhost-glib/vhost-user-backend-program.h>

G_BEGIN_DECLS

/**
 * VhostUserBackendConnection:
 * @VHOST_USER_BACKEND_CONNECTION_FD: the program serves one end of a socketpair
 *   given with `--fd`; the other end is for the front-end
 *   (vhost_user_backend_process_steal_fd()).
 * @VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH: the program listens on a socket
 *   in a private runtime folder, given with `--socket-path`
 *   (vhost_user_backend_process_get_socket_path()).
 *
 * How a #VhostUserBackendProcess connects its program to the front-end: the two
 * ways of the vhost-user back-end program conventions.
 */
typedef enum {
  VHOST_USER_BACKEND_CONNECTION_FD = 0,
  VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH = 1,
} VhostUserBackendConnection;

/**
 * VHOST_TYPE_USER_BACKEND_PROCESS:
 *
 * The #GType of #VhostUserBackendProcess.
 */
#define VHOST_TYPE_USER_BACKEND_PROCESS (vhost_user_backend_process_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserBackendProcess, vhost_user_backend_process, VHOST, USER_BACKEND_PROCESS, GObject)

VHOST_AVAILABLE_IN_ALL
VhostUserBackendProcess *vhost_user_backend_process_new (VhostUserBackendProgram *program,
                                                         VhostUserBackendConnection connection,
                                                         const char *const *arguments);
VHOST_AVAILABLE_IN_ALL
VhostUserBackendProgram *vhost_user_backend_process_get_program (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
VhostUserBackendConnection vhost_user_backend_process_get_connection (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
const char *const *vhost_user_backend_process_get_arguments (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_process_get_runtime_directory (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_set_runtime_directory (VhostUserBackendProcess *process,
                                                       const char *directory);
VHOST_AVAILABLE_IN_ALL
guint vhost_user_backend_process_get_start_timeout (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_set_start_timeout (VhostUserBackendProcess *process,
                                                   guint timeout_ms);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_backend_process_get_restart (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_set_restart (VhostUserBackendProcess *process,
                                             gboolean restart);
VHOST_AVAILABLE_IN_ALL
const char *vhost_user_backend_process_get_socket_path (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_backend_process_get_pid (VhostUserBackendProcess *process);

VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_start_async (VhostUserBackendProcess *process,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_backend_process_start_finish (VhostUserBackendProcess *process,
                                                  GAsyncResult *result,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_backend_process_steal_fd (VhostUserBackendProcess *process);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_connect_master_async (VhostUserBackendProcess *process,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
VHOST_AVAILABLE_IN_ALL
VhostUserMaster *vhost_user_backend_process_connect_master_finish (VhostUserBackendProcess *process,
                                                                   GAsyncResult *result,
                                                                   GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_send_signal (VhostUserBackendProcess *process,
                                             gint signum);
VHOST_AVAILABLE_IN_ALL
void vhost_user_backend_process_stop_async (VhostUserBackendProcess *process,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_backend_process_stop_finish (VhostUserBackendProcess *process,
                                                 GAsyncResult *result,
                                                 GError **error);

G_END_DECLS
