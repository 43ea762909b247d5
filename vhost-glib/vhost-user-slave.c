/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave: the vhost-user back-end: serves a device, keeps the negotiated state, maps guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-slave.h"
#include "vhost-enum-types.h"
#include "vhost-user-channel-private.h"
#include "vhost-user-slave-private.h"
#include "vhost-virtqueue-private.h"

/**
 * SECTION:vhost-user-slave
 * @title: VhostUserSlave
 * @short_description: the vhost-user back-end
 *
 * #VhostUserSlave is the back-end of the vhost-user protocol: the side that
 * serves a virtio device to a front-end such as QEMU. (The specification once
 * called it the "slave"; it now says "back-end".) It listens on a socket path
 * (vhost_user_slave_listen()), serves a socket that is already connected
 * (vhost_user_slave_serve_fd()), or connects out to a front-end that listens
 * (vhost_user_slave_connect_to()). One front-end is served at a time; when it goes
 * away, a listening slave accepts the next one.
 *
 * The slave decodes and validates every request, keeps the negotiated state
 * (features, protocol features, status, each queue's size, addresses, base and
 * eventfds), and maps the guest memory regions of SET_MEM_TABLE and ADD_MEM_REG
 * after checking their bounds against the file that backs them. A device is a
 * subclass that overrides the virtual functions of #VhostUserSlaveClass, in C
 * or in a language with GObject-Introspection bindings.
 *
 * A request that is malformed, or whose values are out of range, ends the
 * connection: #VhostUserSlave::disconnected carries a #GError in the
 * %VHOST_ERROR domain that names the request. A request that the device refuses
 * is answered with a failure status when the front-end asked for one (REPLY_ACK),
 * and otherwise ends the connection too. #VhostUserSlave::request-handled reports
 * each request.
 *
 * The slave's sockets are watched on the #GMainContext that was the
 * thread-default one when it was created; its virtual functions and signals run
 * there. Use it from the thread that owns that context.
 */

/**
 * VhostUserSlave:
 *
 * A vhost-user back-end. All its fields are private.
 */

#define DEFAULT_MAX_QUEUE_SIZE 1024
#define MAX_MEM_SLOTS 256

#define DEFAULT_PROTOCOL_FEATURES                                                                   \
  ((guint64) (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_LOG_SHMFD |                        \
              VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_BACKEND_REQ |               \
              VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD |              \
              VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD |        \
              VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS |   \
              VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_F_STATUS |          \
              VHOST_USER_PROTOCOL_F_SHARED_OBJECT))

typedef struct
{
  guint num;
  guint base;
  VhostUserVringAddrWire addr;
  gboolean addr_set;
  gboolean base_set;             /* base is to be applied when the ring next starts */
  int kick_fd;                   /* (owned) */
  int call_fd;                   /* (owned) */
  int err_fd;                    /* (owned) */
  gboolean started;
  gboolean enabled;
} SlaveVring;

typedef struct
{
  VhostUserRegionWire wire;
  guint8 *map;                   /* (owned) the mapping of the fd from offset 0 */
  gsize map_size;
  guint refs;                    /* ADD_MEM_REGs of this very region not yet removed */
} SlaveRegion;

typedef struct
{
  GMainContext *context;         /* (owned) */
  GSocket *listener;             /* (owned) (nullable) */
  GSource *listen_source;        /* (owned) (nullable) */
  char *listen_path;             /* (owned) (nullable) the socket file we created */
  VhostUserChannel *channel;     /* (owned) (nullable) the front-end's connection */
  VhostUserChannel *backend;     /* (owned) (nullable) the back-end request channel */
  GBytes *config;                /* (owned) (nullable) */

  guint64 offered_features;
  guint64 acked_features;
  guint64 offered_protocol_features;
  guint64 acked_protocol_features;
  gboolean features_set;
  guint8 status;

  GArray *regions;               /* (element-type SlaveRegion) (owned) */
  SlaveVring *vrings;            /* (owned) (array length=n_vrings) */
  guint n_vrings;
  guint max_queue_size;

  guint8 *log_map;               /* (owned) (nullable) the mapping, from file offset 0 */
  guint8 *log_area;              /* (nullable) the log itself, at its mmap_offset in log_map */
  guint64 log_area_size;
  gsize log_map_size;
  int log_call_fd;               /* (owned) */
  int inflight_fd;               /* (owned) */

  VhostMem *mem;                 /* (owned) the regions as the rings see them; rebuilt while queues are stopped */
  GPtrArray *queues;             /* (element-type VhostVirtqueue) (owned) */
  GHashTable *workers;           /* (owned) worker group → VhostWorker */
  guint mem_epoch;               /* bumped whenever guest memory is unmapped */
  guint busy_poll_us;
} VhostUserSlavePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserSlave, vhost_user_slave, G_TYPE_OBJECT)

/**
 * VhostUserSlaveClass::get_config:
 * @slave: the #VhostUserSlave
 * @offset: the offset in the configuration space
 * @size: how many bytes to read
 * @error: return location for a #GError
 *
 * Reads the device's configuration space for GET_CONFIG.
 *
 * Returns: (transfer full): exactly @size bytes, or %NULL with @error set
 */

/**
 * VhostUserSlaveClass::device_request:
 * @slave: the #VhostUserSlave
 * @request: the request
 * @payload: the request's payload, in the wire format of the specification
 * @fds: the file descriptors that came with it; duplicate those to keep
 * @reply: (out) (transfer full) (nullable): the payload of the reply, for the
 *   requests that have one
 * @reply_fds: (out) (transfer full) (nullable): the file descriptors to send
 *   with the reply
 * @error: return location for a #GError
 *
 * Handles a device-specific request. See #VhostUserSlaveClass.
 *
 * Returns: %TRUE on success
 */

#define DEFAULT_BUSY_POLL_US 32

enum {
  PROP_0,
  PROP_BUSY_POLL_US,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_DISCONNECTED,
  SIGNAL_REQUEST_HANDLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define PRIV(self) ((VhostUserSlavePrivate *) vhost_user_slave_get_instance_private (self))

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static void
region_unmap (SlaveRegion *region)
{
  if (region->map != NULL)
    munmap (region->map, region->map_size);
  region->map = NULL;
}

/* Guest memory went away: requests that bindings still hold become stale. */
static void
slave_memory_unmapped (VhostUserSlavePrivate *priv)
{
  priv->mem_epoch++;
  for (guint i = 0; i < priv->queues->len; i++)
    vhost_virtqueue_set_mem_epoch (g_ptr_array_index (priv->queues, i), priv->mem_epoch);
}

static void
slave_clear_regions (VhostUserSlavePrivate *priv)
{
  if (priv->regions->len == 0)
    return;
  for (guint i = 0; i < priv->regions->len; i++)
    region_unmap (&g_array_index (priv->regions, SlaveRegion, i));
  g_array_set_size (priv->regions, 0);
  slave_memory_unmapped (priv);
}

static void
vring_stop_notify (VhostUserSlave *self, guint index, gboolean started, gboolean enabled)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  SlaveVring *vring = &priv->vrings[index];

  if (vring->started == started && vring->enabled == enabled)
    return;
  vring->started = started;
  vring->enabled = enabled;
  VHOST_USER_SLAVE_GET_CLASS (self)->vring_state_changed (self, index, started, enabled);
}

/* The data plane. Requests that change what a ring sees (memory, features, log,
 * vring settings, status) are handled with every queue stopped: stopping a queue
 * waits until its worker is outside it, so nothing reads a region while it is
 * unmapped or a ring while it is reconfigured. The queues that should run are
 * then started again from the new state.
 *
 * Every worker is held outside its handlers meanwhile: a handler may use the
 * other queues of its worker group, so none of them may change while it runs.
 * Pauses nest, so the stops and starts in between may pause again. */
