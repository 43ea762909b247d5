/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserBackendDiscovery over fake trees of the three descriptor folders: the search, override,
 * mask and order rules, type and capability filters, and every kind of broken descriptor or program
 * skipped with its error while the others are listed; then the real programs QEMU installs. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "backend-tree.h"
#include "test-support.h"

/* What the fake programs print for --print-capabilities. */
#define BLOCK_CAPABILITIES "echo '{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}'"
#define BLOCK_FILE_ONLY "echo '{\"type\": \"block\", \"features\": [\"blk-file\"]}'"

static VhostUserBackendDiscovery *
discovery_for (BackendTree *tree, guint timeout_ms)
{
  VhostUserBackendDiscovery *discovery = vhost_user_backend_discovery_new ();

  vhost_user_backend_discovery_set_search_path (discovery, (const char *const *) tree->folders);
  if (timeout_ms > 0)
    vhost_user_backend_discovery_set_timeout (discovery, timeout_ms);
  return discovery;
}

/* libvirt's rules over the three folders: a more specific folder's file takes the
 * place of a file of the same name, an empty file hides it, the order is the file
 * names' byte order, dot files and folders are not descriptors. */
static void
test_search_rules (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *block = backend_tree_script (tree, "block", BLOCK_CAPABILITIES);
  g_autofree char *net = backend_tree_script (tree, "net", "echo '{\"type\": \"net\", \"features\": []}'");
  g_autofree char *fs = backend_tree_script (tree, "fs", "echo '{\"type\": \"fs\"}'");
  g_autofree char *user_over = NULL, *subfolder = NULL, *tagged = NULL;
  g_autoptr(VhostUserBackendDiscovery) discovery = discovery_for (tree, 0);
  g_autoptr(BackendListing) listing = NULL;
  g_autofree char *names = NULL;
  VhostUserBackendProgram *program;
  const char *const read_only_blk_file[] = { "read-only", "blk-file", NULL };
  const char *const tags[] = { "CONFIG_TEST=y", NULL };
  const char *const none[] = { NULL };

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-a.json", "block", block, "share 10"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "50-net.json", "net", net, "share 50"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "60-masked.json", "block", block, "share 60"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "70-over.json", "block", block, "share 70"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "9-late.json", "fs", fs, "share 9"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, ".80-hidden.json", "block", block, "hidden"));
  subfolder = g_build_filename (tree->folders[BACKEND_TREE_SHARE], "85-folder.json", NULL);
  g_assert_cmpint (g_mkdir (subfolder, 0755), ==, 0);
  g_free (backend_tree_file (tree, BACKEND_TREE_ETC, "60-masked.json", ""));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_ETC, "70-over.json", "block", block, "etc 70"));
  tagged = g_strdup_printf ("{\"description\": \"etc 20\", \"type\": \"block\", \"binary\": \"%s\", "
                            "\"tags\": [\"CONFIG_TEST=y\"]}", block);
  g_free (backend_tree_file (tree, BACKEND_TREE_ETC, "20-etc.json", tagged));
  user_over = backend_tree_descriptor (tree, BACKEND_TREE_USER, "70-over.json", "block", block, "user 70");
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_USER, "05-user.json", "net", net, "user 05"));
  /* A mask with nothing under it hides nothing. */
  g_free (backend_tree_file (tree, BACKEND_TREE_USER, "99-nothing.json", ""));

  listing = backend_list (discovery, NULL, NULL, NULL);
  g_assert_no_error (listing->error);
  g_assert_cmpuint (listing->errors->len, ==, 0);
  names = backend_listing_names (listing);
  g_assert_cmpstr (names, ==, "05-user.json 10-a.json 20-etc.json 50-net.json 70-over.json 9-late.json");

  program = backend_listing_find (listing, "70-over.json");
  g_assert_cmpstr (vhost_user_backend_program_get_description (program), ==, "user 70");
  g_assert_cmpstr (vhost_user_backend_program_get_descriptor_path (program), ==, user_over);
  g_assert_cmpstr (vhost_user_backend_program_get_binary (program), ==, block);
  g_assert_cmpstr (vhost_user_backend_program_get_backend_type (program), ==, "block");
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), read_only_blk_file));
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_tags (program), none));

  program = backend_listing_find (listing, "20-etc.json");
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_tags (program), tags));
  g_assert_true (g_str_has_prefix (vhost_user_backend_program_get_descriptor_path (program),
                                   tree->folders[BACKEND_TREE_ETC]));

  program = backend_listing_find (listing, "9-late.json");
  g_assert_cmpstr (vhost_user_backend_program_get_backend_type (program), ==, "fs");
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), none));
  program = backend_listing_find (listing, "50-net.json");
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), none));
}

