/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest's virtio-net on tools/vhost-user-net: on a TAP in a network namespace of the
 * test's (pings both ways, 10 MiB each way over TCP with md5), and on the echo device. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "guest.h"
#include "netns.h"

#define TAP_NAME "vhgtap0"
#define HOST_ADDRESS "10.77.0.1"
#define GUEST_ADDRESS "10.77.0.2"
#define DATA_SIZE (10 * 1024 * 1024)
#define READY_MARKER "VHOST-TEST-READY"
#define NETNS_PREFIX "vhg-test-"
#define BOOT_TIMEOUT_MS (120 * 1000)
#define TRANSFER_TIMEOUT_S VHOST_NETNS_COMMAND_TIMEOUT_S
#define SUBPROCESS_TIMEOUT_US (280 * G_TIME_SPAN_SECOND)

static const char modules[] = VHOST_GUEST_VIRTIO_NET_MODULES;

/* The guest's /init: eth0 up at GUEST_ADDRESS, 3 pings to the host; then a listener on
 * port 5002 (its stdin open without data, so that it does not half-close the
 * connection at once) and READY_MARKER: the host pings the guest and sends its 10 MiB
 * there. Then the guest sends 10 MiB of its own to the host's listener on port 5001,
 * from its last CPU (with two queue pairs and CPUs, through the second pair), and reports the
 * md5 and size of what it received and the md5 of what it sent. Every wait is bounded.
 * (The listener's stdin is a FIFO that a sleep holds open: a background command's stdin
 * would be /dev/null, and `$!` of a background pipeline is the whole pipeline.) */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -e /sys/class/net/eth0 ]", "eth0")
  "cpus=$(nproc)\n"
  "last=$((1 << (cpus - 1)))\n"
  "queues=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)\n"
  "ip link set lo up\n"
  "ip addr add " GUEST_ADDRESS "/24 dev eth0 || result FAIL ip addr\n"
  "ip link set eth0 up || result FAIL ip link\n"
  "dd if=/dev/urandom of=/tmp/data bs=1048576 count=10 2>/dev/null || result FAIL urandom\n"
  "taskset 1 ping -c 3 -w 60 " HOST_ADDRESS " >/tmp/ping 2>&1\n"
  "grep -q '3 packets received' /tmp/ping || result FAIL ping host $(tail -n 2 /tmp/ping)\n"
  "mkfifo /tmp/hold\n"
  "timeout " TRANSFER_TIMEOUT_S " nc -l -p 5002 </tmp/hold >/tmp/rx &\n"
  "listener=$!\n"
  "sleep 600 >/tmp/hold &\n"
  "holder=$!\n"
  "n=0\n"
  "while ! cat /proc/net/tcp /proc/net/tcp6 | grep -q ':138A [0-9A-F]*:0000 0A'; do\n"
  "  n=$((n + 1)); [ $n -le 200 ] || result FAIL no listener\n"
  "  sleep 0.05\n"
  "done\n"
  "echo " READY_MARKER "\n"
  "wait $listener || result FAIL receive\n"
  "kill $holder\n"
  "rx=$(md5sum </tmp/rx)\n"
  "rxsize=$(wc -c </tmp/rx)\n"
  "timeout " TRANSFER_TIMEOUT_S " taskset $last nc " HOST_ADDRESS " 5001 </tmp/data || result FAIL send\n"
  "tx=$(md5sum </tmp/data)\n"
  "result PASS rx=${rx%% *} rxsize=$rxsize tx=${tx%% *} cpus=$cpus queues=$queues\n";

typedef struct
{
  guint queue_pairs;
  guint cpus;
  gboolean existing_tap; /* made by the test beforehand (persistent, multi-queue) */
  gboolean packed;       /* the packed ring */
} NetCase;

typedef struct
{
  guint64 rx_frames, rx_bytes, tx_frames, tx_bytes, rx_dropped, tx_dropped;
} PairStats;

/* The statistics vhost-user-net logs for queue pair `index` as it exits. */
static void
find_pair_stats (const char *log, guint index, PairStats *stats)
{
  g_autofree char *prefix = g_strdup_printf ("Queue pair %u: received ", index);
  const char *line = strstr (log, prefix);
  int n;

  if (line == NULL)
    g_error ("vhost-user-net logged no statistics for queue pair %u; its log:\n%s", index, log);
  n = sscanf (line + strlen (prefix),
              "%" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), transmitted %" G_GUINT64_FORMAT
              " frames (%" G_GUINT64_FORMAT " bytes), dropped %" G_GUINT64_FORMAT " received and %" G_GUINT64_FORMAT,
              &stats->rx_frames, &stats->rx_bytes, &stats->tx_frames, &stats->tx_bytes, &stats->rx_dropped,
              &stats->tx_dropped);
  g_assert_cmpint (n, ==, 6);
  vhost_netns_note ("queue pair %u: received %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), transmitted %"
                    G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes)", index, stats->rx_frames, stats->rx_bytes,
                    stats->tx_frames, stats->tx_bytes);
}

