/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The back-end tools follow the vhost-user back-end program conventions: --print-capabilities,
 * the installed JSON descriptor, --help naming the common options. */
#include <string.h>
#include <json-glib/json-glib.h>

#include "test-support.h"

typedef struct
{
  const char *tool;        /* the environment variable with the tool's path */
  const char *descriptor;  /* ...and with its descriptor's */
  const char *type;        /* the vhost-user.json back-end type */
  const char *features[4]; /* what --print-capabilities lists, in order */
} Tool;

static const Tool tools[] = {
  { "VHOST_USER_BLK", "VHOST_USER_BLK_DESCRIPTOR", "block", { "read-only", "blk-file" } },
  { "VHOST_USER_NET", "VHOST_USER_NET_DESCRIPTOR", "net", { NULL } },
};

static char *
run (const char *path, const char *arg)
{
  const char *argv[] = { path, arg, NULL };
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status,
                               &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

static JsonObject *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* --print-capabilities: {"type": ..., "features": [...]}, exit 0, and nothing else
 * needed on the command line. */
static void
test_capabilities (gconstpointer data)
{
  const Tool *t = data;
  g_autofree char *out = run (g_getenv (t->tool), "--print-capabilities");
  g_autoptr(JsonObject) root = parse (out);
  JsonArray *features = json_object_get_array_member (root, "features");
  guint n = 0;

  g_assert_cmpstr (json_object_get_string_member (root, "type"), ==, t->type);
  while (n < G_N_ELEMENTS (t->features) && t->features[n] != NULL)
    n++;
  g_assert_cmpuint (json_array_get_length (features), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (json_array_get_string_element (features, i), ==, t->features[i]);
}

/* The descriptor installed in share/qemu/vhost-user: the same type, the tool's binary. */
static void
test_descriptor (gconstpointer data)
{
  const Tool *t = data;
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) root = NULL;
  g_autofree char *tool_name = g_path_get_basename (g_getenv (t->tool));
  g_autofree char *binary_name = NULL;

  g_assert_nonnull (g_getenv (t->descriptor));
  g_assert_true (g_file_get_contents (g_getenv (t->descriptor), &text, NULL, NULL));
  root = parse (text);
  g_assert_cmpstr (json_object_get_string_member (root, "type"), ==, t->type);
  g_assert_true (g_path_is_absolute (json_object_get_string_member (root, "binary")));
  binary_name = g_path_get_basename (json_object_get_string_member (root, "binary"));
  g_assert_cmpstr (binary_name, ==, tool_name);
  g_assert_cmpuint (strlen (json_object_get_string_member (root, "description")), >, 0);
}

/* --help: exit 0, the conventions' options listed. */
static void
test_help (gconstpointer data)
{
  const Tool *t = data;
  g_autofree char *out = run (g_getenv (t->tool), "--help");

  g_assert_nonnull (strstr (out, "--socket-path=PATH"));
  g_assert_nonnull (strstr (out, "--fd=FD"));
  g_assert_nonnull (strstr (out, "--print-capabilities"));
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *name = g_ascii_strdown (tools[i].tool + strlen ("VHOST_USER_"), -1);
      g_autofree char *caps = g_strdup_printf ("/vhost/interop/tool-conventions/%s/capabilities", name);
      g_autofree char *desc = g_strdup_printf ("/vhost/interop/tool-conventions/%s/descriptor", name);
      g_autofree char *help = g_strdup_printf ("/vhost/interop/tool-conventions/%s/help", name);

      g_test_add_data_func (caps, &tools[i], test_capabilities);
      g_test_add_data_func (desc, &tools[i], test_descriptor);
      g_test_add_data_func (help, &tools[i], test_help);
    }
  return g_test_run ();
}
