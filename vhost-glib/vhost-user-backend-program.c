/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserBackendProgram and VhostUserBackendDiscovery: the installed vhost-user back-end programs,
 * found through QEMU's JSON descriptors with the search rules that libvirt applies. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <json-glib/json-glib.h>

#include "vhost-user-backend-program.h"
#include "vhost-user-backend-private.h"

/**
 * SECTION:vhost-user-backend-program
 * @title: VhostUserBackendProgram
 * @short_description: discovery of the installed vhost-user back-end programs
 *
 * The vhost-user specification's back-end program conventions let management
 * software find back-ends without knowing them: each installed program comes with
 * a JSON descriptor (QEMU's `docs/interop/vhost-user.json`) that gives its
 * `type` (`"block"`, `"net"`, `"gpu"`...), its `binary`, a `description` and
 * optional `tags`, and the program prints what it can do with
 * `--print-capabilities` (a `type` and a list of `features`, such as
 * `"read-only"` for a block back-end).
 *
 * #VhostUserBackendDiscovery finds the descriptors as libvirt does. It reads the
 * folders of its #VhostUserBackendDiscovery:search-path, by default
 * `$XDG_CONFIG_HOME/qemu/vhost-user`, `$sysconfdir/qemu/vhost-user` and
 * `$datadir/qemu/vhost-user` (the folders of this library's installation: for a
 * library installed in `/usr`, `/etc/qemu/vhost-user` and
 * `/usr/share/qemu/vhost-user`). A file in a more specific folder (earlier in
 * the list) takes the place of a file of the same name in a less specific one,
 * and an empty file hides it. File names starting with a dot, and what is not a
 * regular file (or a link to one), are ignored. The programs are listed in the
 * order of their file names (byte order), which is why descriptors are named with
 * a two-digit prefix: `50-vhost-glib-blk.json`.
 *
 * vhost_user_backend_discovery_list_async() reads and checks each descriptor
 * against the schema, runs `binary --print-capabilities` for those of the
 * requested type (all of them at once, each within the discovery's
 * #VhostUserBackendDiscovery:timeout), and returns a #VhostUserBackendProgram
 * for each program that has the requested capabilities. A descriptor that
 * breaks the schema, a binary that does not exist, and a binary whose
 * `--print-capabilities` prints something else than a capabilities object for
 * the descriptor's type, fails, or does not finish in time, are skipped: each is
 * reported by #VhostUserBackendDiscovery::skipped with the file and a #GError
 * (%VHOST_ERROR_INVALID_DATA, %VHOST_ERROR_NOT_FOUND, %VHOST_ERROR_FAILED,
 * %VHOST_ERROR_TIMED_OUT), and never disturbs the others.
 *
 * A #VhostUserBackendProcess then launches a program (see
 * vhost_user_backend_process_new()).
 *
 * |[<!-- language="C" -->
 * static void
 * listed (GObject *object, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autolist(VhostUserBackendProgram) programs =
 *     vhost_user_backend_discovery_list_finish (VHOST_USER_BACKEND_DISCOVERY (object), result, &error);
 *
 *   for (GList *l = programs; l != NULL; l = l->next)
 *     g_print ("%s\n", vhost_user_backend_program_get_binary (l->data));
 * }
 *
 *   const char *const read_only[] = { "read-only", NULL };
 *   g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
 *
 *   vhost_user_backend_discovery_list_async (discovery, "block", read_only, NULL, listed, NULL);
 * ]|
 */

/* The types of VHostUserBackendType in QEMU's docs/interop/vhost-user.json. */
static const char *const backend_types[] = {
  "9p", "balloon", "block", "caif", "console", "crypto", "gpu", "input",
  "net", "rng", "rpmsg", "rproc-serial", "scsi", "vsock", "fs", NULL,
};

#define DEFAULT_TIMEOUT_MS 5000
/* Descriptors and capabilities are a few hundred bytes; anything this big is not one. */
#define MAX_DESCRIPTOR_SIZE (1024 * 1024)
#define MAX_CAPABILITIES_SIZE (1024 * 1024)
/* What of a failing --print-capabilities' stderr is kept for the error message. */
#define MAX_STDERR_SIZE 4096

/**
 * VhostUserBackendProgram:
 *
 * An installed back-end program: its descriptor and its capabilities. All its
 * fields are private.
 */
struct _VhostUserBackendProgram
{
  GObject parent_instance;

  char *descriptor_path; /* (owned) */
  char *name;            /* (owned) the descriptor's file name */
  char *backend_type;    /* (owned) */
  char *binary;          /* (owned) */
  char *description;     /* (owned) */
  GStrv tags;            /* (owned) never NULL */
  GStrv features;        /* (owned) never NULL */
};

G_DEFINE_FINAL_TYPE (VhostUserBackendProgram, vhost_user_backend_program, G_TYPE_OBJECT)

