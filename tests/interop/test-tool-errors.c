/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bad command lines and bad files given to the back-end tools: a one-line error, a non-zero exit,
 * no core dump, no socket file left behind; and socket paths that another process has, had or takes. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "front.h"
#include "peer.h"

/* A file name that makes any socket path longer than a unix socket address (107 bytes). */
#define LONG_NAME "a-socket-name-that-is-much-too-long-for-the-sun-path-field-of-a-unix-socket-address-" \
                  "whatever-the-directory-is.sock"

typedef struct
{
  const char *tool;      /* the environment variable with its path */
  const char *args[6];   /* "@" stands for the test's directory */
  int status;            /* the exit code */
  const char *message;   /* a part of the error line */
} Case;

static const Case cases[] = {
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=@/missing.img" }, 1, "No such file or directory" },
  { "VHOST_USER_BLK", { "--socket-path=@/no/such/dir/blk.sock", "--blk-file=@/good.img" }, 1, "No such file or directory" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=@/odd.img" }, 1, "not a multiple of 512" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=@/empty.img" }, 1, "empty" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=@" }, 1, "Is a directory" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=/dev/null" }, 1, "neither a regular file nor a block device" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--null=0" }, 2, "the disk is empty" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=0" }, 2, "the disk is empty" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--blk-file=@/good.img", "--ram=1M" }, 2, "cannot be used together" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--fd=3", "--ram=1M" }, 2, "cannot be used together" },
  { "VHOST_USER_BLK", { "--ram=1M" }, 2, "--socket-path or --fd is required" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock" }, 2, "one of --blk-file, --ram or --null is required" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--direct" }, 2, "--direct applies to --blk-file only" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=12Q" }, 2, "is not a size" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--null=1000" }, 2, "not a multiple of 512" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--num-queues=0" }, 2, "--num-queues" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--serial=123456789012345678901" }, 2, "--serial" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--bogus" }, 2, "Unknown option --bogus" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "extra" }, 2, "unexpected argument" },
  { "VHOST_USER_BLK", { "--fd=99", "--ram=1M" }, 1, "fd 99: Bad file descriptor" },
  { "VHOST_USER_NET", { "--socket-path=@/no/such/dir/net.sock", "--echo" }, 1, "No such file or directory" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--tap=vhg0", "--echo" }, 2, "exactly one of --tap and --echo" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock" }, 2, "exactly one of --tap and --echo" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--fd=3", "--echo" }, 2, "cannot be used together" },
  { "VHOST_USER_NET", { "--echo" }, 2, "--socket-path or --fd is required" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--mac=01:00:5e:00:00:01" }, 2, "not a unicast MAC" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--mac=zz" }, 2, "not a unicast MAC" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--mtu=10" }, 2, "not between 68 and 65535" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--queue-pairs=0" }, 2, "not between 1 and 8" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--tap=averyveryverylongtapname0" }, 2, "not an interface name" },
  { "VHOST_USER_NET", { "--fd=1", "--echo" }, 1, "fd 1 is not a stream socket" },
  { "VHOST_USER_BLK", { "--fd=1", "--ram=1M" }, 1, "fd 1 is not a stream socket" },
  /* Socket paths that no unix socket address holds. */
  { "VHOST_USER_BLK", { "--socket-path=", "--ram=1M" }, 2, "--socket-path: the path is empty" },
  { "VHOST_USER_NET", { "--socket-path=", "--echo" }, 2, "--socket-path: the path is empty" },
  { "VHOST_USER_BLK", { "--socket-path=@/" LONG_NAME, "--ram=1M" }, 2, "more than the 107 a unix socket address holds" },
  { "VHOST_USER_NET", { "--socket-path=@/" LONG_NAME, "--echo" }, 2, "more than the 107 a unix socket address holds" },
  /* Every numeric option: negative, too large, not a number. */
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--busy-poll-us=-1" }, 2, "--busy-poll-us=-1: not between 0 and 1000000" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--busy-poll-us=1000001" }, 2, "--busy-poll-us=1000001: not between 0 and 1000000" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--busy-poll-us=1e3" }, 2, "--busy-poll-us=1e3: not a number" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--busy-poll-us=-1" }, 2, "--busy-poll-us=-1: not between 0 and 1000000" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--coalesce-us=1000001" }, 2, "--coalesce-us=1000001: not between 0 and 1000000" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--coalesce-us=-5" }, 2, "--coalesce-us=-5: not between 0 and 1000000" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--coalesce-us=10us" }, 2, "--coalesce-us=10us: not a number" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--busy-poll-us=99999999999999999999" }, 2, "--busy-poll-us=99999999999999999999: not a number" },
  { "VHOST_USER_BLK", { "--fd=-3", "--ram=1M" }, 2, "--fd=-3: not between 0 and 2147483647" },
  { "VHOST_USER_NET", { "--fd=x", "--echo" }, 2, "--fd=x: not a number" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--num-queues=-1" }, 2, "--num-queues=-1: not between 1 and 64" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--num-queues=65" }, 2, "--num-queues=65: not between 1 and 64" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--num-queues=4294967297" }, 2, "--num-queues=4294967297: not between 1 and 64" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--threads=0" }, 2, "--threads=0: not between 1 and 64" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=1M", "--num-queues=2", "--threads=3" }, 2, "--threads=3: more than the 2 queues of --num-queues" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--null=8388608T" }, 2, "--null: 9223372036854775808 bytes is more than a disk's byte offsets reach" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--null=16777216T" }, 2, "--null: '16777216T' is not a size" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--null=-512" }, 2, "--null: '-512' is not a size" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=8388608T" }, 2, "--ram: 9223372036854775808 bytes is more than a disk's byte offsets reach" },
  { "VHOST_USER_BLK", { "--socket-path=@/blk.sock", "--ram=8388607T" }, 2, "is more than this machine's memory" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--mtu=-1" }, 2, "--mtu=-1: not between 68 and 65535" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--mtu=65536" }, 2, "--mtu=65536: not between 68 and 65535" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--queue-pairs=-1" }, 2, "--queue-pairs=-1: not between 1 and 8" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--queue-pairs=2", "--threads=3" }, 2, "--threads=3: more than the 2 queue pairs of --queue-pairs" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--threads=x" }, 2, "--threads=x: not a number" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--queue-pairs=8", "--threads=9" }, 2, "--threads=9: not between 1 and 8" },
  { "VHOST_USER_NET", { "--socket-path=@/net.sock", "--echo", "--queue-pairs=9" }, 2, "--queue-pairs=9: not between 1 and 8" },
};

