/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserSlave serving a virtio-blk device (vhost-user-blk's, in-process) to qemu-system-x86_64 (paused with -S):
 * the start-up negotiation. */
#include <string.h>
#include <unistd.h>

#include "test-support.h"
#include "peer.h"
#include "blk-device.h"

#define CAPACITY 2048

/* What the device saw of QEMU: the requests handled, the failed ones, the hang-up. */
typedef struct
{
  GArray *requests;   /* (element-type guint) */
  guint failures;
  gboolean disconnected;
} Recorder;

static void
request_handled_cb (VhostUserSlave *slave, VhostUserRequest request, const GError *error, Recorder *self)
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
disconnected_cb (VhostUserSlave *slave, const GError *error, Recorder *self)
{
  g_test_message ("QEMU disconnected: %s", error->message);
  self->disconnected = TRUE;
}

static gboolean
saw (Recorder *self, VhostUserRequest request)
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
  g_autoptr(VhostToolBlk) blk = g_object_new (VHOST_TYPE_TOOL_BLK, NULL);
  VhostToolBlkConfig config = { .backing = VHOST_TOOL_BLK_BACKING_NULL, .size = CAPACITY * 512 };
  Recorder recorder = { g_array_new (FALSE, FALSE, sizeof (guint)), 0, FALSE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  gint64 deadline;
  VhostPeer *peer;
  int status = -1;

  g_assert_true (vhost_tool_blk_configure (blk, &config, &error));
  g_assert_no_error (error);
  g_signal_connect (blk, "request-handled", G_CALLBACK (request_handled_cb), &recorder);
  g_signal_connect (blk, "disconnected", G_CALLBACK (disconnected_cb), &recorder);
  g_assert_true (vhost_user_slave_listen (VHOST_USER_SLAVE (blk), sock, &error));
  g_assert_no_error (error);
  peer = vhost_peer_start (dir, "qemu", "qemu-system-x86", argv);

  /* QEMU realizes vhost-user-blk-pci before it pauses: GET_CONFIG is its last start-up request. */
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (!saw (&recorder, VHOST_USER_GET_CONFIG) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (startup); i++)
    if (!saw (&recorder, startup[i]))
      g_error ("QEMU did not send %s", vhost_user_request_get_name (startup[i]));
  g_assert_cmpuint (recorder.failures, ==, 0);
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
  while (!recorder.disconnected && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (recorder.disconnected);
  g_assert_false (vhost_user_slave_get_connected (VHOST_USER_SLAVE (blk)));

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_clear_object (&in);
  g_clear_object (&connection);
  vhost_user_slave_close (VHOST_USER_SLAVE (blk));
  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  g_signal_handlers_disconnect_by_data (blk, &recorder);
  g_array_unref (recorder.requests);
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