enum
{
  PROGRAM_PROP_0,
  PROGRAM_PROP_DESCRIPTOR_PATH,
  PROGRAM_PROP_NAME,
  PROGRAM_PROP_BACKEND_TYPE,
  PROGRAM_PROP_BINARY,
  PROGRAM_PROP_DESCRIPTION,
  PROGRAM_PROP_TAGS,
  PROGRAM_PROP_FEATURES,
  N_PROGRAM_PROPS
};

static GParamSpec *program_properties[N_PROGRAM_PROPS];

static void
vhost_user_backend_program_finalize (GObject *object)
{
  VhostUserBackendProgram *self = VHOST_USER_BACKEND_PROGRAM (object);

  g_free (self->descriptor_path);
  g_free (self->name);
  g_free (self->backend_type);
  g_free (self->binary);
  g_free (self->description);
  g_strfreev (self->tags);
  g_strfreev (self->features);
  G_OBJECT_CLASS (vhost_user_backend_program_parent_class)->finalize (object);
}

static void
vhost_user_backend_program_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostUserBackendProgram *self = VHOST_USER_BACKEND_PROGRAM (object);

  switch (prop_id)
    {
    case PROGRAM_PROP_DESCRIPTOR_PATH:
      g_value_set_string (value, self->descriptor_path);
      break;
    case PROGRAM_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROGRAM_PROP_BACKEND_TYPE:
      g_value_set_string (value, self->backend_type);
      break;
    case PROGRAM_PROP_BINARY:
      g_value_set_string (value, self->binary);
      break;
    case PROGRAM_PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROGRAM_PROP_TAGS:
      g_value_set_boxed (value, self->tags);
      break;
    case PROGRAM_PROP_FEATURES:
      g_value_set_boxed (value, self->features);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_program_class_init (VhostUserBackendProgramClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vhost_user_backend_program_finalize;
  object_class->get_property = vhost_user_backend_program_get_property;

  /**
   * VhostUserBackendProgram:descriptor-path:
   *
   * The JSON descriptor the program was found through.
   */
  program_properties[PROGRAM_PROP_DESCRIPTOR_PATH] = g_param_spec_string (
      "descriptor-path", "Descriptor path", "The JSON descriptor the program was found through.",
      NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:name:
   *
   * The descriptor's file name, such as `50-vhost-glib-blk.json`: what orders
   * the programs, and what a more specific folder overrides.
   */
  program_properties[PROGRAM_PROP_NAME]
      = g_param_spec_string ("name", "Name",
                             "The descriptor's file name, such as `50-vhost-glib-blk.json`: what "
                             "orders the programs, and what a more specific folder overrides.",
                             NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:backend-type:
   *
   * The descriptor's `type`: one of QEMU's VHostUserBackendType, such as
   * `"block"`, `"net"`, `"gpu"` or `"fs"`.
   */
  program_properties[PROGRAM_PROP_BACKEND_TYPE]
      = g_param_spec_string ("backend-type", "Backend type",
                             "The descriptor's `type`: one of QEMU's VHostUserBackendType, such as "
                             "`\"block\"`, `\"net\"`, `\"gpu\"` or `\"fs\"`.",
                             NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:binary:
   *
   * The absolute path of the program.
   */
  program_properties[PROGRAM_PROP_BINARY]
      = g_param_spec_string ("binary", "Binary", "The absolute path of the program.", NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:description:
   *
   * The descriptor's human-readable description.
   */
  program_properties[PROGRAM_PROP_DESCRIPTION] = g_param_spec_string (
      "description", "Description", "The descriptor's human-readable description.", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:tags:
   *
   * The descriptor's `tags` (empty without them): for development and
   * debugging only; the schema asks management software to ignore them.
   */
  program_properties[PROGRAM_PROP_TAGS]
      = g_param_spec_boxed ("tags", "Tags",
                            "The descriptor's `tags` (empty without them): for development and "
                            "debugging only; the schema asks management software to ignore them.",
                            G_TYPE_STRV, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VhostUserBackendProgram:features:
   *
   * The `features` the program printed for `--print-capabilities` (empty if it
   * printed none), such as `"read-only"` and `"blk-file"` for a block back-end.
   */
  program_properties[PROGRAM_PROP_FEATURES] = g_param_spec_boxed (
      "features", "Features",
      "The `features` the program printed for `--print-capabilities` (empty if it printed none), "
      "such as `\"read-only\"` and `\"blk-file\"` for a block back-end.",
      G_TYPE_STRV, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROGRAM_PROPS, program_properties);
}

static void
vhost_user_backend_program_init (VhostUserBackendProgram *self)
{
}

/**
 * vhost_user_backend_program_get_descriptor_path:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:descriptor-path.
 *
 * Returns: the #VhostUserBackendProgram:descriptor-path
 */
const char *
vhost_user_backend_program_get_descriptor_path (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return program->descriptor_path;
}

/**
 * vhost_user_backend_program_get_name:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:name.
 *
 * Returns: the #VhostUserBackendProgram:name, the descriptor's file name
 */
const char *
vhost_user_backend_program_get_name (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return program->name;
}

/**
 * vhost_user_backend_program_get_backend_type:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:backend-type.
 *
 * Returns: the #VhostUserBackendProgram:backend-type, such as `"block"`
 */
const char *
vhost_user_backend_program_get_backend_type (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return program->backend_type;
}

/**
 * vhost_user_backend_program_get_binary:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:binary.
 *
 * Returns: the #VhostUserBackendProgram:binary, an absolute path
 */
const char *
vhost_user_backend_program_get_binary (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return program->binary;
}

/**
 * vhost_user_backend_program_get_description:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:description.
 *
 * Returns: the #VhostUserBackendProgram:description
 */
const char *
vhost_user_backend_program_get_description (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return program->description;
}

/**
 * vhost_user_backend_program_get_tags:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:tags.
 *
 * Returns: (transfer none) (array zero-terminated=1): the #VhostUserBackendProgram:tags
 */
const char *const *
vhost_user_backend_program_get_tags (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return (const char *const *) program->tags;
}

/**
 * vhost_user_backend_program_get_features:
 * @program: a #VhostUserBackendProgram
 *
 * Gets #VhostUserBackendProgram:features.
 *
 * Returns: (transfer none) (array zero-terminated=1): the
 *   #VhostUserBackendProgram:features from `--print-capabilities`
 */
const char *const *
vhost_user_backend_program_get_features (VhostUserBackendProgram *program)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), NULL);
  return (const char *const *) program->features;
}

/**
 * vhost_user_backend_program_has_features:
 * @program: a #VhostUserBackendProgram
 * @features: (nullable) (array zero-terminated=1): feature names
 *
 * Whether the program printed every one of @features for `--print-capabilities`.
 *
 * Returns: %TRUE if it has them all (or @features is %NULL or empty)
 */
gboolean
vhost_user_backend_program_has_features (VhostUserBackendProgram *program, const char *const *features)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_PROGRAM (program), FALSE);
  for (guint i = 0; features != NULL && features[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *) program->features, features[i]))
      return FALSE;
  return TRUE;
}

/* JSON members, checked against the schema. */

static JsonObject *
parse_object (const char *data, gsize length, const char *what, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s is not JSON: %s", what, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s is not a JSON object", what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* The string member `name`; NULL with an error if it is missing or not a string. */
static const char *
get_string (JsonObject *object, const char *name, const char *what, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s has no \"%s\" string", what, name);
      return NULL;
    }
  return json_node_get_string (node);
}

