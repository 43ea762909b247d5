/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The back-end tools tell a service manager they are ready: READY=1 on the datagram socket of
 * $NOTIFY_SOCKET (a path or an abstract name) once their socket listens, STOPPING=1 at the end,
 * and --pid-file holds their pid while they run. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "test-support.h"

#define WAIT_US (20 * G_USEC_PER_SEC)

typedef struct
{
  const char *tool;      /* the environment variable with its path */
  const char *device;    /* the option that gives it a device */
  gboolean abstract;     /* NOTIFY_SOCKET an abstract name, not a path */
  gboolean fd;           /* --fd on a socketpair, not --socket-path */
} Case;

static const Case cases[] = {
  { "VHOST_USER_BLK", "--ram=1M", FALSE, FALSE },
  { "VHOST_USER_BLK", "--ram=1M", TRUE, FALSE },
  { "VHOST_USER_BLK", "--null=1M", FALSE, TRUE },
  { "VHOST_USER_NET", "--echo", FALSE, FALSE },
  { "VHOST_USER_NET", "--echo", TRUE, TRUE },
};

/* The tools die with the test, even when an assertion ends it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *
new_launcher (GSubprocessFlags flags, const char *notify_name)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", notify_name, TRUE);
  return launcher;
}

/* A datagram socket at `name` (a path, or '@' and an abstract name). */
static GSocket *
notify_socket (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  if (name[0] == '@')
    address = g_unix_socket_address_new_with_type (name + 1, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  else
    address = g_unix_socket_address_new (name);
  g_assert_true (g_socket_bind (socket, address, FALSE, &error));
  g_assert_no_error (error);
  return socket;
}

/* The next datagram, within WAIT_US. */
static char *
receive (GSocket *socket)
{
  g_autoptr(GError) error = NULL;
  char buffer[4096];
  gssize n;

  g_assert_true (g_socket_condition_timed_wait (socket, G_IO_IN, WAIT_US, NULL, &error));
  g_assert_no_error (error);
  n = g_socket_receive (socket, buffer, sizeof buffer - 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);
  return g_strndup (buffer, n);
}

static gboolean
has_line (const char *text, const char *line)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  return g_strv_contains ((const char *const *) lines, line);
}

