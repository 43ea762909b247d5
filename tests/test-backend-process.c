/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserBackendProcess: tools/vhost-user-blk launched on a socket path and on a socketpair,
 * reached through VhostUserMaster, stopped, killed, restarted; failed starts (bad arguments,
 * never ready), readiness by READY=1 alone and by a listening socket alone (small Python programs). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "backend-tree.h"
#include "test-support.h"

#define WAIT_MS 20000

/* A program that sends READY=1 on $NOTIFY_SOCKET and never listens. */
static const char notify_only[] =
  "import os, socket, time\n"
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
  "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
  "time.sleep(30)\n";

/* A program that sends READY=1, then exits 0 a moment later. */
static const char ready_then_exit[] =
  "import os, socket, time\n"
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
  "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
  "time.sleep(0.2)\n";

/* A program that listens on --socket-path and never notifies; it writes the
 * NOTIFY_SOCKET it was given to the file named by its second argument. */
static const char listen_only[] =
  "import os, socket, sys, time\n"
  "path = sys.argv[1].split('=', 1)[1]\n"
  "open(sys.argv[2], 'w').write(os.environ.get('NOTIFY_SOCKET', ''))\n"
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
  "s.bind(path)\n"
  "time.sleep(0.2)\n"
  "s.listen(1)\n"
  "time.sleep(30)\n";

/* What a process did: its signals, and the log lines of its program. */
typedef struct
{
  GArray *exits;           /* (element-type gint) wait statuses */
  guint restarts;
  GPtrArray *restart_errors; /* (element-type GError) */
  GAsyncResult *result;    /* of the last async call */
} Watch;

static GPtrArray *log_lines; /* (element-type utf8) the library's messages */

static void
capture_message (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_ptr_array_add (log_lines, g_strdup (message));
}

static void
on_exited (VhostUserBackendProcess *process, gint status, gpointer data)
{
  Watch *watch = data;

  g_array_append_val (watch->exits, status);
}

static void
on_restarted (VhostUserBackendProcess *process, gpointer data)
{
  ((Watch *) data)->restarts++;
}

static void
on_restart_failed (VhostUserBackendProcess *process, const GError *error, gpointer data)
{
  g_ptr_array_add (((Watch *) data)->restart_errors, g_error_copy (error));
}

static void
watch_init (Watch *watch, VhostUserBackendProcess *process)
{
  memset (watch, 0, sizeof *watch);
  watch->exits = g_array_new (FALSE, FALSE, sizeof (gint));
  watch->restart_errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_signal_connect (process, "exited", G_CALLBACK (on_exited), watch);
  g_signal_connect (process, "restarted", G_CALLBACK (on_restarted), watch);
  g_signal_connect (process, "restart-failed", G_CALLBACK (on_restart_failed), watch);
}

static void
watch_clear (Watch *watch)
{
  g_array_unref (watch->exits);
  g_ptr_array_unref (watch->restart_errors);
  g_clear_object (&watch->result);
}

static void
store_result (GObject *object, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
on_result (GObject *object, GAsyncResult *result, gpointer data)
{
  Watch *watch = data;

  g_assert_null (watch->result);
  watch->result = g_object_ref (result);
}

/* Wakes the loop up, so that the waits below check their deadline. */
static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Run the thread-default context until `*count` reaches `n` (or `*pointer` is set),
 * failing after WAIT_MS. */
static void
wait_until (const guint *count, guint n, gpointer *pointer)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  guint source = g_timeout_add (100, wake_up, NULL);

  while (pointer != NULL ? *pointer == NULL : *count < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (source);
}

static void
wait_count (const guint *count, guint n)
{
  wait_until (count, n, NULL);
}

static void
wait_result (Watch *watch)
{
  wait_until (NULL, 0, (gpointer *) &watch->result);
}

static gboolean
start (VhostUserBackendProcess *process, Watch *watch, GError **error)
{
  gboolean ok;

  g_clear_object (&watch->result);
  vhost_user_backend_process_start_async (process, NULL, on_result, watch);
  wait_result (watch);
  ok = vhost_user_backend_process_start_finish (process, watch->result, error);
  g_clear_object (&watch->result);
  return ok;
}

static void
stop (VhostUserBackendProcess *process, Watch *watch)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (&watch->result);
  vhost_user_backend_process_stop_async (process, NULL, on_result, watch);
  wait_result (watch);
  g_assert_true (vhost_user_backend_process_stop_finish (process, watch->result, &error));
  g_assert_no_error (error);
  g_clear_object (&watch->result);
}

