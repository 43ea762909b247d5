/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Soak: the project's hostile front-end against each tool for a bounded time (VHOST_SOAK_SECONDS, 60 s a tool by
 * default): random and mutated vhost-user messages with fds, hostile split and packed rings, control-plane changes
 * during I/O. Every few hundred connections a clean front-end must be served, and the tool's fds and memory must
 * stay flat; at the end it exits cleanly on SIGTERM and its log has no sanitizer report. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "test-support.h"
#include "front.h"
#include "peer.h"
#include "vhost-glib/protocol/vhost-user-protocol.h"

#define DEFAULT_SECONDS 60
#define CHECK_EVERY 200          /* hostile connections between two checks */
#define MEM_SIZE (1024 * 1024)   /* each of the two memfds of guest memory */
#define RING_AREA (256 * 1024)   /* rings in the first 256 KiB of the first, a queue per 64 KiB */
#define MAX_QUEUES 4
#define MAX_NUM 256
#define FD_SLACK 2
/* What RSS may grow over the run once the first check brought every queue up; more
 * under ASan, which keeps freed memory in quarantine (16 MB asked for below). */
#define RSS_SLACK_KB (VHOST_TEST_SANITIZED ? 96 * 1024 : 16 * 1024)

typedef struct
{
  const char *name;
  const char *tool;       /* the environment variable with its path */
  const char *args[3];    /* "@" is the test's directory */
  guint n_queues;
  VhostTestFrontKind kind;
} Tool;

static const Tool tools[] = {
  { "blk", "VHOST_USER_BLK", { "--blk-file=@/disk.img", "--num-queues=4" }, 4, VHOST_TEST_FRONT_BLK },
  { "net", "VHOST_USER_NET", { "--echo", "--queue-pairs=2" }, 4, VHOST_TEST_FRONT_NET },
};

typedef struct
{
  guint64 connections;
  guint64 messages;       /* hostile messages sent */
  guint64 chains;         /* hostile chains made available */
  guint64 control;        /* control-plane changes during I/O */
  guint64 truncations;    /* guest memory shrunk under the rings */
  guint64 requests;       /* clean requests that completed */
  guint checks;
} Stats;

typedef struct
{
  gboolean on;
  guint num;
  gsize ring;             /* offset of its rings in the first memfd */
  guint16 avail_idx;      /* split: the next avail index; packed: the next slot */
  gboolean wrap;          /* packed: the driver's wrap counter */
  int kick, call;         /* (owned) eventfds, or -1 */
} Queue;

/* One hostile front-end connection. */
typedef struct
{
  GRand *rand;            /* (not owned) */
  Stats *stats;           /* (not owned) */
  int sock;               /* (owned) */
  gboolean dead;          /* the tool closed the connection, or a send failed */
  gboolean truncated;     /* the first memfd is shrunk: do not touch it */
  int mem_fd[2];          /* (not owned) */
  guint8 *mem[2];         /* (not owned) our mappings of them */
  guint64 gpa[2], uva[2]; /* where the current table puts them */
  guint64 features, protocol_features;
  guint n_queues;
  gboolean net;           /* even queues receive (writable buffers), odd ones transmit */
  gboolean packed;
  Queue q[MAX_QUEUES];
  guint8 in[65536];       /* bytes received and not yet parsed */
  gsize in_len;
} Hostile;

static guint32
rnd (Hostile *h, guint32 n)
{
  return n == 0 ? 0 : g_rand_int_range (h->rand, 0, n);
}

static gboolean
chance (Hostile *h, guint one_in)
{
  return rnd (h, one_in) == 0;
}

static guint64
rnd64 (Hostile *h)
{
  return (guint64) g_rand_int (h->rand) << 32 | g_rand_int (h->rand);
}

/* Read what the tool sent (replies), keeping whole messages for take_reply(); any fd
 * that came with them is closed. Waits up to `timeout_ms` for the first bytes. */
static void
pump (Hostile *h, int timeout_ms)
{
  struct pollfd pfd = { h->sock, POLLIN, 0 };

  while (!h->dead && poll (&pfd, 1, timeout_ms) > 0)
    {
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
      } control;
      struct iovec iov = { h->in + h->in_len, sizeof h->in - h->in_len };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                           .msg_controllen = sizeof control.buf };
      gssize n;

      if (h->in_len == sizeof h->in)
        h->in_len = 0; /* nothing we wait for is that long: garbage */
      iov.iov_base = h->in + h->in_len;
      iov.iov_len = sizeof h->in - h->in_len;
      n = recvmsg (h->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n <= 0)
        {
          if (n == 0 || (errno != EAGAIN && errno != EINTR))
            h->dead = TRUE;
          return;
        }
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          for (gsize i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
            close (((int *) CMSG_DATA (c))[i]);
      h->in_len += n;
      timeout_ms = 0;
    }
}

