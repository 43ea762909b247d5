/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserBackendProcess: a vhost-user back-end program launched and supervised for a management
 * daemon, connected over a socketpair (--fd) or a socket in a private runtime folder (--socket-path). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-backend-process.h"
#include "vhost-enum-types.h"
#include "vhost-user-backend-private.h"

/**
 * SECTION:vhost-user-backend-process
 * @title: VhostUserBackendProcess
 * @short_description: launch and supervise a vhost-user back-end program
 *
 * A #VhostUserBackendProcess runs a #VhostUserBackendProgram (found by
 * #VhostUserBackendDiscovery) for a front-end, the way the back-end program
 * conventions of the vhost-user specification say:
 *
 * - %VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH: the program is started with
 *   `--socket-path` on a socket in a private folder (mode 0700) made under the
 *   #VhostUserBackendProcess:runtime-directory. vhost_user_backend_process_start_async()
 *   completes when the program is ready: when it sends `READY=1` on the
 *   `NOTIFY_SOCKET` the process gives it (the service manager protocol that the
 *   vhost-glib tools follow), or, for programs that do not, when its socket is
 *   listening (as `/proc/net/unix` shows). The socket's path
 *   (vhost_user_backend_process_get_socket_path()) is what QEMU's
 *   `-chardev socket,path=...` takes.
 * - %VHOST_USER_BACKEND_CONNECTION_FD: the program is started with `--fd` on one
 *   end of a socketpair; vhost_user_backend_process_start_async() completes as
 *   soon as it runs, since the socket is connected already. The other end goes
 *   to the front-end: vhost_user_backend_process_steal_fd() hands it over (to
 *   pass to QEMU), vhost_user_backend_process_connect_master_async() makes a
 *   connected #VhostUserMaster of it.
 *
 * The program's standard output and error are read line by line into the
 * daemon's log (g_message(), prefixed with the program's name and pid), its
 * standard input is `/dev/null`, and #VhostUserBackendProcess::exited reports
 * every exit with its wait status. vhost_user_backend_process_stop_async() ends
 * the program with SIGTERM (SIGKILL after 5 seconds) and removes the private
 * folder; dropping the last reference sends SIGTERM and removes the folder
 * without waiting.
 *
 * With #VhostUserBackendProcess:restart (socket path only), a program that
 * exits after it was ready is started again with the same arguments on the same
 * socket path, and #VhostUserBackendProcess::restarted is emitted when it is
 * ready again; a front-end that reconnects by itself (QEMU's
 * `-chardev socket,...,reconnect=1`) then resumes the device. A relaunch that
 * fails, and a sixth relaunch within 10 seconds, emit
 * #VhostUserBackendProcess::restart-failed instead, and the process stays
 * stopped. #VhostUserMaster does not reconnect by itself yet: a #VhostUserMaster
 * from vhost_user_backend_process_connect_master_async() is disconnected when
 * the program exits, and the application connects a new one on
 * #VhostUserBackendProcess::restarted.
 *
 * Everything runs on the thread-default #GMainContext of the thread that
 * created the process; nothing blocks it. Use the process from that thread.
 */

#define DEFAULT_START_TIMEOUT_MS 10000
/* After SIGTERM, how long stop waits before SIGKILL. */
#define STOP_TIMEOUT_MS 5000
/* After the exit, how long the program's output may stay open (a child of its own
 * holding it) before the exit is reported anyway. */
#define OUTPUT_GRACE_MS 1000
/* How often a program that does not send READY=1 is checked for a listening socket. */
#define READY_POLL_MS 20
/* At most this many relaunches within RESTART_INTERVAL_US. */
#define RESTART_BURST 5
#define RESTART_INTERVAL_US (10 * G_USEC_PER_SEC)
/* The program's end of the socketpair, in the program. */
#define PROGRAM_FD 3
/* SO_ACCEPTCON in the flags column of /proc/net/unix: a listening socket. */
#define UNIX_FLAG_LISTENING 0x10000

/* One run of the program: its process, its output being read, its exit awaited.
 * Held by the process while it is current, by the pending read and by the child
 * watch, which reach the process through a weak reference. The child watch outlives
 * the process object if need be: the program is always reaped, and its pid is never
 * signalled after it was reaped. */
typedef struct
{
  gint ref_count;
  GWeakRef owner;           /* the VhostUserBackendProcess */
  GPid pid;                 /* not reaped while !exited */
  GDataInputStream *output; /* (owned) stdout and stderr, merged */
  GCancellable *cancellable;/* (owned) cancelled when the owner lets the run go */
  GSource *grace;           /* (owned) (nullable) OUTPUT_GRACE_MS after the exit */
  char *name;               /* (owned) the binary's base name, for the log */
  char *last_line;          /* (owned) (nullable) the last line of output */
  gint status;
  gboolean exited;
  gboolean eof;
  gboolean grace_over;
  gboolean reported;        /* the owner heard of the exit */
} Run;

/**
 * VhostUserBackendProcess:
 *
 * A back-end program run for a front-end. All its fields are private.
 */
struct _VhostUserBackendProcess
{
  GObject parent_instance;

  GMainContext *context;             /* (owned) thread-default at construction */
  VhostUserBackendProgram *program;  /* (owned) */
  VhostUserBackendConnection connection;
  GStrv arguments;                   /* (owned) never NULL */
  char *runtime_parent;              /* (owned) (nullable) the runtime-directory property */
  guint start_timeout_ms;
  gboolean restart;