/* The optional member `name`, an array of strings (an empty vector if it is missing). */
static gboolean
get_string_array (JsonObject *object, const char *name, const char *what, GStrv *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (node != NULL)
    {
      JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

      for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
            {
              array = NULL;
              break;
            }
          g_strv_builder_add (builder, json_node_get_string (element));
        }
      if (array == NULL)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s: \"%s\" is not an array of strings", what,
                       name);
          return FALSE;
        }
    }
  *out = g_strv_builder_end (builder);
  return TRUE;
}

/* A program from the descriptor at `path` (its text in `data`), features still empty. */
static VhostUserBackendProgram *
program_parse (const char *path, const char *data, gsize length, GError **error)
{
  g_autoptr(VhostUserBackendProgram) program = g_object_new (VHOST_TYPE_USER_BACKEND_PROGRAM, NULL);
  g_autoptr(JsonObject) root = parse_object (data, length, path, error);
  const char *description, *type, *binary;

  if (root == NULL || (description = get_string (root, "description", path, error)) == NULL ||
      (type = get_string (root, "type", path, error)) == NULL || (binary = get_string (root, "binary", path, error)) == NULL ||
      !get_string_array (root, "tags", path, &program->tags, error))
    return NULL;
  if (!g_strv_contains (backend_types, type))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s: \"%s\" is not a vhost-user back-end type", path,
                   type);
      return NULL;
    }
  if (!g_path_is_absolute (binary))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s: the binary \"%s\" is not an absolute path", path,
                   binary);
      return NULL;
    }
  program->descriptor_path = g_strdup (path);
  program->name = g_path_get_basename (path);
  program->description = g_strdup (description);
  program->backend_type = g_strdup (type);
  program->binary = g_strdup (binary);
  program->features = g_new0 (char *, 1);
  return g_steal_pointer (&program);
}

/* The capabilities `binary --print-capabilities` printed: a JSON object whose "type"
 * is the program's, and optional "features" (members of other types are ignored,
 * as are unknown feature names: both grow with QEMU's schema). */
static gboolean
program_set_capabilities (VhostUserBackendProgram *program, const char *data, gsize length, GError **error)
{
  g_autofree char *what = g_strdup_printf ("%s: what %s printed for --print-capabilities", program->descriptor_path,
                                           program->binary);
  g_autoptr(JsonObject) root = parse_object (data, length, what, error);
  const char *type;
  GStrv features = NULL;

  if (root == NULL || (type = get_string (root, "type", what, error)) == NULL)
    return FALSE;
  if (!g_str_equal (type, program->backend_type))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s: type \"%s\", but the descriptor says \"%s\"",
                   what, type, program->backend_type);
      return FALSE;
    }
  if (!get_string_array (root, "features", what, &features, error))
    return FALSE;
  g_strfreev (program->features);
  program->features = features;
  return TRUE;
}