/* Take the first whole message of the input; TRUE with its header and payload if it
 * is the reply to `request`. */
static gboolean
take_reply (Hostile *h, guint32 request, VhostUserPayload *payload)
{
  while (h->in_len >= VHOST_USER_HDR_SIZE)
    {
      VhostUserHeader hdr;
      gsize total;
      gboolean match;

      memcpy (&hdr, h->in, sizeof hdr);
      total = VHOST_USER_HDR_SIZE + MIN (hdr.size, VHOST_USER_MAX_PAYLOAD);
      if (h->in_len < total)
        return FALSE;
      match = hdr.request == request && (hdr.flags & VHOST_USER_FLAG_REPLY);
      if (match && payload != NULL)
        memcpy (payload, h->in + VHOST_USER_HDR_SIZE, MIN (hdr.size, sizeof *payload));
      memmove (h->in, h->in + total, h->in_len - total);
      h->in_len -= total;
      if (match)
        return TRUE;
    }
  return FALSE;
}

/* An fd of a kind the request does not expect, or of the right kind but wrong. */
static int
odd_fd (Hostile *h)
{
  int fd = -1, pipefd[2];

  switch (rnd (h, 4))
    {
    case 0:
      fd = eventfd (0, EFD_CLOEXEC);
      break;
    case 1:
      if (pipe2 (pipefd, O_CLOEXEC) == 0)
        {
          close (pipefd[1]);
          fd = pipefd[0];
        }
      break;
    case 2:
      fd = vhost_test_memfd (4096 * (1 + rnd (h, 4)));
      break;
    default:
      fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
      break;
    }
  return fd;
}

/* Send a message with `fds` (not taken), mutated now and then: bits of the payload,
 * the size, the request code, the flags, the fds, or sent in part (and the
 * connection given up). Then read what came back. */
static void
send_msg (Hostile *h, guint32 request, guint32 flags, const void *payload, gsize len, const int *fds, guint n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
  } control;
  guint8 buf[VHOST_USER_HDR_SIZE + VHOST_USER_MAX_PAYLOAD];
  VhostUserHeader hdr = { request, VHOST_USER_VERSION | flags, len };
  int extra[VHOST_USER_MAX_FDS], send_fds[VHOST_USER_MAX_FDS];
  guint n_extra = 0, n_send = MIN (n_fds, VHOST_USER_MAX_FDS);
  gsize total, cut = 0;
  struct iovec iov;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (h->dead)
    return;
  len = MIN (len, VHOST_USER_MAX_PAYLOAD);
  if (n_send > 0)
    memcpy (send_fds, fds, n_send * sizeof (int));
  if (len > 0)
    memcpy (buf + VHOST_USER_HDR_SIZE, payload, len);
  if (chance (h, 12))
    switch (rnd (h, 7))
      {
      case 0:
        for (guint i = 0; len > 0 && i < 1 + rnd (h, 3); i++)
          buf[VHOST_USER_HDR_SIZE + rnd (h, len)] ^= 1u << rnd (h, 8);
        break;
      case 1:
        hdr.size = chance (h, 2) ? rnd (h, len + 16) : g_rand_int (h->rand);
        break;
      case 2:
        hdr.request = rnd (h, 48);
        break;
      case 3:
        hdr.flags = g_rand_int (h->rand);
        break;
      case 4:
        n_send = 0;
        for (n_extra = 0; n_extra < rnd (h, VHOST_USER_MAX_FDS + 1); n_extra++)
          if ((extra[n_extra] = odd_fd (h)) < 0)
            break;
        memcpy (send_fds, extra, n_extra * sizeof (int));
        n_send = n_extra;
        break;
      case 5:
        n_send = 0;
        break;
      default:
        cut = 1 + rnd (h, VHOST_USER_HDR_SIZE + len);
        break;
      }
  memcpy (buf, &hdr, sizeof hdr);
  total = cut > 0 ? cut : VHOST_USER_HDR_SIZE + len;
  iov.iov_base = buf;
  iov.iov_len = total;
  if (n_send > 0)
    {
      struct cmsghdr *c;

      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_send);
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * n_send);
      memcpy (CMSG_DATA (c), send_fds, sizeof (int) * n_send);
    }
  if (sendmsg (h->sock, &mh, MSG_NOSIGNAL) != (gssize) total)
    h->dead = TRUE;
  for (guint i = 0; i < n_extra; i++)
    close (extra[i]);
  h->stats->messages++;
  /* Half a message: the tool waits for the rest that never comes. */
  if (cut > 0)
    h->dead = TRUE;
  pump (h, 0);
}