  char *runtime_dir;                 /* (owned) (nullable) the private folder */
  char *socket_path;                 /* (owned) (nullable) */
  char *notify_path;                 /* (owned) (nullable) */
  GSocket *notify_socket;            /* (owned) (nullable) */
  GSource *notify_source;            /* (owned) (nullable) */
  int fd;                            /* (owned) the front-end's end of the socketpair, or -1 */

  Run *run;                          /* (owned) (nullable) the program running now */
  gboolean started;                  /* start_async was called */
  gboolean ready;                    /* the current run is ready */
  gboolean start_reported;           /* the current run's start has succeeded or failed */
  gboolean relaunched;               /* the current run is a relaunch */
  gboolean stopping;
  GTask *start_task;                 /* (owned) (nullable) */
  GSource *start_cancel_source;      /* (owned) (nullable) */
  GPtrArray *stop_tasks;             /* (owned) (element-type GTask) */
  GSource *ready_poll;               /* (owned) (nullable) */
  GSource *start_timer;              /* (owned) (nullable) */
  GSource *kill_timer;               /* (owned) (nullable) */
  GArray *relaunch_times;            /* (owned) (element-type gint64) monotonic */
};

G_DEFINE_FINAL_TYPE (VhostUserBackendProcess, vhost_user_backend_process, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PROGRAM,
  PROP_CONNECTION,
  PROP_ARGUMENTS,
  PROP_RUNTIME_DIRECTORY,
  PROP_START_TIMEOUT,
  PROP_RESTART,
  PROP_SOCKET_PATH,
  PROP_PID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_EXITED,
  SIGNAL_RESTARTED,
  SIGNAL_RESTART_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void process_run_finished (VhostUserBackendProcess *self, Run *run);

/* Runs */

static Run *
run_ref (Run *run)
{
  run->ref_count++;
  return run;
}

static void
run_unref (Run *run)
{
  if (--run->ref_count > 0)
    return;
  if (run->grace != NULL)
    {
      g_source_destroy (run->grace);
      g_source_unref (run->grace);
    }
  g_weak_ref_clear (&run->owner);
  g_object_unref (run->output);
  g_object_unref (run->cancellable);
  g_free (run->name);
  g_free (run->last_line);
  g_free (run);
}

/* Once the program has exited and its output is read (or the grace time is over),
 * tell the owner, if it is still there and this is still its run. */
static void
run_check_finished (Run *run)
{
  g_autoptr(VhostUserBackendProcess) owner = NULL;

  if (!run->exited || run->reported || g_cancellable_is_cancelled (run->cancellable))
    return;
  if (!run->eof && !run->grace_over)
    return;
  run->reported = TRUE;
  /* A child of the program may hold the output open: stop reading it. */
  g_cancellable_cancel (run->cancellable);
  owner = g_weak_ref_get (&run->owner);
  if (owner != NULL && owner->run == run)
    process_run_finished (owner, run);
}

static gboolean
run_grace_cb (gpointer data)
{
  Run *run = data;

  run->grace_over = TRUE;
  run_check_finished (run);
  return G_SOURCE_REMOVE;
}

static void run_read_line (Run *run);

static void
run_line_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result, NULL,
                                                                     &error);

  if (line != NULL && !g_cancellable_is_cancelled (run->cancellable))
    {
      g_message ("%s[%d]: %s", run->name, run->pid, line);
      g_free (run->last_line);
      run->last_line = g_steal_pointer (&line);
      run_read_line (run);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    {
      /* Not UTF-8: the line is dropped, the reading goes on. */
      g_message ("%s[%d]: (a line that is not UTF-8)", run->name, run->pid);
      run_read_line (run);
      return;
    }
  run->eof = TRUE;
  run_check_finished (run);
  run_unref (run);
}

static void
run_read_line (Run *run)
{
  g_data_input_stream_read_line_async (run->output, G_PRIORITY_DEFAULT, run->cancellable, run_line_cb, run);
}

/* The child watch: the program exited and is reaped. */
static void
run_exited_cb (GPid pid, gint status, gpointer data)
{
  Run *run = data;
  g_autoptr(VhostUserBackendProcess) owner = g_weak_ref_get (&run->owner);

  g_spawn_close_pid (pid);
  run->exited = TRUE;
  run->status = status;
  if (!run->eof && owner != NULL && run->grace == NULL)
    {
      run->grace = g_timeout_source_new (OUTPUT_GRACE_MS);
      g_source_set_static_name (run->grace, "[vhost] back-end program output grace");
      g_source_set_callback (run->grace, run_grace_cb, run, NULL);
      g_source_attach (run->grace, owner->context);
    }
  run_check_finished (run);
}

static void
run_send_signal (Run *run, int signum)
{
  if (!run->exited)
    kill (run->pid, signum);
}

/* The process */

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
add_timeout (VhostUserBackendProcess *self, guint ms, const char *name, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_static_name (source, name);
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

/* Remove the private folder with the program's socket and the notify socket. */
static void
remove_runtime_dir (VhostUserBackendProcess *self)
{
  if (self->runtime_dir == NULL)
    return;
  if (self->notify_source != NULL)
    clear_source (&self->notify_source);
  if (self->notify_socket != NULL)
    {
      g_socket_close (self->notify_socket, NULL);
      g_clear_object (&self->notify_socket);
    }
  g_unlink (self->socket_path);
  g_unlink (self->notify_path);
  if (g_rmdir (self->runtime_dir) < 0)
    g_debug ("Removing %s: %s", self->runtime_dir, g_strerror (errno));
  g_clear_pointer (&self->runtime_dir, g_free);
}

/* The start (or a relaunch) failed; `error` is taken. */
static void
report_start_failure (VhostUserBackendProcess *self, GError *error)
{
  self->start_reported = TRUE;
  clear_source (&self->start_timer);
  clear_source (&self->ready_poll);
  clear_source (&self->start_cancel_source);
  if (self->start_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->start_task);

      g_task_return_error (task, error);
    }
  else
    {
      /* A relaunch that vhost_user_backend_process_stop_async() ends did not fail. */
      if (!self->stopping)
        g_signal_emit (self, signals[SIGNAL_RESTART_FAILED], 0, error);
      g_error_free (error);
    }
}

