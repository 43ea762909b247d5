/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostKernel: VhostBackend through the vhost ioctls of <linux/vhost.h> on a /dev/vhost-* fd,
 * IOTLB messages on the same fd, and the errno to VhostError mapping of the kernel classes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <glib-unix.h>
#include <linux/vhost.h>

#include "vhost-kernel-private.h"

/**
 * SECTION:vhost-kernel
 * @title: VhostKernel
 * @short_description: the kernel's vhost devices, as a #VhostBackend
 *
 * #VhostKernel is the abstract base of the classes that drive the Linux kernel's
 * vhost devices: #VhostNet (/dev/vhost-net), #VhostVsock (/dev/vhost-vsock),
 * #VhostScsi (/dev/vhost-scsi) and #VhostVdpa (/dev/vhost-vdpa-N, which
 * re-implements the parts of #VhostBackend where vDPA differs). It holds the
 * device's file descriptor, opened from #VhostKernel:device-path or adopted
 * through #VhostKernel:fd, and implements #VhostBackend with the vhost ioctls:
 * VHOST_GET_FEATURES and VHOST_SET_FEATURES, VHOST_SET_OWNER and
 * VHOST_RESET_OWNER, VHOST_SET_MEM_TABLE, VHOST_SET_LOG_BASE and
 * VHOST_SET_LOG_FD, and per queue VHOST_SET_VRING_NUM, _ADDR, _BASE, _KICK,
 * _CALL, _ERR and VHOST_GET_VRING_BASE. A #VhostDriver brings a kernel device up
 * exactly as it brings up a vhost-user one.
 *
 * Beside #VhostBackend, every kernel device has a busy-polling time per queue
 * (vhost_kernel_set_vring_busyloop_timeout()), backend features
 * (vhost_kernel_get_backend_features()) and, since Linux 6.5 and on vhost-scsi
 * only, worker threads that the queues can be spread over
 * (vhost_kernel_new_worker(), vhost_kernel_attach_vring_worker()).
 *
 * An ioctl that the device or the running kernel does not have (the Debian 12
 * kernel, 6.1, has no worker ioctls, for one) fails with
 * %VHOST_ERROR_NOT_SUPPORTED and a message that names it. Most ioctls need the
 * owner first (vhost_backend_set_owner()): without it the kernel refuses even
 * ioctls it does not know with EPERM, %VHOST_ERROR_BROKEN.
 *
 * The kernel reads guest memory through this process's mappings: the
 * userspace_addr of each #VhostMemoryRegion, and the ring addresses of each
 * #VhostVringAddr, are addresses in this process (as they are for vhost-user,
 * where they are the front-end's). Descriptors carry guest physical addresses,
 * translated through the memory table. VHOST_SET_OWNER binds the device to the
 * calling process (its memory, and a kernel worker thread): call it before
 * anything else but the feature queries, from the process whose memory is shared.
 * The dirty log is in this process's memory too: vhost_backend_set_log_base() takes
 * its address as the base, and its file descriptor argument is not used.
 *
 * Unlike a vhost-user back-end, kernel vhost does not stop a queue on
 * VHOST_GET_VRING_BASE; vhost_backend_get_vring_base() first calls the class's
 * #VhostKernelClass.stop_queue so that it does.
 *
 * Devices that negotiate %VHOST_VIRTIO_F_ACCESS_PLATFORM translate every address
 * (rings and descriptors) through a device IOTLB instead of the memory table:
 * vhost_kernel_iotlb_msg() updates and invalidates its entries, and misses are
 * reported by #VhostKernel::iotlb-message. Set
 * %VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2 with vhost_kernel_set_backend_features()
 * first where the device offers it.
 *
 * Errors are in the %VHOST_ERROR domain and their message names the ioctl and
 * the errno text, as in "VHOST_SET_VRING_ADDR: Invalid argument". EINVAL, EFAULT,
 * ENOBUFS (a queue index the device does not have), E2BIG and ERANGE are
 * %VHOST_ERROR_INVALID_ARGUMENT; EPERM (not the owner yet) and EBUSY (already
 * owned, or a running queue) are %VHOST_ERROR_BROKEN, a call in the wrong order;
 * EBADF and ENOTSOCK are %VHOST_ERROR_FDS; ENOTTY (an ioctl the device does not
 * have) and EOPNOTSUPP are %VHOST_ERROR_NOT_SUPPORTED; EADDRINUSE is
 * %VHOST_ERROR_ADDRESS_IN_USE; ENOENT, ENODEV and ENXIO are
 * %VHOST_ERROR_NOT_FOUND; anything else is %VHOST_ERROR_IO.
 *
 * A #VhostKernel belongs to the thread-default #GMainContext of the thread that
 * created it, where #VhostKernel::iotlb-message is emitted. Its calls are
 * synchronous ioctls that do not block for long.
 */