/* Filters: by type (the other types' programs are not even run) and by required
 * capabilities. */
static void
test_filters (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *marker = g_build_filename (tree->root, "net-ran", NULL);
  g_autofree char *net_body = g_strdup_printf ("touch '%s'\necho '{\"type\": \"net\"}'", marker);
  g_autofree char *block = backend_tree_script (tree, "block", BLOCK_CAPABILITIES);
  g_autofree char *block_file = backend_tree_script (tree, "block-file", BLOCK_FILE_ONLY);
  g_autofree char *net = backend_tree_script (tree, "net", net_body);
  g_autoptr(VhostUserBackendDiscovery) discovery = discovery_for (tree, 0);
  const char *const read_only[] = { "read-only", NULL };
  const char *const blk_file[] = { "blk-file", NULL };
  const char *const unknown[] = { "read-only", "no-such-feature", NULL };
  struct
  {
    const char *type;
    const char *const *features;
    const char *names;
  } cases[] = {
    { "block", NULL, "10-ro.json 20-file.json" },
    { "block", read_only, "10-ro.json" },
    { "block", blk_file, "10-ro.json 20-file.json" },
    { "block", unknown, "" },
    { "gpu", NULL, "" },
  };

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-ro.json", "block", block, "ro"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_ETC, "20-file.json", "block", block_file, "file"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_USER, "30-net.json", "net", net, "net"));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(BackendListing) listing = backend_list (discovery, cases[i].type, cases[i].features, NULL);
      g_autofree char *names = backend_listing_names (listing);

      g_assert_no_error (listing->error);
      g_assert_cmpuint (listing->errors->len, ==, 0);
      g_assert_cmpstr (names, ==, cases[i].names);
    }
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  {
    g_autoptr(BackendListing) listing = backend_list (discovery, "net", NULL, NULL);
    g_autofree char *names = backend_listing_names (listing);

    g_assert_cmpstr (names, ==, "30-net.json");
    g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  }
}

/* One broken descriptor or program among good ones. */
typedef struct
{
  const char *name;
  const char *descriptor; /* its text, "%s" for the script's path; NULL: a standard one */
  const char *script;     /* the program's body; NULL: no script written */
  VhostError code;
  const char *message;    /* in the error message, after the descriptor's path */
} BrokenCase;

static const BrokenCase broken_cases[] = {
  { "not-json", "{ \"type\": ", NULL, VHOST_ERROR_INVALID_DATA, "is not JSON" },
  { "not-an-object", "[\"%s\"]", NULL, VHOST_ERROR_INVALID_DATA, "is not a JSON object" },
  { "no-binary", "{\"description\": \"d\", \"type\": \"block\"}", NULL, VHOST_ERROR_INVALID_DATA,
    "has no \"binary\" string" },
  { "binary-not-a-string", "{\"description\": \"d\", \"type\": \"block\", \"binary\": 42}", NULL,
    VHOST_ERROR_INVALID_DATA, "has no \"binary\" string" },
  { "no-description", "{\"type\": \"block\", \"binary\": \"%s\"}", NULL, VHOST_ERROR_INVALID_DATA,
    "has no \"description\" string" },
  { "unknown-type", "{\"description\": \"d\", \"type\": \"disk\", \"binary\": \"%s\"}", NULL, VHOST_ERROR_INVALID_DATA,
    "\"disk\" is not a vhost-user back-end type" },
  { "relative-binary", "{\"description\": \"d\", \"type\": \"block\", \"binary\": \"bin/program\"}", NULL,
    VHOST_ERROR_INVALID_DATA, "the binary \"bin/program\" is not an absolute path" },
  { "bad-tags", "{\"description\": \"d\", \"type\": \"block\", \"binary\": \"%s\", \"tags\": [1]}", NULL,
    VHOST_ERROR_INVALID_DATA, "\"tags\" is not an array of strings" },
  { "missing-binary", "{\"description\": \"d\", \"type\": \"block\", \"binary\": \"/nonexistent/vhost-user-x\"}",
    NULL, VHOST_ERROR_NOT_FOUND, "the binary /nonexistent/vhost-user-x does not exist" },
  { "garbage", NULL, "echo 'Usage: program [OPTION]...'", VHOST_ERROR_INVALID_DATA,
    "--print-capabilities is not JSON" },
  { "no-type", NULL, "echo '{\"features\": []}'", VHOST_ERROR_INVALID_DATA,
    "--print-capabilities has no \"type\" string" },
  { "wrong-type", NULL, "echo '{\"type\": \"net\"}'", VHOST_ERROR_INVALID_DATA,
    "type \"net\", but the descriptor says \"block\"" },
  { "bad-features", NULL, "echo '{\"type\": \"block\", \"features\": \"read-only\"}'", VHOST_ERROR_INVALID_DATA,
    "\"features\" is not an array of strings" },
  { "exit-status", NULL, "echo 'unknown option --print-capabilities' >&2\nexit 3", VHOST_ERROR_FAILED,
    "--print-capabilities exited with status 3: unknown option --print-capabilities" },
  { "killed", NULL, "kill -9 $$", VHOST_ERROR_FAILED, "--print-capabilities was killed by signal 9" },
  { "hangs", NULL, "exec sleep 30", VHOST_ERROR_TIMED_OUT, "--print-capabilities did not finish within 3000 ms" },
  /* A child of the program keeps the output open after the program is killed. */
  { "hangs-with-child", NULL, "sleep 5 &\nexec sleep 30", VHOST_ERROR_TIMED_OUT,
    "--print-capabilities did not finish within 3000 ms" },
  { "floods", NULL, "exec yes", VHOST_ERROR_INVALID_DATA, "printed more than 1048576 bytes for --print-capabilities" },
};