static char *
substitute (const char *arg, const char *dir)
{
  g_auto(GStrv) parts = g_strsplit (arg, "@", -1);

  return g_strjoinv (dir, parts);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *good = g_build_filename (dir, "good.img", NULL);
  g_autofree char *odd = g_build_filename (dir, "odd.img", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.img", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;
  guint n_files = 0;
  int status = -1;

  g_assert_true (g_file_set_contents (good, "", 0, NULL) && truncate (good, 1024 * 1024) == 0);
  g_assert_true (g_file_set_contents (odd, "", 0, NULL) && truncate (odd, 1024 * 1024 + 100) == 0);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_nonnull (g_getenv (c->tool));
  g_ptr_array_add (argv, g_strdup (g_getenv (c->tool)));
  for (guint i = 0; i < G_N_ELEMENTS (c->args) && c->args[i] != NULL; i++)
    g_ptr_array_add (argv, substitute (c->args[i], dir));
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (dir, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                               &error));
  g_assert_no_error (error);

  g_test_message ("stderr: %s", err);
  /* An exit, not a signal (no core dump), with the expected code. */
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, c->status);
  /* One error line, "PROGRAM: what was wrong" (log lines may come before it);
   * nothing on stdout. */
  {
    g_autofree char *program = g_path_get_basename (argv->pdata[0]);
    g_autofree char *prefix = g_strconcat (program, ": ", NULL);
    g_auto(GStrv) lines = g_strsplit (err, "\n", -1);
    guint n_errors = 0;

    g_assert_true (g_str_has_suffix (err, "\n"));
    for (guint i = 0; lines[i] != NULL; i++)
      if (g_str_has_prefix (lines[i], prefix))
        {
          g_assert_nonnull (strstr (lines[i], c->message));
          n_errors++;
        }
      else if (lines[i][0] != '\0')
        g_assert_nonnull (strstr (lines[i], "-Message: "));
    g_assert_cmpuint (n_errors, ==, 1);
  }
  g_assert_cmpstr (out, ==, "");
  /* Nothing left behind: only the three images. */
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_assert_true (g_str_has_suffix (name, ".img"));
      n_files++;
    }
  g_assert_cmpuint (n_files, ==, 3);
  vhost_peer_remove_dir (dir);
}

/* The socket paths of a tool: what it does with a socket file of another process. */
typedef struct
{
  const char *tool;     /* the environment variable with its path */
  const char *device;   /* the option that chooses its device */
} SocketTool;

static const SocketTool socket_tools[] = {
  { "VHOST_USER_BLK", "--ram=1M" },
  { "VHOST_USER_NET", "--echo" },
};

static VhostPeer *
start_tool (const SocketTool *t, const char *dir, const char *name, const char *sock)
{
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  const char *argv[] = { g_getenv (t->tool), socket_arg, t->device, NULL };

  g_assert_nonnull (argv[0]);
  return vhost_peer_start (dir, name, "", argv);
}