/* The files of the search path. */

typedef struct
{
  char *path;                       /* (owned) a descriptor or a folder */
  VhostUserBackendProgram *program; /* (owned) (nullable) parsed */
  GError *error;                    /* (owned) (nullable) why it is skipped */
} Entry;

static void
entry_free (Entry *entry)
{
  g_free (entry->path);
  g_clear_object (&entry->program);
  g_clear_error (&entry->error);
  g_free (entry);
}

static Entry *
entry_new (const char *path, GError *error)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->path = g_strdup (path);
  entry->error = error;
  return entry;
}

/* Add the names in `folder` that no more specific folder had to `by_name` (name ->
 * path, or an error entry for a folder that cannot be read to `entries`). */
static void
scan_folder (const char *folder, GHashTable *by_name, GPtrArray *entries)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;

  dir = g_dir_open (folder, 0, &local_error);
  if (dir == NULL)
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) &&
          !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
        g_ptr_array_add (entries, entry_new (folder, g_error_new (VHOST_ERROR, VHOST_ERROR_IO, "%s: %s", folder,
                                                                   local_error->message)));
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && !g_hash_table_contains (by_name, name))
      g_hash_table_insert (by_name, g_strdup (name), g_build_filename (folder, name, NULL));
}

/* Read and parse the descriptor at `path`; NULL with no error for an empty file
 * (a mask) or what is not a regular file. */