static void
send_u64 (Hostile *h, guint32 request, guint64 value)
{
  send_msg (h, request, 0, &value, sizeof value, NULL, 0);
}

static void
send_state (Hostile *h, guint32 request, guint index, guint num)
{
  VhostUserVringState state = { index, num };

  send_msg (h, request, 0, &state, sizeof state, NULL, 0);
}

/* A request with a reply: its u64, or FALSE. */
static gboolean
ask_u64 (Hostile *h, guint32 request, guint64 *value)
{
  VhostUserPayload payload = { 0 };
  /* Not long: a mutated request may never be answered, and the session then ends. */
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC / 4;

  send_msg (h, request, 0, NULL, 0, NULL, 0);
  while (!h->dead && !take_reply (h, request, &payload))
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        return FALSE;
      pump (h, left);
    }
  *value = payload.u64;
  return !h->dead;
}

/* SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR with an fd (or the no-fd flag). */
static void
send_vring_fd (Hostile *h, guint32 request, guint index, int fd)
{
  guint64 value = index | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

  send_msg (h, request, 0, &value, sizeof value, &fd, fd < 0 ? 0 : 1);
}

static guint8 *
ring_mem (Hostile *h, const Queue *q)
{
  return h->mem[0] + q->ring;
}

/* The rings' layout in a queue's 64 KiB: descriptors, then (split) avail, then used
 * at 4 KiB alignment; (packed) the two event areas. */
static void
send_vring_addr (Hostile *h, guint index, gboolean anywhere)
{
  const Queue *q = &h->q[index];
  VhostUserVringAddrWire addr = { index, 0 };
  guint64 base = h->uva[0] + q->ring;

  addr.desc_user_addr = base;
  addr.avail_user_addr = base + 16 * MAX_NUM;
  addr.used_user_addr = base + 16 * MAX_NUM + 4096;
  if (anywhere)
    {
      guint64 *which[] = { &addr.desc_user_addr, &addr.avail_user_addr, &addr.used_user_addr };

      *which[rnd (h, 3)] = chance (h, 2) ? rnd64 (h) : h->uva[0] + MEM_SIZE - rnd (h, 64);
    }
  send_msg (h, VHOST_USER_SET_VRING_ADDR, 0, &addr, sizeof addr, NULL, 0);
}

static void
send_mem_table (Hostile *h, guint n_regions)
{
  VhostUserMemoryWire table = { n_regions, 0 };

  for (guint i = 0; i < n_regions; i++)
    table.regions[i] = (VhostUserRegionWire) { h->gpa[i], MEM_SIZE, h->uva[i], 0 };
  send_msg (h, VHOST_USER_SET_MEM_TABLE, 0, &table, G_STRUCT_OFFSET (VhostUserMemoryWire, regions[n_regions]),
            h->mem_fd, n_regions);
}

/* A guest physical address for a buffer: mostly in the data part of guest memory, else
 * anywhere, across the end, or in the second region. */
static guint64
buffer_gpa (Hostile *h, guint32 len)
{
  switch (chance (h, 6) ? rnd (h, 4) : 4)
    {
    case 0:
      return rnd64 (h);
    case 1:
      return h->gpa[0] + MEM_SIZE - rnd (h, MIN (len, 64) + 1);
    case 2:
      return h->gpa[1] + rnd (h, MEM_SIZE);
    case 3:
      return h->gpa[0] - 1 - rnd (h, 4096);
    default:
      return h->gpa[0] + RING_AREA + rnd (h, MEM_SIZE - RING_AREA - MIN (len, MEM_SIZE - RING_AREA));
    }
}

static guint32
buffer_len (Hostile *h, guint32 usual)
{
  switch (chance (h, 8) ? rnd (h, 4) : 4)
    {
    case 0:
      return 0;
    case 1:
      return G_MAXUINT32 - rnd (h, 16);
    case 2:
      return MEM_SIZE + rnd (h, 4096);
    case 3:
      return rnd (h, 1 << 20);
    default:
      return usual;
    }
}

/* Fill a device request's header in guest memory: a blk request of some type and
 * sector (mostly inside a small disk), or a net header. */