static GPtrArray *
slave_pause_workers (VhostUserSlavePrivate *priv)
{
  GPtrArray *paused = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer worker;

  g_hash_table_iter_init (&iter, priv->workers);
  while (g_hash_table_iter_next (&iter, NULL, &worker))
    {
      vhost_worker_pause (worker);
      g_ptr_array_add (paused, worker);
    }
  return paused;
}

static void
slave_resume_workers (GPtrArray *paused)
{
  for (guint i = 0; i < paused->len; i++)
    vhost_worker_resume (g_ptr_array_index (paused, i));
  g_ptr_array_unref (paused);
}

static void
slave_stop_queues (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  GPtrArray *paused = slave_pause_workers (priv);

  for (guint i = 0; i < priv->queues->len; i++)
    vhost_virtqueue_stop (g_ptr_array_index (priv->queues, i));
  slave_resume_workers (paused);
}

static VhostWorker *
slave_get_worker (VhostUserSlave *self, guint group)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  VhostWorker *worker = g_hash_table_lookup (priv->workers, GUINT_TO_POINTER (group));
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  if (worker != NULL)
    return worker;
  name = g_strdup_printf ("vhost-worker-%u", group);
  worker = vhost_worker_new (name, &error);
  if (worker == NULL)
    {
      g_warning ("%s", error->message);
      return NULL;
    }
  vhost_worker_set_poll_us (worker, priv->busy_poll_us);
  g_hash_table_insert (priv->workers, GUINT_TO_POINTER (group), worker);
  return worker;
}

static void
slave_rebuild_mem (VhostUserSlavePrivate *priv)
{
  VhostMem *mem = priv->mem;

  mem->n_regions = priv->regions->len;
  for (guint i = 0; i < priv->regions->len; i++)
    {
      SlaveRegion *region = &g_array_index (priv->regions, SlaveRegion, i);

      mem->regions[i].gpa = region->wire.guest_phys_addr;
      mem->regions[i].size = region->wire.memory_size;
      mem->regions[i].uaddr = region->wire.userspace_addr;
      mem->regions[i].hva = region->map + region->wire.mmap_offset;
    }
  mem->log = priv->log_area;
  mem->log_size = priv->log_area_size;
}

static void
slave_start_queues (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  guint64 features = priv->acked_features;
  GPtrArray *paused = slave_pause_workers (priv);

  slave_rebuild_mem (priv);
  for (guint i = 0; i < priv->n_vrings; i++)
    {
      SlaveVring *vring = &priv->vrings[i];
      VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (self, i);
      VhostRing *ring;
      VhostWorker *worker = NULL;

      /* A ring without a kick fd is polled (SET_VRING_KICK with the invalid-fd flag). */
      if (!vring->started || !vring->enabled || vring->num == 0 || !vring->addr_set ||
          priv->mem->n_regions == 0 || vhost_virtqueue_get_running (queue))
        continue;
      ring = vhost_virtqueue_get_ring (queue);
      ring->mem = priv->mem;
      ring->num = vring->num;
      ring->packed = (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0;
      ring->event_idx = (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX)) != 0;
      ring->indirect = (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC)) != 0;
      ring->in_order = (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER)) != 0;
      ring->log_all = (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL)) != 0;
      ring->desc_uaddr = vring->addr.desc_user_addr;
      ring->avail_uaddr = vring->addr.avail_user_addr;
      ring->used_uaddr = vring->addr.used_user_addr;
      ring->call_fd = vring->call_fd;
      if (vring->base_set)
        {
          vhost_ring_set_base (ring, vring->base);
          vring->base_set = FALSE;
        }
      if (vhost_virtqueue_get_dispatch (queue) == VHOST_VIRTQUEUE_DISPATCH_WORKER)
        worker = slave_get_worker (self, vhost_virtqueue_get_worker_group (queue));
      vhost_virtqueue_start (queue, worker, vring->kick_fd);
    }
  slave_resume_workers (paused);
}

static gboolean
request_changes_queues (VhostUserSlavePrivate *priv, const VhostUserMsg *msg)
{
  switch (msg->hdr.request)
    {
    case VHOST_USER_VRING_KICK:
      /* The first in-band kick starts the ring; later ones only wake it. */
      return msg->payload.state.index < priv->n_vrings && !priv->vrings[msg->payload.state.index].started;
    case VHOST_USER_SET_FEATURES:
    case VHOST_USER_RESET_OWNER:
    case VHOST_USER_SET_MEM_TABLE:
    case VHOST_USER_ADD_MEM_REG:
    case VHOST_USER_REM_MEM_REG:
    case VHOST_USER_SET_LOG_BASE:
    case VHOST_USER_SET_VRING_NUM:
    case VHOST_USER_SET_VRING_ADDR:
    case VHOST_USER_SET_VRING_BASE:
    case VHOST_USER_GET_VRING_BASE:
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
    case VHOST_USER_SET_VRING_ENABLE:
    case VHOST_USER_RESET_DEVICE:
    case VHOST_USER_SET_STATUS:
      return TRUE;
    default:
      return FALSE;
    }
}

/* A queue's driver broke the ring rules: tell the front-end. */
static void
queue_broken_cb (VhostVirtqueue *queue, GError *error, VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  guint index = vhost_virtqueue_get_index (queue);

  if (priv->acked_protocol_features & VHOST_USER_PROTOCOL_F_STATUS)
    priv->status |= VHOST_VIRTIO_STATUS_NEEDS_RESET;
  if (index < priv->n_vrings && priv->vrings[index].err_fd >= 0)
    eventfd_write (priv->vrings[index].err_fd, 1);
}

/**
 * vhost_user_slave_get_virtqueue:
 * @slave: a #VhostUserSlave
 * @index: a queue index, below what #VhostUserSlaveClass.get_num_queues returns
 *
 * Gets one of the device's queues, to set how it is processed. The queue objects
 * live as long as the slave and serve every connection in turn.
 *
 * Returns: (transfer none): the queue
 */
VhostVirtqueue *
vhost_user_slave_get_virtqueue (VhostUserSlave *slave, guint index)
{
  VhostUserSlavePrivate *priv;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), NULL);
  g_return_val_if_fail (index < VHOST_USER_MAX_QUEUES, NULL);

  priv = PRIV (slave);
  while (priv->queues->len <= index)
    {
      VhostVirtqueue *queue = vhost_virtqueue_new (priv->queues->len, priv->context);

      vhost_virtqueue_set_mem_epoch (queue, priv->mem_epoch);
      g_signal_connect_object (queue, "broken", G_CALLBACK (queue_broken_cb), slave, 0);
      g_ptr_array_add (priv->queues, queue);
    }
  return g_ptr_array_index (priv->queues, index);
}

/**
 * vhost_user_slave_set_busy_poll_us:
 * @slave: a #VhostUserSlave
 * @usec: how long a worker keeps polling its queues after the last work, in
 *   microseconds; 0 to sleep on the kick eventfds at once
 *
 * Sets #VhostUserSlave:busy-poll-us.
 */
void
vhost_user_slave_set_busy_poll_us (VhostUserSlave *slave, guint usec)
{
  VhostUserSlavePrivate *priv;
  GHashTableIter iter;
  gpointer worker;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));

  priv = PRIV (slave);
  if (priv->busy_poll_us == usec)
    return;
  priv->busy_poll_us = usec;
  g_hash_table_iter_init (&iter, priv->workers);
  while (g_hash_table_iter_next (&iter, NULL, &worker))
    vhost_worker_set_poll_us (worker, usec);
  g_object_notify_by_pspec (G_OBJECT (slave), properties[PROP_BUSY_POLL_US]);
}

/**
 * vhost_user_slave_get_busy_poll_us:
 * @slave: a #VhostUserSlave
 *
 * Gets the value of #VhostUserSlave:busy-poll-us.
 *
 * Returns: #VhostUserSlave:busy-poll-us
 */
guint
vhost_user_slave_get_busy_poll_us (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->busy_poll_us;
}