static Entry *
load_descriptor (const char *path)
{
  g_autofree char *data = NULL;
  GError *error = NULL;
  struct stat st;
  gsize length;
  Entry *entry;
  int saved_errno;

  if (stat (path, &st) < 0)
    {
      saved_errno = errno;
      return entry_new (path, g_error_new (VHOST_ERROR, VHOST_ERROR_IO, "%s: stat: %s", path,
                                           g_strerror (saved_errno)));
    }
  if (!S_ISREG (st.st_mode))
    return NULL;
  if (st.st_size == 0)
    {
      g_debug ("%s is empty: it hides the descriptors of that name in the less specific folders", path);
      return NULL;
    }
  if (st.st_size > MAX_DESCRIPTOR_SIZE)
    return entry_new (path, g_error_new (VHOST_ERROR, VHOST_ERROR_INVALID_DATA, "%s is larger than %d bytes", path,
                                         MAX_DESCRIPTOR_SIZE));
  if (!g_file_get_contents (path, &data, &length, &error))
    {
      GError *io_error = g_error_new (VHOST_ERROR, VHOST_ERROR_IO, "%s", error->message);

      g_error_free (error);
      return entry_new (path, io_error);
    }
  entry = entry_new (path, NULL);
  entry->program = program_parse (path, data, length, &entry->error);
  return entry;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every descriptor of the search path (most specific folder first), parsed, in file
 * name order; folders that cannot be read first. Runs in a thread of its own. */
static GPtrArray *
scan_search_path (const char *const *search_path)
{
  g_autoptr(GHashTable) by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree const char **names = NULL;
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  guint n_names;

  for (guint i = 0; search_path != NULL && search_path[i] != NULL; i++)
    scan_folder (search_path[i], by_name, entries);
  names = (const char **) g_hash_table_get_keys_as_array (by_name, &n_names);
  qsort (names, n_names, sizeof *names, compare_names);
  for (guint i = 0; i < n_names; i++)
    {
      Entry *entry = load_descriptor (g_hash_table_lookup (by_name, names[i]));

      if (entry != NULL)
        g_ptr_array_add (entries, entry);
    }
  return entries;
}

/* --print-capabilities: a GSubprocess whose stdout and stderr are read up to a
 * bound, within the discovery's timeout. */

typedef struct
{
  GTask *task;                      /* (owned) the listing */
  Entry *entry;                     /* (unowned) its entry, kept by the task's data */
  GSubprocess *subprocess;          /* (owned) */
  GCancellable *cancellable;        /* (owned) cancelled on timeout or by the caller */
  gulong cancelled_id;              /* on the caller's cancellable */
  GSource *timeout;                 /* (owned) */
  GByteArray *out;                  /* (owned) stdout */
  GByteArray *err;                  /* (owned) the start of stderr */
  guint pending;                    /* reads and the wait not yet finished */
  gboolean timed_out;
  gboolean too_long;                /* stdout over MAX_CAPABILITIES_SIZE */
  gboolean exited;
  gint status;
} Query;

typedef struct
{
  GPtrArray *entries; /* (owned) (element-type Entry) */
  char *backend_type; /* (owned) (nullable) */
  GStrv required;     /* (owned) (nullable) */
  guint timeout_ms;
  guint pending;      /* queries running */
} ListData;

static void
list_data_free (ListData *data)
{
  g_clear_pointer (&data->entries, g_ptr_array_unref);
  g_free (data->backend_type);
  g_strfreev (data->required);
  g_free (data);
}

static void list_finish_queries (GTask *task);

static void
free_programs (gpointer programs)
{
  g_list_free_full (programs, g_object_unref);
}

char *
vhost_user_backend_describe_status (gint status)
{
  if (WIFSIGNALED (status))
    return g_strdup_printf ("was killed by signal %d", WTERMSIG (status));
  return g_strdup_printf ("exited with status %d", WEXITSTATUS (status));
}

char *
vhost_user_backend_describe_output (const char *output, gssize length)
{
  g_autofree char *text = output != NULL ? g_utf8_make_valid (output, length) : g_strdup ("");
  char *line = text;

  line += strspn (line, " \t\r\n");
  line[strcspn (line, "\r\n")] = '\0';
  g_strchomp (line);
  return line[0] != '\0' ? g_strconcat (": ", line, NULL) : g_strdup ("");
}

static void
query_done (Query *query)
{
  ListData *data = g_task_get_task_data (query->task);
  VhostUserBackendProgram *program = query->entry->program;
  GError *error = NULL;

  if (query->pending > 0)
    return;
  if (query->timeout != NULL)
    {
      g_source_destroy (query->timeout);
      g_clear_pointer (&query->timeout, g_source_unref);
    }
  if (query->cancelled_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (query->task), query->cancelled_id);
  if (!query->exited)
    g_subprocess_force_exit (query->subprocess);

  if (query->timed_out)
    error = g_error_new (VHOST_ERROR, VHOST_ERROR_TIMED_OUT, "%s: %s --print-capabilities did not finish within %u ms",
                         program->descriptor_path, program->binary, data->timeout_ms);
  else if (query->too_long)
    error = g_error_new (VHOST_ERROR, VHOST_ERROR_INVALID_DATA,
                         "%s: %s printed more than %d bytes for --print-capabilities", program->descriptor_path,
                         program->binary, MAX_CAPABILITIES_SIZE);
  else if (g_cancellable_is_cancelled (query->cancellable))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
  else if (query->exited && !g_spawn_check_wait_status (query->status, NULL))
    {
      g_autofree char *how = vhost_user_backend_describe_status (query->status);
      g_autofree char *said = vhost_user_backend_describe_output ((const char *) query->err->data, (gssize) query->err->len);

      error = g_error_new (VHOST_ERROR, VHOST_ERROR_FAILED, "%s: %s --print-capabilities %s%s",
                           program->descriptor_path, program->binary, how, said);
    }
  else
    program_set_capabilities (program, (const char *) query->out->data, query->out->len, &error);
  if (error != NULL)
    {
      g_clear_object (&query->entry->program);
      query->entry->error = error;
    }

  /* The pipes are closed here and now, not whenever GLib's worker thread lets the
   * subprocess go. */
  g_input_stream_close (g_subprocess_get_stdout_pipe (query->subprocess), NULL, NULL);
  g_input_stream_close (g_subprocess_get_stderr_pipe (query->subprocess), NULL, NULL);
  g_object_unref (query->subprocess);
  g_object_unref (query->cancellable);
  g_byte_array_unref (query->out);
  g_byte_array_unref (query->err);
  if (--data->pending == 0)
    list_finish_queries (query->task);
  g_object_unref (query->task);
  g_free (query);
}

static void query_read (Query *query, GInputStream *stream);

static void
query_read_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Query *query = user_data;
  GInputStream *stream = G_INPUT_STREAM (object);
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (stream, result, NULL);
  gboolean is_out = stream == g_subprocess_get_stdout_pipe (query->subprocess);
  GByteArray *array = is_out ? query->out : query->err;

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      query->pending--;
      query_done (query);
      return;
    }
  if (is_out && array->len + g_bytes_get_size (bytes) > MAX_CAPABILITIES_SIZE)
    {
      query->too_long = TRUE;
      g_cancellable_cancel (query->cancellable);
      g_subprocess_force_exit (query->subprocess);
      query->pending--;
      query_done (query);
      return;
    }
  /* stderr is read to the end, so that the program never blocks on it, and only its
   * start is kept. */
  if (is_out || array->len < MAX_STDERR_SIZE)
    g_byte_array_append (array, g_bytes_get_data (bytes, NULL),
                         is_out ? g_bytes_get_size (bytes) : MIN (g_bytes_get_size (bytes), MAX_STDERR_SIZE - array->len));
  query_read (query, stream);
}

static void
query_read (Query *query, GInputStream *stream)
{
  g_input_stream_read_bytes_async (stream, 4096, G_PRIORITY_DEFAULT, query->cancellable, query_read_cb, query);
}

static void
query_wait_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Query *query = user_data;

  if (g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL))
    {
      query->exited = TRUE;
      query->status = g_subprocess_get_status (query->subprocess);
    }
  query->pending--;
  query_done (query);
}

static gboolean
query_timeout_cb (gpointer user_data)
{
  Query *query = user_data;

  query->timed_out = TRUE;
  g_cancellable_cancel (query->cancellable);
  g_subprocess_force_exit (query->subprocess);
  return G_SOURCE_REMOVE;
}