static void
fill_header (Hostile *h, guint64 gpa, guint32 len)
{
  struct virtio_blk_outhdr hdr = { 0 };
  static const guint32 types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
                                   VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, 77 };
  guint64 offset = gpa - h->gpa[0];

  if (gpa < h->gpa[0] || offset < RING_AREA || offset + sizeof hdr > MEM_SIZE || len < sizeof hdr)
    return;
  hdr.type = GUINT32_TO_LE (types[rnd (h, G_N_ELEMENTS (types))]);
  hdr.sector = GUINT64_TO_LE (chance (h, 8) ? rnd64 (h) : rnd (h, 4096));
  memcpy (h->mem[0] + offset, &hdr, sizeof hdr);
}

/* Write one chain of 1 to 4 descriptors (sometimes of garbage, sometimes indirect) at
 * the queue's next place and make it available. */
static void
add_chain (Hostile *h, guint index)
{
  Queue *q = &h->q[index];
  guint8 *ring = ring_mem (h, q);
  guint n = 1 + rnd (h, 4);
  gboolean garbage = chance (h, 5);
  guint16 head = rnd (h, q->num);

  for (guint i = 0; i < n; i++)
    {
      guint32 usual = i == 0 ? 16 : i == n - 1 ? 1 : 512 * (1 + rnd (h, 16));
      guint32 len = buffer_len (h, usual);
      guint64 addr = buffer_gpa (h, len);
      gboolean writable = h->net ? index % 2 == 0 : i > 0 && (i == n - 1 || chance (h, 2));
      guint16 flags = (i + 1 < n ? VRING_DESC_F_NEXT : 0) | (writable ? VRING_DESC_F_WRITE : 0);
      guint16 next = chance (h, 10) ? rnd (h, q->num + 2) : (head + i + 1) % q->num;

      if (garbage)
        {
          flags = rnd (h, 8);
          addr = rnd64 (h);
        }
      if (i == 0 && chance (h, 20))
        {
          /* An indirect table of garbage (or of one descriptor per 16 bytes of
           * whatever is there). */
          flags = VRING_DESC_F_INDIRECT | (chance (h, 4) ? VRING_DESC_F_NEXT : 0);
          len = 16 * rnd (h, 40);
        }
      if (i == 0)
        fill_header (h, addr, len);
      if (h->packed)
        {
          struct vring_packed_desc *d = (struct vring_packed_desc *) ring + (q->avail_idx + i) % q->num;
          guint16 avail = (q->wrap ? 1u << VRING_PACKED_DESC_F_AVAIL : 1u << VRING_PACKED_DESC_F_USED);

          if (chance (h, 16))
            avail = rnd (h, 1u << 16);
          d->addr = GUINT64_TO_LE (addr);
          d->len = GUINT32_TO_LE (len);
          d->id = GUINT16_TO_LE (chance (h, 16) ? rnd (h, 1u << 16) : head);
          __atomic_store_n (&d->flags, GUINT16_TO_LE ((flags & ~(1u << VRING_PACKED_DESC_F_AVAIL)) | avail),
                            __ATOMIC_RELEASE);
        }
      else
        {
          struct vring_desc *d = (struct vring_desc *) ring + (head + i) % q->num;

          d->addr = GUINT64_TO_LE (addr);
          d->len = GUINT32_TO_LE (len);
          d->flags = GUINT16_TO_LE (flags);
          d->next = GUINT16_TO_LE (next);
        }
    }
  if (h->packed)
    {
      guint slot = q->avail_idx + n;

      if (slot >= q->num)
        q->wrap = !q->wrap;
      q->avail_idx = slot % q->num;
    }
  else
    {
      struct vring_avail *avail = (struct vring_avail *) (ring + 16 * MAX_NUM);

      avail->ring[q->avail_idx % q->num] = GUINT16_TO_LE (head);
      /* Indices racing: now and then a jump, backwards or far ahead. */
      q->avail_idx += chance (h, 30) ? rnd (h, 1u << 16) : 1;
      __atomic_store_n (&avail->idx, GUINT16_TO_LE (q->avail_idx), __ATOMIC_RELEASE);
    }
  h->stats->chains++;
}

static void
kick (Hostile *h, guint index)
{
  if (h->q[index].kick >= 0)
    eventfd_write (h->q[index].kick, 1);
}

static void
queue_clear (Queue *q)
{
  if (q->kick >= 0)
    close (q->kick);
  if (q->call >= 0)
    close (q->call);
  q->kick = q->call = -1;
  q->on = FALSE;
}