static void
slave_reset_vrings (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  slave_stop_queues (self);
  for (guint i = 0; i < priv->queues->len; i++)
    vhost_ring_init (vhost_virtqueue_get_ring (g_ptr_array_index (priv->queues, i)), i);
  for (guint i = 0; i < priv->n_vrings; i++)
    {
      SlaveVring *vring = &priv->vrings[i];

      vring_stop_notify (self, i, FALSE, FALSE);
      close_fd (&vring->kick_fd);
      close_fd (&vring->call_fd);
      close_fd (&vring->err_fd);
      memset (vring, 0, sizeof *vring);
      vring->kick_fd = vring->call_fd = vring->err_fd = -1;
    }
}

static void
slave_clear_log (VhostUserSlavePrivate *priv)
{
  if (priv->log_map != NULL)
    munmap (priv->log_map, priv->log_map_size);
  priv->log_map = NULL;
  priv->log_map_size = 0;
  priv->log_area = NULL;
  priv->log_area_size = 0;
  close_fd (&priv->log_call_fd);
}

/* Forget everything negotiated on a connection. */
static void
slave_reset_session (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  slave_reset_vrings (self);
  g_clear_pointer (&priv->vrings, g_free);
  priv->n_vrings = 0;
  slave_clear_regions (priv);
  slave_clear_log (priv);
  close_fd (&priv->inflight_fd);
  g_clear_pointer (&priv->backend, vhost_user_channel_unref);
  priv->acked_features = 0;
  priv->acked_protocol_features = 0;
  priv->features_set = FALSE;
  priv->status = 0;
}

static void slave_start_listening (VhostUserSlave *self);

static void
slave_end_connection (VhostUserSlave *self, const GError *error)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (priv->channel == NULL)
    return;
  g_object_ref (self);
  if (priv->backend != NULL)
    vhost_user_channel_close (priv->backend);
  vhost_user_channel_close (priv->channel);
  g_clear_pointer (&priv->channel, vhost_user_channel_unref);
  slave_reset_session (self);
  if (error != NULL)
    g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
  slave_start_listening (self);
  g_object_unref (self);
}

static void
slave_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  slave_end_connection (VHOST_USER_SLAVE (user_data), error);
}

static void
backend_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (user_data));

  g_debug ("The back-end request channel closed: %s", error->message);
  g_clear_pointer (&priv->backend, vhost_user_channel_unref);
}

static gboolean
check_vring_index (VhostUserSlave *self, const char *what, guint index, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (index >= priv->n_vrings)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: vring index %u out of range (the device has %u queues)", what, index, priv->n_vrings);
      return FALSE;
    }
  return TRUE;
}

/* Map a region from its fd, after checking that the fd really holds it. */
static gboolean
region_map (SlaveRegion *region, const VhostUserRegionWire *wire, int fd, const char *what, guint i,
            GError **error)
{
  struct stat st;
  guint64 end = wire->mmap_offset + wire->memory_size;
  gsize align;
  void *map;

  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "%s: region %u: the file descriptor is not a memory file (memfd, hugetlbfs or regular file)",
                   what, i);
      return FALSE;
    }
  if ((guint64) st.st_size < end)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "%s: region %u needs %" G_GUINT64_FORMAT " bytes of its file, which holds %" G_GINT64_FORMAT,
                   what, i, end, (gint64) st.st_size);
      return FALSE;
    }
  align = st.st_blksize > 0 ? (gsize) st.st_blksize : 4096;
  if (end > G_MAXSIZE - align)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "%s: region %u is too large to map", what, i);
      return FALSE;
    }
  region->map_size = (end + align - 1) / align * align;
  map = mmap (NULL, region->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (map == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "%s: region %u: mmap failed: %s", what, i,
                   g_strerror (errsv));
      region->map = NULL;
      return FALSE;
    }
  region->map = map;
  region->wire = *wire;
  region->refs = 1;
  return TRUE;
}

static gboolean
handle_set_mem_table (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserMemoryWire *memory = &msg->payload.memory;
  g_autoptr(GArray) regions = g_array_sized_new (FALSE, TRUE, sizeof (SlaveRegion), memory->nregions);

  for (guint i = 0; i < memory->nregions; i++)
    {
      SlaveRegion region = { 0 };

      if (!region_map (&region, &memory->regions[i], msg->fds[i], "SET_MEM_TABLE", i, error))
        {
          for (guint j = 0; j < regions->len; j++)
            region_unmap (&g_array_index (regions, SlaveRegion, j));
          return FALSE;
        }
      g_array_append_val (regions, region);
    }
  slave_clear_regions (priv);
  g_array_append_vals (priv->regions, regions->data, regions->len);
  return TRUE;
}

static gboolean
handle_add_mem_reg (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  g_autofree VhostUserRegionWire *all = g_new (VhostUserRegionWire, priv->regions->len + 1);
  SlaveRegion region = { 0 };

  /* QEMU adds the same regions once per vhost device, and a vhost-user-net with
   * several queue pairs is one device per pair on one connection: the same region
   * again is counted, and unmapped when removed as many times. */
  for (guint i = 0; i < priv->regions->len; i++)
    {
      SlaveRegion *same = &g_array_index (priv->regions, SlaveRegion, i);

      if (memcmp (&same->wire, &msg->payload.mem_reg.region, sizeof same->wire) == 0)
        {
          same->refs++;
          return TRUE;
        }
    }
  if (priv->regions->len >= MAX_MEM_SLOTS)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "ADD_MEM_REG: all %u slots are in use",
                   MAX_MEM_SLOTS);
      return FALSE;
    }
  for (guint i = 0; i < priv->regions->len; i++)
    all[i] = g_array_index (priv->regions, SlaveRegion, i).wire;
  all[priv->regions->len] = msg->payload.mem_reg.region;
  if (!vhost_user_regions_validate (all, priv->regions->len + 1, "ADD_MEM_REG", error) ||
      !region_map (&region, &msg->payload.mem_reg.region, msg->fds[0], "ADD_MEM_REG", priv->regions->len, error))
    return FALSE;
  g_array_append_val (priv->regions, region);
  return TRUE;
}

static gboolean
handle_rem_mem_reg (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserRegionWire *wire = &msg->payload.mem_reg.region;

  for (guint i = 0; i < priv->regions->len; i++)
    {
      SlaveRegion *region = &g_array_index (priv->regions, SlaveRegion, i);

      if (region->wire.guest_phys_addr == wire->guest_phys_addr &&
          region->wire.userspace_addr == wire->userspace_addr &&
          region->wire.memory_size == wire->memory_size)
        {
          if (--region->refs > 0)
            return TRUE;
          region_unmap (region);
          g_array_remove_index (priv->regions, i);
          slave_memory_unmapped (priv);
          return TRUE;
        }
    }
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
               "REM_MEM_REG: no region at guest address 0x%" G_GINT64_MODIFIER "x of size %" G_GUINT64_FORMAT,
               wire->guest_phys_addr, wire->memory_size);
  return FALSE;
}

static gboolean
handle_set_log_base (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserLogWire *log = &msg->payload.log;
  SlaveRegion map = { 0 };
  VhostUserRegionWire wire = { 0, log->mmap_size, 0, log->mmap_offset };

  if (msg->n_fds == 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_FDS,
                           "SET_LOG_BASE: no file descriptor; the log is only shared as memory (LOG_SHMFD)");
      return FALSE;
    }
  if (log->mmap_size == 0 || log->mmap_offset + log->mmap_size < log->mmap_offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_LOG_BASE: bad log area (offset %" G_GUINT64_FORMAT ", size %" G_GUINT64_FORMAT ")",
                   log->mmap_offset, log->mmap_size);
      return FALSE;
    }
  if (!region_map (&map, &wire, msg->fds[0], "SET_LOG_BASE", 0, error))
    return FALSE;
  slave_clear_log (priv);
  priv->log_map = map.map;
  priv->log_map_size = map.map_size;
  priv->log_area = map.map + log->mmap_offset;
  priv->log_area_size = log->mmap_size;
  return TRUE;
}