/**
 * VhostKernel:
 *
 * A kernel vhost device. All its fields are private.
 */

typedef struct
{
  char *device_path;     /* (owned) (nullable) */
  int fd;                /* (owned) */
  GMainContext *context; /* (owned) */
  GSource *iotlb_source; /* (owned) (nullable) */
  guint64 backend_features;
} VhostKernelPrivate;

static void vhost_kernel_backend_iface_init (VhostBackendInterface *iface);
static void vhost_kernel_initable_iface_init (GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (VhostKernel, vhost_kernel, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (VhostKernel)
                                  G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, vhost_kernel_initable_iface_init)
                                  G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND, vhost_kernel_backend_iface_init))

enum {
  PROP_0,
  PROP_DEVICE_PATH,
  PROP_FD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_IOTLB_MESSAGE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

VhostError
vhost_kernel_error_from_errno (int errsv)
{
  switch (errsv)
    {
    case EINVAL:
    case EFAULT:
    case ENOBUFS:
    case E2BIG:
    case ERANGE:
    case EOVERFLOW:
      return VHOST_ERROR_INVALID_ARGUMENT;
    case EPERM:
    case EBUSY:
      return VHOST_ERROR_BROKEN;
    case EBADF:
    case ENOTSOCK:
      return VHOST_ERROR_FDS;
    case ENOTTY:
    case EOPNOTSUPP:
      return VHOST_ERROR_NOT_SUPPORTED;
    case EADDRINUSE:
      return VHOST_ERROR_ADDRESS_IN_USE;
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return VHOST_ERROR_NOT_FOUND;
    case ETIMEDOUT:
      return VHOST_ERROR_TIMED_OUT;
    default:
      return VHOST_ERROR_IO;
    }
}

void
vhost_kernel_set_ioctl_error (GError **error, const char *name, int errsv)
{
  /* ENOTTY is the VFS's answer to an ioctl the device's driver does not know. */
  g_set_error (error, VHOST_ERROR, vhost_kernel_error_from_errno (errsv), "%s: %s%s", name, g_strerror (errsv),
               errsv == ENOTTY ? " (the device, or this kernel, does not have this ioctl)" : "");
}

int
vhost_kernel_ioctl_errno (VhostKernel *kernel, unsigned long request, void *arg)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (kernel);
  int r;

  do
    r = ioctl (priv->fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

gboolean
vhost_kernel_ioctl (VhostKernel *kernel, unsigned long request, const char *name, void *arg, GError **error)
{
  int errsv = vhost_kernel_ioctl_errno (kernel, request, arg);

  if (errsv != 0)
    {
      vhost_kernel_set_ioctl_error (error, name, errsv);
      return FALSE;
    }
  return TRUE;
}

/* VhostBackend */

static gboolean
kernel_get_features (VhostBackend *backend, guint64 *features, GError **error)
{
  __u64 value = 0;

  if (!VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_GET_FEATURES, &value, error))
    return FALSE;
  *features = value;
  return TRUE;
}

static gboolean iotlb_dispatch (gint fd, GIOCondition condition, gpointer user_data);

static gboolean
kernel_set_features (VhostBackend *backend, guint64 features, GError **error)
{
  VhostKernel *self = VHOST_KERNEL (backend);
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (self);
  __u64 value = features;

  if (!VHOST_KERNEL_IOCTL (self, VHOST_SET_FEATURES, &value, error))
    return FALSE;
  /* The device sends IOTLB misses on its fd from now on: watch it. */
  if ((features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM)) != 0 && priv->iotlb_source == NULL)
    {
      priv->iotlb_source = g_unix_fd_source_new (priv->fd, G_IO_IN);
      g_source_set_name (priv->iotlb_source, "[vhost-glib] kernel IOTLB messages");
      g_source_set_callback (priv->iotlb_source, (GSourceFunc) (void (*) (void)) iotlb_dispatch, self, NULL);
      g_source_attach (priv->iotlb_source, priv->context);
    }
  return TRUE;
}