static void
process_ready (VhostUserBackendProcess *self)
{
  if (self->run == NULL || self->ready || self->start_reported)
    return;
  self->ready = TRUE;
  self->start_reported = TRUE;
  clear_source (&self->start_timer);
  clear_source (&self->ready_poll);
  clear_source (&self->start_cancel_source);
  if (self->start_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->start_task);

      g_task_return_boolean (task, TRUE);
    }
  else if (self->relaunched)
    g_signal_emit (self, signals[SIGNAL_RESTARTED], 0);
}

/* Whether /proc/net/unix lists a listening socket bound to `path`. */
static gboolean
socket_is_listening (const char *path)
{
  g_autofree char *line = NULL;
  size_t size = 0;
  gboolean found = FALSE;
  FILE *file = fopen ("/proc/net/unix", "re");

  if (file == NULL)
    return FALSE;
  while (!found && getline (&line, &size, file) > 0)
    {
      unsigned int flags;
      int offset = 0;

      /* Num: RefCount Protocol Flags Type St Inode Path */
      if (sscanf (line, "%*x: %*x %*x %x %*x %*x %*u %n", &flags, &offset) < 1 || offset == 0)
        continue;
      line[strcspn (line, "\n")] = '\0';
      found = (flags & UNIX_FLAG_LISTENING) != 0 && g_str_equal (line + offset, path);
    }
  fclose (file);
  return found;
}

static gboolean
ready_poll_cb (gpointer data)
{
  g_autoptr(VhostUserBackendProcess) self = g_object_ref (data);

  if (socket_is_listening (self->socket_path))
    {
      g_clear_pointer (&self->ready_poll, g_source_unref);
      process_ready (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Datagrams on the notify socket: the service manager protocol's "READY=1" line. */
static gboolean
notify_cb (GSocket *socket, GIOCondition condition, gpointer data)
{
  g_autoptr(VhostUserBackendProcess) self = g_object_ref (data);
  char buffer[4096];
  gssize n;

  while (self->notify_socket != NULL && (n = g_socket_receive (socket, buffer, sizeof buffer - 1, NULL, NULL)) >= 0)
    {
      g_auto(GStrv) lines = NULL;

      buffer[n] = '\0';
      lines = g_strsplit (buffer, "\n", -1);
      if (g_strv_contains ((const char *const *) lines, "READY=1"))
        process_ready (self);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_timeout_cb (gpointer data)
{
  g_autoptr(VhostUserBackendProcess) self = g_object_ref (data);

  g_clear_pointer (&self->start_timer, g_source_unref);
  report_start_failure (self, g_error_new (VHOST_ERROR, VHOST_ERROR_TIMED_OUT, "%s did not listen on %s within %u ms",
                                           vhost_user_backend_program_get_binary (self->program), self->socket_path,
                                           self->start_timeout_ms));
  if (self->run != NULL)
    run_send_signal (self->run, SIGKILL);
  return G_SOURCE_REMOVE;
}

static gboolean
start_cancelled_cb (GCancellable *cancellable, gpointer data)
{
  g_autoptr(VhostUserBackendProcess) self = g_object_ref (data);

  g_clear_pointer (&self->start_cancel_source, g_source_unref);
  report_start_failure (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled"));
  if (self->run != NULL)
    run_send_signal (self->run, SIGKILL);
  return G_SOURCE_REMOVE;
}

/* Start the program once; FALSE with `error` if it could not be started. */
static gboolean
spawn_run (VhostUserBackendProcess *self, GError **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GInputStream) pipe = NULL;
  const char *binary = vhost_user_backend_program_get_binary (self->program);
  gint source_fds[1], target_fds[1] = { PROGRAM_FD };
  int output[2], pair[2] = { -1, -1 };
  GSource *watch;
  gboolean spawned;
  GPid pid;
  Run *run;

  g_ptr_array_add (argv, g_strdup (binary));
  if (self->connection == VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH)
    {
      struct stat st;

      /* A program killed before it could remove its socket leaves the file behind. */
      if (lstat (self->socket_path, &st) == 0 && S_ISSOCK (st.st_mode))
        g_unlink (self->socket_path);
      g_ptr_array_add (argv, g_strconcat ("--socket-path=", self->socket_path, NULL));
      envp = g_environ_setenv (envp, "NOTIFY_SOCKET", self->notify_path, TRUE);
    }
  else
    {
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        {
          int saved_errno = errno;

          g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "socketpair: %s", g_strerror (saved_errno));
          return FALSE;
        }
      g_ptr_array_add (argv, g_strdup_printf ("--fd=%d", PROGRAM_FD));
      /* The daemon's own service manager must not hear from the program. */
      envp = g_environ_unsetenv (envp, "NOTIFY_SOCKET");
    }
  for (guint i = 0; self->arguments[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (self->arguments[i]));
  g_ptr_array_add (argv, NULL);

  /* stdout and stderr into one pipe, read line by line. */
  if (!g_unix_open_pipe (output, FD_CLOEXEC, &local_error))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "pipe: %s", local_error->message);
      if (pair[0] >= 0)
        {
          close (pair[0]);
          close (pair[1]);
        }
      return FALSE;
    }
  source_fds[0] = pair[1];
  spawned = g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata, (const char *const *) envp,
                                              G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, -1,
                                              output[1], output[1], source_fds, target_fds, pair[1] >= 0 ? 1 : 0, &pid,
                                              NULL, NULL, NULL, &local_error);
  close (output[1]);
  if (pair[1] >= 0)
    close (pair[1]);
  if (!spawned)
    {
      close (output[0]);
      if (pair[0] >= 0)
        close (pair[0]);
      g_set_error (error, VHOST_ERROR,
                   g_error_matches (local_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ? VHOST_ERROR_NOT_FOUND
                                                                                      : VHOST_ERROR_FAILED,
                   "Starting %s: %s", binary, local_error->message);
      return FALSE;
    }
  if (pair[0] >= 0)
    self->fd = pair[0];

  run = g_new0 (Run, 1);
  run->ref_count = 1;
  g_weak_ref_init (&run->owner, self);
  run->pid = pid;
  pipe = g_unix_input_stream_new (output[0], TRUE);
  run->output = g_data_input_stream_new (pipe);
  run->cancellable = g_cancellable_new ();
  run->name = g_path_get_basename (binary);
  self->run = run;
  self->ready = FALSE;
  self->start_reported = FALSE;
  g_message ("%s[%d]: started%s%s", run->name, run->pid, self->socket_path != NULL ? " on " : "",
             self->socket_path != NULL ? self->socket_path : "");
  run_read_line (run_ref (run));
  watch = g_child_watch_source_new (pid);
  g_source_set_static_name (watch, "[vhost] back-end program exit");
  g_source_set_callback (watch, (GSourceFunc) (GCallback) run_exited_cb, run_ref (run), (GDestroyNotify) run_unref);
  g_source_attach (watch, self->context);
  g_source_unref (watch);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PID]);

  if (self->connection == VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH)
    {
      self->start_timer = add_timeout (self, self->start_timeout_ms, "[vhost] back-end program start timeout",
                                       start_timeout_cb);
      self->ready_poll = add_timeout (self, READY_POLL_MS, "[vhost] back-end program socket poll", ready_poll_cb);
    }
  else
    {
      /* The socketpair is connected: the front-end may talk at once. */
      self->ready = TRUE;
      self->start_reported = TRUE;
    }
  return TRUE;
}

/* Whether one more relaunch stays within RESTART_BURST per RESTART_INTERVAL_US. */
static gboolean
may_relaunch (VhostUserBackendProcess *self)
{
  gint64 now = g_get_monotonic_time ();

  while (self->relaunch_times->len > 0 && g_array_index (self->relaunch_times, gint64, 0) < now - RESTART_INTERVAL_US)
    g_array_remove_index (self->relaunch_times, 0);
  if (self->relaunch_times->len >= RESTART_BURST)
    return FALSE;
  g_array_append_val (self->relaunch_times, now);
  return TRUE;
}

static void
finish_stop (VhostUserBackendProcess *self)
{
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&self->stop_tasks);

  self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  clear_source (&self->kill_timer);
  remove_runtime_dir (self);
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_boolean (tasks->pdata[i], TRUE);
}

