/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-probe: connects to a vhost-user back-end as a front-end and prints what it offers;
 * lists the installed back-end programs and the vDPA devices. */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>
#include <json-glib/json-glib.h>
#include <vhost-glib/vhost-glib.h>

#define EXIT_USAGE 2
#define EXIT_PEER 1

/* Device-specific feature bits (below 24), by device type. */
static const char *const blk_features[24] = {
  [VIRTIO_BLK_F_SIZE_MAX] = "size-max", [VIRTIO_BLK_F_SEG_MAX] = "seg-max", [VIRTIO_BLK_F_GEOMETRY] = "geometry",
  [VIRTIO_BLK_F_RO] = "ro", [VIRTIO_BLK_F_BLK_SIZE] = "blk-size", [VIRTIO_BLK_F_FLUSH] = "flush",
  [VIRTIO_BLK_F_TOPOLOGY] = "topology", [VIRTIO_BLK_F_CONFIG_WCE] = "config-wce", [VIRTIO_BLK_F_MQ] = "mq",
  [VIRTIO_BLK_F_DISCARD] = "discard", [VIRTIO_BLK_F_WRITE_ZEROES] = "write-zeroes",
};

static const char *const net_features[24] = {
  [VIRTIO_NET_F_CSUM] = "csum", [VIRTIO_NET_F_GUEST_CSUM] = "guest-csum", [VIRTIO_NET_F_MTU] = "mtu",
  [VIRTIO_NET_F_MAC] = "mac", [VIRTIO_NET_F_GUEST_TSO4] = "guest-tso4", [VIRTIO_NET_F_GUEST_TSO6] = "guest-tso6",
  [VIRTIO_NET_F_GUEST_ECN] = "guest-ecn", [VIRTIO_NET_F_GUEST_UFO] = "guest-ufo",
  [VIRTIO_NET_F_HOST_TSO4] = "host-tso4", [VIRTIO_NET_F_HOST_TSO6] = "host-tso6",
  [VIRTIO_NET_F_HOST_ECN] = "host-ecn", [VIRTIO_NET_F_HOST_UFO] = "host-ufo",
  [VIRTIO_NET_F_MRG_RXBUF] = "mrg-rxbuf", [VIRTIO_NET_F_STATUS] = "status", [VIRTIO_NET_F_CTRL_VQ] = "ctrl-vq",
  [VIRTIO_NET_F_CTRL_RX] = "ctrl-rx", [VIRTIO_NET_F_CTRL_VLAN] = "ctrl-vlan",
  [VIRTIO_NET_F_GUEST_ANNOUNCE] = "guest-announce", [VIRTIO_NET_F_MQ] = "mq",
  [VIRTIO_NET_F_CTRL_MAC_ADDR] = "ctrl-mac-addr",
};

typedef enum {
  DEVICE_UNKNOWN,
  DEVICE_BLK,
  DEVICE_NET,
} DeviceType;

/* The names of the feature bits set in `features`: transport bits by the
 * library's enum, device bits by the device type's table, others as bitN. */
static GStrv
feature_names (guint64 features, DeviceType type)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GEnumClass) klass = g_type_class_ref (VHOST_TYPE_VIRTIO_FEATURE);

  for (guint bit = 0; bit < 64; bit++)
    {
      const GEnumValue *value;
      const char *name = NULL;

      if (!(features & (G_GUINT64_CONSTANT (1) << bit)))
        continue;
      value = g_enum_get_value (klass, bit);
      if (value != NULL)
        name = value->value_nick;
      else if (bit < 24 && type == DEVICE_BLK)
        name = blk_features[bit];
      else if (bit < 24 && type == DEVICE_NET)
        name = net_features[bit];
      if (name != NULL)
        g_strv_builder_add (builder, name);
      else
        {
          g_autofree char *bit_name = g_strdup_printf ("bit%u", bit);

          g_strv_builder_add (builder, bit_name);
        }
    }
  return g_strv_builder_end (builder);
}

