/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Back-end restart under a live guest (-netdev vhost-user with reconnect=1): tools/vhost-user-net on a TAP in a
 * network namespace is killed three times while the guest sends a TCP stream to the namespace; the stream resumes
 * and the data arrive whole. */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "guest.h"
#include "netns.h"
#include "restart.h"

#define TAP_NAME "vhrtap0"
#define HOST_ADDRESS "10.78.0.1"
#define GUEST_ADDRESS "10.78.0.2"
#define DATA_MIB 48
#define DATA_SIZE (DATA_MIB * 1024 * 1024)
#define KILLS 3
#define READY_MARKER "VHOST-TEST-READY"
#define NETNS_PREFIX "vhr-test-"
#define BOOT_TIMEOUT_MS (120 * 1000)
#define STREAM_TIMEOUT_MS (60 * 1000)
#define RECONNECT_TIMEOUT_MS (30 * 1000)
#define SUBPROCESS_TIMEOUT_US (280 * G_TIME_SPAN_SECOND)

static const char modules[] = VHOST_GUEST_VIRTIO_NET_MODULES;

/* The guest's /init: eth0 up, DATA_MIB MiB of random data and their md5, pings until
 * the host answers, READY_MARKER, then the data to the host's listener with nc (bounded
 * in time), 1 MiB every 100 ms at most, so that the stream lasts long enough for the
 * kills. It reports the md5 and size of what it sent, and how often its link went down
 * or up (QEMU takes the link down while the back-end is away). */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -e /sys/class/net/eth0 ]", "eth0")
  "ip link set lo up\n"
  "ip addr add " GUEST_ADDRESS "/24 dev eth0 || result FAIL ip addr\n"
  "ip link set eth0 up || result FAIL ip link\n"
  "dd if=/dev/urandom of=/tmp/data bs=1048576 count=" G_STRINGIFY (DATA_MIB) " 2>/dev/null || result FAIL urandom\n"
  "md5=$(md5sum </tmp/data)\n"
  "ping -c 1 -w 60 " HOST_ADDRESS " >/tmp/ping 2>&1 || result FAIL ping host $(tail -n 2 /tmp/ping)\n"
  "echo " READY_MARKER "\n"
  "for i in $(seq 0 $((" G_STRINGIFY (DATA_MIB) " - 1))); do\n"
  "  dd if=/tmp/data bs=1048576 skip=$i count=1 2>/dev/null\n"
  "  sleep 0.1\n"
  "done | timeout " VHOST_NETNS_COMMAND_TIMEOUT_S " nc " HOST_ADDRESS " 5001 || result FAIL send\n"
  "result PASS md5=${md5%% *} size=$(wc -c </tmp/data) carrier_changes=$(cat /sys/class/net/eth0/carrier_changes)\n";

typedef struct
{
  const char *dir;
  const char *netns;
  const char *sock;
} Context;

static char *
tool_name (guint generation)
{
  return g_strdup_printf ("vhost-user-net-%u", generation);
}

/* vhost-user-net in the namespace, on the TAP the test made (which outlives it, with
 * its address). */
static VhostPeer *
start_tool (guint generation, gpointer data)
{
  Context *ctx = data;
  g_autofree char *name = tool_name (generation);
  const char *argv[] = { "ip", "netns", "exec", ctx->netns, g_getenv ("VHOST_USER_NET"), "--verbose",
                         "--socket-path", ctx->sock, "--tap=" TAP_NAME, NULL };
  VhostPeer *peer;

  g_assert_nonnull (argv[4]);
  peer = vhost_peer_start (ctx->dir, name, "iproute2", argv);
  vhost_peer_wait_for_socket (peer, ctx->sock, 30000);
  return peer;
}

static goffset
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? st.st_size : 0;
}