static void
test_broken (gconstpointer data)
{
  const BrokenCase *c = data;
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *good = backend_tree_script (tree, "good", BLOCK_CAPABILITIES);
  g_autofree char *script = backend_tree_script (tree, "broken", c->script != NULL ? c->script : "exit 0");
  g_autoptr(VhostUserBackendDiscovery) discovery = discovery_for (tree, 3000);
  g_autofree char *bad = NULL, *names = NULL;
  g_autoptr(BackendListing) listing = NULL;
  const GError *error;
  gint fds;

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-good.json", "block", good, "good"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_USER, "30-good.json", "block", good, "good"));
  if (c->descriptor != NULL)
    {
      g_autofree char *text = g_strdup_printf (c->descriptor, script);

      bad = backend_tree_file (tree, BACKEND_TREE_ETC, "20-bad.json", text);
    }
  else
    bad = backend_tree_descriptor (tree, BACKEND_TREE_ETC, "20-bad.json", "block", script, "broken");

  vhost_test_settle_fds ();
  fds = vhost_test_count_open_fds ();
  listing = backend_list (discovery, NULL, NULL, NULL);
  g_assert_no_error (listing->error);
  names = backend_listing_names (listing);
  for (guint i = 0; i < listing->errors->len; i++)
    g_test_message ("skipped: %s", ((GError *) listing->errors->pdata[i])->message);
  g_assert_cmpstr (names, ==, "10-good.json 30-good.json");
  g_assert_cmpuint (listing->errors->len, ==, 1);
  g_assert_cmpstr (listing->paths->pdata[0], ==, bad);
  error = listing->errors->pdata[0];
  g_assert_error (error, VHOST_ERROR, (gint) c->code);
  g_assert_true (g_str_has_prefix (error->message, bad));
  g_assert_nonnull (strstr (error->message, c->message));
  g_clear_pointer (&listing, backend_listing_free);
  vhost_test_settle_fds ();
  vhost_test_assert_fd_count (fds);
}

/* A descriptor that cannot be read, a file that is too large, a binary that cannot be
 * executed. */