/* SIGTERM: a clean exit (status 0) without the socket file, without warnings, with
 * statistics for each of the `n_pairs` queue pairs and no frame dropped. */
static void
stop_tool (VhostPeer *net, const char *sock, guint n_pairs, PairStats *stats)
{
  g_autofree char *log = NULL;

  vhost_peer_terminate (net, SIGTERM, sock);
  log = vhost_peer_get_log (net);
  if (strstr (log, "WARNING") != NULL || strstr (log, "CRITICAL") != NULL)
    g_error ("vhost-user-net warned; its log:\n%s", log);
  for (guint i = 0; i < n_pairs; i++)
    {
      find_pair_stats (log, i, &stats[i]);
      g_assert_cmpuint (stats[i].rx_dropped, ==, 0);
      g_assert_cmpuint (stats[i].tx_dropped, ==, 0);
    }
}

/* The test itself, in a subprocess, in the namespace its parent made. */
static void
run_case (gconstpointer case_data, const char *netns, const char *dir)
{
  const NetCase *c = case_data;
  gint fds = vhost_test_count_open_fds ();
  const char *tool = g_getenv ("VHOST_USER_NET");
  g_autofree char *sock = g_build_filename (dir, "net.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *to_guest = g_build_filename (dir, "to-guest.bin", NULL);
  g_autofree char *from_guest = g_build_filename (dir, "from-guest.bin", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *pairs_arg = g_strdup_printf ("--queue-pairs=%u", c->queue_pairs);
  g_autofree char *chardev = g_strdup_printf ("socket,id=c1,path=%s", sock);
  g_autofree char *netdev = g_strdup_printf ("vhost-user,id=n1,chardev=c1,queues=%u", c->queue_pairs);
  /* vectors=0 (INTx): QEMU 7.2 with TCG crashes in msix_set_vector_notifiers() when the
   * guest starts a vhost-user-net device that has MSI-X vectors. */
  g_autofree char *device = g_strdup_printf ("virtio-net-pci,netdev=n1,mac=52:54:00:12:34:56,vectors=0,mq=%s,"
                                             "packed=%s", c->queue_pairs > 1 ? "on" : "off",
                                             c->packed ? "on" : "off");
  g_autofree char *listen = g_strdup_printf ("exec /bin/busybox nc -l -p 5001 >%s", from_guest);
  g_autofree char *send = g_strdup_printf ("exec /bin/busybox nc " GUEST_ADDRESS " 5002 <%s", to_guest);
  g_autofree char *to_guest_md5 = NULL;
  g_autofree char *out = NULL;
  g_autofree guint32 *data = g_new (guint32, DATA_SIZE / 4);
  g_autoptr(GRand) rand = g_rand_new_with_seed (c->queue_pairs);
  g_autoptr(GError) error = NULL;
  const char *tool_argv[] = { "ip", "netns", "exec", netns, tool, "--verbose", "--socket-path", sock,
                              "--tap=" TAP_NAME, pairs_arg, NULL };
  const char *listen_argv[] = { "ip", "netns", "exec", netns, "sh", "-c", listen, NULL };
  const char *devices[] = { "-chardev", chardev, "-netdev", netdev, "-device", device, NULL };
  g_auto(GStrv) result = NULL;
  VhostPeer *net, *listener, *guest;
  PairStats stats[2] = { { 0 } };
  gint64 start = g_get_monotonic_time ();
  int status = -1;

  g_assert_nonnull (tool);
  g_assert_nonnull (netns);
  g_assert_nonnull (dir);
  for (guint i = 0; i < DATA_SIZE / 4; i++)
    data[i] = g_rand_int (rand);
  g_assert_true (g_file_set_contents (to_guest, (const char *) data, DATA_SIZE, &error));
  g_assert_no_error (error);
  to_guest_md5 = g_compute_checksum_for_data (G_CHECKSUM_MD5, (const guchar *) data, DATA_SIZE);
  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);

  /* The back-end in the namespace, on the TAP, which it creates or attaches to. */
  if (c->existing_tap)
    g_free (vhost_netns_run_in (netns, "ip tuntap add dev " TAP_NAME " mode tap multi_queue vnet_hdr"));
  net = vhost_peer_start (dir, "vhost-user-net", "ip", tool_argv);
  vhost_peer_wait_for_socket (net, sock, 30000);
  g_free (vhost_netns_run_in (netns, "ip link set lo up && ip addr add " HOST_ADDRESS "/24 dev " TAP_NAME
                               " && ip link set " TAP_NAME " up"));
  /* The host's listener for the guest's 10 MiB; its stdin stays open (a pipe). */
  listener = vhost_peer_start (dir, "nc-listener", "busybox-static", listen_argv);

  guest = vhost_guest_start (dir, kver, initrd, c->cpus, devices);
  vhost_guest_wait_console (guest, READY_MARKER, BOOT_TIMEOUT_MS);
  vhost_netns_note ("the guest pinged the host and listens, after %.1f s",
                    (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);

  /* The host pings the guest and sends it 10 MiB. */
  out = vhost_netns_run_in (netns, "exec /bin/busybox ping -c 3 -w 60 " GUEST_ADDRESS);
  if (strstr (out, "3 packets received") == NULL)
    g_error ("the host's pings to the guest were lost:\n%s", out);
  g_free (vhost_netns_run_in (netns, send));

  result = vhost_guest_wait_result (guest, BOOT_TIMEOUT_MS);
  vhost_netns_note ("the guest reported %s %s %s %s %s", result[1], result[2], result[3], result[4], result[5]);
  /* Host to guest: what the guest received is what the host sent. */
  g_assert_nonnull (vhost_guest_result_value (result, "rxsize"));
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "rxsize"), NULL, 10), ==, DATA_SIZE);
  g_assert_cmpstr (vhost_guest_result_value (result, "rx"), ==, to_guest_md5);
  /* Guest to host: the listener exits when the guest's side closes. */
  if (!vhost_peer_wait_exit (listener, 60000, &status))
    g_error ("the host's nc did not see the end of the guest's data");
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (vhost_guest_result_value (result, "tx"));
  vhost_guest_assert_file_md5 (from_guest, DATA_SIZE, vhost_guest_result_value (result, "tx"));
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "cpus"), NULL, 10), ==, c->cpus);
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "queues"), NULL, 10), ==, c->queue_pairs);
  vhost_peer_free (guest);

  stop_tool (net, sock, c->queue_pairs, stats);
  /* Every byte went through the back-end: the data and the headers of the frames. */
  g_assert_cmpuint (stats[0].rx_bytes + stats[1].rx_bytes, >, DATA_SIZE);
  g_assert_cmpuint (stats[0].tx_bytes + stats[1].tx_bytes, >, DATA_SIZE);
  /* Both pairs carried frames both ways: the guest pings from its first CPU and sends
   * its data from its second one, each CPU transmits on its own queue (XPS), and the
   * TAP sends a flow's frames back to the queue the flow came from. */
  for (guint i = 0; i < c->queue_pairs; i++)
    {
      g_assert_cmpuint (stats[i].tx_frames, >, 0);
      g_assert_cmpuint (stats[i].rx_frames, >, 0);
    }
  vhost_peer_free (listener);
  vhost_peer_free (net);
  vhost_test_assert_fd_count (fds);
  vhost_netns_note ("the case took %.1f s", (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
}

/* The case in a namespace and a directory of its own, in a subprocess. */
static void
test_net_guest (gconstpointer data)
{
  const char *const logs[] = { "vhost-user-net.log", "nc-listener.log", NULL };

  vhost_netns_test (NETNS_PREFIX, run_case, data, logs, SUBPROCESS_TIMEOUT_US);
}

/* The guest of the echo device: no IPv6 (nothing but its own frames on the link), the
 * MTU the script is given, a made-up neighbour, and 50 pings of SIZE bytes to it: the
 * requests come back as frames for that neighbour, which the guest counts and drops.
 * It reports what its interface sent and received meanwhile. The test puts $mtu and
 * $size before it. */
static const char echo_init_body[] =
  VHOST_GUEST_WAIT_FOR ("[ -e /sys/class/net/eth0 ]", "eth0")
  "echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6\n"
  "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6\n"
  "ip link set eth0 mtu $mtu || result FAIL mtu $mtu\n"
  "ip addr add " GUEST_ADDRESS "/24 dev eth0 || result FAIL ip addr\n"
  "ip link set eth0 up || result FAIL ip link\n"
  "arp -i eth0 -s 10.77.0.9 02:00:00:00:00:09 || result FAIL arp\n"
  "s=/sys/class/net/eth0/statistics\n"
  "sleep 1\n"
  "tx0=$(cat $s/tx_packets) txb0=$(cat $s/tx_bytes) rx0=$(cat $s/rx_packets) rxb0=$(cat $s/rx_bytes)\n"
  "ping -q -c 50 -i 0.02 -W 1 -s $size 10.77.0.9 >/dev/null 2>&1\n"
  "sleep 1\n"
  "result PASS tx=$(($(cat $s/tx_packets) - tx0)) txbytes=$(($(cat $s/tx_bytes) - txb0))"
  " rx=$(($(cat $s/rx_packets) - rx0)) rxbytes=$(($(cat $s/rx_bytes) - rxb0))"
  " mrg=$(cut -c16 /sys/bus/virtio/devices/virtio*/features | tr -d '\\n')\n";

typedef struct
{
  gboolean mergeable;
  guint mtu;
  guint size;            /* ICMP data bytes: frames of size + 42 bytes */
} EchoCase;

static guint64
result_number (char **result, const char *key)
{
  const char *value = vhost_guest_result_value (result, key);

  g_assert_nonnull (value);
  return g_ascii_strtoull (value, NULL, 10);
}

/* tools/vhost-user-net --echo: every frame the guest sends comes back, whole (with
 * mergeable buffers, frames larger than one receive buffer). */
static void
test_net_echo (gconstpointer data)
{
  const EchoCase *c = data;
  gint fds = vhost_test_count_open_fds ();
  const char *tool = g_getenv ("VHOST_USER_NET");
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "net.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *init = g_strdup_printf ("%smtu=%u size=%u\n%s", VHOST_GUEST_INIT_PRELUDE, c->mtu, c->size,
                                           echo_init_body);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *chardev = g_strdup_printf ("socket,id=c1,path=%s", sock);
  const char *tool_argv[] = { tool, "--verbose", "--socket-path", sock, "--echo",
                              c->mergeable ? NULL : "--no-mrg-rxbuf", NULL };
  const char *devices[] = { "-chardev", chardev, "-netdev", "vhost-user,id=n1,chardev=c1", "-device",
                            "virtio-net-pci,netdev=n1,mac=52:54:00:12:34:56,vectors=0", NULL };
  g_auto(GStrv) result = NULL;
  VhostPeer *net, *guest;
  PairStats stats;

  g_assert_nonnull (tool);
  vhost_guest_make_initramfs (dir, kver, initrd, init, modules);
  net = vhost_peer_start (dir, "vhost-user-net", "vhost-glib", tool_argv);
  vhost_peer_wait_for_socket (net, sock, 30000);
  guest = vhost_guest_start (dir, kver, initrd, 1, devices);
  result = vhost_guest_wait_result (guest, BOOT_TIMEOUT_MS);
  vhost_peer_free (guest);
  vhost_netns_note ("the guest sent %s frames (%s bytes) and received %s (%s bytes); mergeable buffers: %s",
                    vhost_guest_result_value (result, "tx"), vhost_guest_result_value (result, "txbytes"),
                    vhost_guest_result_value (result, "rx"), vhost_guest_result_value (result, "rxbytes"),
                    vhost_guest_result_value (result, "mrg"));
  g_assert_cmpstr (vhost_guest_result_value (result, "mrg"), ==, c->mergeable ? "1" : "0");
  /* The 50 requests, and as many frames back, byte for byte. */
  g_assert_cmpuint (result_number (result, "tx"), >=, 50);
  g_assert_cmpuint (result_number (result, "txbytes"), >=, 50 * (c->size + 42));
  g_assert_cmpuint (result_number (result, "rx"), ==, result_number (result, "tx"));
  g_assert_cmpuint (result_number (result, "rxbytes"), ==, result_number (result, "txbytes"));

  stop_tool (net, sock, 1, &stats);
  g_assert_cmpuint (stats.rx_frames, ==, stats.tx_frames);
  g_assert_cmpuint (stats.rx_bytes, ==, stats.tx_bytes);
  g_assert_cmpuint (stats.tx_frames, >=, result_number (result, "tx"));
  vhost_peer_free (net);
  vhost_peer_remove_dir (dir);
  vhost_test_assert_fd_count (fds);
}

int
main (int argc, char **argv)
{
  static const NetCase one_pair = { 1, 1, FALSE, FALSE };
  static const NetCase two_pairs = { 2, 2, TRUE, TRUE };
  /* 8042-byte frames: more than one of the guest's mergeable receive buffers. */
  static const EchoCase echo_mergeable = { TRUE, 9000, 8000 };
  static const EchoCase echo_one_chain = { FALSE, 1500, 1400 };

  vhost_test_init (&argc, &argv);
  g_test_add_data_func ("/vhost/interop/net-guest/tap", &one_pair, test_net_guest);
  g_test_add_data_func ("/vhost/interop/net-guest/tap-two-queue-pairs-packed", &two_pairs, test_net_guest);
  g_test_add_data_func ("/vhost/interop/net-guest/echo-mergeable-jumbo", &echo_mergeable, test_net_echo);
  g_test_add_data_func ("/vhost/interop/net-guest/echo-no-mrg-rxbuf", &echo_one_chain, test_net_echo);
  return g_test_run ();
}
