/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's device state (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE): what it owns serialised, the device's bytes beside. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>

#include "vhost-user-dev-private.h"
#include "vhost-inflight.h"

/*
 * The state, version 1, all numbers little-endian:
 *
 *   "vhost-glib-state" (16 bytes), u32 version (1), u32 n_vrings,
 *   u64 acked virtio features,
 *   per vring, n_vrings times:
 *     u32 flags (bit 0: started, bit 1: enabled), u32 num,
 *     u32 base (as GET_VRING_BASE gives it: packed rings carry the used
 *       position in bits 16-31),
 *     u32 size of this queue's inflight region (0: none), then its bytes,
 *   u32 size of the device's own state, then its bytes.
 *
 * The front-end moves it through a pipe: the back-end writes it (save) or
 * reads it (load) in a thread of its own after answering SET_DEVICE_STATE_FD,
 * and says with CHECK_DEVICE_STATE whether that worked (a load is applied
 * then). The queues are stopped all along (the table's STOP column).
 */

#define STATE_MAGIC "vhost-glib-state"
#define STATE_VERSION 1
#define STATE_MAX (64u << 20)      /* a state of more is refused */
#define TRANSFER_TIMEOUT_MS 30000  /* a front-end that stops reading or writing fails the transfer */

enum {
  DIRECTION_SAVE = 0,
  DIRECTION_LOAD = 1,
};

typedef struct _VhostUserDevTransfer
{
  guint direction;
  int fd;                          /* (owned) the pipe; -1 once the thread closed it */
  int wake_fd;                     /* (owned) an eventfd that ends the thread at once */
  GByteArray *data;                /* (owned) what is written, or what was read */
  GThread *thread;                 /* (owned) */
  gboolean ok;                     /* the thread's result, once joined */
  char error[160];
} VhostUserDevTransfer;

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);

  g_byte_array_append (out, (const guint8 *) &le, sizeof le);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  guint64 le = GUINT64_TO_LE (v);

  g_byte_array_append (out, (const guint8 *) &le, sizeof le);
}

/* A reader that refuses to run past the end. */
typedef struct
{
  const guint8 *p;
  gsize left;
} Reader;

static gboolean
get_bytes (Reader *r, gsize n, const guint8 **out)
{
  if (n > r->left)
    return FALSE;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return TRUE;
}

static gboolean
get_u32 (Reader *r, guint32 *v)
{
  const guint8 *p;

  if (!get_bytes (r, sizeof *v, &p))
    return FALSE;
  memcpy (v, p, sizeof *v);
  *v = GUINT32_FROM_LE (*v);
  return TRUE;
}

static gboolean
get_u64 (Reader *r, guint64 *v)
{
  const guint8 *p;

  if (!get_bytes (r, sizeof *v, &p))
    return FALSE;
  memcpy (v, p, sizeof *v);
  *v = GUINT64_FROM_LE (*v);
  return TRUE;
}

static guint64
region_size (VhostUserDev *dev)
{
  return vhost_inflight_region_size (dev->inflight_queue_size,
                                     (dev->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0);
}

static GByteArray *
serialize (VhostUserDev *dev, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) device = NULL;

  if (dev->ops->save_state != NULL && (device = dev->ops->save_state (dev, dev->user_data, error)) == NULL)
    return NULL;
  g_byte_array_append (out, (const guint8 *) STATE_MAGIC, strlen (STATE_MAGIC));
  put_u32 (out, STATE_VERSION);
  put_u32 (out, dev->n_vrings);
  put_u64 (out, dev->acked_features);
  for (guint i = 0; i < dev->n_vrings; i++)
    {
      VhostUserDevVring *vring = &dev->vrings[i];
      guint32 base = vring->base;
      guint64 size = i < dev->inflight_queues ? region_size (dev) : 0;

      /* A ring that ran since its last SET_VRING_BASE knows where it stopped. */
      if (dev->queues[i] != NULL && !vring->base_set)
        base = vhost_ring_get_base (&dev->queues[i]->ring);
      put_u32 (out, (vring->started ? 1 : 0) | (vring->enabled ? 2 : 0));
      put_u32 (out, vring->num);
      put_u32 (out, base);
      put_u32 (out, size);
      if (size > 0)
        g_byte_array_append (out, dev->inflight_area + i * size, size);
    }
  put_u32 (out, device != NULL ? g_bytes_get_size (device) : 0);
  if (device != NULL)
    g_byte_array_append (out, g_bytes_get_data (device, NULL), g_bytes_get_size (device));
  return g_steal_pointer (&out);
}