static GStrv
protocol_feature_names (guint64 features)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_TYPE_USER_PROTOCOL_FEATURES);

  for (guint bit = 0; bit < 64; bit++)
    {
      const GFlagsValue *value;

      if (!(features & (G_GUINT64_CONSTANT (1) << bit)))
        continue;
      value = bit < 32 ? g_flags_get_first_value (klass, 1u << bit) : NULL;
      if (value != NULL)
        g_strv_builder_add (builder, value->value_nick);
      else
        {
          g_autofree char *bit_name = g_strdup_printf ("bit%u", bit);

          g_strv_builder_add (builder, bit_name);
        }
    }
  return g_strv_builder_end (builder);
}

static void
add_features (JsonBuilder *json, const char *member, guint64 value, GStrv names)
{
  json_builder_set_member_name (json, member);
  json_builder_begin_object (json);
  json_builder_set_member_name (json, "value");
  json_builder_add_int_value (json, (gint64) value);
  json_builder_set_member_name (json, "names");
  json_builder_begin_array (json);
  for (guint i = 0; names[i] != NULL; i++)
    json_builder_add_string_value (json, names[i]);
  json_builder_end_array (json);
  json_builder_end_object (json);
}

static void
add_int (JsonBuilder *json, const char *member, gint64 value)
{
  json_builder_set_member_name (json, member);
  json_builder_add_int_value (json, value);
}

/* The configuration space, decoded for blk and net; fields the device did not
 * offer the feature for are left out. */
static void
add_config (JsonBuilder *json, DeviceType type, guint64 features, GBytes *config)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (config, &size);

  json_builder_set_member_name (json, "config");
  json_builder_begin_object (json);
  if (type == DEVICE_BLK && size >= offsetof (struct virtio_blk_config, num_queues) + 2)
    {
      struct virtio_blk_config c = { 0 };

      memcpy (&c, data, MIN (size, sizeof c));
      add_int (json, "capacity", (gint64) GUINT64_FROM_LE (c.capacity));
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_SIZE_MAX))
        add_int (json, "size-max", GUINT32_FROM_LE (c.size_max));
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_SEG_MAX))
        add_int (json, "seg-max", GUINT32_FROM_LE (c.seg_max));
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE))
        add_int (json, "blk-size", GUINT32_FROM_LE (c.blk_size));
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_TOPOLOGY))
        {
          add_int (json, "physical-block-exp", c.physical_block_exp);
          add_int (json, "alignment-offset", c.alignment_offset);
          add_int (json, "min-io-size", GUINT16_FROM_LE (c.min_io_size));
          add_int (json, "opt-io-size", GUINT32_FROM_LE (c.opt_io_size));
        }
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ))
        add_int (json, "num-queues", GUINT16_FROM_LE (c.num_queues));
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_DISCARD) &&
          size >= offsetof (struct virtio_blk_config, discard_sector_alignment) + 4)
        {
          add_int (json, "max-discard-sectors", GUINT32_FROM_LE (c.max_discard_sectors));
          add_int (json, "max-discard-seg", GUINT32_FROM_LE (c.max_discard_seg));
          add_int (json, "discard-sector-alignment", GUINT32_FROM_LE (c.discard_sector_alignment));
        }
      if (features & VHOST_FEATURE_MASK (VIRTIO_BLK_F_WRITE_ZEROES) &&
          size >= offsetof (struct virtio_blk_config, write_zeroes_may_unmap) + 1)
        {
          add_int (json, "max-write-zeroes-sectors", GUINT32_FROM_LE (c.max_write_zeroes_sectors));
          add_int (json, "max-write-zeroes-seg", GUINT32_FROM_LE (c.max_write_zeroes_seg));
          add_int (json, "write-zeroes-may-unmap", c.write_zeroes_may_unmap);
        }
    }
  else if (type == DEVICE_NET && size >= 12)
    {
      struct virtio_net_config c = { 0 };

      memcpy (&c, data, MIN (size, sizeof c));
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_MAC))
        {
          g_autofree char *mac = g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x", c.mac[0], c.mac[1], c.mac[2],
                                                  c.mac[3], c.mac[4], c.mac[5]);

          json_builder_set_member_name (json, "mac");
          json_builder_add_string_value (json, mac);
        }
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_STATUS))
        add_int (json, "status", GUINT16_FROM_LE (c.status));
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_MQ))
        add_int (json, "max-virtqueue-pairs", GUINT16_FROM_LE (c.max_virtqueue_pairs));
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_MTU))
        add_int (json, "mtu", GUINT16_FROM_LE (c.mtu));
    }
  {
    g_autofree char *hex = g_malloc0 (2 * size + 1);

    for (gsize i = 0; i < size; i++)
      g_snprintf (hex + 2 * i, 3, "%02x", data[i]);
    json_builder_set_member_name (json, "bytes");
    json_builder_add_string_value (json, hex);
  }
  json_builder_end_object (json);
}