static void
query_caller_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Query *query = user_data;

  /* May run in the caller's thread: GCancellable is thread-safe. */
  g_cancellable_cancel (query->cancellable);
}

/* Start `binary --print-capabilities` for `entry`; FALSE (with the entry's error
 * set) if it cannot be started. */
static gboolean
query_start (GTask *task, Entry *entry, guint timeout_ms)
{
  VhostUserBackendProgram *program = entry->program;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  Query *query;

  if (!g_file_test (program->binary, G_FILE_TEST_EXISTS))
    {
      entry->error = g_error_new (VHOST_ERROR, VHOST_ERROR_NOT_FOUND, "%s: the binary %s does not exist",
                                  program->descriptor_path, program->binary);
      g_clear_object (&entry->program);
      return FALSE;
    }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
  query = g_new0 (Query, 1);
  query->subprocess = g_subprocess_launcher_spawn (launcher, &error, program->binary, "--print-capabilities", NULL);
  if (query->subprocess == NULL)
    {
      entry->error = g_error_new (VHOST_ERROR, VHOST_ERROR_FAILED, "%s: %s --print-capabilities: %s",
                                  program->descriptor_path, program->binary, error->message);
      g_clear_object (&entry->program);
      g_free (query);
      return FALSE;
    }
  query->task = g_object_ref (task);
  query->entry = entry;
  query->cancellable = g_cancellable_new ();
  query->out = g_byte_array_new ();
  query->err = g_byte_array_new ();
  query->pending = 3;
  query->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_static_name (query->timeout, "[vhost] --print-capabilities timeout");
  g_source_set_callback (query->timeout, query_timeout_cb, query, NULL);
  g_source_attach (query->timeout, g_task_get_context (task));
  if (g_task_get_cancellable (task) != NULL)
    query->cancelled_id = g_cancellable_connect (g_task_get_cancellable (task), G_CALLBACK (query_caller_cancelled),
                                                 query, NULL);
  query_read (query, g_subprocess_get_stdout_pipe (query->subprocess));
  query_read (query, g_subprocess_get_stderr_pipe (query->subprocess));
  g_subprocess_wait_async (query->subprocess, query->cancellable, query_wait_cb, query);
  return TRUE;
}

/* VhostUserBackendDiscovery */

/**
 * VhostUserBackendDiscovery:
 *
 * Finds the installed back-end programs. All its fields are private.
 */
struct _VhostUserBackendDiscovery
{
  GObject parent_instance;

  GStrv search_path; /* (owned) never NULL */
  guint timeout_ms;
};

