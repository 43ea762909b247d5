/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A QMP client for interop tests: one JSON object per line each way, over a blocking unix socket with a timeout. */
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "qmp.h"

#define ANSWER_TIMEOUT_S 60

struct _VhostQmp
{
  GSocket *socket;     /* (owned) */
  GString *input;      /* (owned) received bytes not parsed yet */
};

/* The next line QEMU sends, parsed; fails the test on a broken connection, a
 * timeout or text that is not a JSON object. */
static JsonObject *
read_message (VhostQmp *qmp)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  char *end;

  while ((end = memchr (qmp->input->str, '\n', qmp->input->len)) == NULL)
    {
      char buffer[4096];
      gssize n = g_socket_receive (qmp->socket, buffer, sizeof buffer, NULL, &error);

      if (n <= 0)
        g_error ("QMP: %s", n == 0 ? "QEMU closed the connection" : error->message);
      g_string_append_len (qmp->input, buffer, n);
    }
  line = g_strndup (qmp->input->str, end - qmp->input->str);
  g_string_erase (qmp->input, 0, end - qmp->input->str + 1);
  if (!json_parser_load_from_data (parser, line, -1, &error))
    g_error ("QMP: cannot parse \"%s\": %s", line, error->message);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_error ("QMP: \"%s\" is not an object", line);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

VhostQmp *
vhost_qmp_connect (const char *path)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) greeting = NULL;
  VhostQmp *qmp = g_new0 (VhostQmp, 1);

  qmp->input = g_string_new (NULL);
  qmp->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (qmp->socket, ANSWER_TIMEOUT_S);
  if (!g_socket_connect (qmp->socket, address, NULL, &error))
    g_error ("QMP: cannot connect to %s: %s", path, error->message);
  greeting = read_message (qmp);
  g_assert_true (json_object_has_member (greeting, "QMP"));
  json_node_unref (vhost_qmp_execute (qmp, "qmp_capabilities", NULL));
  return qmp;
}

JsonNode *
vhost_qmp_try (VhostQmp *qmp, const char *command, const char *arguments, GError **error)
{
  g_autofree char *request = g_strdup_printf ("{\"execute\": \"%s\"%s%s}\n", command,
                                              arguments != NULL ? ", \"arguments\": " : "",
                                              arguments != NULL ? arguments : "");
  g_autoptr(GError) local_error = NULL;
  gsize sent = 0;

  while (sent < strlen (request))
    {
      gssize n = g_socket_send (qmp->socket, request + sent, strlen (request) - sent, NULL, &local_error);

      if (n < 0)
        g_error ("QMP: %s: %s", command, local_error->message);
      sent += n;
    }
  for (;;)
    {
      g_autoptr(JsonObject) message = read_message (qmp);

      if (json_object_has_member (message, "return"))
        return json_node_copy (json_object_get_member (message, "return"));
      if (json_object_has_member (message, "error"))
        {
          JsonObject *details = json_object_get_object_member (message, "error");

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", command,
                       json_object_get_string_member_with_default (details, "desc", "(no description)"));
          return NULL;
        }
      if (json_object_has_member (message, "event"))
        {
          JsonObject *data = json_object_has_member (message, "data")
                               ? json_object_get_object_member (message, "data") : NULL;

          g_test_message ("QMP event %s%s%s", json_object_get_string_member (message, "event"),
                          data != NULL && json_object_has_member (data, "status") ? ": " : "",
                          data != NULL && json_object_has_member (data, "status")
                            ? json_object_get_string_member (data, "status") : "");
        }
    }
}

JsonNode *
vhost_qmp_execute (VhostQmp *qmp, const char *command, const char *arguments)
{
  g_autoptr(GError) error = NULL;
  JsonNode *result = vhost_qmp_try (qmp, command, arguments, &error);

  if (result == NULL)
    g_error ("QMP: %s", error->message);
  return result;
}

JsonObject *
vhost_qmp_execute_object (VhostQmp *qmp, const char *command, const char *arguments)
{
  g_autoptr(JsonNode) result = vhost_qmp_execute (qmp, command, arguments);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (result));
  return json_object_ref (json_node_get_object (result));
}

void
vhost_qmp_free (VhostQmp *qmp)
{
  g_object_unref (qmp->socket);
  g_string_free (qmp->input, TRUE);
  g_free (qmp);
}