static gboolean
kernel_set_owner (VhostBackend *backend, GError **error)
{
  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_OWNER, NULL, error);
}

static gboolean
kernel_reset_owner (VhostBackend *backend, GError **error)
{
  /* VHOST_RESET_OWNER takes no argument, but a device without it (vhost-vsock, vhost-scsi)
   * hands unknown ioctls to its per-queue handler, which reads a queue index from the
   * argument: pointing at queue 0 makes that ENOTTY instead of EFAULT. */
  struct vhost_vring_state unused = { 0 };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_RESET_OWNER, &unused, error);
}

static gboolean
kernel_set_mem_table (VhostBackend *backend, VhostMemoryRegion **regions, guint n_regions, GError **error)
{
  g_autofree struct vhost_memory *mem = NULL;

  mem = g_malloc0 (sizeof *mem + (gsize) n_regions * sizeof mem->regions[0]);
  mem->nregions = n_regions;
  for (guint i = 0; i < n_regions; i++)
    {
      mem->regions[i].guest_phys_addr = vhost_memory_region_get_guest_phys_addr (regions[i]);
      mem->regions[i].memory_size = vhost_memory_region_get_size (regions[i]);
      mem->regions[i].userspace_addr = vhost_memory_region_get_userspace_addr (regions[i]);
    }
  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_MEM_TABLE, mem, error);
}

static gboolean
kernel_set_log_base (VhostBackend *backend, guint64 base, guint64 size, gint fd, GError **error)
{
  __u64 value = base;

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_LOG_BASE, &value, error);
}

static gboolean
kernel_set_log_fd (VhostBackend *backend, gint fd, GError **error)
{
  int value = fd;

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_LOG_FD, &value, error);
}

static gboolean
kernel_set_vring_num (VhostBackend *backend, guint index, guint num, GError **error)
{
  struct vhost_vring_state state = { .index = index, .num = num };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_NUM, &state, error);
}

static gboolean
kernel_set_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error)
{
  struct vhost_vring_addr a = {
    .index = vhost_vring_addr_get_index (addr),
    .flags = vhost_vring_addr_get_flags (addr),
    .desc_user_addr = vhost_vring_addr_get_desc_user_addr (addr),
    .used_user_addr = vhost_vring_addr_get_used_user_addr (addr),
    .avail_user_addr = vhost_vring_addr_get_avail_user_addr (addr),
    .log_guest_addr = vhost_vring_addr_get_log_guest_addr (addr),
  };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_ADDR, &a, error);
}

static gboolean
kernel_set_vring_base (VhostBackend *backend, guint index, guint base, GError **error)
{
  struct vhost_vring_state state = { .index = index, .num = base };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_BASE, &state, error);
}

static gboolean
kernel_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error)
{
  VhostKernel *self = VHOST_KERNEL (backend);
  VhostKernelClass *klass = VHOST_KERNEL_GET_CLASS (self);
  struct vhost_vring_state state = { .index = index };

  if (klass->stop_queue != NULL && !klass->stop_queue (self, index, error))
    return FALSE;
  if (!VHOST_KERNEL_IOCTL (self, VHOST_GET_VRING_BASE, &state, error))
    return FALSE;
  *base = state.num;
  return TRUE;
}

static gboolean
kernel_set_vring_kick (VhostBackend *backend, guint index, gint fd, GError **error)
{
  struct vhost_vring_file file = { .index = index, .fd = fd < 0 ? VHOST_FILE_UNBIND : fd };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_KICK, &file, error);
}