/* Ask the back-end, answer in JSON. */
static JsonNode *
probe (const char *path, DeviceType type, guint config_size, GError **error)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (path);
  g_autoptr(JsonBuilder) json = json_builder_new ();
  g_auto(GStrv) names = NULL;
  guint64 features = 0, protocol = 0, value = 0;

  if (!vhost_user_master_connect (master, NULL, error) ||
      !vhost_backend_get_features (VHOST_BACKEND (master), &features, error) ||
      !vhost_backend_set_owner (VHOST_BACKEND (master), error))
    return NULL;
  json_builder_begin_object (json);
  json_builder_set_member_name (json, "socket-path");
  json_builder_add_string_value (json, path);
  names = feature_names (features, type);
  add_features (json, "features", features, names);
  if (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES))
    {
      g_auto(GStrv) protocol_names = NULL;

      if (!vhost_user_master_get_protocol_features (master, &protocol, error))
        return NULL;
      protocol_names = protocol_feature_names (protocol);
      add_features (json, "protocol-features", protocol, protocol_names);
      if (!vhost_user_master_set_protocol_features (master,
                                                    protocol & (VHOST_USER_PROTOCOL_F_MQ |
                                                                VHOST_USER_PROTOCOL_F_CONFIG |
                                                                VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS |
                                                                VHOST_USER_PROTOCOL_F_REPLY_ACK),
                                                    error))
        return NULL;
    }
  if (protocol & VHOST_USER_PROTOCOL_F_MQ)
    {
      if (!vhost_user_master_get_queue_num (master, &value, error))
        return NULL;
      add_int (json, "queues", (gint64) value);
    }
  if (protocol & VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)
    {
      if (!vhost_user_master_get_max_mem_slots (master, &value, error))
        return NULL;
      add_int (json, "max-mem-slots", (gint64) value);
    }
  if ((protocol & VHOST_USER_PROTOCOL_F_CONFIG) && config_size > 0)
    {
      GError *config_error = NULL;
      g_autoptr(GBytes) config = vhost_user_master_get_config (master, 0, config_size, 0, &config_error);

      /* A back-end that refuses GET_CONFIG has no configuration space (or a
       * smaller one): a fact to report, not a failure of the probe. */
      if (g_error_matches (config_error, VHOST_ERROR, VHOST_ERROR_REJECTED))
        {
          json_builder_set_member_name (json, "config-unreadable");
          json_builder_add_string_value (json, config_error->message);
          g_error_free (config_error);
        }
      else if (config == NULL)
        {
          g_propagate_error (error, config_error);
          return NULL;
        }
      else
        add_config (json, type, features, config);
    }
  json_builder_end_object (json);
  vhost_user_master_close (master);
  return json_builder_get_root (json);
}