static gboolean
handle_vring_fd (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const char *name = vhost_user_request_get_name (msg->hdr.request);
  guint index = msg->payload.u64 & VHOST_USER_VRING_IDX_MASK;
  SlaveVring *vring;
  int fd;

  if (!check_vring_index (self, name, index, error))
    return FALSE;
  vring = &priv->vrings[index];
  fd = (msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK) ? -1 : vhost_user_msg_take_fd (msg, 0);
  switch (msg->hdr.request)
    {
    case VHOST_USER_SET_VRING_KICK:
      close_fd (&vring->kick_fd);
      vring->kick_fd = fd;
      /* The ring starts on SET_VRING_KICK; without protocol features it starts enabled. */
      vring_stop_notify (self, index, TRUE,
                         vring->enabled ||
                           !(priv->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES)));
      break;
    case VHOST_USER_SET_VRING_CALL:
      close_fd (&vring->call_fd);
      vring->call_fd = fd;
      break;
    default:
      close_fd (&vring->err_fd);
      vring->err_fd = fd;
      break;
    }
  return TRUE;
}

static gboolean
handle_set_vring_num (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  guint num = msg->payload.state.num;
  gboolean packed = (priv->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0;

  if (!check_vring_index (self, "SET_VRING_NUM", msg->payload.state.index, error))
    return FALSE;
  if (num == 0 || num > priv->max_queue_size || num > 32768 || (!packed && (num & (num - 1)) != 0))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_VRING_NUM: vring %u: size %u is not %sbetween 1 and %u", msg->payload.state.index, num,
                   packed ? "" : "a power of two ", priv->max_queue_size);
      return FALSE;
    }
  priv->vrings[msg->payload.state.index].num = num;
  return TRUE;
}

static gboolean
handle_get_config (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  const VhostUserConfigWire *config = &msg->payload.config;
  g_autoptr(GBytes) bytes = NULL;
  VhostUserMsg reply;

  bytes = VHOST_USER_SLAVE_GET_CLASS (self)->get_config (self, config->offset, config->size, error);
  if (bytes == NULL)
    return FALSE;
  if (g_bytes_get_size (bytes) != config->size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_FAILED,
                   "GET_CONFIG: the device gave %" G_GSIZE_FORMAT " bytes for a read of %u",
                   g_bytes_get_size (bytes), config->size);
      return FALSE;
    }
  vhost_user_msg_init_reply (&reply, msg, VHOST_USER_CONFIG_HDR_SIZE + config->size);
  reply.payload.config.offset = config->offset;
  reply.payload.config.size = config->size;
  reply.payload.config.flags = config->flags;
  memcpy (reply.payload.config.region, g_bytes_get_data (bytes, NULL), config->size);
  vhost_user_channel_send (PRIV (self)->channel, &reply);
  return TRUE;
}

static gboolean
handle_get_inflight_fd (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  VhostUserMsg reply;
  guint64 per_queue, size;
  int fd;

  if (inflight->num_queues == 0 || inflight->num_queues > priv->n_vrings || inflight->queue_size == 0 ||
      inflight->queue_size > priv->max_queue_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_INFLIGHT_FD: %u queues of size %u do not fit the device", inflight->num_queues,
                   inflight->queue_size);
      return FALSE;
    }
  /* One area per queue: a 16-byte header and 16 bytes per descriptor, 64-byte aligned. */
  per_queue = (16 + 16 * (guint64) inflight->queue_size + 63) / 64 * 64;
  size = per_queue * inflight->num_queues;
  fd = memfd_create ("vhost-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, size) < 0)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "GET_INFLIGHT_FD: memfd: %s", g_strerror (errsv));
      return FALSE;
    }
  close_fd (&priv->inflight_fd);
  priv->inflight_fd = fd;
  vhost_user_msg_init_reply (&reply, msg, sizeof (VhostUserInflightWire));
  memset (&reply.payload.inflight, 0, sizeof reply.payload.inflight);
  reply.payload.inflight.mmap_size = size;
  reply.payload.inflight.mmap_offset = 0;
  reply.payload.inflight.num_queues = inflight->num_queues;
  reply.payload.inflight.queue_size = inflight->queue_size;
  reply.fds[reply.n_fds++] = fd;
  vhost_user_channel_send (priv->channel, &reply);
  return TRUE;
}

static gboolean
handle_set_inflight_fd (VhostUserSlave *self, VhostUserMsg *msg, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  struct stat st;

  if (inflight->mmap_offset + inflight->mmap_size < inflight->mmap_offset || fstat (msg->fds[0], &st) < 0 ||
      (guint64) st.st_size < inflight->mmap_offset + inflight->mmap_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "SET_INFLIGHT_FD: the file descriptor does not hold %" G_GUINT64_FORMAT " bytes at offset %"
                   G_GUINT64_FORMAT, inflight->mmap_size, inflight->mmap_offset);
      return FALSE;
    }
  close_fd (&priv->inflight_fd);
  priv->inflight_fd = vhost_user_msg_take_fd (msg, 0);
  return TRUE;
}

static void
slave_device_reset (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  slave_reset_vrings (self);
  priv->status = 0;
  VHOST_USER_SLAVE_GET_CLASS (self)->reset (self);
}

/* Requests whose meaning depends on the device, through the device_request vfunc. */
static gboolean
handle_device_request (VhostUserSlave *self, VhostUserMsg *msg, gboolean *replied, GError **error)
{
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);
  g_autoptr(GBytes) payload = g_bytes_new (msg->payload.bytes, msg->hdr.size);
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GBytes) reply_bytes = NULL;
  g_autoptr(GUnixFDList) reply_fds = NULL;
  VhostUserMsg reply;

  for (guint i = 0; i < msg->n_fds; i++)
    if (g_unix_fd_list_append (fds, msg->fds[i], error) < 0)
      return FALSE;
  if (!VHOST_USER_SLAVE_GET_CLASS (self)->device_request (self, msg->hdr.request, payload, fds, &reply_bytes,
                                                          &reply_fds, error))
    return FALSE;
  if (info->reply != VHOST_USER_REPLY_ALWAYS)
    return TRUE;

  vhost_user_msg_init_reply (&reply, msg, 0);
  if (reply_bytes != NULL)
    {
      gsize size = g_bytes_get_size (reply_bytes);

      if (size > VHOST_USER_MAX_PAYLOAD)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: the device's reply is too large",
                       info->name);
          return FALSE;
        }
      if (size > 0)
        memcpy (reply.payload.bytes, g_bytes_get_data (reply_bytes, NULL), size);
      reply.hdr.size = size;
    }
  if (reply_fds != NULL)
    {
      gint n = g_unix_fd_list_get_length (reply_fds);

      if (n > (gint) VHOST_USER_MAX_FDS)
        n = VHOST_USER_MAX_FDS;
      if (n > 0)
        memcpy (reply.fds, g_unix_fd_list_peek_fds (reply_fds, NULL), n * sizeof (int));
      reply.n_fds = n;
    }
  if (!vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request, FALSE, &reply, error))
    {
      reply.n_fds = 0;
      return FALSE;
    }
  vhost_user_channel_send (PRIV (self)->channel, &reply);
  reply.n_fds = 0; /* borrowed from reply_fds */
  *replied = TRUE;
  return TRUE;
}

static void
slave_reply_u64 (VhostUserSlave *self, VhostUserMsg *msg, guint64 value)
{
  VhostUserMsg reply;

  vhost_user_msg_init_reply_u64 (&reply, msg, value);
  vhost_user_channel_send (PRIV (self)->channel, &reply);
}

/* Handle one validated request. Requests with a reply of their own send it here
 * and set *replied; for the others, the caller sends a REPLY_ACK when asked. */