/* Apply a loaded state. Everything is checked before anything changes. */
static gboolean
apply (VhostUserDev *dev, const GByteArray *data, GError **error)
{
  Reader r = { data->data, data->len };
  const guint8 *magic, *bytes;
  guint32 version, n_vrings, device_size;
  guint64 features;
  Reader check;

  if (!get_bytes (&r, strlen (STATE_MAGIC), &magic) || memcmp (magic, STATE_MAGIC, strlen (STATE_MAGIC)) != 0 ||
      !get_u32 (&r, &version) || !get_u32 (&r, &n_vrings) || !get_u64 (&r, &features))
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "CHECK_DEVICE_STATE: the state is not one of vhost-glib's");
      return FALSE;
    }
  if (version != STATE_VERSION || n_vrings != dev->n_vrings || features != dev->acked_features)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "CHECK_DEVICE_STATE: a state of version %u for %u queues and features 0x%" G_GINT64_MODIFIER
                   "x does not fit this device (version %u, %u queues, features 0x%" G_GINT64_MODIFIER "x)",
                   version, n_vrings, features, STATE_VERSION, dev->n_vrings, dev->acked_features);
      return FALSE;
    }
  /* A first pass checks, the second applies. */
  check = r;
  for (guint pass = 0; pass < 2; pass++)
    {
      r = check;
      for (guint i = 0; i < n_vrings; i++)
        {
          guint32 flags, num, base, size;

          if (!get_u32 (&r, &flags) || !get_u32 (&r, &num) || !get_u32 (&r, &base) || !get_u32 (&r, &size) ||
              !get_bytes (&r, size, &bytes))
            {
              g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "CHECK_DEVICE_STATE: vring %u is cut short",
                           i);
              return FALSE;
            }
          if (size > 0 && (dev->inflight_area == NULL || i >= dev->inflight_queues || size != region_size (dev)))
            {
              g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "CHECK_DEVICE_STATE: vring %u has an inflight region of %u bytes, and this device's "
                           "inflight area (SET_INFLIGHT_FD) has no such one", i, size);
              return FALSE;
            }
          if (pass == 0)
            continue;
          dev->vrings[i].num = num;
          dev->vrings[i].base = base;
          dev->vrings[i].base_set = TRUE;
          vhost_user_dev_vring_set_state (dev, i, dev->vrings[i].started, (flags & 2) != 0);
          if (size > 0)
            {
              memcpy (dev->inflight_area + i * size, bytes, size);
              dev->inflight_recover[i] = TRUE;
            }
        }
      if (!get_u32 (&r, &device_size) || !get_bytes (&r, device_size, &bytes) || r.left != 0)
        {
          g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                               "CHECK_DEVICE_STATE: the device's part of the state is cut short or followed by more");
          return FALSE;
        }
    }
  if (dev->ops->load_state != NULL)
    {
      g_autoptr(GBytes) device = g_bytes_new (bytes, device_size);

      return dev->ops->load_state (dev, device, dev->user_data, error);
    }
  if (device_size > 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                           "CHECK_DEVICE_STATE: the state has device bytes and the device loads none");
      return FALSE;
    }
  return TRUE;
}

/* The transfer thread: the whole state through the pipe, or an error, within
 * TRANSFER_TIMEOUT_MS of no progress. Touches nothing but its transfer. */