/* The text form: one "name: value" line per fact, names for the feature bits. */
static void
print_text (JsonObject *root)
{
  GList *members = json_object_get_members (root);

  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *node = json_object_get_member (root, l->data);

      if (JSON_NODE_HOLDS_OBJECT (node) && json_object_has_member (json_node_get_object (node), "names"))
        {
          JsonObject *f = json_node_get_object (node);
          JsonArray *names = json_object_get_array_member (f, "names");

          printf ("%-18s 0x%" G_GINT64_MODIFIER "x\n", (const char *) l->data, json_object_get_int_member (f, "value"));
          for (guint i = 0; i < json_array_get_length (names); i++)
            printf ("%-18s   %s\n", "", json_array_get_string_element (names, i));
        }
      else if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *config = json_node_get_object (node);
          GList *fields = json_object_get_members (config);

          for (GList *f = fields; f != NULL; f = f->next)
            {
              g_autofree char *label = g_strdup_printf ("%s.%s", (const char *) l->data, (const char *) f->data);
              JsonNode *v = json_object_get_member (config, f->data);

              if (json_node_get_value_type (v) == G_TYPE_STRING)
                printf ("%-18s %s\n", label, json_node_get_string (v));
              else
                printf ("%-18s %" G_GINT64_FORMAT "\n", label, json_node_get_int (v));
            }
          g_list_free (fields);
        }
      else if (json_node_get_value_type (node) == G_TYPE_STRING)
        printf ("%-18s %s\n", (const char *) l->data, json_node_get_string (node));
      else
        printf ("%-18s %" G_GINT64_FORMAT "\n", (const char *) l->data, json_node_get_int (node));
    }
  g_list_free (members);
}

static void
add_string (JsonBuilder *json, const char *member, const char *value)
{
  json_builder_set_member_name (json, member);
  if (value != NULL)
    json_builder_add_string_value (json, value);
  else
    json_builder_add_null_value (json);
}

static void
add_strings (JsonBuilder *json, const char *member, const char *const *values)
{
  json_builder_set_member_name (json, member);
  json_builder_begin_array (json);
  for (guint i = 0; values[i] != NULL; i++)
    json_builder_add_string_value (json, values[i]);
  json_builder_end_array (json);
}

static void
print_json (JsonNode *root)
{
  g_autofree char *text = json_to_string (root, TRUE);

  printf ("%s\n", text);
}

typedef struct
{
  GMainLoop *loop;
  GList *programs;     /* (element-type VhostUserBackendProgram) */
  JsonBuilder *skipped; /* an array of {"descriptor", "error"} */
  gboolean json;
} Listing;

static void
on_skipped (VhostUserBackendDiscovery *discovery, const char *path, const GError *error, gpointer data)
{
  Listing *listing = data;

  json_builder_begin_object (listing->skipped);
  add_string (listing->skipped, "descriptor", path);
  add_string (listing->skipped, "error", error->message);
  json_builder_end_object (listing->skipped);
  if (!listing->json)
    g_printerr ("vhost-user-probe: skipped %s\n", error->message);
}

static void
on_listed (GObject *object, GAsyncResult *result, gpointer data)
{
  Listing *listing = data;

  /* It fails only when cancelled, which it is not. */
  listing->programs = vhost_user_backend_discovery_list_finish (VHOST_USER_BACKEND_DISCOVERY (object), result, NULL);
  g_main_loop_quit (listing->loop);
}

/* --list: the installed back-end programs, found as libvirt finds them (or in
 * `dirs`, the most specific first), with what --print-capabilities said. */