static gboolean
kernel_set_vring_call (VhostBackend *backend, guint index, gint fd, GError **error)
{
  struct vhost_vring_file file = { .index = index, .fd = fd < 0 ? VHOST_FILE_UNBIND : fd };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_CALL, &file, error);
}

static gboolean
kernel_set_vring_err (VhostBackend *backend, guint index, gint fd, GError **error)
{
  struct vhost_vring_file file = { .index = index, .fd = fd < 0 ? VHOST_FILE_UNBIND : fd };

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (backend), VHOST_SET_VRING_ERR, &file, error);
}

static gboolean
kernel_set_vring_enable (VhostBackend *backend, guint index, gboolean enable, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "Kernel vhost has no per-queue enable: a queue runs once its device has a backend");
  return FALSE;
}

static void
vhost_kernel_backend_iface_init (VhostBackendInterface *iface)
{
  iface->get_features = kernel_get_features;
  iface->set_features = kernel_set_features;
  iface->set_owner = kernel_set_owner;
  iface->reset_owner = kernel_reset_owner;
  iface->set_mem_table = kernel_set_mem_table;
  iface->set_log_base = kernel_set_log_base;
  iface->set_log_fd = kernel_set_log_fd;
  iface->set_vring_num = kernel_set_vring_num;
  iface->set_vring_addr = kernel_set_vring_addr;
  iface->set_vring_base = kernel_set_vring_base;
  iface->get_vring_base = kernel_get_vring_base;
  iface->set_vring_kick = kernel_set_vring_kick;
  iface->set_vring_call = kernel_set_vring_call;
  iface->set_vring_err = kernel_set_vring_err;
  iface->set_vring_enable = kernel_set_vring_enable;
  /* No set_status: kernel vhost devices have no status byte (VhostDriver checks). */
}

/* IOTLB */