/* Set a queue up, mostly as a front-end does. */
static void
queue_setup (Hostile *h, guint index)
{
  Queue *q = &h->q[index];
  static const guint sizes[] = { 1, 2, 8, 64, 128, 256 };

  queue_clear (q);
  q->on = TRUE;
  q->num = chance (h, 30) ? rnd (h, 70000) : sizes[rnd (h, G_N_ELEMENTS (sizes))];
  q->ring = (gsize) index * (RING_AREA / MAX_QUEUES);
  q->avail_idx = 0;
  q->wrap = TRUE;
  /* Fresh rings: the used and event areas zero, the descriptors of the last run gone. */
  memset (ring_mem (h, q), 0, RING_AREA / MAX_QUEUES);
  q->kick = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  q->call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  send_state (h, VHOST_USER_SET_VRING_NUM, index, q->num);
  send_vring_addr (h, index, chance (h, 20));
  send_state (h, VHOST_USER_SET_VRING_BASE, index, chance (h, 20) ? rnd (h, 1u << 16) : 0);
  send_vring_fd (h, VHOST_USER_SET_VRING_CALL, index, q->call);
  send_vring_fd (h, VHOST_USER_SET_VRING_KICK, index, chance (h, 30) ? -1 : q->kick);
  if (h->features & VHOST_FEATURE_MASK (VHOST_USER_F_PROTOCOL_FEATURES))
    send_state (h, VHOST_USER_SET_VRING_ENABLE, index, 1);
  /* The queue size the rings hold (a bad one the tool refuses anyway). */
  q->num = CLAMP (q->num, 1, MAX_NUM);
}

/* A change of the control plane while the queues run. */
static void
control_change (Hostile *h)
{
  guint index = rnd (h, h->n_queues);
  guint64 value;

  h->stats->control++;
  switch (rnd (h, 12))
    {
    case 0:
      send_vring_addr (h, index, chance (h, 2));
      break;
    case 1:
      h->gpa[0] = chance (h, 2) ? 0 : (guint64) rnd (h, 1u << 20) << 12;
      send_mem_table (h, 1 + rnd (h, 2));
      break;
    case 2:
      send_state (h, VHOST_USER_GET_VRING_BASE, index, 0);
      h->q[index].on = FALSE;
      break;
    case 3:
      send_state (h, VHOST_USER_SET_VRING_BASE, index, rnd (h, 1u << 16));
      break;
    case 4:
      send_state (h, VHOST_USER_SET_VRING_NUM, index, rnd (h, 2 * MAX_NUM));
      break;
    case 5:
      send_msg (h, chance (h, 2) ? VHOST_USER_RESET_DEVICE : VHOST_USER_RESET_OWNER, 0, NULL, 0, NULL, 0);
      for (guint i = 0; i < h->n_queues; i++)
        h->q[i].on = FALSE;
      break;
    case 6:
      send_state (h, VHOST_USER_SET_VRING_ENABLE, index, rnd (h, 2));
      break;
    case 7:
      send_vring_fd (h, VHOST_USER_SET_VRING_KICK, index, chance (h, 2) ? h->q[index].kick : -1);
      break;
    case 8:
      send_u64 (h, VHOST_USER_SET_FEATURES, h->features ^ VHOST_FEATURE_MASK (rnd (h, 64)));
      break;
    case 9:
      {
        VhostUserConfigWire config = { rnd (h, 300), rnd (h, 300), 0 };

        send_msg (h, VHOST_USER_GET_CONFIG, 0, &config,
                  MIN (VHOST_USER_CONFIG_HDR_SIZE + config.size, sizeof config), NULL, 0);
      }
      break;
    case 10:
      {
        VhostUserMemRegWire reg = { 0 };
        VhostUserRegionWire region = { h->gpa[1], MEM_SIZE, h->uva[1], 0 };

        memcpy ((guint8 *) &reg + sizeof reg.padding, &region, sizeof region);
        send_msg (h, chance (h, 2) ? VHOST_USER_ADD_MEM_REG : VHOST_USER_REM_MEM_REG, 0, &reg,
                  sizeof reg.padding + sizeof region, &h->mem_fd[1], 1);
      }
      break;
    default:
      {
        guint8 payload[64];

        for (guint i = 0; i < sizeof payload; i++)
          payload[i] = g_rand_int (h->rand);
        value = rnd (h, 48);
        send_msg (h, value, 0, payload, rnd (h, sizeof payload), NULL, 0);
      }
      break;
    }
}

static int
connect_to (const char *sock)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  struct timeval connect_timeout = { 30, 0 }, send_timeout = { 2, 0 };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (address.sun_path, sock, sizeof address.sun_path);
  /* The connections the tool has not taken yet wait in its backlog: a full one makes
   * connect() wait, up to a bound past which the tool is stuck. */
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof connect_timeout);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0)
    g_error ("connecting to %s: %s (the tool takes no more connections)", sock, g_strerror (errno));
  /* A tool that stops reading makes sends wait, not hang. */
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  return fd;
}

