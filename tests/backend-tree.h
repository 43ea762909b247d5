/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fake installations of vhost-user back-end programs for tests: the three descriptor folders of the
 * search path in a temporary folder, descriptors, and small programs written as shell scripts. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

/* The folders of the search path, most specific first, as libvirt has them. */
typedef enum {
  BACKEND_TREE_USER,   /* $XDG_CONFIG_HOME/qemu/vhost-user */
  BACKEND_TREE_ETC,    /* /etc/qemu/vhost-user */
  BACKEND_TREE_SHARE,  /* /usr/share/qemu/vhost-user */
  BACKEND_TREE_N_FOLDERS
} BackendTreeFolder;

typedef struct
{
  char *root;                              /* the temporary folder */
  char *folders[BACKEND_TREE_N_FOLDERS + 1]; /* NULL-terminated: the search path */
  char *bin;                               /* where the scripts go */
} BackendTree;

BackendTree *backend_tree_new (void);
/* Remove the whole tree. */
void backend_tree_free (BackendTree *tree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BackendTree, backend_tree_free)

/* An executable /bin/sh script `name` in the tree's bin folder with `body`; returns its path. */
char *backend_tree_script (BackendTree *tree, const char *name, const char *body);

/* The file `name` in `folder` with `contents` (empty: a mask); returns its path. */
char *backend_tree_file (BackendTree *tree, BackendTreeFolder folder, const char *name, const char *contents);

/* A descriptor with these members; returns its path. */
char *backend_tree_descriptor (BackendTree *tree,
                               BackendTreeFolder folder,
                               const char *name,
                               const char *type,
                               const char *binary,
                               const char *description);

/* What one vhost_user_backend_discovery_list_async() gave: the programs, and the
 * paths and errors VhostUserBackendDiscovery::skipped reported. */
typedef struct
{
  GList *programs;    /* (element-type VhostUserBackendProgram) */
  GPtrArray *paths;   /* (element-type utf8) skipped */
  GPtrArray *errors;  /* (element-type GError) skipped */
  GError *error;      /* of the listing */
} BackendListing;

/* List with `discovery` and wait (iterating the thread-default context, up to 20 s). */
BackendListing *backend_list (VhostUserBackendDiscovery *discovery,
                              const char *backend_type,
                              const char *const *features,
                              GCancellable *cancellable);
void backend_listing_free (BackendListing *listing);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BackendListing, backend_listing_free)

/* The programs' names joined by spaces. */
char *backend_listing_names (BackendListing *listing);

/* The program named `name`, or NULL. */
VhostUserBackendProgram *backend_listing_find (BackendListing *listing, const char *name);

G_END_DECLS
