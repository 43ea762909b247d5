/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For test guests: sends numbered frames to itself through a virtio-net whose back-end echoes them, checks each one
 * that comes back, and prints the md5 of what it received.
 *
 * usage: echo-stream INTERFACE SECONDS SEED
 *
 * Frames go to the interface's own address with ECHO_STREAM_ETHERTYPE, at most
 * WINDOW of them on their way at once (so that no queue on the way overflows:
 * nothing is lost, with an echo that waits for receive buffers),
 * for SECONDS; then it waits for the last ones. It prints ECHO-STARTED,
 * ECHO-PROGRESS N every second, and ECHO-RESULT frames=N md5=HEX, or ECHO-FAIL
 * and why (a frame that is not the one expected, or none for RECEIVE_TIMEOUT_S)
 * and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo-stream.h"

#define WINDOW 32
#define RECEIVE_TIMEOUT_S 10
#define HEADER (sizeof (struct ether_header) + sizeof (guint64))
#define FRAME (HEADER + ECHO_STREAM_PAYLOAD)

static void G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
fail (const char *format, ...)
{
  va_list args;

  printf ("ECHO-FAIL ");
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  printf ("\n");
  exit (1);
}

int
main (int argc, char **argv)
{
  struct ifreq ifr = { 0 };
  struct sockaddr_ll address = { 0 };
  guint8 mac[ETH_ALEN], frame[FRAME], expected[ECHO_STREAM_PAYLOAD], buffer[FRAME + 64];
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_MD5);
  guint64 sent = 0, received = 0;
  gint64 deadline, next_progress;
  guint32 seed;
  int fd, one = 1, rcvbuf = 4 << 20;

  if (argc != 4)
    {
      fprintf (stderr, "usage: echo-stream INTERFACE SECONDS SEED\n");
      return 2;
    }
  seed = strtoul (argv[3], NULL, 10);
  fd = socket (AF_PACKET, SOCK_RAW, htons (ECHO_STREAM_ETHERTYPE));
  if (fd < 0)
    fail ("socket: %s", g_strerror (errno));
  g_strlcpy (ifr.ifr_name, argv[1], sizeof ifr.ifr_name);
  if (ioctl (fd, SIOCGIFHWADDR, &ifr) < 0)
    fail ("SIOCGIFHWADDR %s: %s", argv[1], g_strerror (errno));
  memcpy (mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
  if (ioctl (fd, SIOCGIFINDEX, &ifr) < 0)
    fail ("SIOCGIFINDEX %s: %s", argv[1], g_strerror (errno));
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons (ECHO_STREAM_ETHERTYPE);
  address.sll_ifindex = ifr.ifr_ifindex;
  if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0)
    fail ("bind: %s", g_strerror (errno));
  /* Not its own frames on their way out, and room for a window's worth coming in. */
  if (setsockopt (fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    fail ("PACKET_IGNORE_OUTGOING: %s", g_strerror (errno));
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    fail ("SO_RCVBUFFORCE: %s", g_strerror (errno));

  /* To itself, from itself. */
  memcpy (frame, mac, ETH_ALEN);
  memcpy (frame + ETH_ALEN, mac, ETH_ALEN);
  frame[2 * ETH_ALEN] = ECHO_STREAM_ETHERTYPE >> 8;
  frame[2 * ETH_ALEN + 1] = ECHO_STREAM_ETHERTYPE & 0xff;

  printf ("ECHO-STARTED\n");
  fflush (stdout);
  deadline = g_get_monotonic_time () + strtoul (argv[2], NULL, 10) * G_TIME_SPAN_SECOND;
  next_progress = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      struct sockaddr_ll from;
      socklen_t from_len = sizeof from;
      guint64 seq;
      ssize_t n;

      while (sent - received < WINDOW && g_get_monotonic_time () < deadline)
        {
          guint64 le = GUINT64_TO_LE (sent);

          memcpy (frame + sizeof (struct ether_header), &le, sizeof le);
          echo_stream_payload (seed, sent, frame + HEADER);
          if (send (fd, frame, FRAME, 0) != FRAME)
            fail ("send: %s", g_strerror (errno));
          sent++;
        }
      if (received == sent)
        break;
      if (poll (&pfd, 1, RECEIVE_TIMEOUT_S * 1000) == 0)
        {
          struct tpacket_stats stats = { 0 };
          socklen_t len = sizeof stats;

          getsockopt (fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len);
          fail ("lost: no frame came back for %d s; waiting for frame %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                " sent (the socket dropped %u)", RECEIVE_TIMEOUT_S, received, sent, stats.tp_drops);
        }
      n = recvfrom (fd, buffer, sizeof buffer, 0, (struct sockaddr *) &from, &from_len);
      if (n < 0)
        fail ("recvfrom: %s", g_strerror (errno));
      if (n != FRAME)
        fail ("mismatch: frame %" G_GUINT64_FORMAT " came back with %zd bytes instead of %zu", received, n,
              (gsize) FRAME);
      memcpy (&seq, buffer + sizeof (struct ether_header), sizeof seq);
      seq = GUINT64_FROM_LE (seq);
      if (seq != received)
        fail ("mismatch: frame %" G_GUINT64_FORMAT " came back as frame %" G_GUINT64_FORMAT, received, seq);
      echo_stream_payload (seed, seq, expected);
      if (memcmp (buffer, frame, 2 * ETH_ALEN + 2) != 0 || memcmp (buffer + HEADER, expected, sizeof expected) != 0)
        fail ("mismatch: frame %" G_GUINT64_FORMAT " came back with other bytes", received);
      g_checksum_update (sum, buffer + HEADER, ECHO_STREAM_PAYLOAD);
      received++;
      if (g_get_monotonic_time () >= next_progress)
        {
          printf ("ECHO-PROGRESS %" G_GUINT64_FORMAT "\n", received);
          fflush (stdout);
          next_progress = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
        }
    }
  printf ("ECHO-RESULT frames=%" G_GUINT64_FORMAT " md5=%s\n", received, g_checksum_get_string (sum));
  return 0;
}
