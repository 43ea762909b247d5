/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A virtio-rng device in C on VhostUserSlave: its queue handler fills each buffer with getrandom() in a worker thread. */
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <glib-unix.h>
#include <vhost-glib/vhost-glib.h>

/* The device: virtio-rng has one queue, no feature bits of its own and no
 * configuration space, so the class keeps VhostUserSlave's defaults. */
G_DECLARE_FINAL_TYPE (ExampleRng, example_rng, EXAMPLE, RNG, VhostUserSlave)

struct _ExampleRng
{
  VhostUserSlave parent_instance;
  guint64 requests; /* (atomic) counted by the worker */
};

G_DEFINE_FINAL_TYPE (ExampleRng, example_rng, VHOST_TYPE_USER_SLAVE)

/* Runs in the queue's worker thread: no main loop, no allocation. */
static void
rng_handle_queue (VhostVirtqueue *queue, gpointer user_data)
{
  ExampleRng *self = user_data;
  struct iovec iov[VHOST_VIRTQUEUE_MAX_IOV];
  VhostVirtqueueElement element;

  while (vhost_virtqueue_pop (queue, &element, iov, G_N_ELEMENTS (iov)))
    {
      guint32 written = 0;

      /* The writable buffers follow the n_out readable ones (none for virtio-rng). */
      for (guint i = element.n_out; i < element.n_out + element.n_in; i++)
        {
          ssize_t n = getrandom (iov[i].iov_base, iov[i].iov_len, 0);

          if (n > 0)
            written += n;
        }
      vhost_virtqueue_push (queue, &element, written);
      g_atomic_pointer_add (&self->requests, 1);
    }
}

static void
example_rng_class_init (ExampleRngClass *klass)
{
}

static void
example_rng_init (ExampleRng *self)
{
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), 0), rng_handle_queue, self,
                               NULL);
}

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(ExampleRng) rng = NULL;
  g_autoptr(GError) error = NULL;

  if (argc != 2)
    {
      fprintf (stderr, "Usage: %s SOCKET\n", argv[0]);
      return 2;
    }
  rng = g_object_new (example_rng_get_type (), NULL);
  if (!vhost_user_slave_listen (VHOST_USER_SLAVE (rng), argv[1], &error))
    {
      fprintf (stderr, "rng-device: %s\n", error->message);
      return 1;
    }
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);
  vhost_user_slave_close (VHOST_USER_SLAVE (rng));
  printf ("rng-device: served %" G_GUINT64_FORMAT " requests\n", (guint64) g_atomic_pointer_get (&rng->requests));
  return 0;
}