static gboolean
slave_handle (VhostUserSlave *self, VhostUserMsg *msg, gboolean *replied, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);

  if (info->needs_protocol_feature != 0 && msg->hdr.request != VHOST_USER_GET_QUEUE_NUM &&
      !(priv->acked_protocol_features & info->needs_protocol_feature))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s needs a protocol feature that was not negotiated", info->name);
      return FALSE;
    }

  *replied = info->reply == VHOST_USER_REPLY_ALWAYS;
  switch (msg->hdr.request)
    {
    case VHOST_USER_GET_FEATURES:
      priv->offered_features = klass->get_features (self) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
      slave_reply_u64 (self, msg, priv->offered_features);
      return TRUE;

    case VHOST_USER_SET_FEATURES:
      {
        guint64 offered = klass->get_features (self) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);

        if (msg->payload.u64 & ~offered)
          {
            g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                         "SET_FEATURES: features 0x%" G_GINT64_MODIFIER "x were not offered",
                         msg->payload.u64 & ~offered);
            return FALSE;
          }
        if (!klass->set_features (self, msg->payload.u64, error))
          return FALSE;
        priv->acked_features = msg->payload.u64;
        priv->features_set = TRUE;
        return TRUE;
      }

    case VHOST_USER_SET_OWNER:
      return TRUE;

    case VHOST_USER_RESET_OWNER:
      slave_reset_vrings (self);
      return TRUE;

    case VHOST_USER_GET_PROTOCOL_FEATURES:
      priv->offered_protocol_features = klass->get_protocol_features (self) & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED;
      slave_reply_u64 (self, msg, priv->offered_protocol_features);
      return TRUE;

    case VHOST_USER_SET_PROTOCOL_FEATURES:
      {
        guint64 offered = klass->get_protocol_features (self) & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED;

        if (msg->payload.u64 & ~offered)
          {
            g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                         "SET_PROTOCOL_FEATURES: features 0x%" G_GINT64_MODIFIER "x were not offered",
                         msg->payload.u64 & ~offered);
            return FALSE;
          }
        priv->acked_protocol_features = msg->payload.u64;
        vhost_user_channel_set_protocol_features (priv->channel, priv->acked_protocol_features);
        if (priv->backend != NULL)
          vhost_user_channel_set_protocol_features (priv->backend, priv->acked_protocol_features);
        return TRUE;
      }

    case VHOST_USER_GET_QUEUE_NUM:
      slave_reply_u64 (self, msg, priv->n_vrings);
      return TRUE;

    case VHOST_USER_SET_MEM_TABLE:
      return handle_set_mem_table (self, msg, error);
    case VHOST_USER_ADD_MEM_REG:
      return handle_add_mem_reg (self, msg, error);
    case VHOST_USER_REM_MEM_REG:
      return handle_rem_mem_reg (self, msg, error);

    case VHOST_USER_GET_MAX_MEM_SLOTS:
      slave_reply_u64 (self, msg, MAX_MEM_SLOTS);
      return TRUE;

    case VHOST_USER_SET_LOG_BASE:
      if (!handle_set_log_base (self, msg, error))
        return FALSE;
      if (*replied || (priv->acked_protocol_features & VHOST_USER_PROTOCOL_F_LOG_SHMFD))
        {
          slave_reply_u64 (self, msg, 0);
          *replied = TRUE;
        }
      return TRUE;

    case VHOST_USER_SET_LOG_FD:
      close_fd (&priv->log_call_fd);
      priv->log_call_fd = vhost_user_msg_take_fd (msg, 0);
      return TRUE;

    case VHOST_USER_SET_VRING_NUM:
      return handle_set_vring_num (self, msg, error);

    case VHOST_USER_SET_VRING_ADDR:
      if (!check_vring_index (self, "SET_VRING_ADDR", msg->payload.addr.index, error))
        return FALSE;
      priv->vrings[msg->payload.addr.index].addr = msg->payload.addr;
      priv->vrings[msg->payload.addr.index].addr_set = TRUE;
      return TRUE;

    case VHOST_USER_SET_VRING_BASE:
      if (!check_vring_index (self, "SET_VRING_BASE", msg->payload.state.index, error))
        return FALSE;
      priv->vrings[msg->payload.state.index].base = msg->payload.state.num;
      priv->vrings[msg->payload.state.index].base_set = TRUE;
      return TRUE;

    case VHOST_USER_GET_VRING_BASE:
      {
        guint index = msg->payload.state.index;
        VhostUserMsg reply;

        if (!check_vring_index (self, "GET_VRING_BASE", index, error))
          return FALSE;
        /* GET_VRING_BASE stops the ring; its kick fd goes with it. */
        vring_stop_notify (self, index, FALSE, priv->vrings[index].enabled);
        close_fd (&priv->vrings[index].kick_fd);
        vhost_user_msg_init_reply (&reply, msg, sizeof (VhostUserVringState));
        reply.payload.state.index = index;
        reply.payload.state.num = priv->vrings[index].base;
        /* A ring that ran since the last SET_VRING_BASE (even one the driver broke)
         * knows where it stopped; the queues are stopped at this point. */
        if (index < priv->queues->len && !priv->vrings[index].base_set)
          reply.payload.state.num = vhost_ring_get_base (vhost_virtqueue_get_ring (g_ptr_array_index (priv->queues, index)));
        vhost_user_channel_send (priv->channel, &reply);
        return TRUE;
      }

    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
      return handle_vring_fd (self, msg, error);

    case VHOST_USER_SET_VRING_ENABLE:
      {
        guint index = msg->payload.state.index;

        if (!check_vring_index (self, "SET_VRING_ENABLE", index, error))
          return FALSE;
        /* QEMU's virtio-net enables and disables its queue pairs before SET_FEATURES
         * (at realize and reset), as libvhost-user and DPDK accept: only a front-end
         * that set features without PROTOCOL_FEATURES is refused. */
        if (priv->features_set && !(priv->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES)))
          {
            g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                                 "SET_VRING_ENABLE: PROTOCOL_FEATURES was not acked");
            return FALSE;
          }
        if (msg->payload.state.num > 1)
          {
            g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                         "SET_VRING_ENABLE: vring %u: %u is neither 0 nor 1", index, msg->payload.state.num);
            return FALSE;
          }
        vring_stop_notify (self, index, priv->vrings[index].started, msg->payload.state.num == 1);
        return TRUE;
      }

    case VHOST_USER_VRING_KICK:
      {
        guint index = msg->payload.state.index;

        if (!check_vring_index (self, "VRING_KICK", index, error))
          return FALSE;
        /* Starting the ring takes a restart (see request_changes_queues()). */
        if (!priv->vrings[index].started)
          vring_stop_notify (self, index, TRUE, priv->vrings[index].enabled);
        else if (index < priv->queues->len)
          vhost_virtqueue_kick (g_ptr_array_index (priv->queues, index));
        return TRUE;
      }

    case VHOST_USER_SET_BACKEND_REQ_FD:
      g_clear_pointer (&priv->backend, vhost_user_channel_unref);
      priv->backend = vhost_user_channel_new (vhost_user_msg_take_fd (msg, 0), VHOST_USER_CHANNEL_BACKEND,
                                              VHOST_USER_CHANNEL_REQUESTER, priv->context, NULL,
                                              backend_closed_cb, self);
      vhost_user_channel_set_protocol_features (priv->backend, priv->acked_protocol_features);
      return TRUE;

    case VHOST_USER_GET_CONFIG:
      return handle_get_config (self, msg, error);

    case VHOST_USER_SET_CONFIG:
      {
        g_autoptr(GBytes) data = g_bytes_new (msg->payload.config.region, msg->payload.config.size);

        return klass->set_config (self, msg->payload.config.offset, data, msg->payload.config.flags, error);
      }

    case VHOST_USER_GET_INFLIGHT_FD:
      return handle_get_inflight_fd (self, msg, error);
    case VHOST_USER_SET_INFLIGHT_FD:
      return handle_set_inflight_fd (self, msg, error);

    case VHOST_USER_RESET_DEVICE:
      slave_device_reset (self);
      return TRUE;

    case VHOST_USER_SET_STATUS:
      if (msg->payload.u64 > G_MAXUINT8)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                       "SET_STATUS: 0x%" G_GINT64_MODIFIER "x is not a status byte", msg->payload.u64);
          return FALSE;
        }
      if (msg->payload.u64 == 0)
        slave_device_reset (self);
      priv->status = msg->payload.u64;
      return TRUE;

    case VHOST_USER_GET_STATUS:
      slave_reply_u64 (self, msg, priv->status);
      return TRUE;

    default:
      *replied = FALSE;
      return handle_device_request (self, msg, replied, error);
    }
}