G_DEFINE_FINAL_TYPE (VhostUserBackendDiscovery, vhost_user_backend_discovery, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_SEARCH_PATH,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_SKIPPED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
vhost_user_backend_discovery_finalize (GObject *object)
{
  VhostUserBackendDiscovery *self = VHOST_USER_BACKEND_DISCOVERY (object);

  g_strfreev (self->search_path);
  G_OBJECT_CLASS (vhost_user_backend_discovery_parent_class)->finalize (object);
}

static void
vhost_user_backend_discovery_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostUserBackendDiscovery *self = VHOST_USER_BACKEND_DISCOVERY (object);

  switch (prop_id)
    {
    case PROP_SEARCH_PATH:
      g_value_set_boxed (value, self->search_path);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_discovery_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostUserBackendDiscovery *self = VHOST_USER_BACKEND_DISCOVERY (object);

  switch (prop_id)
    {
    case PROP_SEARCH_PATH:
      vhost_user_backend_discovery_set_search_path (self, g_value_get_boxed (value));
      break;
    case PROP_TIMEOUT:
      vhost_user_backend_discovery_set_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_backend_discovery_class_init (VhostUserBackendDiscoveryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vhost_user_backend_discovery_finalize;
  object_class->get_property = vhost_user_backend_discovery_get_property;
  object_class->set_property = vhost_user_backend_discovery_set_property;

  /**
   * VhostUserBackendDiscovery:search-path:
   *
   * The folders searched for descriptors, the most specific first: a file in
   * one of them hides the files of the same name in the folders after it.
   * Setting %NULL restores vhost_user_backend_discovery_get_default_search_path().
   * Folders that do not exist are skipped.
   */
  properties[PROP_SEARCH_PATH] = g_param_spec_boxed (
      "search-path", "Search path",
      "The folders searched for descriptors, the most specific first: a file in one of them hides "
      "the files of the same name in the folders after it.",
      G_TYPE_STRV, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserBackendDiscovery:timeout:
   *
   * How long, in milliseconds, a program may take to answer
   * `--print-capabilities` before it is killed and skipped with
   * %VHOST_ERROR_TIMED_OUT.
   */
  properties[PROP_TIMEOUT] = g_param_spec_uint (
      "timeout", "Timeout",
      "How long, in milliseconds, a program may take to answer `--print-capabilities` before it is "
      "killed and skipped with VHOST_ERROR_TIMED_OUT.",
      1, G_MAXUINT, DEFAULT_TIMEOUT_MS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserBackendDiscovery::skipped:
   * @discovery: the #VhostUserBackendDiscovery
   * @path: the descriptor (or the folder) that was skipped
   * @error: why: %VHOST_ERROR_INVALID_DATA for a descriptor that breaks the
   *   schema or capabilities that are not a capabilities object of the
   *   descriptor's type, %VHOST_ERROR_NOT_FOUND for a binary that does not exist,
   *   %VHOST_ERROR_FAILED for a binary that cannot be run or fails,
   *   %VHOST_ERROR_TIMED_OUT for one that does not answer in time,
   *   %VHOST_ERROR_IO for a file or folder that cannot be read
   *
   * Emitted by vhost_user_backend_discovery_list_async(), in file name order and
   * before its callback runs, for each descriptor it leaves out because of an
   * error. The error's message names the file.
   */
  signals[SIGNAL_SKIPPED] =
    g_signal_new ("skipped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_ERROR);
}

static void
vhost_user_backend_discovery_init (VhostUserBackendDiscovery *self)
{
  self->search_path = vhost_user_backend_discovery_get_default_search_path ();
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
}

/**
 * vhost_user_backend_discovery_new:
 *
 * Creates a discovery with the default search path and timeout.
 *
 * Returns: (transfer full): a new #VhostUserBackendDiscovery
 */
VhostUserBackendDiscovery *
vhost_user_backend_discovery_new (void)
{
  return g_object_new (VHOST_TYPE_USER_BACKEND_DISCOVERY, NULL);
}

/**
 * vhost_user_backend_discovery_get_default_search_path:
 *
 * The folders libvirt searches, the most specific first:
 * `$XDG_CONFIG_HOME/qemu/vhost-user` (g_get_user_config_dir()),
 * `$sysconfdir/qemu/vhost-user` and `$datadir/qemu/vhost-user`, where
 * `$sysconfdir` and `$datadir` are those this library was configured with
 * (`/etc` and `/usr/share` for a library installed in `/usr`). A daemon that runs
 * as root and should not read root's home folder (libvirt's system daemon) drops
 * the first one.
 *
 * Returns: (transfer full) (array zero-terminated=1): the default search path
 */
char **
vhost_user_backend_discovery_get_default_search_path (void)
{
  char **path = g_new0 (char *, 4);

  path[0] = g_build_filename (g_get_user_config_dir (), "qemu", "vhost-user", NULL);
  path[1] = g_build_filename (VHOST_SYSCONFDIR, "qemu", "vhost-user", NULL);
  path[2] = g_build_filename (VHOST_DATADIR, "qemu", "vhost-user", NULL);
  return path;
}

/**
 * vhost_user_backend_discovery_get_search_path:
 * @discovery: a #VhostUserBackendDiscovery
 *
 * Gets #VhostUserBackendDiscovery:search-path.
 *
 * Returns: (transfer none) (array zero-terminated=1): the
 *   #VhostUserBackendDiscovery:search-path
 */
const char *const *
vhost_user_backend_discovery_get_search_path (VhostUserBackendDiscovery *discovery)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_DISCOVERY (discovery), NULL);
  return (const char *const *) discovery->search_path;
}

/**
 * vhost_user_backend_discovery_set_search_path:
 * @discovery: a #VhostUserBackendDiscovery
 * @search_path: (nullable) (array zero-terminated=1): folders, the most
 *   specific first, or %NULL for the default search path
 *
 * Sets the #VhostUserBackendDiscovery:search-path, for the listings started
 * after this call.
 */
void
vhost_user_backend_discovery_set_search_path (VhostUserBackendDiscovery *discovery, const char *const *search_path)
{
  g_auto(GStrv) path = NULL;

  g_return_if_fail (VHOST_IS_USER_BACKEND_DISCOVERY (discovery));
  path = search_path != NULL ? g_strdupv ((char **) search_path) : vhost_user_backend_discovery_get_default_search_path ();
  if (g_strv_equal ((const char *const *) path, (const char *const *) discovery->search_path))
    return;
  g_strfreev (discovery->search_path);
  discovery->search_path = g_steal_pointer (&path);
  g_object_notify_by_pspec (G_OBJECT (discovery), properties[PROP_SEARCH_PATH]);
}

/**
 * vhost_user_backend_discovery_get_timeout:
 * @discovery: a #VhostUserBackendDiscovery
 *
 * Gets #VhostUserBackendDiscovery:timeout.
 *
 * Returns: the #VhostUserBackendDiscovery:timeout in milliseconds
 */
guint
vhost_user_backend_discovery_get_timeout (VhostUserBackendDiscovery *discovery)
{
  g_return_val_if_fail (VHOST_IS_USER_BACKEND_DISCOVERY (discovery), 0);
  return discovery->timeout_ms;
}

/**
 * vhost_user_backend_discovery_set_timeout:
 * @discovery: a #VhostUserBackendDiscovery
 * @timeout_ms: milliseconds, at least 1
 *
 * Sets the #VhostUserBackendDiscovery:timeout.
 */
void
vhost_user_backend_discovery_set_timeout (VhostUserBackendDiscovery *discovery, guint timeout_ms)
{
  g_return_if_fail (VHOST_IS_USER_BACKEND_DISCOVERY (discovery));
  g_return_if_fail (timeout_ms > 0);
  if (discovery->timeout_ms == timeout_ms)
    return;
  discovery->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (discovery), properties[PROP_TIMEOUT]);
}

/* Runs in a GTask worker thread: only files and folders, no GObject of ours but the
 * programs it creates. */
static void
list_scan_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  const char *const *search_path = task_data;

  g_task_return_pointer (task, scan_search_path (search_path), (GDestroyNotify) g_ptr_array_unref);
}

/* All queries are done: report the skipped entries, return the programs. */
static void
list_finish_queries (GTask *task)
{
  VhostUserBackendDiscovery *self = g_task_get_source_object (task);
  ListData *data = g_task_get_task_data (task);
  GList *programs = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  for (guint i = 0; i < data->entries->len; i++)
    {
      Entry *entry = data->entries->pdata[i];

      if (entry->error != NULL)
        g_signal_emit (self, signals[SIGNAL_SKIPPED], 0, entry->path, entry->error);
      else if (entry->program != NULL &&
               vhost_user_backend_program_has_features (entry->program, (const char *const *) data->required))
        programs = g_list_prepend (programs, g_object_ref (entry->program));
    }
  g_task_return_pointer (task, g_list_reverse (programs), free_programs);
}

static void
list_scanned_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ListData *data = g_task_get_task_data (task);

  data->entries = g_task_propagate_pointer (G_TASK (result), NULL);
  if (g_task_return_error_if_cancelled (task))
    return;
  /* One query more than there are programs, dropped below: the listing cannot finish
   * while queries are still being started. */
  data->pending = 1;
  for (guint i = 0; i < data->entries->len; i++)
    {
      Entry *entry = data->entries->pdata[i];

      if (entry->program == NULL)
        continue;
      if (data->backend_type != NULL && !g_str_equal (entry->program->backend_type, data->backend_type))
        {
          g_clear_object (&entry->program);
          continue;
        }
      if (query_start (task, entry, data->timeout_ms))
        data->pending++;
    }
  if (--data->pending == 0)
    list_finish_queries (task);
}

/**
 * vhost_user_backend_discovery_list_async:
 * @discovery: a #VhostUserBackendDiscovery
 * @backend_type: (nullable): only the programs of this type (`"block"`,
 *   `"net"`...), or %NULL for all
 * @required_features: (nullable) (array zero-terminated=1): only the programs
 *   that print all these features for `--print-capabilities`, or %NULL
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the list is ready
 * @user_data: (closure): data for @callback
 *
 * Lists the installed back-end programs of @backend_type that have
 * @required_features. The folders are read in a worker thread; the programs'
 * `--print-capabilities` run at the same time, each within the
 * #VhostUserBackendDiscovery:timeout. Descriptors of other types are not run.
 * Every descriptor, whatever its type, that breaks the schema is reported by
 * #VhostUserBackendDiscovery::skipped, as is every program of the type that
 * could not tell its capabilities. @callback runs on the thread-default main
 * context of the caller.
 */
void
vhost_user_backend_discovery_list_async (VhostUserBackendDiscovery *discovery,
                                         const char *backend_type,
                                         const char *const *required_features,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) scan = NULL;
  ListData *data;

  g_return_if_fail (VHOST_IS_USER_BACKEND_DISCOVERY (discovery));
  task = g_task_new (discovery, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_backend_discovery_list_async);
  data = g_new0 (ListData, 1);
  data->backend_type = g_strdup (backend_type);
  data->required = g_strdupv ((char **) required_features);
  data->timeout_ms = discovery->timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) list_data_free);

  /* The scan is short and not cancelled; the listing checks its cancellable after it. */
  scan = g_task_new (NULL, NULL, list_scanned_cb, g_steal_pointer (&task));
  g_task_set_source_tag (scan, list_scan_thread);
  g_task_set_task_data (scan, g_strdupv (discovery->search_path), (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (scan, list_scan_thread);
}

/**
 * vhost_user_backend_discovery_list_finish:
 * @discovery: a #VhostUserBackendDiscovery
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_backend_discovery_list_async(). It fails only when it was
 * cancelled (%G_IO_ERROR_CANCELLED); what could not be listed was reported by
 * #VhostUserBackendDiscovery::skipped.
 *
 * Returns: (transfer full) (element-type VhostUserBackendProgram): the
 *   programs, in the order of their descriptors' file names (%NULL if there is
 *   none, or on error); free with `g_list_free_full (programs, g_object_unref)`
 *   or use g_autolist()
 */
GList *
vhost_user_backend_discovery_list_finish (VhostUserBackendDiscovery *discovery, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, discovery), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vhost_user_backend_discovery_list_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