static VhostUserMaster *
connect_master (VhostUserBackendProcess *process, Watch *watch, GError **error)
{
  VhostUserMaster *master;

  g_clear_object (&watch->result);
  vhost_user_backend_process_connect_master_async (process, NULL, on_result, watch);
  wait_result (watch);
  master = vhost_user_backend_process_connect_master_finish (process, watch->result, error);
  g_clear_object (&watch->result);
  return master;
}

/* A program of type `type` running `binary`, found through a descriptor in `tree`. */
static VhostUserBackendProgram *
find_program (BackendTree *tree, const char *type, const char *binary)
{
  g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
  g_autoptr(BackendListing) listing = NULL;

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "50-program.json", type, binary, "under test"));
  vhost_user_backend_discovery_set_search_path (discovery, (const char *const *) tree->folders);
  listing = backend_list (discovery, type, NULL, NULL);
  g_assert_cmpuint (listing->errors->len, ==, 0);
  g_assert_nonnull (listing->programs);
  return g_object_ref (listing->programs->data);
}

/* A fake block back-end written in Python, whose descriptor is in `tree`. */
static VhostUserBackendProgram *
python_program (BackendTree *tree, const char *source)
{
  g_autofree char *py = g_build_filename (tree->bin, "program.py", NULL);
  g_autofree char *body = NULL, *binary = NULL;

  g_assert_true (g_file_set_contents (py, source, -1, NULL));
  body = g_strdup_printf ("[ \"$1\" = --print-capabilities ] && exec echo '{\"type\": \"block\"}'\n"
                          "exec /usr/bin/python3 '%s' \"$@\"", py);
  binary = backend_tree_script (tree, "program", body);
  return find_program (tree, "block", binary);
}

static VhostUserBackendProcess *
new_process (BackendTree *tree, VhostUserBackendProgram *program, VhostUserBackendConnection connection,
             const char *const *arguments)
{
  VhostUserBackendProcess *process = vhost_user_backend_process_new (program, connection, arguments);

  vhost_user_backend_process_set_runtime_directory (process, tree->root);
  return process;
}

static gboolean
pid_exists (gint pid)
{
  return kill (pid, 0) == 0 || errno != ESRCH;
}