static void
slave_request_cb (VhostUserChannel *channel, VhostUserMsg *msg, gpointer user_data)
{
  VhostUserSlave *self = user_data;
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);
  g_autoptr(GError) error = NULL;
  gboolean replied = FALSE;
  gboolean changes_queues = request_changes_queues (PRIV (self), msg);
  gboolean ok;

  g_object_ref (self);
  if (changes_queues)
    slave_stop_queues (self);
  ok = slave_handle (self, msg, &replied, &error);
  if (changes_queues && PRIV (self)->channel != NULL)
    slave_start_queues (self);
  if (ok)
    {
      if (!replied)
        vhost_user_channel_reply_status (channel, msg, 0);
    }
  else if (msg->hdr.request == VHOST_USER_GET_CONFIG)
    {
      /* The specification's way to fail GET_CONFIG: an empty payload. */
      VhostUserMsg reply;

      vhost_user_msg_init_reply (&reply, msg, 0);
      vhost_user_channel_send (channel, &reply);
    }
  else if (info->reply != VHOST_USER_REPLY_ALWAYS &&
           vhost_user_request_expects_reply (VHOST_USER_CHANNEL_FRONTEND, msg,
                                             PRIV (self)->acked_protocol_features))
    vhost_user_channel_reply_status (channel, msg, 1);
  else
    {
      g_signal_emit (self, signals[SIGNAL_REQUEST_HANDLED], 0, (VhostUserRequest) msg->hdr.request, error);
      slave_end_connection (self, error);
      g_object_unref (self);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_REQUEST_HANDLED], 0, (VhostUserRequest) msg->hdr.request, error);
  g_object_unref (self);
}

/* Start serving a connected socket. Takes `fd`. */
static gboolean
slave_serve (VhostUserSlave *self, int fd, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);

  if (priv->channel != NULL)
    {
      close (fd);
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "The slave already serves a front-end");
      return FALSE;
    }
  priv->n_vrings = CLAMP (klass->get_num_queues (self), 1, VHOST_USER_MAX_QUEUES);
  priv->max_queue_size = CLAMP (klass->get_max_queue_size (self), 1, 32768);
  priv->vrings = g_new0 (SlaveVring, priv->n_vrings);
  for (guint i = 0; i < priv->n_vrings; i++)
    priv->vrings[i].kick_fd = priv->vrings[i].call_fd = priv->vrings[i].err_fd = -1;
  priv->channel = vhost_user_channel_new (fd, VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_CHANNEL_RESPONDER,
                                          priv->context, slave_request_cb, slave_closed_cb, self);
  return TRUE;
}

static gboolean
slave_accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  VhostUserSlave *self = user_data;
  VhostUserSlavePrivate *priv = PRIV (self);
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  client = g_socket_accept (socket, NULL, &error);
  if (client == NULL)
    {
      g_debug ("accept on %s: %s", priv->listen_path, error->message);
      return G_SOURCE_CONTINUE;
    }
  fd = fcntl (g_socket_get_fd (client), F_DUPFD_CLOEXEC, 3);
  g_socket_close (client, NULL);
  if (fd < 0)
    return G_SOURCE_CONTINUE;
  /* One front-end at a time: stop accepting until this one goes away. */
  g_source_destroy (priv->listen_source);
  g_clear_pointer (&priv->listen_source, g_source_unref);
  slave_serve (self, fd, NULL);
  return G_SOURCE_REMOVE;
}

static void
slave_start_listening (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (priv->listener == NULL || priv->listen_source != NULL || priv->channel != NULL)
    return;
  priv->listen_source = g_socket_create_source (priv->listener, G_IO_IN, NULL);
  g_source_set_static_name (priv->listen_source, "[vhost] vhost-user listener");
  g_source_set_callback (priv->listen_source, G_SOURCE_FUNC (slave_accept_cb), self, NULL);
  g_source_attach (priv->listen_source, priv->context);
}

/**
 * vhost_user_slave_listen:
 * @slave: a #VhostUserSlave
 * @path: the path of the unix socket to create
 * @error: return location for a #GError
 *
 * Listens on @path and serves the front-ends that connect, one at a time. A stale
 * socket file at @path is replaced; the file is removed by
 * vhost_user_slave_close() and when the slave is finalized.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_listen (VhostUserSlave *slave, const char *path, GError **error)
{
  VhostUserSlavePrivate *priv;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  GError *local_error = NULL;
  struct stat st;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  priv = PRIV (slave);
  if (priv->listener != NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "Already listening on %s", priv->listen_path);
      return FALSE;
    }
  if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    unlink (path);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &local_error);
  address = g_unix_socket_address_new (path);
  if (socket == NULL || !g_socket_bind (socket, address, FALSE, &local_error) ||
      !g_socket_listen (socket, &local_error))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Listening on %s: %s", path, local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  priv->listener = g_steal_pointer (&socket);
  priv->listen_path = g_strdup (path);
  slave_start_listening (slave);
  return TRUE;
}

/**
 * vhost_user_slave_serve_fd:
 * @slave: a #VhostUserSlave
 * @fd: a unix stream socket connected to a front-end
 * @error: return location for a #GError
 *
 * Serves a front-end on a socket that is already connected, as with the
 * `--fd` option of the specification's back-end program conventions. The slave
 * takes ownership of @fd, also when this fails.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_serve_fd (VhostUserSlave *slave, gint fd, GError **error)
{
  struct stat st;
  int type = 0;
  socklen_t len = sizeof type;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "fd %d: %s", fd, g_strerror (saved));
      if (saved != EBADF)
        close (fd);
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode) || getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "fd %d is not a stream socket", fd);
      close (fd);
      return FALSE;
    }
  return slave_serve (slave, fd, error);
}

/**
 * vhost_user_slave_connect_to:
 * @slave: a #VhostUserSlave
 * @path: the path of a front-end's listening unix socket
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to a front-end that listens on @path (client mode) and serves it.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_connect_to (VhostUserSlave *slave, const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  GError *local_error = NULL;
  int fd;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (path);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s", path, local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  fd = fcntl (g_socket_get_fd (g_socket_connection_get_socket (connection)), F_DUPFD_CLOEXEC, 3);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return slave_serve (slave, fd, error);
}

/**
 * vhost_user_slave_close:
 * @slave: a #VhostUserSlave
 *
 * Ends the connection to the front-end, if any, and stops listening (removing
 * the socket file). #VhostUserSlave::disconnected is not emitted.
 */
void
vhost_user_slave_close (VhostUserSlave *slave)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));
  priv = PRIV (slave);
  if (priv->listen_source != NULL)
    g_source_destroy (priv->listen_source);
  g_clear_pointer (&priv->listen_source, g_source_unref);
  if (priv->listener != NULL)
    {
      g_socket_close (priv->listener, NULL);
      g_clear_object (&priv->listener);
      if (priv->listen_path != NULL)
        unlink (priv->listen_path);
    }
  g_clear_pointer (&priv->listen_path, g_free);
  slave_end_connection (slave, NULL);
}

/**
 * vhost_user_slave_set_config_space:
 * @slave: a #VhostUserSlave
 * @config: (nullable): the device's configuration space
 *
 * Sets the bytes that the default #VhostUserSlaveClass.get_config() reads from.
 */
void
vhost_user_slave_set_config_space (VhostUserSlave *slave, GBytes *config)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));
  priv = PRIV (slave);
  if (config != NULL)
    g_bytes_ref (config);
  g_clear_pointer (&priv->config, g_bytes_unref);
  priv->config = config;
}