/* The session of a front-end, mostly right: features, owner, memory, queues; then
 * chains, hostile and not, kicks, and changes of the control plane while they run. */
static void
session (Hostile *h)
{
  guint64 offered = 0, protocol = 0;
  guint rounds;

  if (!ask_u64 (h, VHOST_USER_GET_FEATURES, &offered))
    return;
  h->features = offered & (chance (h, 8) ? rnd64 (h) : ~VHOST_FEATURE_MASK (rnd (h, 64)));
  h->packed = (h->features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0;
  send_u64 (h, VHOST_USER_SET_FEATURES, h->features);
  if ((h->features & VHOST_FEATURE_MASK (VHOST_USER_F_PROTOCOL_FEATURES)) &&
      ask_u64 (h, VHOST_USER_GET_PROTOCOL_FEATURES, &protocol))
    {
      /* Any of them now and then; else those that need nothing more of a front-end. */
      h->protocol_features = protocol & (chance (h, 8) ? rnd64 (h) : ~(guint64) VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS);
      send_u64 (h, VHOST_USER_SET_PROTOCOL_FEATURES, h->protocol_features);
    }
  send_msg (h, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
  h->gpa[0] = chance (h, 2) ? 0 : (guint64) rnd (h, 1u << 20) << 12;
  h->gpa[1] = h->gpa[0] + MEM_SIZE + ((guint64) rnd (h, 16) << 12);
  h->uva[0] = G_GUINT64_CONSTANT (0x7f0000000000) + ((guint64) rnd (h, 1u << 20) << 12);
  h->uva[1] = h->uva[0] + 2 * MEM_SIZE;
  send_mem_table (h, 1 + chance (h, 4));
  for (guint i = 0; i < h->n_queues; i++)
    if (!chance (h, 4))
      queue_setup (h, i);
  rounds = rnd (h, 300);
  for (guint round = 0; round < rounds && !h->dead; round++)
    {
      guint index = rnd (h, h->n_queues);

      if (h->q[index].on)
        {
          for (guint k = 0; k < 1 + rnd (h, 8); k++)
            add_chain (h, index);
          kick (h, index);
        }
      if (chance (h, 25))
        control_change (h);
      if (chance (h, 10) && !h->q[index].on)
        queue_setup (h, index);
      /* Guest memory shrunk under running rings: the guard's case. The connection
       * ends soon after; the file gets its size back after it. */
      if (chance (h, 150))
        {
          g_assert_cmpint (ftruncate (h->mem_fd[0], 4096 * rnd (h, 8)), ==, 0);
          h->truncated = TRUE;
          h->stats->truncations++;
          for (guint i = 0; i < h->n_queues; i++)
            kick (h, i);
          break;
        }
      pump (h, 0);
    }
}

/* One hostile connection, of one of three kinds: bytes, random messages, a session. */
static void
hostile_connection (Hostile *h, const char *sock)
{
  guint kind = rnd (h, 20);

  h->sock = connect_to (sock);
  h->dead = FALSE;
  h->truncated = FALSE;
  h->in_len = 0;
  h->features = h->protocol_features = 0;
  h->packed = FALSE;
  if (kind == 0)
    {
      guint8 bytes[512];

      for (guint i = 0; i < sizeof bytes; i++)
        bytes[i] = g_rand_int (h->rand);
      /* Raw bytes: send_msg() builds a header, so straight to the socket. */
      if (send (h->sock, bytes, 1 + rnd (h, sizeof bytes), MSG_NOSIGNAL) < 0)
        h->dead = TRUE;
      h->stats->messages++;
    }
  else if (kind <= 3)
    {
      for (guint i = 0; i < 1 + rnd (h, 20) && !h->dead; i++)
        {
          guint8 payload[128];
          int fds[3];
          guint n_fds = rnd (h, 4);

          for (guint k = 0; k < sizeof payload; k++)
            payload[k] = g_rand_int (h->rand);
          for (guint k = 0; k < n_fds; k++)
            fds[k] = odd_fd (h);
          send_msg (h, rnd (h, 48), chance (h, 2) ? VHOST_USER_FLAG_NEED_REPLY : 0, payload,
                    rnd (h, sizeof payload), fds, n_fds);
          for (guint k = 0; k < n_fds; k++)
            close (fds[k]);
        }
    }
  else
    session (h);
  /* Gone, at once: whatever was in flight is the tool's to end. */
  close (h->sock);
  h->sock = -1;
  for (guint i = 0; i < MAX_QUEUES; i++)
    queue_clear (&h->q[i]);
  if (h->truncated)
    g_assert_cmpint (ftruncate (h->mem_fd[0], MEM_SIZE), ==, 0);
  h->stats->connections++;
}

typedef struct
{
  guint64 rss_kb;
  guint fds;
} Usage;

/* The tool is alive, a clean front-end's requests complete, and what it holds once
 * that front-end went is measured while a plain one is connected. */
static void
check (const Tool *t, VhostPeer *peer, const char *sock, Stats *stats, Usage *usage)
{
  g_autoptr(VhostUserMaster) master = NULL;

  if (vhost_peer_has_exited (peer))
    {
      g_autofree char *log = vhost_peer_get_log (peer);

      g_error ("%s exited after %" G_GUINT64_FORMAT " hostile connections; its log:\n%s", t->name,
               stats->connections, log);
    }
  stats->requests += vhost_test_front_cycle (sock, t->kind, t->n_queues, 1);
  master = vhost_test_front_connect (sock);
  usage->rss_kb = vhost_peer_get_rss_kb (peer);
  usage->fds = vhost_peer_count_fds (peer);
  stats->checks++;
}

/* A watchdog: if the test makes no step for WATCHDOG_SECONDS (a connect that waits
 * for a tool that takes no more connections, a clean request that does not come
 * back), it prints what each of the tool's threads is doing, once, before the step's
 * own timeout fails the test: a hang shows where it is. */
#define WATCHDOG_SECONDS 5

typedef struct
{
  GMutex lock;
  GCond cond;
  VhostPeer *peer;        /* (not owned) */
  const char *name;
  guint64 steps;          /* (locked by lock) */
  gboolean stop;          /* (locked by lock) */
  GThread *thread;
} Watchdog;

static gpointer
watchdog_run (gpointer data)
{
  Watchdog *wd = data;
  guint64 seen = G_MAXUINT64;
  gboolean told = FALSE;

  g_mutex_lock (&wd->lock);
  while (!wd->stop)
    {
      if (wd->steps != seen)
        seen = wd->steps, told = FALSE;
      else if (!told)
        {
          g_autofree char *threads = vhost_peer_describe_threads (wd->peer);

          g_printerr ("%s: no step of the soak for %d s; the tool's threads:\n%s", wd->name, WATCHDOG_SECONDS,
                      threads);
          told = TRUE;
        }
      g_cond_wait_until (&wd->cond, &wd->lock, g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC);
    }
  g_mutex_unlock (&wd->lock);
  return NULL;
}

static void
watchdog_step (Watchdog *wd)
{
  g_mutex_lock (&wd->lock);
  wd->steps++;
  g_mutex_unlock (&wd->lock);
}

static void
watchdog_start (Watchdog *wd, VhostPeer *peer, const char *name)
{
  g_mutex_init (&wd->lock);
  g_cond_init (&wd->cond);
  wd->peer = peer;
  wd->name = name;
  wd->thread = g_thread_new ("watchdog", watchdog_run, wd);
}

static void
watchdog_stop (Watchdog *wd)
{
  g_mutex_lock (&wd->lock);
  wd->stop = TRUE;
  g_cond_signal (&wd->cond);
  g_mutex_unlock (&wd->lock);
  g_thread_join (wd->thread);
  g_mutex_clear (&wd->lock);
  g_cond_clear (&wd->cond);
}

static guint
soak_seconds (void)
{
  const char *text = g_getenv ("VHOST_SOAK_SECONDS");
  guint64 value = DEFAULT_SECONDS;

  if (text != NULL && text[0] != '\0')
    g_assert_true (g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT32, &value, NULL));
  return value;
}

static void
test_soak (gconstpointer data)
{
  const Tool *t = data;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *sock = g_build_filename (dir, "tool.sock", NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket-path=", sock, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  g_autoptr(VhostPeer) peer = NULL;
  g_autofree char *log = NULL;
  static const char *const reports[] = { "AddressSanitizer", "LeakSanitizer", "runtime error:", "SUMMARY:" };
  Stats stats = { 0 };
  Usage start, now;
  Hostile h = { 0 };
  Watchdog watchdog = { 0 };
  gint64 deadline;
  guint seconds = soak_seconds ();

  g_assert_true (g_file_set_contents (image, "", 0, NULL) && truncate (image, 16 * 1024 * 1024) == 0);
  g_ptr_array_add (argv, g_strdup (g_getenv (t->tool)));
  g_assert_nonnull (argv->pdata[0]);
  g_ptr_array_add (argv, g_strdup (socket_arg));
  for (guint i = 0; i < G_N_ELEMENTS (t->args) && t->args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (t->args[i], "@", -1);

      g_ptr_array_add (argv, g_strjoinv (dir, parts));
    }
  g_ptr_array_add (argv, NULL);
  peer = vhost_peer_start (dir, t->name, "", (const char *const *) argv->pdata);
  vhost_peer_wait_for_socket (peer, sock, 10000);

  h.rand = rand;
  h.stats = &stats;
  h.n_queues = t->n_queues;
  h.net = t->kind == VHOST_TEST_FRONT_NET;
  for (guint i = 0; i < 2; i++)
    {
      h.mem_fd[i] = vhost_test_memfd (MEM_SIZE);
      h.mem[i] = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h.mem_fd[i], 0);
      g_assert_true (h.mem[i] != MAP_FAILED);
    }
  for (guint i = 0; i < MAX_QUEUES; i++)
    h.q[i].kick = h.q[i].call = -1;

  watchdog_start (&watchdog, peer, t->name);
  /* The first check brings every queue up: its threads and buffers are the baseline. */
  check (t, peer, sock, &stats, &start);
  g_test_message ("%s: %u s of hostile front-ends; at the start %" G_GUINT64_FORMAT " KiB of RSS, %u fds", t->name,
                  seconds, start.rss_kb, start.fds);
  deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      hostile_connection (&h, sock);
      watchdog_step (&watchdog);
      if (stats.connections % CHECK_EVERY == 0)
        {
          check (t, peer, sock, &stats, &now);
          watchdog_step (&watchdog);
          g_test_message ("%s: %" G_GUINT64_FORMAT " connections, %" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT
                          " chains: %" G_GUINT64_FORMAT " KiB of RSS, %u fds",
                          t->name, stats.connections, stats.messages, stats.chains, now.rss_kb, now.fds);
          g_assert_cmpuint (now.fds, <=, start.fds + FD_SLACK);
          g_assert_cmpuint (now.rss_kb, <=, start.rss_kb + RSS_SLACK_KB);
        }
    }
  check (t, peer, sock, &stats, &now);
  watchdog_stop (&watchdog);
  g_test_message ("%s: %" G_GUINT64_FORMAT " hostile connections (%" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT
                  " chains made available, %" G_GUINT64_FORMAT " control-plane changes during I/O, %" G_GUINT64_FORMAT
                  " guest memory truncations) in %u s; %" G_GUINT64_FORMAT " clean requests in %u checks; RSS %"
                  G_GUINT64_FORMAT " KiB at the start, %" G_GUINT64_FORMAT " KiB at the end; fds %u at the start, %u "
                  "at the end",
                  t->name, stats.connections, stats.messages, stats.chains, stats.control, stats.truncations, seconds,
                  stats.requests, stats.checks, start.rss_kb, now.rss_kb, start.fds, now.fds);
  g_assert_cmpuint (now.fds, <=, start.fds + FD_SLACK);
  g_assert_cmpuint (now.rss_kb, <=, start.rss_kb + RSS_SLACK_KB);
  g_assert_cmpuint (stats.connections, >, 0);

  /* A clean exit on SIGTERM (under ASan, LeakSanitizer's check at exit included),
   * and nothing reported on the way. */
  vhost_peer_terminate (peer, SIGTERM, sock);
  log = vhost_peer_get_log (peer);
  for (guint i = 0; i < G_N_ELEMENTS (reports); i++)
    if (strstr (log, reports[i]) != NULL)
      g_error ("%s reported \"%s\"; its log:\n%s", t->name, reports[i], log);
  for (guint i = 0; i < 2; i++)
    {
      munmap (h.mem[i], MEM_SIZE);
      close (h.mem_fd[i]);
    }
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  /* Under ASan, the tools keep less freed memory in quarantine, so that their RSS
   * says something about leaks; the options of scripts/test.sh stay. */
  if (VHOST_TEST_SANITIZED)
    {
      g_autofree char *options = g_strconcat (g_getenv ("ASAN_OPTIONS") != NULL ? g_getenv ("ASAN_OPTIONS") : "",
                                              ":quarantine_size_mb=16", NULL);

      g_setenv ("ASAN_OPTIONS", options, TRUE);
    }
  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = g_strdup_printf ("/vhost/interop/soak/%s", tools[i].name);

      g_test_add_data_func (path, &tools[i], test_soak);
    }
  return g_test_run ();
}