static void
process_run_finished (VhostUserBackendProcess *self, Run *run)
{
  g_autoptr(VhostUserBackendProcess) hold = g_object_ref (self);
  g_autofree char *how = vhost_user_backend_describe_status (run->status);
  const char *binary = vhost_user_backend_program_get_binary (self->program);
  gboolean was_ready = self->ready;
  gint status = run->status;

  g_message ("%s[%d]: %s", run->name, run->pid, how);
  self->run = NULL;
  self->ready = FALSE;
  clear_source (&self->ready_poll);
  clear_source (&self->start_timer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PID]);
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, status);

  if (!self->start_reported)
    {
      g_autofree char *said = vhost_user_backend_describe_output (run->last_line != NULL ? run->last_line : "", -1);

      report_start_failure (self, g_error_new (VHOST_ERROR, VHOST_ERROR_FAILED, "%s %s before it listened on %s%s",
                                               binary, how, self->socket_path, said));
    }
  if (self->stopping)
    finish_stop (self);
  else if (self->restart && was_ready && self->connection == VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH)
    {
      GError *error = NULL;

      if (!may_relaunch (self))
        error = g_error_new (VHOST_ERROR, VHOST_ERROR_FAILED, "%s exited %d times within %d s: not starting it again",
                             binary, RESTART_BURST + 1, (int) (RESTART_INTERVAL_US / G_USEC_PER_SEC));
      else if (spawn_run (self, &error))
        self->relaunched = TRUE;
      if (error != NULL)
        {
          g_signal_emit (self, signals[SIGNAL_RESTART_FAILED], 0, error);
          g_error_free (error);
          remove_runtime_dir (self);
        }
    }
  else
    remove_runtime_dir (self);
  run_unref (run);
}

static void
vhost_user_backend_process_dispose (GObject *object)
{
  VhostUserBackendProcess *self = VHOST_USER_BACKEND_PROCESS (object);

  clear_source (&self->ready_poll);
  clear_source (&self->start_timer);
  clear_source (&self->kill_timer);
  clear_source (&self->start_cancel_source);
  if (self->run != NULL)
    {
      Run *run = g_steal_pointer (&self->run);

      g_cancellable_cancel (run->cancellable);
      if (!run->exited)
        run_send_signal (run, SIGTERM);
      run_unref (run);
    }
  remove_runtime_dir (self);
  if (self->fd >= 0)
    {
      close (self->fd);
      self->fd = -1;
    }
  G_OBJECT_CLASS (vhost_user_backend_process_parent_class)->dispose (object);
}

