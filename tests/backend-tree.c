/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fake installations of vhost-user back-end programs for tests: folders, descriptors, scripts. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "backend-tree.h"
#include "test-support.h"

static const char *const folder_names[] = { "user", "etc", "share" };

BackendTree *
backend_tree_new (void)
{
  g_autoptr(GError) error = NULL;
  BackendTree *tree = g_new0 (BackendTree, 1);

  tree->root = g_dir_make_tmp ("vhost-backend-tree-XXXXXX", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < BACKEND_TREE_N_FOLDERS; i++)
    {
      tree->folders[i] = g_build_filename (tree->root, folder_names[i], "qemu", "vhost-user", NULL);
      g_assert_cmpint (g_mkdir_with_parents (tree->folders[i], 0755), ==, 0);
    }
  tree->bin = g_build_filename (tree->root, "bin", NULL);
  g_assert_cmpint (g_mkdir (tree->bin, 0755), ==, 0);
  return tree;
}

void
backend_tree_free (BackendTree *tree)
{
  const char *argv[] = { "rm", "-rf", tree->root, NULL };
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  g_free (tree->root);
  for (guint i = 0; i < BACKEND_TREE_N_FOLDERS; i++)
    g_free (tree->folders[i]);
  g_free (tree->bin);
  g_free (tree);
}

char *
backend_tree_script (BackendTree *tree, const char *name, const char *body)
{
  g_autofree char *text = g_strconcat ("#!/bin/sh\n", body, "\n", NULL);
  char *path = g_build_filename (tree->bin, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0755, &error));
  g_assert_no_error (error);
  return path;
}

char *
backend_tree_file (BackendTree *tree, BackendTreeFolder folder, const char *name, const char *contents)
{
  char *path = g_build_filename (tree->folders[folder], name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

char *
backend_tree_descriptor (BackendTree *tree, BackendTreeFolder folder, const char *name, const char *type,
                         const char *binary, const char *description)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "description");
  json_builder_add_string_value (builder, description);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "binary");
  json_builder_add_string_value (builder, binary);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, TRUE);
  return backend_tree_file (tree, folder, name, text);
}

static void
on_skipped (VhostUserBackendDiscovery *discovery, const char *path, const GError *error, gpointer data)
{
  BackendListing *listing = data;

  g_ptr_array_add (listing->paths, g_strdup (path));
  g_ptr_array_add (listing->errors, g_error_copy (error));
}

typedef struct
{
  BackendListing *listing;
  gboolean done;
} ListWait;

static void
on_listed (GObject *object, GAsyncResult *result, gpointer data)
{
  ListWait *wait = data;

  wait->listing->programs = vhost_user_backend_discovery_list_finish (VHOST_USER_BACKEND_DISCOVERY (object), result,
                                                                      &wait->listing->error);
  wait->done = TRUE;
}

BackendListing *
backend_list (VhostUserBackendDiscovery *discovery, const char *backend_type, const char *const *features,
              GCancellable *cancellable)
{
  BackendListing *listing = g_new0 (BackendListing, 1);
  ListWait wait = { listing, FALSE };
  gulong handler;

  listing->paths = g_ptr_array_new_with_free_func (g_free);
  listing->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  handler = g_signal_connect (discovery, "skipped", G_CALLBACK (on_skipped), listing);
  vhost_user_backend_discovery_list_async (discovery, backend_type, features, cancellable, on_listed, &wait);
  vhost_test_wait_for_flag (&wait.done, 20000);
  g_signal_handler_disconnect (discovery, handler);
  return listing;
}

void
backend_listing_free (BackendListing *listing)
{
  g_list_free_full (listing->programs, g_object_unref);
  g_ptr_array_unref (listing->paths);
  g_ptr_array_unref (listing->errors);
  g_clear_error (&listing->error);
  g_free (listing);
}

char *
backend_listing_names (BackendListing *listing)
{
  g_autoptr(GString) names = g_string_new (NULL);

  for (GList *l = listing->programs; l != NULL; l = l->next)
    g_string_append_printf (names, "%s%s", names->len > 0 ? " " : "", vhost_user_backend_program_get_name (l->data));
  return g_string_free (g_steal_pointer (&names), FALSE);
}

VhostUserBackendProgram *
backend_listing_find (BackendListing *listing, const char *name)
{
  for (GList *l = listing->programs; l != NULL; l = l->next)
    if (g_str_equal (vhost_user_backend_program_get_name (l->data), name))
      return l->data;
  return NULL;
}