static gboolean
logged (const char *needle)
{
  for (guint i = 0; i < log_lines->len; i++)
    if (strstr (log_lines->pdata[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
assert_features (VhostUserMaster *master)
{
  g_autoptr(GError) error = NULL;
  guint64 features = 0;

  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_assert_true (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1));
}

/* --socket-path in a private folder: ready, reached by a master, its output in the
 * log, stopped with SIGTERM (exit 0), the folder removed. */
static void
test_socket_path (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--ram=1M", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL, *prefix = NULL, *listening = NULL;
  Watch watch;
  struct stat st;
  gint pid, fds;

  vhost_test_settle_fds ();
  fds = vhost_test_count_open_fds ();
  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  watch_init (&watch, process);
  g_assert_null (vhost_user_backend_process_get_socket_path (process));
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  g_assert_true (start (process, &watch, &error));
  g_assert_no_error (error);

  pid = vhost_user_backend_process_get_pid (process);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (pid_exists (pid));
  folder = g_path_get_dirname (vhost_user_backend_process_get_socket_path (process));
  g_assert_true (g_str_has_prefix (folder, tree->root));
  g_assert_cmpint (stat (folder, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (stat (vhost_user_backend_process_get_socket_path (process), &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));

  master = connect_master (process, &watch, &error);
  g_assert_no_error (error);
  assert_features (master);
  vhost_user_master_close (master);

  /* The program's own messages, with its name and pid. */
  prefix = g_strdup_printf ("vhost-user-blk[%d]: ", pid);
  listening = g_strdup_printf ("Listening on %s", vhost_user_backend_process_get_socket_path (process));
  for (guint i = 0; i < log_lines->len && listening != NULL; i++)
    if (g_str_has_prefix (log_lines->pdata[i], prefix) && strstr (log_lines->pdata[i], listening) != NULL)
      g_clear_pointer (&listening, g_free);
  g_assert_null (listening);

  stop (process, &watch);
  g_assert_cmpuint (watch.exits->len, ==, 1);
  g_assert_true (WIFEXITED (g_array_index (watch.exits, gint, 0)));
  g_assert_cmpint (WEXITSTATUS (g_array_index (watch.exits, gint, 0)), ==, 0);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (watch.restarts, ==, 0);

  /* Once only; stopping again is done at once. */
  g_assert_false (start (process, &watch, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  stop (process, &watch);
  watch_clear (&watch);
  g_clear_object (&master);
  g_clear_object (&process);
  vhost_test_settle_fds ();
  vhost_test_assert_fd_count (fds);
}

/* --fd on a socketpair: the master gets the other end; the program ends when the
 * front-end goes away. */
static void
test_fd (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--null=1M", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;
  gint fds;

  vhost_test_settle_fds ();
  fds = vhost_test_count_open_fds ();
  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_FD, arguments);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  g_assert_no_error (error);
  g_assert_null (vhost_user_backend_process_get_socket_path (process));
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), >, 0);

  master = connect_master (process, &watch, &error);
  g_assert_no_error (error);
  assert_features (master);
  /* The end is the master's now. */
  g_assert_cmpint (vhost_user_backend_process_steal_fd (process), ==, -1);
  g_assert_null (connect_master (process, &watch, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);

  vhost_user_master_close (master);
  wait_count (&watch.exits->len, 1);
  g_assert_true (WIFEXITED (g_array_index (watch.exits, gint, 0)));
  g_assert_cmpint (WEXITSTATUS (g_array_index (watch.exits, gint, 0)), ==, 0);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  stop (process, &watch);
  watch_clear (&watch);
  g_clear_object (&master);
  g_clear_object (&process);
  vhost_test_settle_fds ();
  vhost_test_assert_fd_count (fds);
}

/* --fd, the end taken by the caller, as it would hand it to QEMU. */
static void
test_steal_fd (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  g_autoptr(VhostUserBackendProcess) process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_FD, NULL);
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  guint64 features;
  Watch watch;
  gint fd;

  watch_init (&watch, process);
  g_assert_cmpint (vhost_user_backend_process_steal_fd (process), ==, -1);
  /* Without --ram, --null or --blk-file the tool refuses to run: it exits 2 at once,
   * and with --fd the start has succeeded already. */
  g_assert_true (start (process, &watch, &error));
  fd = vhost_user_backend_process_steal_fd (process);
  g_assert_cmpint (fd, >=, 0);
  wait_count (&watch.exits->len, 1);
  g_assert_cmpint (WEXITSTATUS (g_array_index (watch.exits, gint, 0)), ==, 2);
  g_assert_true (logged ("one of --blk-file, --ram or --null is required"));
  master = vhost_user_master_new_for_fd (fd);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_false (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  watch_clear (&watch);
}

/* Killed: exited with the signal, not restarted, the folder removed. */
static void
test_killed (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--ram=1M", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  folder = g_path_get_dirname (vhost_user_backend_process_get_socket_path (process));
  vhost_user_backend_process_send_signal (process, SIGKILL);
  wait_count (&watch.exits->len, 1);
  g_assert_true (WIFSIGNALED (g_array_index (watch.exits, gint, 0)));
  g_assert_cmpint (WTERMSIG (g_array_index (watch.exits, gint, 0)), ==, SIGKILL);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (watch.restarts, ==, 0);
  watch_clear (&watch);
}

/* With restart: killed, relaunched on the same socket path, reachable again; a
 * relaunch that fails is reported and not tried again. */
static void
test_restart (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  g_autofree char *image = g_build_filename (tree->root, "disk.img", NULL);
  g_autofree char *image_arg = g_strconcat ("--blk-file=", image, NULL);
  const char *const arguments[] = { image_arg, NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = NULL, *folder = NULL;
  const GError *restart_error;
  Watch watch;
  gint pid;

  g_assert_true (g_file_set_contents (image, "", 0, NULL));
  g_assert_cmpint (truncate (image, 1024 * 1024), ==, 0);
  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  vhost_user_backend_process_set_restart (process, TRUE);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  g_assert_no_error (error);
  socket_path = g_strdup (vhost_user_backend_process_get_socket_path (process));
  folder = g_path_get_dirname (socket_path);
  pid = vhost_user_backend_process_get_pid (process);

  vhost_user_backend_process_send_signal (process, SIGKILL);
  wait_count (&watch.restarts, 1);
  g_assert_cmpuint (watch.exits->len, ==, 1);
  g_assert_cmpint (WTERMSIG (g_array_index (watch.exits, gint, 0)), ==, SIGKILL);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), >, 0);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), !=, pid);
  g_assert_cmpstr (vhost_user_backend_process_get_socket_path (process), ==, socket_path);
  master = connect_master (process, &watch, &error);
  g_assert_no_error (error);
  assert_features (master);
  vhost_user_master_close (master);

  /* The image goes away: the next relaunch exits 1 before it listens. */
  g_assert_cmpint (g_unlink (image), ==, 0);
  vhost_user_backend_process_send_signal (process, SIGKILL);
  wait_count (&watch.restart_errors->len, 1);
  g_assert_cmpuint (watch.exits->len, ==, 3);
  g_assert_cmpint (WEXITSTATUS (g_array_index (watch.exits, gint, 2)), ==, 1);
  restart_error = watch.restart_errors->pdata[0];
  g_test_message ("%s", restart_error->message);
  g_assert_error (restart_error, VHOST_ERROR, VHOST_ERROR_FAILED);
  g_assert_nonnull (strstr (restart_error->message, "exited with status 1 before it listened on"));
  g_assert_nonnull (strstr (restart_error->message, image));
  g_assert_cmpuint (watch.restarts, ==, 1);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  watch_clear (&watch);
}

static void
stop_on_exit (VhostUserBackendProcess *process, gint status, gpointer data)
{
  vhost_user_backend_process_stop_async (process, NULL, on_result, data);
}

/* Stopped from the exited handler: no relaunch, no failure reported. */
static void
test_stop_instead_of_restart (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--ram=1M", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  vhost_user_backend_process_set_restart (process, TRUE);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  g_signal_connect (process, "exited", G_CALLBACK (stop_on_exit), &watch);
  vhost_user_backend_process_send_signal (process, SIGKILL);
  wait_result (&watch);
  g_assert_true (vhost_user_backend_process_stop_finish (process, watch.result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (watch.exits->len, ==, 1);
  g_assert_cmpuint (watch.restarts, ==, 0);
  g_assert_cmpuint (watch.restart_errors->len, ==, 0);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  g_assert_false (vhost_user_backend_process_get_restart (process));
  watch_clear (&watch);
}

/* A program that keeps exiting soon after it is ready: relaunched five times within
 * 10 s, then given up. */
static void
test_restart_burst (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = python_program (tree, ready_then_exit);
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  const GError *restart_error;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, NULL);
  vhost_user_backend_process_set_restart (process, TRUE);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  wait_count (&watch.restart_errors->len, 1);
  g_assert_cmpuint (watch.restarts, ==, 5);
  g_assert_cmpuint (watch.exits->len, ==, 6);
  restart_error = watch.restart_errors->pdata[0];
  g_assert_error (restart_error, VHOST_ERROR, VHOST_ERROR_FAILED);
  g_assert_nonnull (strstr (restart_error->message, "exited 6 times within 10 s"));
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), ==, 0);
  watch_clear (&watch);
}

/* A program that fails before it listens: the start fails with its last words. */
static void
test_start_failure (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--blk-file=/nonexistent/disk.img", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;
  gint fds;

  vhost_test_settle_fds ();
  fds = vhost_test_count_open_fds ();
  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  watch_init (&watch, process);
  g_assert_false (start (process, &watch, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "exited with status 1 before it listened on"));
  g_assert_nonnull (strstr (error->message, "/nonexistent/disk.img"));
  g_assert_cmpuint (watch.exits->len, ==, 1);
  g_assert_cmpint (WEXITSTATUS (g_array_index (watch.exits, gint, 0)), ==, 1);
  {
    /* The private folder is gone: only bin/ and the descriptor folders remain. */
    g_autoptr(GDir) dir = g_dir_open (tree->root, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (dir)) != NULL)
      g_assert_false (g_str_has_prefix (name, "vhost-glib-"));
  }
  watch_clear (&watch);
  g_clear_object (&process);
  vhost_test_settle_fds ();
  vhost_test_assert_fd_count (fds);
}