static void
test_unreadable (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *good = backend_tree_script (tree, "good", BLOCK_CAPABILITIES);
  g_autofree char *dangling = g_build_filename (tree->folders[BACKEND_TREE_ETC], "20-dangling.json", NULL);
  g_autofree char *not_executable = g_build_filename (tree->bin, "not-executable", NULL);
  g_autoptr(GString) huge = g_string_new ("{\"description\": \"");
  g_autoptr(VhostUserBackendDiscovery) discovery = discovery_for (tree, 0);
  g_autoptr(BackendListing) listing = NULL;
  g_autofree char *names = NULL, *large = NULL, *denied = NULL;
  const GError *error;

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-good.json", "block", good, "good"));
  g_assert_cmpint (symlink ("/nonexistent/descriptor.json", dangling), ==, 0);
  while (huge->len <= 1024 * 1024)
    g_string_append (huge, "0123456789abcdef");
  g_string_append_printf (huge, "\", \"type\": \"block\", \"binary\": \"%s\"}", good);
  large = backend_tree_file (tree, BACKEND_TREE_SHARE, "30-large.json", huge->str);
  g_assert_true (g_file_set_contents (not_executable, "#!/bin/sh\n", -1, NULL));
  denied = backend_tree_descriptor (tree, BACKEND_TREE_USER, "40-denied.json", "block", not_executable, "denied");

  listing = backend_list (discovery, NULL, NULL, NULL);
  names = backend_listing_names (listing);
  g_assert_cmpstr (names, ==, "10-good.json");
  g_assert_cmpuint (listing->errors->len, ==, 3);

  g_assert_cmpstr (listing->paths->pdata[0], ==, dangling);
  error = listing->errors->pdata[0];
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_IO);
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));

  g_assert_cmpstr (listing->paths->pdata[1], ==, large);
  error = listing->errors->pdata[1];
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "is larger than 1048576 bytes"));

  g_assert_cmpstr (listing->paths->pdata[2], ==, denied);
  error = listing->errors->pdata[2];
  g_test_message ("%s", error->message);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, denied));
  g_assert_nonnull (strstr (error->message, g_strerror (EACCES)));
}

/* Folders that do not exist, or are files, are nothing to report. */
static void
test_missing_folders (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *good = backend_tree_script (tree, "good", BLOCK_CAPABILITIES);
  g_autofree char *missing = g_build_filename (tree->root, "missing", NULL);
  g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
  g_autoptr(BackendListing) listing = NULL;
  g_autofree char *names = NULL;
  const char *path[] = { missing, good, tree->folders[BACKEND_TREE_SHARE], NULL };

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-good.json", "block", good, "good"));
  vhost_user_backend_discovery_set_search_path (discovery, path);
  listing = backend_list (discovery, NULL, NULL, NULL);
  names = backend_listing_names (listing);
  g_assert_cmpstr (names, ==, "10-good.json");
  g_assert_cmpuint (listing->errors->len, ==, 0);
}

typedef struct
{
  const char *marker;
  GCancellable *cancellable;
} CancelWhenStarted;

static gboolean
cancel_when_started (gpointer data)
{
  CancelWhenStarted *cancel = data;

  if (!g_file_test (cancel->marker, G_FILE_TEST_EXISTS))
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (cancel->cancellable);
  return G_SOURCE_REMOVE;
}

/* Cancelled while a program hangs: G_IO_ERROR_CANCELLED at once, nothing reported as
 * skipped, nothing left open. */
