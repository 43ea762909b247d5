/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A management daemon's whole path on an installed vhost-glib: the project installed into a
 * temporary prefix, the installed vhost-user-blk found from Python through Vhost.UserBackendDiscovery
 * (default search path) and launched for an image by Vhost.UserBackendProcess, a Linux guest on
 * qemu-system-x86_64 writing and reading a block on the socket it returned, then the program
 * killed and its exit reported. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "guest.h"
#include "test-support.h"

#define IMAGE_SIZE (8 * 1024 * 1024)
#define QEMU_TIMEOUT_MS (240 * 1000)
#define LINE_TIMEOUT_MS (60 * 1000)

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " virtio_blk";

/* 64 KiB of random data written at 1 MiB with O_DIRECT and fsync, read back, compared. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  "n=0\n"
  "while [ ! -b /dev/vda ]; do\n"
  "  n=$((n + 1)); [ $n -le 600 ] || result FAIL no /dev/vda\n"
  "  sleep 0.05\n"
  "done\n"
  "dd if=/dev/urandom of=/tmp/pat bs=4096 count=16 2>/dev/null || result FAIL pattern\n"
  "dd if=/tmp/pat of=/dev/vda bs=65536 seek=16 count=1 oflag=direct conv=fsync 2>/tmp/err || result FAIL write $(cat /tmp/err)\n"
  "echo 3 > /proc/sys/vm/drop_caches\n"
  "dd if=/dev/vda of=/tmp/back bs=65536 skip=16 count=1 iflag=direct 2>/tmp/err || result FAIL read $(cat /tmp/err)\n"
  "cmp /tmp/pat /tmp/back || result FAIL compare\n"
  "md5=$(md5sum /tmp/pat)\n"
  "result PASS md5=${md5%% *}\n";

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Run `argv` in `cwd` with its output to `log`; fail the test with the log if it fails. */
static void
run_step (const char *const *argv, const char *log)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) step = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command = g_strjoinv (" ", (char **) argv);

  g_test_message ("%s", command);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  step = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  if (!g_subprocess_wait_check (step, NULL, &error))
    {
      g_autofree char *text = NULL;

      g_file_get_contents (log, &text, NULL, NULL);
      g_error ("%s failed (%s):\n%s", command, error->message, text);
    }
}

/* The project configured into a build directory of its own, with the prefix in
 * `prefix` (libdir "lib"), built and installed: the build directory is kept between
 * runs, the prefix is made anew. */
static void
install (const char *prefix, const char *log)
{
  const char *meson = g_getenv ("MESON");
  const char *source = g_getenv ("VHOST_SOURCE_ROOT");
  const char *build = g_getenv ("VHOST_INSTALL_BUILD_DIR");
  g_autofree char *prefix_arg = g_strconcat ("--prefix=", prefix, NULL);
  g_autofree char *ninja_file = g_build_filename (build, "build.ninja", NULL);
  const char *rm[] = { "rm", "-rf", prefix, NULL };
  const char *setup[] = { meson, "setup", build, source, prefix_arg, "--libdir=lib", "-Dtests=false",
                          "-Dinterop_tests=false", "-Dgtk_doc=false", "-Dintrospection=enabled", NULL };
  const char *reconfigure[] = { meson, "setup", "--reconfigure", build, source, prefix_arg, "--libdir=lib",
                                "-Dtests=false", "-Dinterop_tests=false", "-Dgtk_doc=false",
                                "-Dintrospection=enabled", NULL };
  const char *compile[] = { "nice", "-n", "10", meson, "compile", "-C", build, NULL };
  const char *install_step[] = { meson, "install", "--quiet", "-C", build, NULL };

  g_assert_nonnull (meson);
  g_assert_nonnull (source);
  g_assert_nonnull (build);
  run_step (rm, log);
  run_step (g_file_test (ninja_file, G_FILE_TEST_EXISTS) ? reconfigure : setup, log);
  run_step (compile, log);
  run_step (install_step, log);
}

typedef struct
{
  GDataInputStream *stream;
  char *line;
  gboolean done;
} LineRead;

static void
on_line (GObject *object, GAsyncResult *result, gpointer data)
{
  LineRead *read = data;

  read->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result, NULL, NULL);
  read->done = TRUE;
}