static gpointer
transfer_thread (gpointer data)
{
  VhostUserDevTransfer *t = data;
  gsize done = 0;

  for (;;)
    {
      struct pollfd pfd[2] = { { t->fd, t->direction == DIRECTION_SAVE ? POLLOUT : POLLIN, 0 },
                               { t->wake_fd, POLLIN, 0 } };
      guint8 buffer[65536];
      gssize n;

      if (t->direction == DIRECTION_SAVE && done == t->data->len)
        {
          /* The end of the state: the front-end reads until it sees it. */
          close (t->fd);
          t->fd = -1;
          break;
        }
      n = poll (pfd, 2, TRANSFER_TIMEOUT_MS);
      if (n > 0 && (pfd[1].revents & POLLIN))
        {
          g_strlcpy (t->error, "the connection ended", sizeof t->error);
          return NULL;
        }
      if (n == 0)
        {
          g_snprintf (t->error, sizeof t->error, "the front-end stopped %s the state",
                      t->direction == DIRECTION_SAVE ? "reading" : "writing");
          return NULL;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (t->direction == DIRECTION_SAVE)
        n = write (t->fd, t->data->data + done, t->data->len - done);
      else
        n = read (t->fd, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n < 0)
        {
          g_snprintf (t->error, sizeof t->error, "%s: %s", t->direction == DIRECTION_SAVE ? "write" : "read",
                      g_strerror (errno));
          return NULL;
        }
      if (t->direction == DIRECTION_SAVE)
        done += n;
      else if (n == 0)
        break;
      else if (t->data->len + n > STATE_MAX)
        {
          g_snprintf (t->error, sizeof t->error, "the state is larger than %u bytes", STATE_MAX);
          return NULL;
        }
      else
        g_byte_array_append (t->data, buffer, n);
    }
  t->ok = TRUE;
  return NULL;
}

/* Wait for the transfer's thread and forget it; its result. */
static gboolean
transfer_finish (VhostUserDev *dev, GByteArray **data, GError **error)
{
  VhostUserDevTransfer *t = dev->transfer;
  gboolean ok;

  dev->transfer = NULL;
  g_thread_join (t->thread);
  if (t->fd >= 0)
    close (t->fd);
  close (t->wake_fd);
  ok = t->ok;
  if (!ok)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "CHECK_DEVICE_STATE: the transfer failed: %s", t->error);
  if (ok && data != NULL)
    *data = g_steal_pointer (&t->data);
  if (t->data != NULL)
    g_byte_array_unref (t->data);
  g_free (t);
  return ok;
}

void
vhost_user_dev_state_clear (VhostUserDev *dev)
{
  if (dev->transfer != NULL)
    {
      eventfd_write (dev->transfer->wake_fd, 1);
      transfer_finish (dev, NULL, NULL);
    }
}

gboolean
vhost_user_dev_request_set_device_state_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                            GError **error)
{
  const VhostUserDeviceStateWire *wire = &msg->payload.device_state;
  VhostUserDevTransfer *t;
  g_autoptr(GByteArray) data = NULL;

  if (wire->direction > DIRECTION_LOAD || wire->phase != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_DEVICE_STATE_FD: direction %u, phase %u (0 or 1, and 0: stopped)", wire->direction, wire->phase);
      return FALSE;
    }
  if (dev->transfer != NULL)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                           "SET_DEVICE_STATE_FD: a transfer is under way (CHECK_DEVICE_STATE ends it)");
      return FALSE;
    }
  if (wire->direction == DIRECTION_SAVE && (data = serialize (dev, error)) == NULL)
    return FALSE;
  t = g_new0 (VhostUserDevTransfer, 1);
  t->direction = wire->direction;
  t->fd = vhost_user_msg_take_fd (msg, 0);
  t->wake_fd = eventfd (0, EFD_CLOEXEC);
  t->data = data != NULL ? g_steal_pointer (&data) : g_byte_array_new ();
  /* The pipe is used without blocking, so that the timeout holds. */
  fcntl (t->fd, F_SETFL, fcntl (t->fd, F_GETFL) | O_NONBLOCK);
  t->thread = g_thread_new ("vhost-state", transfer_thread, t);
  dev->transfer = t;
  /* Our answer: use the front-end's fd, we have none of our own. */
  reply->payload.u64 = VHOST_USER_DEVICE_STATE_NOFD;
  return TRUE;
}

gboolean
vhost_user_dev_request_check_device_state (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                           GError **error)
{
  g_autoptr(GByteArray) data = NULL;
  guint direction;

  if (dev->transfer == NULL)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                           "CHECK_DEVICE_STATE: no transfer (SET_DEVICE_STATE_FD starts one)");
      return FALSE;
    }
  direction = dev->transfer->direction;
  if (!transfer_finish (dev, &data, error))
    return FALSE;
  return direction == DIRECTION_SAVE || apply (dev, data, error);
}