static void
test_cancel (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autofree char *marker = g_build_filename (tree->root, "started", NULL);
  g_autofree char *body = g_strdup_printf ("touch '%s'\nexec sleep 30", marker);
  g_autofree char *hang = backend_tree_script (tree, "hang", body);
  g_autofree char *good = backend_tree_script (tree, "good", BLOCK_CAPABILITIES);
  g_autoptr(VhostUserBackendDiscovery) discovery = discovery_for (tree, 60000);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(BackendListing) listing = NULL;
  CancelWhenStarted cancel = { marker, cancellable };
  gint64 start;
  gint fds;

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "10-hang.json", "block", hang, "hang"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "20-good.json", "block", good, "good"));
  vhost_test_settle_fds ();
  fds = vhost_test_count_open_fds ();
  start = g_get_monotonic_time ();
  g_timeout_add (10, cancel_when_started, &cancel);
  listing = backend_list (discovery, NULL, NULL, cancellable);
  g_assert_error (listing->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (listing->programs);
  g_assert_cmpuint (listing->errors->len, ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_clear_pointer (&listing, backend_listing_free);
  vhost_test_settle_fds ();
  vhost_test_assert_fd_count (fds);

  /* Cancelled before it starts. */
  listing = backend_list (discovery, NULL, NULL, cancellable);
  g_assert_error (listing->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer data)
{
  (*(guint *) data)++;
}

/* The default search path: the user's config folder first, then the system's. */
static void
test_default_search_path (void)
{
  g_auto(GStrv) path = vhost_user_backend_discovery_get_default_search_path ();
  g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
  g_autofree char *user = g_build_filename (g_getenv ("XDG_CONFIG_HOME"), "qemu", "vhost-user", NULL);
  const char *const other[] = { "/nonexistent", NULL };
  guint notified = 0;

  g_assert_cmpuint (g_strv_length (path), ==, 3);
  g_assert_cmpstr (path[0], ==, user);
  for (guint i = 1; i < 3; i++)
    {
      g_assert_true (g_path_is_absolute (path[i]));
      g_assert_true (g_str_has_suffix (path[i], "/qemu/vhost-user"));
    }
  g_assert_true (g_strv_equal (vhost_user_backend_discovery_get_search_path (discovery), (const char *const *) path));
  g_signal_connect (discovery, "notify::search-path", G_CALLBACK (count_notify), &notified);
  vhost_user_backend_discovery_set_search_path (discovery, other);
  g_assert_true (g_strv_equal (vhost_user_backend_discovery_get_search_path (discovery), other));
  vhost_user_backend_discovery_set_search_path (discovery, other);
  g_assert_cmpuint (notified, ==, 1);
  vhost_user_backend_discovery_set_search_path (discovery, NULL);
  g_assert_true (g_strv_equal (vhost_user_backend_discovery_get_search_path (discovery), (const char *const *) path));
  g_assert_cmpuint (notified, ==, 2);
  g_assert_cmpuint (vhost_user_backend_discovery_get_timeout (discovery), ==, 5000);
}

/* The real programs: vhost-glib's tools through descriptors made for the build tree,
 * and what QEMU installs in /usr/share/qemu/vhost-user (vhost-user-gpu, virtiofsd). */
static void
test_real_programs (void)
{
  g_autoptr(BackendTree) tree = backend_tree_new ();
  g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
  g_autoptr(BackendListing) listing = NULL;
  const char *path[] = { tree->folders[BACKEND_TREE_ETC], "/usr/share/qemu/vhost-user", NULL };
  const char *const blk_features[] = { "read-only", "blk-file", NULL };
  const char *const none[] = { NULL };
  VhostUserBackendProgram *program;

  g_assert_nonnull (g_getenv ("VHOST_USER_BLK"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_ETC, "50-vhost-glib-blk.json", "block",
                                   g_getenv ("VHOST_USER_BLK"), "vhost-glib blk"));
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_ETC, "50-vhost-glib-net.json", "net",
                                   g_getenv ("VHOST_USER_NET"), "vhost-glib net"));
  vhost_user_backend_discovery_set_search_path (discovery, path);
  listing = backend_list (discovery, NULL, NULL, NULL);
  g_assert_cmpuint (listing->errors->len, ==, 0);

  program = backend_listing_find (listing, "50-vhost-glib-blk.json");
  g_assert_nonnull (program);
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), blk_features));
  program = backend_listing_find (listing, "50-vhost-glib-net.json");
  g_assert_nonnull (program);
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), none));

  /* qemu-system-common: virtiofsd prints {"type": "fs"}, no features. */
  program = backend_listing_find (listing, "50-qemu-virtiofsd.json");
  g_assert_nonnull (program);
  g_assert_cmpstr (vhost_user_backend_program_get_backend_type (program), ==, "fs");
  g_assert_cmpstr (vhost_user_backend_program_get_binary (program), ==, "/usr/lib/qemu/virtiofsd");
  g_assert_true (g_strv_equal (vhost_user_backend_program_get_features (program), none));
  /* qemu-system-gui: vhost-user-gpu. */
  program = backend_listing_find (listing, "50-qemu-gpu.json");
  g_assert_nonnull (program);
  g_assert_cmpstr (vhost_user_backend_program_get_backend_type (program), ==, "gpu");
  g_assert_true (vhost_user_backend_program_has_features (program, (const char *const[]){ "virgl", NULL }));
}

int
main (int argc, char **argv)
{
  g_autofree char *config = g_build_filename (g_get_tmp_dir (), "vhost-backend-discovery-config", NULL);

  /* Before GLib reads it: the user's folder of the default search path. */
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/backend-discovery/search-rules", test_search_rules);
  g_test_add_func ("/vhost/backend-discovery/filters", test_filters);
  for (guint i = 0; i < G_N_ELEMENTS (broken_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/vhost/backend-discovery/broken/%s", broken_cases[i].name);

      g_test_add_data_func (name, &broken_cases[i], test_broken);
    }
  g_test_add_func ("/vhost/backend-discovery/unreadable", test_unreadable);
  g_test_add_func ("/vhost/backend-discovery/missing-folders", test_missing_folders);
  g_test_add_func ("/vhost/backend-discovery/cancel", test_cancel);
  g_test_add_func ("/vhost/backend-discovery/default-search-path", test_default_search_path);
  g_test_add_func ("/vhost/backend-discovery/real-programs", test_real_programs);
  return g_test_run ();
}
