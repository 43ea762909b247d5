/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-probe --list [--json] over a fake tree of descriptor folders (an override, a mask, a
 * broken descriptor, a program that fails, the real vhost-user-blk), and --list-vdpa on a host
 * without vDPA. */
#include <string.h>
#include <json-glib/json-glib.h>

#include "backend-tree.h"
#include "test-support.h"

typedef struct
{
  char *out;
  char *err;
  int status;
} Run;

static void
run_clear (Run *run)
{
  g_free (run->out);
  g_free (run->err);
}

static void
probe (Run *run, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("VHOST_USER_PROBE"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, 0, NULL, NULL, &run->out, &run->err, &run->status,
                               &error));
  g_assert_no_error (error);
}

/* The fake tree: the real vhost-user-blk in share/, overridden in etc/ by a
 * descriptor with another description; a net script masked by an empty file in
 * user/; a descriptor that is not JSON; a program that exits 1. */
static BackendTree *
make_tree (char **blk_over, char **broken, char **failing)
{
  BackendTree *tree = backend_tree_new ();
  g_autofree char *net = backend_tree_script (tree, "net", "echo '{\"type\": \"net\"}'");
  g_autofree char *fails = backend_tree_script (tree, "fails", "echo 'no such option' >&2\nexit 1");
  const char *blk = g_getenv ("VHOST_USER_BLK");

  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "50-blk.json", "block", blk, "share blk"));
  *blk_over = backend_tree_descriptor (tree, BACKEND_TREE_ETC, "50-blk.json", "block", blk, "etc blk");
  g_free (backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "60-net.json", "net", net, "net"));
  g_free (backend_tree_file (tree, BACKEND_TREE_USER, "60-net.json", ""));
  *broken = backend_tree_file (tree, BACKEND_TREE_USER, "20-broken.json", "{\"type\": ");
  *failing = backend_tree_descriptor (tree, BACKEND_TREE_SHARE, "70-fails.json", "gpu", fails, "fails");
  return tree;
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* The error messages are the library's (tested there); here, each names its file. */
static void
check_skipped (JsonArray *skipped, guint index, const char *path, const char *words)
{
  JsonObject *entry = json_array_get_object_element (skipped, index);
  const char *message = json_object_get_string_member (entry, "error");

  g_assert_cmpstr (json_object_get_string_member (entry, "descriptor"), ==, path);
  g_assert_true (g_str_has_prefix (message, path));
  g_assert_nonnull (strstr (message, words));
}

static void
test_list_json (void)
{
  g_autofree char *blk_over = NULL, *broken = NULL, *failing = NULL;
  g_autoptr(BackendTree) tree = make_tree (&blk_over, &broken, &failing);
  g_autofree char *expected_text = NULL;
  g_autoptr(JsonNode) root = NULL, expected = NULL;
  JsonObject *object;
  JsonArray *skipped;
  Run run = { 0 };
  const char *args[] = { "--list", "--json", "--descriptor-dir", tree->folders[BACKEND_TREE_USER], "--descriptor-dir",
                         tree->folders[BACKEND_TREE_ETC], "--descriptor-dir", tree->folders[BACKEND_TREE_SHARE], NULL };

  probe (&run, args);
  g_test_message ("%s", run.out);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  root = parse (run.out);

  /* The programs, exactly. */
  expected_text = g_strdup_printf ("[{\"name\": \"50-blk.json\", \"type\": \"block\", \"binary\": \"%s\","
                                   " \"description\": \"etc blk\", \"tags\": [], \"features\": [\"read-only\", \"blk-file\"],"
                                   " \"descriptor\": \"%s\"}]",
                                   g_getenv ("VHOST_USER_BLK"), blk_over);
  expected = parse (expected_text);
  object = json_node_get_object (root);
  g_assert_true (json_node_equal (json_object_get_member (object, "programs"), expected));

  /* The skipped ones, in file name order. */
  skipped = json_object_get_array_member (object, "skipped");
  g_assert_cmpuint (json_array_get_length (skipped), ==, 2);
  check_skipped (skipped, 0, broken, "is not JSON");
  check_skipped (skipped, 1, failing, "exited with status 1: no such option");
  g_assert_cmpuint (json_object_get_size (object), ==, 2);
  run_clear (&run);
}

static void
test_list_text (void)
{
  g_autofree char *blk_over = NULL, *broken = NULL, *failing = NULL;
  g_autoptr(BackendTree) tree = make_tree (&blk_over, &broken, &failing);
  g_autofree char *expected = NULL, *skipped_broken = NULL, *skipped_failing = NULL;
  Run run = { 0 };
  const char *args[] = { "--list", "--descriptor-dir", tree->folders[BACKEND_TREE_USER], "--descriptor-dir",
                         tree->folders[BACKEND_TREE_ETC], "--descriptor-dir", tree->folders[BACKEND_TREE_SHARE], NULL };

  probe (&run, args);
  g_assert_cmpint (run.status, ==, 0);
  expected = g_strdup_printf ("50-blk.json\n"
                              "  type         block\n"
                              "  binary       %s\n"
                              "  description  etc blk\n"
                              "  features     read-only blk-file\n"
                              "  descriptor   %s\n",
                              g_getenv ("VHOST_USER_BLK"), blk_over);
  g_assert_cmpstr (run.out, ==, expected);
  skipped_broken = g_strdup_printf ("vhost-user-probe: skipped %s is not JSON", broken);
  skipped_failing = g_strdup_printf ("vhost-user-probe: skipped %s: ", failing);
  g_assert_nonnull (strstr (run.err, skipped_broken));
  g_assert_nonnull (strstr (run.err, skipped_failing));
  run_clear (&run);
}

/* The host has no vDPA: an empty list, and exit 0. */
static void
test_list_vdpa (void)
{
  Run run = { 0 };
  const char *json_args[] = { "--list-vdpa", "--json", NULL };
  const char *text_args[] = { "--list-vdpa", NULL };

  probe (&run, json_args);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "[]\n");
  run_clear (&run);
  probe (&run, text_args);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "No vDPA devices\n");
  run_clear (&run);
}

/* Command lines that do not make sense: exit 2 with a one-line message. */
static void
test_usage (void)
{
  const char *both[] = { "--list", "--socket-path=/nonexistent.sock", NULL };
  const char *lists[] = { "--list", "--list-vdpa", NULL };
  const char *dir_alone[] = { "--list-vdpa", "--descriptor-dir=/tmp", NULL };
  const char *none[] = { "--json", NULL };
  const char *const *cases[] = { both, lists, dir_alone, none };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run run = { 0 };

      probe (&run, cases[i]);
      g_assert_true (WIFEXITED (run.status));
      g_assert_cmpint (WEXITSTATUS (run.status), ==, 2);
      g_assert_true (g_str_has_prefix (run.err, "vhost-user-probe: "));
      g_assert_cmpint (strchr (run.err, '\n') - run.err, ==, strlen (run.err) - 1);
      run_clear (&run);
    }
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/tools/probe-list/json", test_list_json);
  g_test_add_func ("/vhost/tools/probe-list/text", test_list_text);
  g_test_add_func ("/vhost/tools/probe-list/vdpa", test_list_vdpa);
  g_test_add_func ("/vhost/tools/probe-list/usage", test_usage);
  return g_test_run ();
}