static void
test_ready (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *dir = g_dir_make_tmp ("vhost-readiness-XXXXXX", NULL);
  g_autofree char *sock = g_build_filename (dir, "backend.sock", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "backend.pid", NULL);
  g_autofree char *notify_name = c->abstract ? g_strdup_printf ("@vhost-glib-test-%d-%u", getpid (), g_random_int ())
                                             : g_build_filename (dir, "notify", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autofree char *pid_arg = g_strconcat ("--pid-file=", pid_file, NULL);
  g_autoptr(GSocket) notify = notify_socket (notify_name);
  g_autoptr(GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_NONE, notify_name);
  g_autoptr(GSubprocess) tool = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL, *pid_text = NULL, *expected_pid = NULL, *stopping = NULL;
  int pair[2] = { -1, -1 };

  g_assert_nonnull (g_getenv (c->tool));
  if (c->fd)
    {
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
      g_subprocess_launcher_take_fd (launcher, pair[1], 3);
      tool = g_subprocess_launcher_spawn (launcher, &error, g_getenv (c->tool), "--fd=3", c->device, pid_arg, NULL);
    }
  else
    tool = g_subprocess_launcher_spawn (launcher, &error, g_getenv (c->tool), socket_arg, c->device, pid_arg, NULL);
  g_assert_no_error (error);

  message = receive (notify);
  g_test_message ("notified: %s", message);
  g_assert_true (has_line (message, "READY=1"));
  /* Ready means: the socket listens (a connection is accepted) ... */
  if (!c->fd)
    {
      g_autoptr(GSocket) client = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                                &error);
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (sock);

      g_assert_true (g_socket_connect (client, address, NULL, &error));
      g_assert_no_error (error);
      g_socket_close (client, NULL);
    }
  /* ... and the pid file holds the pid. */
  g_assert_true (g_file_get_contents (pid_file, &pid_text, NULL, &error));
  g_assert_no_error (error);
  expected_pid = g_strdup_printf ("%s\n", g_subprocess_get_identifier (tool));
  g_assert_cmpstr (pid_text, ==, expected_pid);

  g_subprocess_send_signal (tool, SIGTERM);
  stopping = receive (notify);
  g_assert_true (has_line (stopping, "STOPPING=1"));
  g_assert_true (g_subprocess_wait_check (tool, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  if (pair[0] >= 0)
    close (pair[0]);
  g_unlink (notify_name);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Whether the process `pid` is blocked in sendto() (its /proc syscall file starts with
 * the number). */
static gboolean
in_sendto (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/syscall", pid);
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strdup_printf ("%d ", (int) SYS_sendto);

  return g_file_get_contents (path, &text, NULL, NULL) && g_str_has_prefix (text, prefix);
}

/* The order, made visible: the notify socket's queue is full, so the tool blocks in
 * sendto(READY=1); while it is blocked there, its socket already accepts connections. */
static void
test_order (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vhost-readiness-XXXXXX", NULL);
  g_autofree char *sock = g_build_filename (dir, "backend.sock", NULL);
  g_autofree char *notify_name = g_build_filename (dir, "notify", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autoptr(GSocket) notify = notify_socket (notify_name);
  g_autoptr(GSocketAddress) notify_address = g_unix_socket_address_new (notify_name);
  g_autoptr(GSocket) filler = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT,
                                            NULL);
  g_autoptr(GSocket) client = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                            NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (sock);
  g_autoptr(GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_NONE, notify_name);
  g_autoptr(GSubprocess) tool = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  gint64 deadline;
  guint queued = 0;

  /* Fill the queue. */
  g_socket_set_blocking (filler, FALSE);
  while (g_socket_send_to (filler, notify_address, "x", 1, NULL, &error) == 1)
    queued++;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpuint (queued, >, 0);

  tool = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("VHOST_USER_BLK"), socket_arg, "--ram=1M", NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + WAIT_US;
  while (!in_sendto (g_subprocess_get_identifier (tool)))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  g_assert_true (g_socket_connect (client, address, NULL, &error));
  g_assert_no_error (error);

  /* Let it through: the filler's datagrams, then its own. */
  for (guint i = 0; i < queued; i++)
    g_free (receive (notify));
  message = receive (notify);
  g_assert_true (has_line (message, "READY=1"));
  g_socket_close (client, NULL);
  g_subprocess_send_signal (tool, SIGTERM);
  g_assert_true (g_subprocess_wait_check (tool, NULL, &error));
  g_assert_no_error (error);
  g_unlink (notify_name);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A --pid-file that cannot be written: exit 1 with the reason, no socket left, and no
 * READY=1 sent. */
static void
test_bad_pid_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vhost-readiness-XXXXXX", NULL);
  g_autofree char *sock = g_build_filename (dir, "backend.sock", NULL);
  g_autofree char *notify_name = g_build_filename (dir, "notify", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autoptr(GSocket) notify = notify_socket (notify_name);
  g_autoptr(GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_STDERR_PIPE, notify_name);
  g_autoptr(GSubprocess) tool = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  char byte;

  tool = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("VHOST_USER_BLK"), socket_arg, "--ram=1M",
                                      "--pid-file=/nonexistent/folder/backend.pid", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (tool, NULL, NULL, NULL, &err, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (tool));
  g_assert_cmpint (g_subprocess_get_exit_status (tool), ==, 1);
  g_assert_nonnull (strstr (err, "vhost-user-blk: --pid-file: "));
  g_assert_nonnull (strstr (err, "/nonexistent/folder/backend.pid"));
  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  /* It has exited: a READY=1 would be queued on the socket by now. */
  g_assert_cmpint (g_socket_receive_with_blocking (notify, &byte, 1, FALSE, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_unlink (notify_name);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/vhost/tools/readiness/%s/%s/%s",
                                               strstr (cases[i].tool, "BLK") != NULL ? "blk" : "net",
                                               cases[i].fd ? "fd" : "socket-path",
                                               cases[i].abstract ? "abstract" : "path");

      g_test_add_data_func (name, &cases[i], test_ready);
    }
  g_test_add_func ("/vhost/tools/readiness/order", test_order);
  g_test_add_func ("/vhost/tools/readiness/bad-pid-file", test_bad_pid_file);
  return g_test_run ();
}