static void
vhost_user_backend_process_finalize (GObject *object)
{
  VhostUserBackendProcess *self = VHOST_USER_BACKEND_PROCESS (object);

  g_clear_object (&self->program);
  g_strfreev (self->arguments);
  g_free (self->runtime_parent);
  g_free (self->socket_path);
  g_free (self->notify_path);
  g_ptr_array_unref (self->stop_tasks);
  g_array_unref (self->relaunch_times);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (vhost_user_backend_process_parent_class)->finalize (object);
}

static void
vhost_user_backend_process_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostUserBackendProcess *self = VHOST_USER_BACKEND_PROCESS (object);

  switch (prop_id)
    {
    case PROP_PROGRAM:
      g_value_set_object (value, self->program);
      break;
    case PROP_CONNECTION:
      g_value_set_enum (value, self->connection);
      break;
    case PROP_ARGUMENTS:
      g_value_set_boxed (value, self->arguments);
      break;
    case PROP_RUNTIME_DIRECTORY:
      g_value_set_string (value, vhost_user_backend_process_get_runtime_directory (self));
      break;
    case PROP_START_TIMEOUT:
      g_value_set_uint (value, self->start_timeout_ms);
      break;
    case PROP_RESTART:
      g_value_set_boolean (value, self->restart);
      break;
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_PID:
      g_value_set_int (value, vhost_user_backend_process_get_pid (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_process_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostUserBackendProcess *self = VHOST_USER_BACKEND_PROCESS (object);

  switch (prop_id)
    {
    case PROP_PROGRAM:
      self->program = g_value_dup_object (value);
      break;
    case PROP_CONNECTION:
      self->connection = g_value_get_enum (value);
      break;
    case PROP_ARGUMENTS:
      g_strfreev (self->arguments);
      self->arguments = g_value_get_boxed (value) != NULL ? g_value_dup_boxed (value) : g_new0 (char *, 1);
      break;
    case PROP_RUNTIME_DIRECTORY:
      vhost_user_backend_process_set_runtime_directory (self, g_value_get_string (value));
      break;
    case PROP_START_TIMEOUT:
      vhost_user_backend_process_set_start_timeout (self, g_value_get_uint (value));
      break;
    case PROP_RESTART:
      vhost_user_backend_process_set_restart (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_process_class_init (VhostUserBackendProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_backend_process_dispose;
  object_class->finalize = vhost_user_backend_process_finalize;
  object_class->get_property = vhost_user_backend_process_get_property;
  object_class->set_property = vhost_user_backend_process_set_property;

  /**
   * VhostUserBackendProcess:program:
   *
   * The program to run.
   */
  properties[PROP_PROGRAM] = g_param_spec_object (
      "program", "Program", "The program to run.", VHOST_TYPE_USER_BACKEND_PROGRAM,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProcess:connection:
   *
   * How the program is connected to the front-end: `--fd` or `--socket-path`.
   */
  properties[PROP_CONNECTION] = g_param_spec_enum (
      "connection", "Connection",
      "How the program is connected to the front-end: `--fd` or `--socket-path`.",
      VHOST_TYPE_USER_BACKEND_CONNECTION, VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProcess:arguments:
   *
   * The program's arguments after `--fd` or `--socket-path`: what the device
   * needs, such as `--blk-file=disk.img`.
   */
  properties[PROP_ARGUMENTS] = g_param_spec_boxed (
      "arguments", "Arguments",
      "The program's arguments after `--fd` or `--socket-path`: what the device needs, such as "
      "`--blk-file=disk.img`.",
      G_TYPE_STRV, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProcess:runtime-directory:
   *
   * The folder in which the private folder (mode 0700) of the socket path is
   * made, read when the process starts. The default is
   * g_get_user_runtime_dir(). A front-end that runs as another user (QEMU
   * under libvirt) needs a folder that it can reach; the private folder's name
   * starts with `vhost-glib-`.
   */
  properties[PROP_RUNTIME_DIRECTORY] = g_param_spec_string (
      "runtime-directory", "Runtime directory",
      "The folder in which the private folder (mode 0700) of the socket path is made, read when "
      "the process starts.",
      NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserBackendProcess:start-timeout:
   *
   * How long, in milliseconds, a program started with `--socket-path` may take
   * to be ready before it is killed and the start fails with
   * %VHOST_ERROR_TIMED_OUT.
   */
  properties[PROP_START_TIMEOUT] = g_param_spec_uint (
      "start-timeout", "Start timeout",
      "How long, in milliseconds, a program started with `--socket-path` may take to be ready "
      "before it is killed and the start fails with VHOST_ERROR_TIMED_OUT.",
      1, G_MAXUINT, DEFAULT_START_TIMEOUT_MS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserBackendProcess:restart:
   *
   * Whether a program that exits after it was ready is started again on the
   * same socket path (%VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH only; see
   * #VhostUserBackendProcess::restarted).
   */
  properties[PROP_RESTART] = g_param_spec_boolean (
      "restart", "Restart",
      "Whether a program that exits after it was ready is started again on the same socket path "
      "(VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH only; see VhostUserBackendProcess::restarted).",
      FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserBackendProcess:socket-path:
   *
   * The socket the program listens on (%VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH),
   * set by vhost_user_backend_process_start_async(); %NULL before, and with
   * %VHOST_USER_BACKEND_CONNECTION_FD.
   */
  properties[PROP_SOCKET_PATH] = g_param_spec_string (
      "socket-path", "Socket path",
      "The socket the program listens on (VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH), set by "
      "vhost_user_backend_process_start_async(); NULL before, and with "
      "VHOST_USER_BACKEND_CONNECTION_FD.",
      NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserBackendProcess:pid:
   *
   * The process id of the running program, or 0 when it does not run.
   */
  properties[PROP_PID] = g_param_spec_int (
      "pid", "Pid", "The process id of the running program, or 0 when it does not run.", 0,
      G_MAXINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserBackendProcess::exited:
   * @process: the #VhostUserBackendProcess
   * @status: the wait status (as waitpid() and #GChildWatchFunc give it): check it
   *   with g_spawn_check_wait_status(), or WIFEXITED() and WTERMSIG() (in
   *   Python, os.WIFEXITED() and os.WTERMSIG())
   *
   * Emitted each time the program exits, whether it was stopped, killed or
   * failed, and before a relaunch.
   */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_INT);
  /**
   * VhostUserBackendProcess::restarted:
   * @process: the #VhostUserBackendProcess
   *
   * Emitted when a program relaunched after an exit (see
   * #VhostUserBackendProcess:restart) is ready again on the same socket path.
   */
  signals[SIGNAL_RESTARTED] =
    g_signal_new ("restarted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * VhostUserBackendProcess::restart-failed:
   * @process: the #VhostUserBackendProcess
   * @error: why: the relaunched program exited before it was ready, did not get
   *   ready in time (%VHOST_ERROR_TIMED_OUT) or could not be started, or it
   *   exited too often
   *
   * Emitted when a relaunch fails. The process does not try again.
   */
  signals[SIGNAL_RESTART_FAILED] =
    g_signal_new ("restart-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                  1, G_TYPE_ERROR);
}

static void
vhost_user_backend_process_init (VhostUserBackendProcess *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->connection = VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH;
  self->arguments = g_new0 (char *, 1);
  self->start_timeout_ms = DEFAULT_START_TIMEOUT_MS;
  self->fd = -1;
  self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  self->relaunch_times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

/**
 * vhost_user_backend_process_new:
 * @program: the program to run
 * @connection: how to connect it to the front-end
 * @arguments: (nullable) (array zero-terminated=1): the program's arguments
 *   after `--fd` or `--socket-path`, or %NULL
 *
 * Creates a process for @program. Nothing runs until
 * vhost_user_backend_process_start_async().
 *
 * Returns: (transfer full): a new #VhostUserBackendProcess
 */
VhostUserBackendProcess *
vhost_user_backend_process_new (VhostUserBackendProgram *program,
                                VhostUserBackendConnection connection,
                                const char *const *arguments)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return g_object_new (VHOST_TYPE_USER_BACKEND_PROCESS, "program", program, "connection", connection, "arguments",
                       arguments, NULL);
}

/**
 * vhost_user_backend_process_get_program:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:program.
 *
 * Returns: (transfer none): the #VhostUserBackendProcess:program
 */
VhostUserBackendProgram *
vhost_user_backend_process_get_program (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), NULL);
  return process->program;
}

/**
 * vhost_user_backend_process_get_connection:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:connection.
 *
 * Returns: the #VhostUserBackendProcess:connection
 */
VhostUserBackendConnection
vhost_user_backend_process_get_connection (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), VHOST_USER_BACKEND_CONNECTION_FD);
  return process->connection;
}

/**
 * vhost_user_backend_process_get_arguments:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:arguments.
 *
 * Returns: (transfer none) (array zero-terminated=1): the
 *   #VhostUserBackendProcess:arguments
 */
const char *const *
vhost_user_backend_process_get_arguments (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), NULL);
  return (const char *const *) process->arguments;
}

/**
 * vhost_user_backend_process_get_runtime_directory:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:runtime-directory.
 *
 * Returns: the #VhostUserBackendProcess:runtime-directory
 */
const char *
vhost_user_backend_process_get_runtime_directory (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), NULL);
  return process->runtime_parent != NULL ? process->runtime_parent : g_get_user_runtime_dir ();
}

/**
 * vhost_user_backend_process_set_runtime_directory:
 * @process: a #VhostUserBackendProcess
 * @directory: (nullable): a folder, or %NULL for g_get_user_runtime_dir()
 *
 * Sets the #VhostUserBackendProcess:runtime-directory.
 */
void
vhost_user_backend_process_set_runtime_directory (VhostUserBackendProcess *process, const char *directory)
{
  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  if (g_strcmp0 (process->runtime_parent, directory) == 0)
    return;
  g_free (process->runtime_parent);
  process->runtime_parent = g_strdup (directory);
  g_object_notify_by_pspec (G_OBJECT (process), properties[PROP_RUNTIME_DIRECTORY]);
}

/**
 * vhost_user_backend_process_get_start_timeout:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:start-timeout.
 *
 * Returns: the #VhostUserBackendProcess:start-timeout in milliseconds
 */
guint
vhost_user_backend_process_get_start_timeout (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), 0);
  return process->start_timeout_ms;
}

/**
 * vhost_user_backend_process_set_start_timeout:
 * @process: a #VhostUserBackendProcess
 * @timeout_ms: milliseconds, at least 1
 *
 * Sets the #VhostUserBackendProcess:start-timeout.
 */
void
vhost_user_backend_process_set_start_timeout (VhostUserBackendProcess *process, guint timeout_ms)
{
  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  g_return_if_fail (timeout_ms > 0);
  if (process->start_timeout_ms == timeout_ms)
    return;
  process->start_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (process), properties[PROP_START_TIMEOUT]);
}

/**
 * vhost_user_backend_process_get_restart:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:restart.
 *
 * Returns: the #VhostUserBackendProcess:restart policy
 */
gboolean
vhost_user_backend_process_get_restart (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), FALSE);
  return process->restart;
}

/**
 * vhost_user_backend_process_set_restart:
 * @process: a #VhostUserBackendProcess
 * @restart: whether to start the program again when it exits
 *
 * Sets the #VhostUserBackendProcess:restart policy. With
 * %VHOST_USER_BACKEND_CONNECTION_FD, vhost_user_backend_process_start_async()
 * then fails with %VHOST_ERROR_NOT_SUPPORTED: a new program could not be handed
 * the front-end's connection.
 */
void
vhost_user_backend_process_set_restart (VhostUserBackendProcess *process, gboolean restart)
{
  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  restart = !!restart;
  if (process->restart == restart)
    return;
  process->restart = restart;
  g_object_notify_by_pspec (G_OBJECT (process), properties[PROP_RESTART]);
}

/**
 * vhost_user_backend_process_get_socket_path:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:socket-path.
 *
 * Returns: (nullable): the #VhostUserBackendProcess:socket-path to give the
 *   front-end (QEMU's `-chardev socket,path=`)
 */
const char *
vhost_user_backend_process_get_socket_path (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), NULL);
  return process->socket_path;
}

/**
 * vhost_user_backend_process_get_pid:
 * @process: a #VhostUserBackendProcess
 *
 * Gets #VhostUserBackendProcess:pid.
 *
 * Returns: the #VhostUserBackendProcess:pid, 0 when the program does not run
 */
gint
vhost_user_backend_process_get_pid (VhostUserBackendProcess *process)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), 0);
  return process->run != NULL ? process->run->pid : 0;
}