/* A front-end gets an answer on `sock`: the features. */
static void
assert_serves (const char *sock)
{
  g_autoptr(VhostUserMaster) master = vhost_test_front_connect (sock);
}

static void
stat_socket (const char *path, struct stat *st)
{
  g_assert_cmpint (g_lstat (path, st), ==, 0);
  g_assert_true (S_ISSOCK (st->st_mode));
}

/* A second instance on the socket path of a live one: refused (exit 1, the reason), and the
 * first keeps its socket and serves on. */
static void
test_socket_takeover (gconstpointer data)
{
  const SocketTool *t = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  const char *argv[] = { g_getenv (t->tool), socket_arg, t->device, NULL };
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostPeer) first = start_tool (t, dir, "first", sock);
  struct stat before, after;
  int status = -1;

  vhost_peer_wait_for_socket (first, sock, 10000);
  stat_socket (sock, &before);
  g_assert_true (g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
                               &error));
  g_assert_no_error (error);
  g_test_message ("second instance's stderr: %s", err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err, "another process is listening on that socket"));
  g_assert_nonnull (strstr (err, sock));
  /* The first one's socket file, untouched, and it answers. */
  stat_socket (sock, &after);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  g_assert_cmpuint (after.st_dev, ==, before.st_dev);
  assert_serves (sock);
  vhost_peer_terminate (first, SIGTERM, sock);
  vhost_peer_remove_dir (dir);
}

/* A socket file nobody listens on (a killed process's): replaced, served, removed at exit. */
static void
test_socket_stale (gconstpointer data)
{
  const SocketTool *t = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autoptr(VhostPeer) tool = NULL;
  struct stat stale, now;
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), pin;

  /* Bound, then closed: the file stays, a connection to it is refused. */
  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (address.sun_path, sock, sizeof address.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (fd, 1), ==, 0);
  close (fd);
  stat_socket (sock, &stale);
  /* Holding the stale inode, so that the tool's socket cannot get its number. */
  pin = open (sock, O_PATH | O_CLOEXEC);
  g_assert_cmpint (pin, >=, 0);
  tool = start_tool (t, dir, "tool", sock);
  /* Its own socket: another inode. */
  for (gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;; g_usleep (20000))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_assert_false (vhost_peer_has_exited (tool));
      if (g_lstat (sock, &now) == 0 && now.st_ino != stale.st_ino)
        break;
    }
  close (pin);
  assert_serves (sock);
  vhost_peer_terminate (tool, SIGTERM, sock);
  vhost_peer_remove_dir (dir);
}

/* The first instance's socket file was replaced by hand and a second instance listens there
 * now: when the first exits, it leaves the second's socket alone, and the second serves on. */
static void
test_socket_taken_over (gconstpointer data)
{
  const SocketTool *t = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  g_autoptr(VhostPeer) first = start_tool (t, dir, "first", sock);
  g_autoptr(VhostPeer) second = NULL;
  struct stat st_first, st_second, st_after;

  vhost_peer_wait_for_socket (first, sock, 10000);
  stat_socket (sock, &st_first);
  g_assert_cmpint (g_unlink (sock), ==, 0);
  second = start_tool (t, dir, "second", sock);
  vhost_peer_wait_for_socket (second, sock, 10000);
  stat_socket (sock, &st_second);
  g_assert_cmpuint (st_second.st_ino, !=, st_first.st_ino);
  /* The first exits cleanly, and the file at its path is not its own any more. */
  vhost_peer_terminate (first, SIGTERM, NULL);
  stat_socket (sock, &st_after);
  g_assert_cmpuint (st_after.st_ino, ==, st_second.st_ino);
  assert_serves (sock);
  vhost_peer_terminate (second, SIGTERM, sock);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *tool = g_ascii_strdown (cases[i].tool + strlen ("VHOST_USER_"), -1);
      g_autofree char *path = g_strdup_printf ("/vhost/interop/tool-errors/%s/%u", tool, i);

      g_test_add_data_func (path, &cases[i], test_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (socket_tools); i++)
    {
      g_autofree char *tool = g_ascii_strdown (socket_tools[i].tool + strlen ("VHOST_USER_"), -1);
      g_autofree char *takeover = g_strdup_printf ("/vhost/interop/tool-errors/%s/socket/takeover-refused", tool);
      g_autofree char *stale = g_strdup_printf ("/vhost/interop/tool-errors/%s/socket/stale-replaced", tool);
      g_autofree char *taken = g_strdup_printf ("/vhost/interop/tool-errors/%s/socket/not-removed-when-taken-over",
                                                tool);

      g_test_add_data_func (takeover, &socket_tools[i], test_socket_takeover);
      g_test_add_data_func (stale, &socket_tools[i], test_socket_stale);
      g_test_add_data_func (taken, &socket_tools[i], test_socket_taken_over);
    }
  return g_test_run ();
}
