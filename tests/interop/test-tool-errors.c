/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bad command lines and bad files given to the back-end tools: a one-line error, a non-zero exit,
 * no core dump, no socket file left behind. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "peer.h"

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
  return g_test_run ();
}