/* The private folder, the socket path in it, and the notify socket. */
static gboolean
make_runtime_dir (VhostUserBackendProcess *self, GError **error)
{
  g_autofree char *template = g_build_filename (vhost_user_backend_process_get_runtime_directory (self),
                                                "vhost-glib-XXXXXX", NULL);
  g_autofree char *name = g_path_get_basename (vhost_user_backend_program_get_binary (self->program));
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  struct sockaddr_un sun;
  int saved_errno;

  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      saved_errno = errno;
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Creating the runtime folder %s: %s", template,
                   g_strerror (saved_errno));
      return FALSE;
    }
  self->runtime_dir = g_steal_pointer (&template);
  self->socket_path = g_strconcat (self->runtime_dir, "/", name, ".sock", NULL);
  self->notify_path = g_build_filename (self->runtime_dir, "notify", NULL);
  if (strlen (self->socket_path) >= sizeof sun.sun_path)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "The socket path %s is longer than a unix socket address takes (%zu bytes): "
                   "choose a shorter runtime-directory", self->socket_path, sizeof sun.sun_path - 1);
      return FALSE;
    }
  self->notify_socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT,
                                      &local_error);
  address = g_unix_socket_address_new (self->notify_path);
  if (self->notify_socket == NULL || !g_socket_bind (self->notify_socket, address, FALSE, &local_error))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "The notify socket %s: %s", self->notify_path,
                   local_error->message);
      return FALSE;
    }
  g_socket_set_blocking (self->notify_socket, FALSE);
  self->notify_source = g_socket_create_source (self->notify_socket, G_IO_IN, NULL);
  g_source_set_static_name (self->notify_source, "[vhost] back-end program notify socket");
  g_source_set_callback (self->notify_source, (GSourceFunc) (GCallback) notify_cb, self, NULL);
  g_source_attach (self->notify_source, self->context);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOCKET_PATH]);
  return TRUE;
}