static int
list_programs (char **dirs, gboolean json_output)
{
  g_autoptr(VhostUserBackendDiscovery) discovery = vhost_user_backend_discovery_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(JsonBuilder) skipped = json_builder_new ();
  g_autoptr(JsonBuilder) json = json_builder_new ();
  g_autoptr(JsonNode) skipped_root = NULL, root = NULL;
  Listing listing = { loop, NULL, skipped, json_output };

  if (dirs != NULL)
    vhost_user_backend_discovery_set_search_path (discovery, (const char *const *) dirs);
  json_builder_begin_array (skipped);
  g_signal_connect (discovery, "skipped", G_CALLBACK (on_skipped), &listing);
  vhost_user_backend_discovery_list_async (discovery, NULL, NULL, NULL, on_listed, &listing);
  g_main_loop_run (loop);
  json_builder_end_array (skipped);
  skipped_root = json_builder_get_root (skipped);

  json_builder_begin_object (json);
  json_builder_set_member_name (json, "programs");
  json_builder_begin_array (json);
  for (GList *l = listing.programs; l != NULL; l = l->next)
    {
      VhostUserBackendProgram *program = l->data;

      if (!json_output)
        {
          g_autofree char *features = g_strjoinv (" ", (char **) vhost_user_backend_program_get_features (program));
          g_autofree char *tags = g_strjoinv (" ", (char **) vhost_user_backend_program_get_tags (program));

          printf ("%s\n", vhost_user_backend_program_get_name (program));
          printf ("  %-12s %s\n", "type", vhost_user_backend_program_get_backend_type (program));
          printf ("  %-12s %s\n", "binary", vhost_user_backend_program_get_binary (program));
          printf ("  %-12s %s\n", "description", vhost_user_backend_program_get_description (program));
          printf ("  %-12s %s\n", "features", features[0] != '\0' ? features : "(none)");
          if (tags[0] != '\0')
            printf ("  %-12s %s\n", "tags", tags);
          printf ("  %-12s %s\n", "descriptor", vhost_user_backend_program_get_descriptor_path (program));
        }
      json_builder_begin_object (json);
      add_string (json, "name", vhost_user_backend_program_get_name (program));
      add_string (json, "type", vhost_user_backend_program_get_backend_type (program));
      add_string (json, "binary", vhost_user_backend_program_get_binary (program));
      add_string (json, "description", vhost_user_backend_program_get_description (program));
      add_strings (json, "tags", vhost_user_backend_program_get_tags (program));
      add_strings (json, "features", vhost_user_backend_program_get_features (program));
      add_string (json, "descriptor", vhost_user_backend_program_get_descriptor_path (program));
      json_builder_end_object (json);
    }
  json_builder_end_array (json);
  json_builder_set_member_name (json, "skipped");
  json_builder_add_value (json, g_steal_pointer (&skipped_root));
  json_builder_end_object (json);
  root = json_builder_get_root (json);
  if (json_output)
    print_json (root);
  g_list_free_full (listing.programs, g_object_unref);
  return 0;
}

/* --list-vdpa: vhost_vdpa_list_devices(). */
static int
list_vdpa (gboolean json_output)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = vhost_vdpa_list_devices (&error);
  g_autoptr(JsonBuilder) json = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  if (devices == NULL)
    {
      g_printerr ("vhost-user-probe: listing the vDPA devices: %s\n", error->message);
      return EXIT_PEER;
    }
  json_builder_begin_array (json);
  for (guint i = 0; i < devices->len; i++)
    {
      VhostVdpaDeviceInfo *info = devices->pdata[i];
      const char *path = vhost_vdpa_device_info_get_device_path (info);
      const char *driver = vhost_vdpa_device_info_get_driver (info);
      const char *mgmtdev = vhost_vdpa_device_info_get_mgmtdev (info);

      if (!json_output)
        printf ("%s  device-id %u  vendor-id 0x%x  mgmtdev %s  driver %s  %s  max-vqs %u  max-vq-size %u\n",
                vhost_vdpa_device_info_get_name (info), vhost_vdpa_device_info_get_device_id (info),
                vhost_vdpa_device_info_get_vendor_id (info), mgmtdev != NULL ? mgmtdev : "-",
                driver != NULL ? driver : "-", path != NULL ? path : "-", vhost_vdpa_device_info_get_max_vqs (info),
                vhost_vdpa_device_info_get_max_vq_size (info));
      json_builder_begin_object (json);
      add_string (json, "name", vhost_vdpa_device_info_get_name (info));
      add_int (json, "device-id", vhost_vdpa_device_info_get_device_id (info));
      add_int (json, "vendor-id", vhost_vdpa_device_info_get_vendor_id (info));
      add_string (json, "mgmtdev", mgmtdev);
      add_string (json, "driver", driver);
      add_string (json, "device-path", path);
      add_int (json, "max-vqs", vhost_vdpa_device_info_get_max_vqs (info));
      add_int (json, "max-vq-size", vhost_vdpa_device_info_get_max_vq_size (info));
      json_builder_end_object (json);
    }
  json_builder_end_array (json);
  root = json_builder_get_root (json);
  if (json_output)
    print_json (root);
  else if (devices->len == 0)
    printf ("No vDPA devices\n");
  return 0;
}

