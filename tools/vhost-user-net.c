/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-net: a vhost-user virtio-net back-end that connects a guest's device to a host TAP interface, or
 * echoes its frames (the device is VhostToolNet in net-device.c); its command line, socket and signals. */
#undef G_LOG_DOMAIN /* the project-wide one is the library's */
#define G_LOG_DOMAIN "vhost-user-net"
#define G_LOG_USE_STRUCTURED

#include <string.h>
#include <net/if.h>

#include "net-device.h"
#include "tool-common.h"

#define DEFAULT_MAC "52:54:00:12:34:56"
/* The default --coalesce-us. */
#define DEFAULT_COALESCE_US 100

/* XX:XX:XX:XX:XX:XX, a unicast address other than zero. */
static gboolean
parse_mac (const char *text, guint8 mac[6])
{
  guint zero = 0;

  if (strlen (text) != 17)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    {
      int hi = g_ascii_xdigit_value (text[3 * i]), lo = g_ascii_xdigit_value (text[3 * i + 1]);

      if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
        return FALSE;
      mac[i] = hi << 4 | lo;
      zero |= mac[i];
    }
  return zero != 0 && !(mac[0] & 1);
}

int
main (int argc, char **argv)
{
  g_autofree char *tap = NULL;
  g_autofree char *mac_text = NULL, *mtu_text = NULL, *queue_pairs_text = NULL;
  g_autofree char *threads_text = NULL;
  gboolean echo = FALSE, no_mrg_rxbuf = FALSE;
  gint64 mtu = -1, queue_pairs = 1;
  guint threads;
  const GOptionEntry entries[] = {
    { "tap", 0, 0, G_OPTION_ARG_STRING, &tap,
      "Attach to the TAP interface IFNAME, creating it if it does not exist", "IFNAME" },
    { "echo", 0, 0, G_OPTION_ARG_NONE, &echo,
      "Send the frames the guest transmits back to it (for tests and benchmarks)", NULL },
    { "mac", 0, 0, G_OPTION_ARG_STRING, &mac_text, "The device's MAC address (default " DEFAULT_MAC ")",
      "XX:XX:XX:XX:XX:XX" },
    { "mtu", 0, 0, G_OPTION_ARG_STRING, &mtu_text,
      "The MTU the device advises, 68 to 65535, and sets on the TAP (default: the TAP's; 1500 with --echo)", "N" },
    { "queue-pairs", 0, 0, G_OPTION_ARG_STRING, &queue_pairs_text, "Offer N receive/transmit queue pairs, 1 to 8 "
      "(default 1)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_STRING, &threads_text,
      "Serve the queue pairs with N worker threads, pair i in thread i mod N (1-8, at most --queue-pairs; "
      "default: one per pair, at most one per CPU the program may run on)", "N" },
    { "no-mrg-rxbuf", 0, 0, G_OPTION_ARG_NONE, &no_mrg_rxbuf, "Do not offer mergeable receive buffers", NULL },
    { NULL }
  };
  g_auto(VhostToolOptions) options = { 0 };
  g_autoptr(VhostToolNet) net = NULL;
  g_autoptr(GError) error = NULL;
  VhostToolNetConfig config = { 0 };
  int code;

  code = vhost_tool_parse (&argc, &argv,
                           "A vhost-user-net back-end: connects the virtio-net device of a guest (QEMU's "
                           "-netdev vhost-user) to a host TAP interface, or echoes its frames.\n\n"
                           "Exit status: 0 after SIGINT or SIGTERM, 1 on a run-time error, 2 for a bad command line.",
                           entries, &options);
  if (code >= 0)
    return code;
  if (options.print_capabilities)
    {
      vhost_tool_print_capabilities ("net", NULL);
      return VHOST_TOOL_EXIT_OK;
    }
  code = vhost_tool_check (&options);
  if (code >= 0)
    return code;
  if ((tap != NULL) == echo)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "exactly one of --tap and --echo is required (try --help)");
  if (tap != NULL && (tap[0] == '\0' || strlen (tap) >= IFNAMSIZ || strchr (tap, '/') != NULL))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--tap=%s: not an interface name (1 to %d characters)", tap,
                            IFNAMSIZ - 1);
  if (!parse_mac (mac_text != NULL ? mac_text : DEFAULT_MAC, config.mac))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--mac=%s: not a unicast MAC address like " DEFAULT_MAC,
                            mac_text);
  if (mtu_text != NULL && (code = vhost_tool_parse_number ("mtu", mtu_text, 68, 65535, &mtu)) >= 0)
    return code;
  if (queue_pairs_text != NULL &&
      (code = vhost_tool_parse_number ("queue-pairs", queue_pairs_text, 1, VHOST_TOOL_NET_MAX_QUEUE_PAIRS,
                                       &queue_pairs)) >= 0)
    return code;
  if ((code = vhost_tool_parse_threads (threads_text, queue_pairs, VHOST_TOOL_NET_MAX_QUEUE_PAIRS, "queue pair",
                                       "--queue-pairs", &threads)) >= 0)
    return code;

  config.mode = echo ? VHOST_TOOL_NET_MODE_ECHO : VHOST_TOOL_NET_MODE_TAP;
  config.tap = tap;
  config.mtu = mtu;
  config.queue_pairs = queue_pairs;
  config.threads = threads;
  config.mergeable = !no_mrg_rxbuf;
  /* Frames stream: coalescing saves most of a core at a fraction of the line rate. */
  net = g_object_new (VHOST_TYPE_TOOL_NET, "coalesce-us", DEFAULT_COALESCE_US, NULL);
  if (!vhost_tool_net_configure (net, &config, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s", error->message);
  g_message ("Serving %s: %u queue pair%s in %u thread%s", echo ? "an echo" : tap,
             vhost_tool_net_get_queue_pairs (net), queue_pairs > 1 ? "s" : "", vhost_tool_net_get_threads (net),
             vhost_tool_net_get_threads (net) > 1 ? "s" : "");
  code = vhost_tool_run (VHOST_USER_SLAVE (net), &options);
  if (code == VHOST_TOOL_EXIT_OK)
    vhost_tool_net_log_stats (net);
  return code;
}