/**
 * vhost_user_backend_process_start_async:
 * @process: a #VhostUserBackendProcess
 * @cancellable: (nullable): a #GCancellable; cancelling kills the program
 * @callback: (scope async): called when the program is ready, or failed
 * @user_data: (closure): data for @callback
 *
 * Starts the program, once per process (and not after
 * vhost_user_backend_process_stop_async()). With
 * %VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH, @callback runs when the program
 * is ready (it sent `READY=1`, or its socket listens) and the start fails if it
 * exits first (%VHOST_ERROR_FAILED, with its last line of output) or takes
 * longer than #VhostUserBackendProcess:start-timeout. With
 * %VHOST_USER_BACKEND_CONNECTION_FD, @callback runs once the program runs; if it
 * then fails, #VhostUserBackendProcess::exited says so. @callback runs on the
 * thread-default main context of the caller.
 */
void
vhost_user_backend_process_start_async (VhostUserBackendProcess *process,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  task = g_task_new (process, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_process_start_async);
  if (process->started || process->stopping)
    {
      g_task_return_new_error (task, VHOST_ERROR, VHOST_ERROR_BROKEN,
                               process->started ? "The process was started already" : "The process was stopped");
      return;
    }
  if (process->restart && process->connection == VHOST_USER_BACKEND_CONNECTION_FD)
    {
      g_task_return_new_error (task, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                               "A program on --fd cannot be restarted: its connection cannot be handed on");
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  process->started = TRUE;
  if ((process->connection == VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH && !make_runtime_dir (process, &error)) ||
      !spawn_run (process, &error))
    {
      remove_runtime_dir (process);
      g_task_return_error (task, error);
      return;
    }
  if (process->ready)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  process->start_task = g_steal_pointer (&task);
  if (cancellable != NULL)
    {
      process->start_cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_static_name (process->start_cancel_source, "[vhost] back-end program start cancelled");
      g_source_set_callback (process->start_cancel_source, (GSourceFunc) (GCallback) start_cancelled_cb, process,
                             NULL);
      g_source_attach (process->start_cancel_source, process->context);
    }
}

/**
 * vhost_user_backend_process_start_finish:
 * @process: a #VhostUserBackendProcess
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_process_start_async().
 *
 * Returns: %TRUE if the program is ready
 */
gboolean
vhost_user_backend_process_start_finish (VhostUserBackendProcess *process, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, process), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_backend_process_start_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vhost_user_backend_process_steal_fd:
 * @process: a #VhostUserBackendProcess
 *
 * Takes the front-end's end of the socketpair
 * (%VHOST_USER_BACKEND_CONNECTION_FD), to give to QEMU (`-chardev
 * socket,fd=N`, or the `getfd` monitor command) or to vhost_user_master_new_for_fd().
 * The caller owns it and closes it; the process keeps no copy.
 *
 * Returns: the file descriptor, or -1 if there is none (another connection, not
 *   started, or already taken)
 */
gint
vhost_user_backend_process_steal_fd (VhostUserBackendProcess *process)
{
  gint fd;

  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process), -1);
  fd = process->fd;
  process->fd = -1;
  return fd;
}