/**
 * vhost_user_slave_get_connected:
 * @slave: a #VhostUserSlave
 *
 * Tells whether a front-end is connected.
 *
 * Returns: whether a front-end is connected
 */
gboolean
vhost_user_slave_get_connected (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  return PRIV (slave)->channel != NULL;
}

/**
 * vhost_user_slave_get_acked_features:
 * @slave: a #VhostUserSlave
 *
 * Gets the virtio features the front-end set, 0 before SET_FEATURES.
 *
 * Returns: the virtio features the front-end set, 0 before SET_FEATURES
 */
guint64
vhost_user_slave_get_acked_features (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->acked_features;
}

/**
 * vhost_user_slave_get_acked_protocol_features:
 * @slave: a #VhostUserSlave
 *
 * Gets the protocol features the front-end set.
 *
 * Returns: the protocol features the front-end set
 */
guint64
vhost_user_slave_get_acked_protocol_features (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->acked_protocol_features;
}

/**
 * vhost_user_slave_get_status:
 * @slave: a #VhostUserSlave
 *
 * Gets the virtio device status the front-end last set.
 *
 * Returns: the virtio device status the front-end last set
 */
guint8
vhost_user_slave_get_status (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->status;
}

/**
 * vhost_user_slave_get_n_regions:
 * @slave: a #VhostUserSlave
 *
 * Gets how many guest memory regions are mapped.
 *
 * Returns: how many guest memory regions are mapped
 */
guint
vhost_user_slave_get_n_regions (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->regions->len;
}

/**
 * vhost_user_slave_get_vring_state:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @num: (out) (optional): the queue size
 * @base: (out) (optional): the base index last set
 * @started: (out) (optional): whether the queue is started
 * @enabled: (out) (optional): whether the queue is enabled
 *
 * Reads the state the front-end set for a queue.
 *
 * Returns: %FALSE if @index is not a queue of the connected device
 */
gboolean
vhost_user_slave_get_vring_state (VhostUserSlave *slave,
                                  guint index,
                                  guint *num,
                                  guint *base,
                                  gboolean *started,
                                  gboolean *enabled)
{
  VhostUserSlavePrivate *priv;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  priv = PRIV (slave);
  if (index >= priv->n_vrings)
    return FALSE;
  if (num != NULL)
    *num = priv->vrings[index].num;
  if (base != NULL)
    *base = priv->vrings[index].base;
  if (started != NULL)
    *started = priv->vrings[index].started;
  if (enabled != NULL)
    *enabled = priv->vrings[index].enabled;
  return TRUE;
}

/* Private accessors for tests and the data plane. */

gpointer
vhost_user_slave_translate (VhostUserSlave *slave, guint64 guest_addr, gsize len)
{
  VhostUserSlavePrivate *priv = PRIV (slave);

  for (guint i = 0; i < priv->regions->len; i++)
    {
      SlaveRegion *region = &g_array_index (priv->regions, SlaveRegion, i);
      guint64 start = region->wire.guest_phys_addr;

      if (guest_addr >= start && len <= region->wire.memory_size &&
          guest_addr - start <= region->wire.memory_size - len)
        return region->map + region->wire.mmap_offset + (guest_addr - start);
    }
  return NULL;
}

int
vhost_user_slave_get_vring_fd (VhostUserSlave *slave, guint index, VhostUserRequest which)
{
  VhostUserSlavePrivate *priv = PRIV (slave);

  if (index >= priv->n_vrings)
    return -1;
  switch (which)
    {
    case VHOST_USER_SET_VRING_KICK:
      return priv->vrings[index].kick_fd;
    case VHOST_USER_SET_VRING_CALL:
      return priv->vrings[index].call_fd;
    default:
      return priv->vrings[index].err_fd;
    }
}

gboolean
vhost_user_slave_has_log (VhostUserSlave *slave)
{
  return PRIV (slave)->log_map != NULL;
}

/* Back-end requests. */

static gboolean
slave_backend_call (VhostUserSlave *self, VhostUserMsg *msg, VhostUserMsg **reply, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  const VhostUserRequestInfo *info = vhost_user_request_info (VHOST_USER_CHANNEL_BACKEND, msg->hdr.request);

  if (priv->backend == NULL || !vhost_user_channel_is_open (priv->backend))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s: the front-end did not set up the back-end request channel", info->name);
      return FALSE;
    }
  if ((info->needs_protocol_feature != 0 && !(priv->acked_protocol_features & info->needs_protocol_feature)) ||
      (msg->n_fds > 0 && !(priv->acked_protocol_features & VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD)))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s needs a protocol feature that was not negotiated", info->name);
      return FALSE;
    }
  if ((priv->acked_protocol_features & VHOST_USER_PROTOCOL_F_REPLY_ACK) && info->reply == VHOST_USER_REPLY_ACK_ONLY)
    msg->hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
  return vhost_user_channel_call (priv->backend, msg, reply, NULL, error);
}

/**
 * vhost_user_slave_notify_config_change:
 * @slave: a #VhostUserSlave
 * @error: return location for a #GError
 *
 * Tells the front-end that the configuration space changed (CONFIG_CHANGE_MSG).
 * Needs %VHOST_USER_PROTOCOL_F_CONFIG and the back-end request channel.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_notify_config_change (VhostUserSlave *slave, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  vhost_user_msg_init (&msg, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 0);
  return slave_backend_call (slave, &msg, NULL, error);
}

/**
 * vhost_user_slave_set_host_notifier:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @fd: the file descriptor to map the notification area from (borrowed), or -1
 *   to remove the queue's host notifier
 * @size: the size of the area
 * @offset: the offset of the area in @fd
 * @error: return location for a #GError
 *
 * Sets or removes a queue's host notifier (VRING_HOST_NOTIFIER_MSG). Needs
 * %VHOST_USER_PROTOCOL_F_HOST_NOTIFIER and, with an fd,
 * %VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_set_host_notifier (VhostUserSlave *slave,
                                    guint index,
                                    gint fd,
                                    guint64 size,
                                    guint64 offset,
                                    GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  if (!check_vring_index (slave, "VRING_HOST_NOTIFIER_MSG", index, error))
    return FALSE;
  vhost_user_msg_init (&msg, VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, sizeof (VhostUserVringAreaWire));
  msg.payload.area.u64 = index | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);
  msg.payload.area.size = size;
  msg.payload.area.offset = offset;
  if (fd >= 0)
    msg.fds[msg.n_fds++] = fd;
  return slave_backend_call (slave, &msg, NULL, error);
}

/**
 * vhost_user_slave_send_iotlb_msg:
 * @slave: a #VhostUserSlave
 * @iova: the I/O virtual address
 * @size: the size of the range
 * @uaddr: the user address
 * @perm: the access (1 read, 2 write, 3 both)
 * @type: the message type (1 miss, 4 access fail)
 * @error: return location for a #GError
 *
 * Reports an IOTLB miss or access failure to the front-end (IOTLB_MSG).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_send_iotlb_msg (VhostUserSlave *slave,
                                 guint64 iova,
                                 guint64 size,
                                 guint64 uaddr,
                                 guint perm,
                                 guint type,
                                 GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  vhost_user_msg_init_iotlb (&msg, VHOST_USER_BACKEND_IOTLB_MSG, iova, size, uaddr, perm, type);
  return slave_backend_call (slave, &msg, NULL, error);
}

static gboolean
slave_backend_state (VhostUserSlave *self, VhostUserBackendRequest request, guint index, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (self), FALSE);
  if (!check_vring_index (self, vhost_user_backend_request_get_name (request), index, error))
    return FALSE;
  vhost_user_msg_init_state (&msg, request, index, 0);
  return slave_backend_call (self, &msg, NULL, error);
}

/**
 * vhost_user_slave_vring_call:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Signals the front-end in-band that queue @index has used buffers (VRING_CALL).
 * Needs %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_vring_call (VhostUserSlave *slave, guint index, GError **error)
{
  return slave_backend_state (slave, VHOST_USER_BACKEND_VRING_CALL, index, error);
}

/**
 * vhost_user_slave_vring_err:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Signals the front-end in-band an error on queue @index (VRING_ERR). Needs
 * %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_vring_err (VhostUserSlave *slave, guint index, GError **error)
{
  return slave_backend_state (slave, VHOST_USER_BACKEND_VRING_ERR, index, error);
}

static gboolean
slave_shared_object (VhostUserSlave *self, VhostUserBackendRequest request, GBytes *uuid, VhostUserMsg **reply,
                     GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (self), FALSE);
  if (uuid == NULL || g_bytes_get_size (uuid) != VHOST_USER_UUID_SIZE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: a UUID has %u bytes",
                   vhost_user_backend_request_get_name (request), VHOST_USER_UUID_SIZE);
      return FALSE;
    }
  vhost_user_msg_init (&msg, request, sizeof (VhostUserSharedWire));
  memcpy (msg.payload.shared.uuid, g_bytes_get_data (uuid, NULL), VHOST_USER_UUID_SIZE);
  return slave_backend_call (self, &msg, reply, error);
}

/**
 * vhost_user_slave_shared_object_add:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Tells the front-end that the device exports a shared object
 * (SHARED_OBJECT_ADD). Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shared_object_add (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  return slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_ADD, uuid, NULL, error);
}

/**
 * vhost_user_slave_shared_object_remove:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Tells the front-end that a shared object is withdrawn (SHARED_OBJECT_REMOVE).
 * Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shared_object_remove (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  return slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE, uuid, NULL, error);
}

/**
 * vhost_user_slave_shared_object_lookup:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Asks the front-end for the file descriptor of a shared object
 * (SHARED_OBJECT_LOOKUP). Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 *
 * Gets a file descriptor the caller owns, or -1 on error.
 *
 *
 * Gets a file descriptor the caller owns, or -1 on error.
 *
 *
 * Gets a file descriptor the caller owns, or -1 on error.
 *
 *
 * Gets a file descriptor the caller owns, or -1 on error.
 *
 *
 * Gets a file descriptor the caller owns, or -1 on error.
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
gint
vhost_user_slave_shared_object_lookup (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;

  if (!slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP, uuid, &reply, error))
    return -1;
  if (reply->payload.u64 != 0 || reply->n_fds == 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "SHARED_OBJECT_LOOKUP: the front-end has no such object (status %" G_GUINT64_FORMAT ")",
                   reply->payload.u64);
      return -1;
    }
  return vhost_user_msg_take_fd (reply, 0);
}

/* Defaults of the virtual functions. */