/* Wait until the file holds more than `size` bytes; returns the seconds it took. */
static double
wait_file_size (const char *path, goffset size, VhostPeer *guest)
{
  gint64 start = g_get_monotonic_time ();

  while (file_size (path) <= size)
    {
      if (vhost_peer_has_exited (guest))
        g_error ("the guest stopped with %" G_GOFFSET_FORMAT " bytes received", file_size (path));
      if (g_get_monotonic_time () - start > STREAM_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND)
        g_error ("the stream stalled at %" G_GOFFSET_FORMAT " bytes", file_size (path));
      g_usleep (5 * 1000);
    }
  return (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND;
}

/* The test itself, in a subprocess, in the namespace its parent made. */
static void
run_case (gconstpointer data, const char *netns, const char *dir)
{
  gint fds = vhost_test_count_open_fds ();
  g_autofree char *sock = g_build_filename (dir, "net.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *received = g_build_filename (dir, "from-guest.bin", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *chardev = g_strdup_printf ("socket,id=c1,path=%s,reconnect=1", sock);
  g_autofree char *listen = g_strdup_printf ("exec /bin/busybox nc -l -p 5001 >%s", received);
  /* vectors=0 (INTx): QEMU 7.2 with TCG crashes in msix_set_vector_notifiers() when the
   * guest starts a vhost-user-net device that has MSI-X vectors. */
  const char *devices[] = { "-chardev", chardev, "-netdev", "vhost-user,id=n1,chardev=c1", "-device",
                            "virtio-net-pci,netdev=n1,mac=52:54:00:12:34:56,vectors=0", NULL };
  const char *listen_argv[] = { "ip", "netns", "exec", netns, "sh", "-c", listen, NULL };
  g_auto(GStrv) result = NULL;
  Context ctx = { dir, netns, sock };
  gint64 start = g_get_monotonic_time ();
  VhostPeer *net, *listener, *guest;
  g_autofree char *log = NULL;
  int status = -1;

  g_assert_nonnull (netns);
  g_assert_nonnull (dir);
  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);
  g_free (vhost_netns_run_in (netns, "ip tuntap add dev " TAP_NAME " mode tap vnet_hdr && ip link set lo up && "
                                     "ip addr add " HOST_ADDRESS "/24 dev " TAP_NAME " && ip link set " TAP_NAME " up"));
  listener = vhost_peer_start (dir, "nc-listener", "busybox-static", listen_argv);
  net = start_tool (0, &ctx);
  guest = vhost_guest_start (dir, kver, initrd, 1, devices);
  vhost_guest_wait_console (guest, READY_MARKER, BOOT_TIMEOUT_MS);
  vhost_netns_note ("the guest reached the host, after %.1f s",
                    (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);

  /* A kill each time another quarter of the data has arrived; after each restart,
   * the stream must go on. */
  for (guint i = 0; i < KILLS; i++)
    {
      goffset at;
      double reconnect_s, resume_s;

      wait_file_size (received, (goffset) (i + 1) * DATA_SIZE / (KILLS + 1), guest);
      at = file_size (received);
      net = vhost_restart_peer (net, sock, start_tool, i + 1, &ctx, RECONNECT_TIMEOUT_MS, &reconnect_s);
      resume_s = wait_file_size (received, file_size (received), guest);
      vhost_netns_note ("kill %u at %" G_GOFFSET_FORMAT " bytes received: QEMU connected to the new back-end "
                        "%.2f s after the kill, the stream went on %.2f s after that", i + 1, at, reconnect_s,
                        resume_s);
    }

  result = vhost_guest_wait_result (guest, BOOT_TIMEOUT_MS);
  vhost_peer_free (guest);
  vhost_netns_note ("the guest reported %s %s %s", result[1], result[2], result[3]);
  /* The listener exits when the guest's side closes: all of it arrived, as sent. */
  g_assert_true (vhost_peer_wait_exit (listener, STREAM_TIMEOUT_MS, &status));
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (vhost_guest_result_value (result, "size"));
  g_assert_nonnull (vhost_guest_result_value (result, "md5"));
  g_assert_nonnull (vhost_guest_result_value (result, "carrier_changes"));
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "size"), NULL, 10), ==, DATA_SIZE);
  vhost_guest_assert_file_md5 (received, DATA_SIZE, vhost_guest_result_value (result, "md5"));
  /* Each time the back-end went away, the guest saw its link go down and up. */
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "carrier_changes"), NULL, 10), >=, 2 * KILLS);

  vhost_peer_terminate (net, SIGTERM, sock);
  log = vhost_peer_get_log (net);
  if (strstr (log, "CRITICAL") != NULL)
    g_error ("vhost-user-net logged a critical; its log:\n%s", log);
  vhost_peer_free (net);
  vhost_peer_free (listener);
  vhost_test_assert_fd_count (fds);
  vhost_netns_note ("the case took %.1f s", (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
}

/* The case in a namespace and a directory of its own, in a subprocess. */
static void
test_net_restart (void)
{
  const char *const logs[] = { "vhost-user-net-0.log", "vhost-user-net-1.log", "vhost-user-net-2.log",
                               "vhost-user-net-3.log", "nc-listener.log", "qemu.log", NULL };

  vhost_netns_test (NETNS_PREFIX, run_case, NULL, logs, SUBPROCESS_TIMEOUT_US);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/net-restart/tap", test_net_restart);
  return g_test_run ();
}