static gboolean
iotlb_dispatch (gint fd, GIOCondition condition, gpointer user_data)
{
  VhostKernel *self = user_data;
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (self);

  g_object_ref (self);
  for (;;)
    {
      union
      {
        struct vhost_msg v1;
        struct vhost_msg_v2 v2;
      } msg;
      const struct vhost_iotlb_msg *iotlb;
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      ssize_t n;

      /* One message per read; an adopted fd may be blocking: read only what is there. */
      if (poll (&pfd, 1, 0) <= 0 || (pfd.revents & POLLIN) == 0)
        break;
      n = read (fd, &msg, sizeof msg);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          if (errsv != EAGAIN)
            {
              g_warning ("Reading the IOTLB messages of %s failed: %s; no longer watching them",
                         priv->device_path != NULL ? priv->device_path : "a vhost device", g_strerror (errsv));
              g_source_destroy (priv->iotlb_source);
              g_clear_pointer (&priv->iotlb_source, g_source_unref);
            }
          break;
        }
      if (n == 0)
        break;
      if ((gsize) n >= sizeof msg.v2 && msg.v2.type == VHOST_IOTLB_MSG_V2)
        iotlb = &msg.v2.iotlb;
      else if ((gsize) n >= sizeof msg.v1 && msg.v1.type == VHOST_IOTLB_MSG)
        iotlb = &msg.v1.iotlb;
      else
        {
          g_message ("Ignoring a vhost message of %zd bytes", n);
          continue;
        }
      g_signal_emit (self, signals[SIGNAL_IOTLB_MESSAGE], 0, (guint64) iotlb->iova, (guint64) iotlb->size,
                     (guint64) iotlb->uaddr, (guint) iotlb->perm, (guint) iotlb->type);
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

/**
 * vhost_kernel_iotlb_msg:
 * @kernel: a #VhostKernel
 * @iova: the I/O virtual address
 * @size: the size of the range
 * @uaddr: the address in this process that @iova maps to (for an update)
 * @perm: the access allowed
 * @type: %VHOST_IOTLB_MESSAGE_UPDATE or %VHOST_IOTLB_MESSAGE_INVALIDATE
 * @error: return location for a #GError
 *
 * Updates or invalidates an entry of the device IOTLB, for devices with
 * %VHOST_VIRTIO_F_ACCESS_PLATFORM, by writing a struct vhost_msg_v2 (or, when
 * %VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2 was not set, a struct vhost_msg) to the
 * device's file descriptor. An update answers a miss that
 * #VhostKernel::iotlb-message reported, and resumes the queue that missed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_kernel_iotlb_msg (VhostKernel *kernel,
                        guint64 iova,
                        guint64 size,
                        guint64 uaddr,
                        VhostIotlbAccess perm,
                        VhostIotlbMessageType type,
                        GError **error)
{
  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return vhost_kernel_iotlb_write (kernel, 0, type, iova, size, uaddr, perm, error);
}

gboolean
vhost_kernel_iotlb_write (VhostKernel *kernel,
                          guint asid,
                          guint type,
                          guint64 iova,
                          guint64 size,
                          guint64 uaddr,
                          guint perm,
                          GError **error)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (kernel);
  struct vhost_iotlb_msg iotlb = { .iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type };
  struct vhost_msg v1;
  struct vhost_msg_v2 v2;
  const void *buf;
  gsize len;
  ssize_t n;
  const char *name;

  switch (type)
    {
    case VHOST_IOTLB_UPDATE:
      name = "VHOST_IOTLB_UPDATE";
      break;
    case VHOST_IOTLB_INVALIDATE:
      name = "VHOST_IOTLB_INVALIDATE";
      break;
    case VHOST_IOTLB_BATCH_BEGIN:
      name = "VHOST_IOTLB_BATCH_BEGIN";
      break;
    case VHOST_IOTLB_BATCH_END:
      name = "VHOST_IOTLB_BATCH_END";
      break;
    default:
      name = "VHOST_IOTLB_MSG";
    }
  if (asid != 0 && (priv->backend_features & VHOST_FEATURE_MASK (VHOST_BACKEND_F_IOTLB_ASID)) == 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s: address space %u needs the backend feature IOTLB_ASID, which was not acked", name, asid);
      return FALSE;
    }
  if ((priv->backend_features & VHOST_FEATURE_MASK (VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2)) != 0)
    {
      memset (&v2, 0, sizeof v2);
      v2.type = VHOST_IOTLB_MSG_V2;
      v2.asid = asid;
      v2.iotlb = iotlb;
      buf = &v2;
      len = sizeof v2;
    }
  else
    {
      memset (&v1, 0, sizeof v1);
      v1.type = VHOST_IOTLB_MSG;
      v1.iotlb = iotlb;
      buf = &v1;
      len = sizeof v1;
    }
  do
    n = write (priv->fd, buf, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      vhost_kernel_set_ioctl_error (error, name, errno);
      return FALSE;
    }
  if ((gsize) n != len)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "%s: the device took %zd of %" G_GSIZE_FORMAT " bytes", name,
                   n, len);
      return FALSE;
    }
  return TRUE;
}

guint64
vhost_kernel_get_acked_backend_features (VhostKernel *kernel)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (kernel);

  return priv->backend_features;
}

/**
 * vhost_kernel_get_backend_features:
 * @kernel: a #VhostKernel
 * @features: (out): the backend features the device offers, a mask of
 *   VHOST_FEATURE_MASK() bits such as %VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2
 * @error: return location for a #GError
 *
 * Reads the backend features the device offers (VHOST_GET_BACKEND_FEATURES).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED for a device
 *   that has no backend features
 */
gboolean
vhost_kernel_get_backend_features (VhostKernel *kernel, guint64 *features, GError **error)
{
  __u64 value = 0;

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (features != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (kernel, VHOST_GET_BACKEND_FEATURES, &value, error))
    return FALSE;
  *features = value;
  return TRUE;
}

/**
 * vhost_kernel_set_backend_features:
 * @kernel: a #VhostKernel
 * @features: the backend features to use, a subset of what
 *   vhost_kernel_get_backend_features() returned
 * @error: return location for a #GError
 *
 * Sets the backend features (VHOST_SET_BACKEND_FEATURES). With
 * %VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2, IOTLB messages in both directions are
 * struct vhost_msg_v2.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_kernel_set_backend_features (VhostKernel *kernel, guint64 features, GError **error)
{
  VhostKernelPrivate *priv;
  __u64 value = features;

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = vhost_kernel_get_instance_private (kernel);
  if (!VHOST_KERNEL_IOCTL (kernel, VHOST_SET_BACKEND_FEATURES, &value, error))
    return FALSE;
  priv->backend_features = features;
  return TRUE;
}

/**
 * vhost_kernel_set_vring_busyloop_timeout:
 * @kernel: a #VhostKernel
 * @index: a queue index
 * @timeout_us: how long, in microseconds, the kernel's worker polls the queue
 *   (and its backend) for more work before it sleeps; 0 turns polling off
 * @error: return location for a #GError
 *
 * Sets a queue's busy-polling time (VHOST_SET_VRING_BUSYLOOP_TIMEOUT, Linux 4.6).
 * vhost-net polls for that long after it ran out of buffers or packets, which
 * trades CPU time for latency; the other devices keep the value but do not poll.
 * It can be changed while the queue runs. Needs the owner first.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT for a
 *   queue the device does not have
 */
gboolean
vhost_kernel_set_vring_busyloop_timeout (VhostKernel *kernel, guint index, guint timeout_us, GError **error)
{
  struct vhost_vring_state state = { .index = index, .num = timeout_us };

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VHOST_KERNEL_IOCTL (kernel, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &state, error);
}

/**
 * vhost_kernel_get_vring_busyloop_timeout:
 * @kernel: a #VhostKernel
 * @index: a queue index
 * @timeout_us: (out): the queue's busy-polling time in microseconds
 * @error: return location for a #GError
 *
 * Reads a queue's busy-polling time (VHOST_GET_VRING_BUSYLOOP_TIMEOUT), 0 until
 * vhost_kernel_set_vring_busyloop_timeout() sets it. Needs the owner first.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_kernel_get_vring_busyloop_timeout (VhostKernel *kernel, guint index, guint *timeout_us, GError **error)
{
  struct vhost_vring_state state = { .index = index };

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (timeout_us != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (kernel, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &state, error))
    return FALSE;
  *timeout_us = state.num;
  return TRUE;
}

G_STATIC_ASSERT (VHOST_NEW_WORKER == VHOST_KERNEL_NEW_WORKER);
G_STATIC_ASSERT (VHOST_FREE_WORKER == VHOST_KERNEL_FREE_WORKER);
G_STATIC_ASSERT (VHOST_ATTACH_VRING_WORKER == VHOST_KERNEL_ATTACH_VRING_WORKER);
G_STATIC_ASSERT (VHOST_GET_VRING_WORKER == VHOST_KERNEL_GET_VRING_WORKER);

/**
 * vhost_kernel_new_worker:
 * @kernel: a #VhostKernel
 * @worker_id: (out): the new worker's id
 * @error: return location for a #GError
 *
 * Creates a kernel worker thread for the device (VHOST_NEW_WORKER), besides the
 * one that VHOST_SET_OWNER made and that every queue uses at first. The thread
 * counts against this process's RLIMIT_NPROC and lives until
 * vhost_kernel_free_worker() or the device is closed. Needs the owner first.
 *
 * Linux has the worker ioctls since 6.5, for vhost-scsi only: vhost-net,
 * vhost-vsock, vhost-vdpa and older kernels answer %VHOST_ERROR_NOT_SUPPORTED.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_SUPPORTED where the
 *   device has no worker ioctls
 */
gboolean
vhost_kernel_new_worker (VhostKernel *kernel, guint *worker_id, GError **error)
{
  VhostKernelWorkerState state = { 0 };

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (worker_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A kernel without the ioctl takes the worker id as a queue index: 0 makes that ENOTTY. */
  if (!VHOST_KERNEL_IOCTL (kernel, VHOST_NEW_WORKER, &state, error))
    return FALSE;
  *worker_id = state.worker_id;
  return TRUE;
}

/**
 * vhost_kernel_free_worker:
 * @kernel: a #VhostKernel
 * @worker_id: a worker that vhost_kernel_new_worker() created
 * @error: return location for a #GError
 *
 * Ends a worker thread that no queue uses any more (VHOST_FREE_WORKER).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_FOUND for an id the
 *   device does not have, %VHOST_ERROR_BROKEN for a worker a queue still uses,
 *   %VHOST_ERROR_NOT_SUPPORTED where the device has no worker ioctls
 */
gboolean
vhost_kernel_free_worker (VhostKernel *kernel, guint worker_id, GError **error)
{
  VhostKernelWorkerState state = { .worker_id = worker_id };
  int errsv;

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  errsv = vhost_kernel_ioctl_errno (kernel, VHOST_FREE_WORKER, &state);
  if (errsv == 0)
    return TRUE;
  /* A device without the ioctl hands it to its per-queue handler, which takes the worker id for a
   * queue index: ENOBUFS past its queues, ENOTTY below. The worker ioctls never say ENOBUFS. */
  if (errsv == ENOBUFS)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                 "VHOST_FREE_WORKER: %s (the device, or this kernel, does not have this ioctl)", g_strerror (errsv));
  else
    vhost_kernel_set_ioctl_error (error, "VHOST_FREE_WORKER", errsv);
  return FALSE;
}

/**
 * vhost_kernel_attach_vring_worker:
 * @kernel: a #VhostKernel
 * @index: a queue index
 * @worker_id: a worker that vhost_kernel_new_worker() created
 * @error: return location for a #GError
 *
 * Makes a worker thread process a queue (VHOST_ATTACH_VRING_WORKER), before the
 * queue starts (its kick eventfd and the device's backend are set).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_FOUND for a worker id
 *   the device does not have, %VHOST_ERROR_BROKEN for a queue that runs,
 *   %VHOST_ERROR_INVALID_ARGUMENT for a queue the device does not have,
 *   %VHOST_ERROR_NOT_SUPPORTED where the device has no worker ioctls
 */
gboolean
vhost_kernel_attach_vring_worker (VhostKernel *kernel, guint index, guint worker_id, GError **error)
{
  VhostKernelVringWorker w = { .index = index, .worker_id = worker_id };

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VHOST_KERNEL_IOCTL (kernel, VHOST_ATTACH_VRING_WORKER, &w, error);
}

/**
 * vhost_kernel_get_vring_worker:
 * @kernel: a #VhostKernel
 * @index: a queue index
 * @worker_id: (out): the id of the worker that processes the queue
 * @error: return location for a #GError
 *
 * Reads which worker thread processes a queue (VHOST_GET_VRING_WORKER).
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_INVALID_ARGUMENT for a
 *   queue the device does not have, %VHOST_ERROR_NOT_SUPPORTED where the device
 *   has no worker ioctls
 */
gboolean
vhost_kernel_get_vring_worker (VhostKernel *kernel, guint index, guint *worker_id, GError **error)
{
  VhostKernelVringWorker w = { .index = index };

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), FALSE);
  g_return_val_if_fail (worker_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (kernel, VHOST_GET_VRING_WORKER, &w, error))
    return FALSE;
  *worker_id = w.worker_id;
  return TRUE;
}