/* A program that never gets ready: killed after the start timeout. */
static void
test_start_timeout (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *binary = backend_tree_script (tree, "sleeper",
                                                 "[ \"$1\" = --print-capabilities ] && exec echo '{\"type\": \"block\"}'\n"
                                                 "exec sleep 30");
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", binary);
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, NULL);
  vhost_user_backend_process_set_start_timeout (process, 300);
  watch_init (&watch, process);
  g_assert_false (start (process, &watch, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "did not listen on"));
  wait_count (&watch.exits->len, 1);
  g_assert_cmpint (WTERMSIG (g_array_index (watch.exits, gint, 0)), ==, SIGKILL);
  g_assert_cmpuint (watch.restart_errors->len, ==, 0);
  watch_clear (&watch);
}

/* A program that exits while a child of its own keeps its output open: the exit is
 * reported all the same, with the last line it wrote. */
static void
test_output_held_open (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *binary = backend_tree_script (tree, "parent",
                                                 "[ \"$1\" = --print-capabilities ] && exec echo '{\"type\": \"block\"}'\n"
                                                 "sleep 5 &\n"
                                                 "echo 'parent: giving up'\n"
                                                 "exit 3");
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", binary);
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, NULL);
  watch_init (&watch, process);
  g_assert_false (start (process, &watch, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "exited with status 3 before it listened on"));
  g_assert_true (g_str_has_suffix (error->message, ": parent: giving up"));
  g_assert_cmpuint (watch.exits->len, ==, 1);
  watch_clear (&watch);
}

