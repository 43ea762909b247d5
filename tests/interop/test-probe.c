/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tools/vhost-user-probe against qemu-storage-daemon, DPDK testpmd's vhost PMD and a VhostUserSlave device. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "test-support.h"
#include "peer.h"
#include "blk-device.h"

/* Run the probe (reading `config_size` bytes of config space, or its default if NULL)
 * and parse its JSON; the exit status must be 0. */
static JsonObject *
probe_json_config (const char *socket_path, const char *type, const char *config_size)
{
  const char *probe = g_getenv ("VHOST_USER_PROBE");
  const char *argv[] = { probe, "--json", "--socket-path", socket_path, "--type", type,
                         config_size != NULL ? "--config-size" : NULL, config_size, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  int status = -1;

  g_assert_nonnull (probe);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("vhost-user-probe failed: %s", err);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static JsonObject *
probe_json (const char *socket_path, const char *type)
{
  return probe_json_config (socket_path, type, NULL);
}

static gboolean
has_name (JsonObject *root, const char *member, const char *name)
{
  JsonArray *names = json_object_get_array_member (json_object_get_object_member (root, member), "names");

  for (guint i = 0; i < json_array_get_length (names); i++)
    if (g_str_equal (json_array_get_string_element (names, i), name))
      return TRUE;
  return FALSE;
}

static void
test_probe_qsd (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on,num-queues=3", sock);
  const char *argv[] = { "qemu-storage-daemon", "--blockdev", "driver=null-co,node-name=d,size=536870912",
                         "--export", export, NULL };
  VhostPeer *peer = vhost_peer_start (dir, "qemu-storage-daemon", "qemu-utils", argv);
  g_autoptr(JsonObject) root = NULL;
  JsonObject *config;

  vhost_peer_wait_for_socket (peer, sock, 30000);
  root = probe_json (sock, "blk");
  g_assert_true (has_name (root, "features", "version-1"));
  g_assert_true (has_name (root, "features", "flush"));
  g_assert_true (has_name (root, "features", "mq"));
  g_assert_true (has_name (root, "protocol-features", "config"));
  g_assert_true (has_name (root, "protocol-features", "mq"));
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 3);
  config = json_object_get_object_member (root, "config");
  g_assert_cmpint (json_object_get_int_member (config, "capacity"), ==, 536870912 / 512);
  g_assert_cmpint (json_object_get_int_member (config, "num-queues"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (config, "blk-size"), ==, 512);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

static void
test_probe_dpdk (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "net.sock", NULL);
  g_autofree char *vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=2", sock);
  g_autofree char *prefix = g_strdup_printf ("--file-prefix=vhost-glib-probe-%d", getpid ());
  const char *argv[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", prefix, "--no-pci", "--no-huge", "-m", "512",
                         "--vdev", vdev, "--", "--auto-start", "--nb-cores=1", "--rxq=2", "--txq=2",
                         "--total-num-mbufs=8192", NULL };
  VhostPeer *peer = vhost_peer_start (dir, "testpmd", "dpdk", argv);
  g_autoptr(JsonObject) root = NULL;

  vhost_peer_wait_for_socket (peer, sock, 60000);
  root = probe_json (sock, "net");
  g_assert_true (has_name (root, "features", "version-1"));
  g_assert_true (has_name (root, "features", "mrg-rxbuf"));
  g_assert_true (has_name (root, "protocol-features", "mq"));
  g_assert_true (has_name (root, "protocol-features", "reply-ack"));
  /* DPDK 22.11's vhost PMD offers these protocol features, and 128 queues. */
  g_assert_cmphex (json_object_get_int_member (json_object_get_object_member (root, "protocol-features"), "value"),
                   ==, 0x10cbf);
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 128);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

static void
open_blk (VhostUserSlave *slave, gpointer data)
{
  const char *const *paths = data;
  VhostToolBlkConfig config = { .backing = VHOST_TOOL_BLK_BACKING_FILE, .path = paths[0], .num_queues = 2 };
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_tool_blk_configure (VHOST_TOOL_BLK (slave), &config, &error));
  g_assert_true (vhost_user_slave_listen (slave, paths[1], &error));
  g_assert_no_error (error);
}

/* The project's own back-end: the probe reads what vhost-user-blk's device serves (in-process). */
static void
test_probe_own_blk (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *sock = g_build_filename (dir, "blk.sock", NULL);
  const char *paths[] = { image, sock };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) root = NULL;
  VhostTestSlaveThread *thread;
  JsonObject *config;
  FILE *f = fopen (image, "w");

  g_assert_nonnull (f);
  g_assert_cmpint (ftruncate (fileno (f), 8 * 1024 * 1024), ==, 0);
  fclose (f);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TOOL_BLK, -1, open_blk, paths);
  root = probe_json (sock, "blk");
  g_assert_true (has_name (root, "features", "seg-max"));
  g_assert_true (has_name (root, "features", "ring-event-idx"));
  g_assert_true (has_name (root, "protocol-features", "config"));
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 2);
  config = json_object_get_object_member (root, "config");
  g_assert_cmpint (json_object_get_int_member (config, "capacity"), ==, 8 * 1024 * 1024 / 512);
  g_assert_cmpint (json_object_get_int_member (config, "seg-max"), ==, VHOST_TOOL_BLK_SEG_MAX);
  g_assert_cmpint (json_object_get_int_member (config, "num-queues"), ==, 2);
  vhost_test_slave_thread_free (thread);
  vhost_peer_remove_dir (dir);
}