/* The next JSON line of the daemon that is not a "skipped" report. */
static JsonObject *
next_message (GDataInputStream *stream)
{
  for (;;)
    {
      LineRead read = { stream, NULL, FALSE };
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;
      JsonObject *object;

      g_data_input_stream_read_line_async (stream, G_PRIORITY_DEFAULT, NULL, on_line, &read);
      vhost_test_wait_for_flag (&read.done, LINE_TIMEOUT_MS);
      line = read.line;
      g_assert_nonnull (line);
      g_test_message ("daemon: %s", line);
      g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
      g_assert_no_error (error);
      object = json_node_get_object (json_parser_get_root (parser));
      g_assert_false (json_object_has_member (object, "error"));
      if (!json_object_has_member (object, "skipped"))
        return json_object_ref (object);
    }
}

static void
test_installed (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  const char *prefix = g_getenv ("VHOST_INSTALL_PREFIX");
  g_autofree char *log = g_build_filename (dir, "install.log", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *config = g_build_filename (dir, "config", NULL);
  g_autofree char *libdir = NULL, *typelibs = NULL, *expected_binary = NULL, *chardev = NULL, *folder = NULL;
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *contents = NULL, *md5 = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(JsonObject) ready = NULL, exited = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) result = NULL;
  const char *script = g_getenv ("VHOST_DAEMON_LAUNCH");
  const char *socket_path;
  const char *devices[] = { "-chardev", NULL, "-device", "vhost-user-blk-pci,chardev=c0", NULL };
  JsonArray *features;
  VhostPeer *guest;
  gsize length;

  g_assert_nonnull (prefix);
  install (prefix, log);
  libdir = g_build_filename (prefix, "lib", NULL);
  typelibs = g_build_filename (libdir, "girepository-1.0", NULL);
  expected_binary = g_build_filename (prefix, "bin", "vhost-user-blk", NULL);
  g_assert_true (g_file_test (expected_binary, G_FILE_TEST_IS_EXECUTABLE));

  g_assert_true (g_file_set_contents (image, "", 0, NULL));
  g_assert_cmpint (truncate (image, IMAGE_SIZE), ==, 0);
  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);

  /* The daemon, in Python, on the installed library. The prefix has no RPATH: the
   * library and typelib are found through the environment. The user's config folder
   * is empty, so the default search path finds the prefix's share/qemu/vhost-user. */
  g_assert_cmpint (g_mkdir (config, 0700), ==, 0);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "LD_LIBRARY_PATH", libdir, TRUE);
  g_subprocess_launcher_setenv (launcher, "GI_TYPELIB_PATH", typelibs, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "PYTHONDONTWRITEBYTECODE", "1", TRUE);
  daemon = g_subprocess_launcher_spawn (launcher, &error, "/usr/bin/python3", script, image, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (daemon));

  ready = next_message (out);
  g_assert_true (json_object_get_boolean_member (ready, "ready"));
  g_assert_cmpstr (json_object_get_string_member (ready, "binary"), ==, expected_binary);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (ready, "descriptor"), prefix));
  features = json_object_get_array_member (ready, "features");
  g_assert_cmpuint (json_array_get_length (features), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (features, 0), ==, "read-only");
  socket_path = json_object_get_string_member (ready, "socket");
  g_assert_true (g_str_has_prefix (socket_path, dir));
  g_assert_true (g_file_test (socket_path, G_FILE_TEST_EXISTS));
  folder = g_path_get_dirname (socket_path);

  /* The guest on that socket. */
  chardev = g_strdup_printf ("socket,id=c0,path=%s", socket_path);
  devices[1] = chardev;
  guest = vhost_guest_start (dir, kver, initrd, 1, devices);
  result = vhost_guest_wait_result (guest, QEMU_TIMEOUT_MS);
  vhost_peer_free (guest);
  g_assert_true (g_file_get_contents (image, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  md5 = g_compute_checksum_for_data (G_CHECKSUM_MD5, (const guint8 *) contents + 1024 * 1024, 65536);
  g_assert_cmpstr (md5, ==, vhost_guest_result_value (result, "md5"));

  /* Killed: the daemon hears of it through VhostUserBackendProcess::exited. */
  g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (daemon), "kill\n", 5, NULL, NULL, &error));
  g_assert_no_error (error);
  exited = next_message (out);
  g_assert_true (json_object_has_member (exited, "exited"));
  g_assert_cmpint (json_object_get_int_member (exited, "signal"), ==, SIGKILL);
  g_assert_true (g_subprocess_wait_check (daemon, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (folder, G_FILE_TEST_EXISTS));
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/daemon/installed", test_installed);
  return g_test_run ();
}