int
main (int argc, char **argv)
{
  g_autofree char *socket_path = NULL;
  g_autofree char *type_name = NULL;
  gboolean json_output = FALSE, list = FALSE, list_vdpa_devices = FALSE;
  g_auto(GStrv) descriptor_dirs = NULL;
  gint config_size = 60;
  const GOptionEntry entries[] = {
    { "socket-path", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "The back-end's socket", "PATH" },
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "Decode the device as blk or net", "TYPE" },
    { "config-size", 0, 0, G_OPTION_ARG_INT, &config_size, "Bytes of config space to read (default 60; 0: none)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json_output, "Print JSON, for programs", NULL },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "List the installed back-end programs and their capabilities", NULL },
    { "descriptor-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &descriptor_dirs,
      "With --list, search DIR for descriptors instead of the default folders (repeat, most specific first)", "DIR" },
    { "list-vdpa", 0, 0, G_OPTION_ARG_NONE, &list_vdpa_devices, "List the vDPA devices", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- print what a vhost-user back-end offers, or list back-ends");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  DeviceType type = DEVICE_UNKNOWN;

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_description (options, "Exit status: 0 on success, 1 if the back-end could not be probed, "
                                             "2 for a bad command line.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("vhost-user-probe: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (argc > 1)
    {
      g_printerr ("vhost-user-probe: unexpected arguments\n");
      return EXIT_USAGE;
    }
  if ((socket_path != NULL) + list + list_vdpa_devices != 1)
    {
      g_printerr ("vhost-user-probe: %s\n", socket_path == NULL && !list && !list_vdpa_devices
                                               ? "--socket-path, --list or --list-vdpa is required"
                                               : "--socket-path, --list and --list-vdpa cannot be used together");
      return EXIT_USAGE;
    }
  if (descriptor_dirs != NULL && !list)
    {
      g_printerr ("vhost-user-probe: --descriptor-dir applies to --list only\n");
      return EXIT_USAGE;
    }
  if (list)
    return list_programs (descriptor_dirs, json_output);
  if (list_vdpa_devices)
    return list_vdpa (json_output);
  if (type_name != NULL && g_str_equal (type_name, "blk"))
    type = DEVICE_BLK;
  else if (type_name != NULL && g_str_equal (type_name, "net"))
    type = DEVICE_NET;
  else if (type_name != NULL)
    {
      g_printerr ("vhost-user-probe: --type %s: not blk or net\n", type_name);
      return EXIT_USAGE;
    }
  if (config_size < 0 || config_size > 256)
    {
      g_printerr ("vhost-user-probe: --config-size %d: not between 0 and 256\n", config_size);
      return EXIT_USAGE;
    }

  root = probe (socket_path, type, config_size, &error);
  if (root == NULL)
    {
      g_printerr ("vhost-user-probe: %s: %s\n", socket_path, error->message);
      return EXIT_PEER;
    }
  if (json_output)
    print_json (root);
  else
    print_text (json_node_get_object (root));
  return 0;
}