static void
connect_master_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!vhost_user_master_connect_finish (VHOST_USER_MASTER (object), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_object_ref (object), g_object_unref);
}

/**
 * vhost_user_backend_process_connect_master_async:
 * @process: a started #VhostUserBackendProcess
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the master is connected
 * @user_data: (closure): data for @callback
 *
 * Connects a new #VhostUserMaster to the program: to its socket path, or
 * through the front-end's end of the socketpair, which the master then owns
 * (as after vhost_user_backend_process_steal_fd()). Fails with
 * %VHOST_ERROR_BROKEN if the process was not started, or its socketpair end was
 * taken. @callback runs on the thread-default main context of the caller.
 */
void
vhost_user_backend_process_connect_master_async (VhostUserBackendProcess *process,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(VhostUserMaster) master = NULL;

  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  task = g_task_new (process, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_process_connect_master_async);
  if (process->connection == VHOST_USER_BACKEND_CONNECTION_SOCKET_PATH && process->socket_path != NULL)
    master = vhost_user_master_new (process->socket_path);
  else if (process->connection == VHOST_USER_BACKEND_CONNECTION_FD && process->fd >= 0)
    master = vhost_user_master_new_for_fd (vhost_user_backend_process_steal_fd (process));
  else
    {
      g_task_return_new_error (task, VHOST_ERROR, VHOST_ERROR_BROKEN,
                               process->started ? "The program's socketpair end was taken" : "The program was not started");
      return;
    }
  vhost_user_master_connect_async (master, cancellable, connect_master_cb, g_steal_pointer (&task));
}

/**
 * vhost_user_backend_process_connect_master_finish:
 * @process: a #VhostUserBackendProcess
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_process_connect_master_async().
 *
 * Returns: (transfer full): a connected #VhostUserMaster, or %NULL on error
 */
VhostUserMaster *
vhost_user_backend_process_connect_master_finish (VhostUserBackendProcess *process,
                                                  GAsyncResult *result,
                                                  GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, process), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_backend_process_connect_master_async,
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * vhost_user_backend_process_send_signal:
 * @process: a #VhostUserBackendProcess
 * @signum: a signal number, such as SIGHUP or SIGKILL
 *
 * Sends @signum to the running program; does nothing if it does not run. A
 * program killed this way is restarted if #VhostUserBackendProcess:restart
 * says so; vhost_user_backend_process_stop_async() is the way to end it.
 */
void
vhost_user_backend_process_send_signal (VhostUserBackendProcess *process, gint signum)
{
  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  if (process->run != NULL)
    run_send_signal (process->run, signum);
}

static gboolean
kill_timeout_cb (gpointer data)
{
  g_autoptr(VhostUserBackendProcess) self = g_object_ref (data);

  g_clear_pointer (&self->kill_timer, g_source_unref);
  if (self->run != NULL)
    {
      g_message ("%s[%d]: still running %d ms after SIGTERM: sending SIGKILL", self->run->name, self->run->pid,
                 STOP_TIMEOUT_MS);
      run_send_signal (self->run, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

/**
 * vhost_user_backend_process_stop_async:
 * @process: a #VhostUserBackendProcess
 * @cancellable: (nullable): a #GCancellable; cancelling gives up waiting, the
 *   program is still stopped
 * @callback: (scope async): called when the program has exited
 * @user_data: (closure): data for @callback
 *
 * Stops the program for good: no restart, SIGTERM, and SIGKILL if it still runs
 * 5 seconds later. @callback runs after #VhostUserBackendProcess::exited, once
 * the private runtime folder is removed; at once if the program does not run.
 * A start in progress fails with %G_IO_ERROR_CANCELLED. @callback runs on the
 * thread-default main context of the caller.
 */
void
vhost_user_backend_process_stop_async (VhostUserBackendProcess *process,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (VHOST_IS_USER_BACKEND_PROCESS (process));
  task = g_task_new (process, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_process_stop_async);
  process->stopping = TRUE;
  vhost_user_backend_process_set_restart (process, FALSE);
  if (process->run == NULL)
    {
      remove_runtime_dir (process);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!process->start_reported)
    report_start_failure (process, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                        "Stopped before the program was ready"));
  if (process->kill_timer == NULL)
    {
      run_send_signal (process->run, SIGTERM);
      process->kill_timer = add_timeout (process, STOP_TIMEOUT_MS, "[vhost] back-end program stop", kill_timeout_cb);
    }
  g_ptr_array_add (process->stop_tasks, g_steal_pointer (&task));
}

/**
 * vhost_user_backend_process_stop_finish:
 * @process: a #VhostUserBackendProcess
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_process_stop_async().
 *
 * Returns: %TRUE once the program has exited; %FALSE only if @cancellable was
 *   cancelled
 */
gboolean
vhost_user_backend_process_stop_finish (VhostUserBackendProcess *process, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, process), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_backend_process_stop_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