/* READY=1 alone makes the program ready, although it never listens. */
static void
test_ready_by_notify (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = python_program (tree, notify_only);
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, NULL);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (vhost_user_backend_process_get_socket_path (process), G_FILE_TEST_EXISTS));
  stop (process, &watch);
  g_assert_cmpint (WTERMSIG (g_array_index (watch.exits, gint, 0)), ==, SIGTERM);
  watch_clear (&watch);
}

/* A listening socket alone makes the program ready (it does not notify); a bound
 * socket that does not listen yet does not. */
static void
test_ready_by_listening (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = python_program (tree, listen_only);
  g_autofree char *env_file = g_build_filename (tree->root, "notify-socket", NULL);
  const char *const arguments[] = { env_file, NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *notify = NULL, *folder = NULL;
  Watch watch;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  g_assert_no_error (error);
  /* It listens now: a connection is accepted into the backlog. */
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  address = g_unix_socket_address_new (vhost_user_backend_process_get_socket_path (process));
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  /* It was given a NOTIFY_SOCKET in the private folder. */
  g_assert_true (g_file_get_contents (env_file, &notify, NULL, NULL));
  folder = g_path_get_dirname (vhost_user_backend_process_get_socket_path (process));
  g_assert_true (g_str_has_prefix (notify, folder));
  stop (process, &watch);
  watch_clear (&watch);
}

/* Misuse: restart with --fd; stop while starting. */
static void
test_misuse (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = python_program (tree, "import time\ntime.sleep(30)\n");
  g_autoptr(VhostUserBackendProcess) fd_process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_FD, NULL);
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) start_result = NULL;
  Watch watch;

  watch_init (&watch, fd_process);
  vhost_user_backend_process_set_restart (fd_process, TRUE);
  g_assert_false (start (fd_process, &watch, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpint (vhost_user_backend_process_get_pid (fd_process), ==, 0);
  watch_clear (&watch);

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, NULL);
  watch_init (&watch, process);
  vhost_user_backend_process_start_async (process, NULL, store_result, &start_result);
  g_assert_cmpint (vhost_user_backend_process_get_pid (process), >, 0);
  /* The start fails, the stop completes when the program is gone. */
  vhost_user_backend_process_stop_async (process, NULL, on_result, &watch);
  wait_result (&watch);
  g_assert_nonnull (start_result);
  g_assert_false (vhost_user_backend_process_start_finish (process, start_result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (vhost_user_backend_process_stop_finish (process, watch.result, NULL));
  g_assert_cmpuint (watch.exits->len, ==, 1);
  g_assert_cmpint (WTERMSIG (g_array_index (watch.exits, gint, 0)), ==, SIGTERM);
  watch_clear (&watch);
}

/* Dropping the last reference ends the program (SIGTERM) and removes the folder. */
static void
test_dispose (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendProgram) program = find_program (tree, "block", g_getenv ("VHOST_USER_BLK"));
  const char *const arguments[] = { "--ram=1M", NULL };
  g_autoptr(VhostUserBackendProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = NULL;
  gint64 deadline;
  Watch watch;
  gint pid;

  process = new_process (tree, program, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, arguments);
  watch_init (&watch, process);
  g_assert_true (start (process, &watch, &error));
  pid = vhost_user_backend_process_get_pid (process);
  folder = g_path_get_dirname (vhost_user_backend_process_get_socket_path (process));
  g_clear_object (&process);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  /* It is reaped on this thread's context. */
  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (pid_exists (pid))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  g_assert_cmpuint (watch.exits->len, ==, 0);
  watch_clear (&watch);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  log_lines = g_ptr_array_new_with_free_func (g_free);
  g_log_set_handler ("Vhost", G_LOG_LEVEL_MESSAGE, capture_message, NULL);
  g_test_add_func ("/vhost/backend-process/socket-path", test_socket_path);
  g_test_add_func ("/vhost/backend-process/fd", test_fd);
  g_test_add_func ("/vhost/backend-process/steal-fd", test_steal_fd);
  g_test_add_func ("/vhost/backend-process/killed", test_killed);
  g_test_add_func ("/vhost/backend-process/restart", test_restart);
  g_test_add_func ("/vhost/backend-process/restart-burst", test_restart_burst);
  g_test_add_func ("/vhost/backend-process/stop-instead-of-restart", test_stop_instead_of_restart);
  g_test_add_func ("/vhost/backend-process/start-failure", test_start_failure);
  g_test_add_func ("/vhost/backend-process/start-timeout", test_start_timeout);
  g_test_add_func ("/vhost/backend-process/output-held-open", test_output_held_open);
  g_test_add_func ("/vhost/backend-process/ready-by-notify", test_ready_by_notify);
  g_test_add_func ("/vhost/backend-process/ready-by-listening", test_ready_by_listening);
  g_test_add_func ("/vhost/backend-process/misuse", test_misuse);
  g_test_add_func ("/vhost/backend-process/dispose", test_dispose);
  return g_test_run ();
}