/**
 * vhost_kernel_get_fd:
 * @kernel: a #VhostKernel
 *
 * Gets the device's file descriptor, which @kernel owns.
 *
 * Returns: the file descriptor
 */
gint
vhost_kernel_get_fd (VhostKernel *kernel)
{
  VhostKernelPrivate *priv;

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), -1);
  priv = vhost_kernel_get_instance_private (kernel);
  return priv->fd;
}

/**
 * vhost_kernel_get_device_path:
 * @kernel: a #VhostKernel
 *
 * Gets the value of #VhostKernel:device-path.
 *
 * Returns: (nullable): the device node @kernel opened, or %NULL for an adopted fd
 */
const char *
vhost_kernel_get_device_path (VhostKernel *kernel)
{
  VhostKernelPrivate *priv;

  g_return_val_if_fail (VHOST_IS_KERNEL (kernel), NULL);
  priv = vhost_kernel_get_instance_private (kernel);
  return priv->device_path;
}

/* GObject */

static gboolean
vhost_kernel_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  VhostKernel *self = VHOST_KERNEL (initable);
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (self);

  if (priv->fd >= 0)
    return TRUE;
  if (priv->device_path == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "A %s needs a device path or a file descriptor",
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  priv->fd = open (priv->device_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (priv->fd < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, vhost_kernel_error_from_errno (errsv), "Cannot open %s: %s", priv->device_path,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static void
vhost_kernel_initable_iface_init (GInitableIface *iface)
{
  iface->init = vhost_kernel_initable_init;
}

static void
vhost_kernel_init (VhostKernel *self)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (self);

  priv->fd = -1;
  priv->context = g_main_context_ref_thread_default ();
}

static void
vhost_kernel_dispose (GObject *object)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (VHOST_KERNEL (object));

  if (priv->iotlb_source != NULL)
    g_source_destroy (priv->iotlb_source);
  g_clear_pointer (&priv->iotlb_source, g_source_unref);
  G_OBJECT_CLASS (vhost_kernel_parent_class)->dispose (object);
}

static void
vhost_kernel_finalize (GObject *object)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (VHOST_KERNEL (object));

  if (priv->fd >= 0)
    close (priv->fd);
  g_free (priv->device_path);
  g_main_context_unref (priv->context);
  G_OBJECT_CLASS (vhost_kernel_parent_class)->finalize (object);
}