static guint64
slave_real_get_features (VhostUserSlave *self)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
}

static guint64
slave_real_get_protocol_features (VhostUserSlave *self)
{
  return DEFAULT_PROTOCOL_FEATURES;
}

static guint
slave_real_get_num_queues (VhostUserSlave *self)
{
  return 1;
}

static guint
slave_real_get_max_queue_size (VhostUserSlave *self)
{
  return DEFAULT_MAX_QUEUE_SIZE;
}

static gboolean
slave_real_set_features (VhostUserSlave *self, guint64 features, GError **error)
{
  return TRUE;
}

static GBytes *
slave_real_get_config (VhostUserSlave *self, guint offset, guint size, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  gsize length = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;

  if (offset > length || size > length - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_CONFIG: %u bytes at offset %u are outside the %" G_GSIZE_FORMAT "-byte configuration space",
                   size, offset, length);
      return NULL;
    }
  return g_bytes_new_from_bytes (priv->config, offset, size);
}

static gboolean
slave_real_set_config (VhostUserSlave *self, guint offset, GBytes *data, guint flags, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "SET_CONFIG: the device's configuration space is read-only");
  return FALSE;
}

static void
slave_real_vring_state_changed (VhostUserSlave *self, guint index, gboolean started, gboolean enabled)
{
}

static void
slave_real_reset (VhostUserSlave *self)
{
}

static gboolean
slave_real_device_request (VhostUserSlave *self,
                           VhostUserRequest request,
                           GBytes *payload,
                           GUnixFDList *fds,
                           GBytes **reply,
                           GUnixFDList **reply_fds,
                           GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: the device does not support it",
               vhost_user_request_get_name (request));
  return FALSE;
}

static void
vhost_user_slave_init (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  priv->context = g_main_context_ref_thread_default ();
  priv->regions = g_array_new (FALSE, TRUE, sizeof (SlaveRegion));
  priv->log_call_fd = -1;
  priv->inflight_fd = -1;
  priv->mem = g_new0 (VhostMem, 1);
  priv->busy_poll_us = DEFAULT_BUSY_POLL_US;
  priv->queues = g_ptr_array_new_with_free_func (g_object_unref);
  priv->workers = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) vhost_worker_free);
}

static void
vhost_user_slave_dispose (GObject *object)
{
  VhostUserSlave *self = VHOST_USER_SLAVE (object);
  VhostUserSlavePrivate *priv = PRIV (self);

  vhost_user_slave_close (self);
  slave_stop_queues (self);
  g_hash_table_remove_all (priv->workers);
  g_ptr_array_set_size (priv->queues, 0);
  G_OBJECT_CLASS (vhost_user_slave_parent_class)->dispose (object);
}

static void
vhost_user_slave_finalize (GObject *object)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (object));

  g_clear_pointer (&priv->config, g_bytes_unref);
  g_array_unref (priv->regions);
  g_ptr_array_unref (priv->queues);
  g_hash_table_unref (priv->workers);
  g_free (priv->mem);
  g_main_context_unref (priv->context);
  G_OBJECT_CLASS (vhost_user_slave_parent_class)->finalize (object);
}

static void
vhost_user_slave_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY_POLL_US:
      g_value_set_uint (value, PRIV (VHOST_USER_SLAVE (object))->busy_poll_us);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_slave_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY_POLL_US:
      vhost_user_slave_set_busy_poll_us (VHOST_USER_SLAVE (object), g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_slave_class_init (VhostUserSlaveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_slave_dispose;
  object_class->finalize = vhost_user_slave_finalize;
  object_class->get_property = vhost_user_slave_get_property;
  object_class->set_property = vhost_user_slave_set_property;

  klass->get_features = slave_real_get_features;
  klass->get_protocol_features = slave_real_get_protocol_features;
  klass->get_num_queues = slave_real_get_num_queues;
  klass->get_max_queue_size = slave_real_get_max_queue_size;
  klass->set_features = slave_real_set_features;
  klass->get_config = slave_real_get_config;
  klass->set_config = slave_real_set_config;
  klass->vring_state_changed = slave_real_vring_state_changed;
  klass->reset = slave_real_reset;
  klass->device_request = slave_real_device_request;

  /**
   * VhostUserSlave:busy-poll-us:
   *
   * How long, in microseconds, a queue worker keeps polling its rings after the
   * last work before it sleeps on the kick eventfds again. Polling costs CPU time
   * but saves the wake-ups, which cost tens of microseconds each; the default, 32,
   * is QEMU's default polling time for its I/O threads. 0 never polls.
   */
  properties[PROP_BUSY_POLL_US] =
    g_param_spec_uint ("busy-poll-us", NULL, NULL, 0, G_MAXUINT, DEFAULT_BUSY_POLL_US,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserSlave::disconnected:
   * @slave: the #VhostUserSlave
   * @error: why the connection ended: %VHOST_ERROR_DISCONNECTED when the
   *   front-end hung up, another code for a bad request
   *
   * Emitted when the connection to the front-end ends for any reason other than
   * vhost_user_slave_close(). A listening slave then accepts the next front-end.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * VhostUserSlave::request-handled:
   * @slave: the #VhostUserSlave
   * @request: the request
   * @error: (nullable): why it failed, or %NULL
   *
   * Emitted after each request from the front-end was handled.
   */
  signals[SIGNAL_REQUEST_HANDLED] =
    g_signal_new ("request-handled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, VHOST_TYPE_USER_REQUEST, G_TYPE_ERROR);
}
