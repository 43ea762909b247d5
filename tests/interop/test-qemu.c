/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserSlave serving a virtio-blk device to qemu-system-x86_64 (paused with -S): the start-up negotiation. */
#include <string.h>
#include <unistd.h>

#include "test-support.h"
#include "peer.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define CAPACITY 2048

/* A minimal virtio-blk device: features and a configuration space. */
#define TEST_TYPE_BLK (test_blk_get_type ())
G_DECLARE_FINAL_TYPE (TestBlk, test_blk, TEST, BLK, VhostUserSlave)

struct _TestBlk
{
  VhostUserSlave parent_instance;
  GArray *requests;   /* (element-type guint) */
  guint failures;
  gboolean disconnected;
};

G_DEFINE_FINAL_TYPE (TestBlk, test_blk, VHOST_TYPE_USER_SLAVE)

static guint64
test_blk_get_features (VhostUserSlave *slave)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_SIZE_MAX) |
         VHOST_FEATURE_MASK (VIRTIO_BLK_F_SEG_MAX) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE) |
         VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ);
}

static void
request_handled_cb (VhostUserSlave *slave, VhostUserRequest request, const GError *error, TestBlk *self)
{
  guint code = request;

  g_array_append_val (self->requests, code);
  if (error != NULL)
    {
      g_test_message ("%s failed: %s", vhost_user_request_get_name (request), error->message);
      self->failures++;
    }
}

static void
disconnected_cb (VhostUserSlave *slave, const GError *error, TestBlk *self)
{
  g_test_message ("QEMU disconnected: %s", error->message);
  self->disconnected = TRUE;
}

static void
test_blk_init (TestBlk *self)
{
  guint8 config[60] = { 0 };
  guint64 capacity = CAPACITY;
  guint32 size_max = 65536, seg_max = 128, blk_size = 512;
  guint16 num_queues = 1;
  g_autoptr(GBytes) bytes = NULL;

  /* struct virtio_blk_config: capacity, size_max, seg_max, geometry, blk_size, topology, ..., num_queues at 34. */
  memcpy (config + 0, &capacity, 8);
  memcpy (config + 8, &size_max, 4);
  memcpy (config + 12, &seg_max, 4);
  memcpy (config + 20, &blk_size, 4);
  memcpy (config + 34, &num_queues, 2);
  bytes = g_bytes_new (config, sizeof config);
  vhost_user_slave_set_config_space (VHOST_USER_SLAVE (self), bytes);
  self->requests = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (self, "request-handled", G_CALLBACK (request_handled_cb), self);
  g_signal_connect (self, "disconnected", G_CALLBACK (disconnected_cb), self);
}

static void
test_blk_finalize (GObject *object)
{
  g_array_unref (TEST_BLK (object)->requests);
  G_OBJECT_CLASS (test_blk_parent_class)->finalize (object);
}

static void
test_blk_class_init (TestBlkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_blk_finalize;
  VHOST_USER_SLAVE_CLASS (klass)->get_features = test_blk_get_features;
}

static gboolean
saw (TestBlk *self, VhostUserRequest request)
{
  for (guint i = 0; i < self->requests->len; i++)
    if (g_array_index (self->requests, guint, i) == (guint) request)
      return TRUE;
  return FALSE;
}

/* Send one QMP command and read lines until its answer. */
static void
qmp_command (GDataInputStream *in, GOutputStream *out, const char *command)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (out, command, strlen (command), NULL, NULL, &error));
  g_assert_no_error (error);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "\"return\"") != NULL)
        return;
      g_assert_null (strstr (line, "\"error\""));
    }
}

static void
test_qemu_blk_startup (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-blk.sock", NULL);
  g_autofree char *qmp = g_build_filename (dir, "qmp.sock", NULL);
  g_autofree char *chardev = g_strdup_printf ("socket,id=c0,path=%s", sock);
  g_autofree char *qmp_arg = g_strdup_printf ("unix:%s,server=on,wait=off", qmp);
  const char *argv[] = { "qemu-system-x86_64", "-S", "-nodefaults", "-nographic", "-machine", "q35,accel=tcg",
                         "-m", "256", "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                         "-numa", "node,memdev=mem", "-chardev", chardev,
                         "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1", "-qmp", qmp_arg, NULL };
  static const VhostUserRequest startup[] = {
    VHOST_USER_GET_FEATURES, VHOST_USER_GET_PROTOCOL_FEATURES, VHOST_USER_SET_PROTOCOL_FEATURES,
    VHOST_USER_GET_QUEUE_NUM, VHOST_USER_SET_OWNER, VHOST_USER_SET_BACKEND_REQ_FD, VHOST_USER_GET_CONFIG,
  };
  g_autoptr(TestBlk) blk = g_object_new (TEST_TYPE_BLK, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  gint64 deadline;
  VhostPeer *peer;
  int status = -1;

  g_assert_true (vhost_user_slave_listen (VHOST_USER_SLAVE (blk), sock, &error));
  g_assert_no_error (error);
  peer = vhost_peer_start (dir, "qemu", "qemu-system-x86", argv);

  /* QEMU realizes vhost-user-blk-pci before it pauses: GET_CONFIG is its last start-up request. */
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (!saw (blk, VHOST_USER_GET_CONFIG) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (startup); i++)
    if (!saw (blk, startup[i]))
      g_error ("QEMU did not send %s", vhost_user_request_get_name (startup[i]));
  g_assert_cmpuint (blk->failures, ==, 0);
  g_assert_true (vhost_user_slave_get_connected (VHOST_USER_SLAVE (blk)));
  g_assert_cmphex (vhost_user_slave_get_acked_protocol_features (VHOST_USER_SLAVE (blk)) &
                   VHOST_USER_PROTOCOL_F_CONFIG, !=, 0);

  /* Quit QEMU through QMP; it exits 0 and the slave sees the hang-up. */
  vhost_peer_wait_for_socket (peer, qmp, 30000);
  address = g_unix_socket_address_new (qmp);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  {
    g_autofree char *greeting = g_data_input_stream_read_line (in, NULL, NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (strstr (greeting, "QMP"));
  }
  qmp_command (in, g_io_stream_get_output_stream (G_IO_STREAM (connection)), "{\"execute\": \"qmp_capabilities\"}\n");
  qmp_command (in, g_io_stream_get_output_stream (G_IO_STREAM (connection)), "{\"execute\": \"quit\"}\n");
  g_assert_true (vhost_peer_wait_exit (peer, 30000, &status));
  g_assert_cmpint (status, ==, 0);
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (!blk->disconnected && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (blk->disconnected);
  g_assert_false (vhost_user_slave_get_connected (VHOST_USER_SLAVE (blk)));

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_clear_object (&in);
  g_clear_object (&connection);
  vhost_user_slave_close (VHOST_USER_SLAVE (blk));
  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/qemu/vhost-user-blk-startup", test_qemu_blk_startup);
  return g_test_run ();
}