static void
vhost_kernel_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (VHOST_KERNEL (object));

  switch (prop_id)
    {
    case PROP_DEVICE_PATH:
      g_value_set_string (value, priv->device_path);
      break;
    case PROP_FD:
      g_value_set_int (value, priv->fd);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_kernel_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VhostKernelPrivate *priv = vhost_kernel_get_instance_private (VHOST_KERNEL (object));

  switch (prop_id)
    {
    case PROP_DEVICE_PATH:
      g_free (priv->device_path);
      priv->device_path = g_value_dup_string (value);
      break;
    case PROP_FD:
      priv->fd = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_kernel_class_init (VhostKernelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_kernel_dispose;
  object_class->finalize = vhost_kernel_finalize;
  object_class->get_property = vhost_kernel_get_property;
  object_class->set_property = vhost_kernel_set_property;

  /**
   * VhostKernel:device-path:
   *
   * The device node to open, such as /dev/vhost-net, when #VhostKernel:fd is -1.
   * Opened read-write, close-on-exec and non-blocking.
   */
  properties[PROP_DEVICE_PATH] = g_param_spec_string ("device-path", "Device path",
                                                      "The device node to open, such as /dev/vhost-net, when "
                                                      "VhostKernel:fd is -1.", NULL,
                                                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                                        G_PARAM_STATIC_STRINGS);
  /**
   * VhostKernel:fd:
   *
   * The device's file descriptor. Set at construction, the object adopts it (it
   * closes it when finalized) instead of opening #VhostKernel:device-path.
   */
  properties[PROP_FD] = g_param_spec_int ("fd", "Fd", "The device's file descriptor.", -1, G_MAXINT, -1,
                                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostKernel::iotlb-message:
   * @kernel: the #VhostKernel
   * @iova: the I/O virtual address
   * @size: the size of the range
   * @uaddr: the user address
   * @perm: the access that failed or is asked for (1 read, 2 write, 3 both)
   * @type: the message type (1 miss, 4 access fail)
   *
   * The device reports an IOTLB miss or access failure: the queue that missed
   * waits until vhost_kernel_iotlb_msg() adds a translation for @iova. Emitted
   * on the object's #GMainContext once %VHOST_VIRTIO_F_ACCESS_PLATFORM was set
   * with vhost_backend_set_features().
   */
  signals[SIGNAL_IOTLB_MESSAGE] =
    g_signal_new ("iotlb-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 5, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_UINT, G_TYPE_UINT);
}