/* tools/vhost-user-net --echo: the MAC, MTU and queue pairs of its command line are
 * in its features and configuration space (struct virtio_net_config, 24 bytes). */
static void
test_probe_net_tool (void)
{
  const char *tool = g_getenv ("VHOST_USER_NET");
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "net.sock", NULL);
  const char *argv[] = { tool, "--socket-path", sock, "--echo", "--mac=02:11:22:aa:bb:cc", "--mtu=9000",
                         "--queue-pairs=3", NULL };
  const char *const features[] = { "version-1", "mac", "mtu", "status", "mq", "mrg-rxbuf", "ring-event-idx",
                                   "ring-packed" };
  VhostPeer *peer;
  g_autoptr(JsonObject) root = NULL;
  JsonObject *config;

  g_assert_nonnull (tool);
  peer = vhost_peer_start (dir, "vhost-user-net", "vhost-glib", argv);
  vhost_peer_wait_for_socket (peer, sock, 30000);
  root = probe_json_config (sock, "net", "24");
  for (guint i = 0; i < G_N_ELEMENTS (features); i++)
    g_assert_true (has_name (root, "features", features[i]));
  g_assert_true (has_name (root, "protocol-features", "mq"));
  g_assert_true (has_name (root, "protocol-features", "config"));
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 6);
  config = json_object_get_object_member (root, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "mac"), ==, "02:11:22:aa:bb:cc");
  g_assert_cmpint (json_object_get_int_member (config, "mtu"), ==, 9000);
  g_assert_cmpint (json_object_get_int_member (config, "max-virtqueue-pairs"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (config, "status"), ==, 1); /* VIRTIO_NET_S_LINK_UP */
  g_clear_pointer (&root, json_object_unref);

  /* --no-mrg-rxbuf takes the feature away; the defaults: one pair, MTU 1500. */
  vhost_peer_terminate (peer, SIGTERM, sock);
  vhost_peer_free (peer);
  argv[3] = "--echo";
  argv[4] = "--no-mrg-rxbuf";
  argv[5] = NULL;
  peer = vhost_peer_start (dir, "vhost-user-net", "vhost-glib", argv);
  vhost_peer_wait_for_socket (peer, sock, 30000);
  root = probe_json_config (sock, "net", "24");
  g_assert_false (has_name (root, "features", "mrg-rxbuf"));
  g_assert_false (has_name (root, "features", "mq"));
  g_assert_cmpint (json_object_get_int_member (root, "queues"), ==, 2);
  config = json_object_get_object_member (root, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "mac"), ==, "52:54:00:12:34:56");
  g_assert_cmpint (json_object_get_int_member (config, "mtu"), ==, 1500);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

static void
listen_small_config (VhostUserSlave *slave, gpointer data)
{
  const char *const *args = data;
  g_autoptr(GError) error = NULL;

  if (args[1] != NULL)
    {
      g_autoptr(GBytes) config = g_bytes_new_static (args[1], strlen (args[1]));

      vhost_user_slave_set_config_space (slave, config);
    }
  g_assert_true (vhost_user_slave_listen (slave, args[0], &error));
  g_assert_no_error (error);
}

/* A device with a 4-byte configuration space, or none: a GET_CONFIG refused for
 * bytes past its end is reported, not fatal; --config-size 0 reads none. */
static void
test_probe_config_space (gconstpointer data)
{
  const char *config = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "dev.sock", NULL);
  const char *args[] = { sock, config };
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_USER_SLAVE, -1, listen_small_config, args);
  g_autoptr(JsonObject) whole = probe_json (sock, "blk");
  g_autoptr(JsonObject) four = probe_json_config (sock, "blk", "4");
  g_autoptr(JsonObject) none = probe_json_config (sock, "blk", "0");

  g_assert_true (has_name (whole, "features", "ring-packed"));
  g_assert_cmpint (has_name (whole, "protocol-features", "config"), ==, config != NULL);
  g_assert_false (json_object_has_member (whole, "config"));
  if (config != NULL)
    {
      g_assert_true (strstr (json_object_get_string_member (whole, "config-unreadable"), "GET_CONFIG") != NULL);
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (four, "config"), "bytes"), ==,
                       "61626364");
    }
  else
    {
      g_assert_false (json_object_has_member (whole, "config-unreadable"));
      g_assert_false (json_object_has_member (four, "config"));
    }
  g_assert_false (json_object_has_member (none, "config"));
  g_assert_false (json_object_has_member (none, "config-unreadable"));
  vhost_test_slave_thread_free (thread);
  vhost_peer_remove_dir (dir);
}

/* A missing socket and a bad command line: a one-line error and exit 1 or 2. */
static void
test_probe_errors (void)
{
  const char *probe = g_getenv ("VHOST_USER_PROBE");
  const struct
  {
    const char *args[4];
    int status;
  } cases[] = {
    { { "--socket-path", "/nonexistent/vhost.sock", NULL }, 1 },
    { { NULL }, 2 },
    { { "--socket-path", "/tmp/x", "--type", "scsi" }, 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *argv[6] = { probe };
      g_autofree char *err = NULL;
      g_autoptr(GError) error = NULL;
      int status = -1;

      for (guint j = 0; j < 4 && cases[i].args[j] != NULL; j++)
        argv[j + 1] = cases[i].args[j];
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                                   &status, &error));
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, cases[i].status);
      g_assert_true (g_str_has_prefix (err, "vhost-user-probe: "));
      g_assert_cmpint (strchr (err, '\n') - err, ==, (gssize) strlen (err) - 1); /* one line */
    }
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/probe/qemu-storage-daemon", test_probe_qsd);
  g_test_add_func ("/vhost/interop/probe/dpdk-vhost-pmd", test_probe_dpdk);
  g_test_add_func ("/vhost/interop/probe/vhost-glib-blk", test_probe_own_blk);
  g_test_add_func ("/vhost/interop/probe/vhost-user-net", test_probe_net_tool);
  g_test_add_data_func ("/vhost/interop/probe/config-space/small", "abcd", test_probe_config_space);
  g_test_add_data_func ("/vhost/interop/probe/config-space/none", NULL, test_probe_config_space);
  g_test_add_func ("/vhost/interop/probe/errors", test_probe_errors);
  return g_test_run ();
}
