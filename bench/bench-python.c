/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Requests per second of a device written in Python (bench/python-echo.py, main-context dispatch),
 * driven by VhostDriver from C: 64-byte and 4 KiB requests, 1 and 64 in flight, the device popping
 * and pushing them one by one and 64 at a time. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <vhost-glib/vhost-glib.h>

#include "bench-common.h"

static gint seconds = 3;

/* One request: `size` readable bytes, `size` writable ones for the echo. */
static void
submit (VhostDriver *driver, guint64 out, guint64 in, guint size, guint tag)
{
  VhostDriverBuffer readable = { out, size }, writable = { in, size };
  g_autoptr(GError) error = NULL;

  if (!vhost_driver_submit (driver, 0, &readable, 1, &writable, 1, tag, &error))
    g_error ("%s", error->message);
}

/* Keep `depth` requests of `size` bytes in flight for `seconds`, reaping by
 * polling; the requests completed per second. */
static double
run (const char *socket_path, const char *log_path, guint size, guint depth)
{
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (socket_path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint64 out[64], in[64];
  gint64 start, end, last, completed = 0;

  if (!vhost_user_master_connect (master, NULL, &error) ||
      (driver = vhost_driver_new (VHOST_BACKEND (master), 4 * 1024 * 1024, &error)) == NULL ||
      !vhost_driver_start (driver, 1, 256,
                           VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                             VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX),
                           &error))
    g_error ("%s: %s", socket_path, error->message);
  for (guint i = 0; i < depth; i++)
    {
      if (!vhost_driver_alloc (driver, size, &out[i], &error) || !vhost_driver_alloc (driver, size, &in[i], &error))
        g_error ("%s", error->message);
      memset (vhost_driver_get_host_address (driver, out[i], size), 'a' + i % 26, size);
    }

  start = last = g_get_monotonic_time ();
  end = start + seconds * G_USEC_PER_SEC;
  for (guint i = 0; i < depth; i++)
    submit (driver, out[i], in[i], size, i);
  vhost_driver_kick (driver, 0);
  for (gboolean running = TRUE; running || vhost_driver_get_in_flight (driver, 0) > 0;)
    {
      guint64 tag;
      guint len;
      gboolean any = FALSE;

      while (vhost_driver_reap (driver, 0, &tag, &len, &error))
        {
          if (len != size || *(guint8 *) vhost_driver_get_host_address (driver, in[tag], 1) != 'a' + tag % 26)
            g_error ("request %" G_GUINT64_FORMAT ": %u bytes, not the echo of %u", tag, len, size);
          completed++;
          any = TRUE;
          if (running)
            submit (driver, out[tag], in[tag], size, tag);
        }
      if (error != NULL)
        g_error ("%s", error->message);
      if (any)
        {
          vhost_driver_kick (driver, 0);
          last = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - last > 10 * G_USEC_PER_SEC)
        g_error ("no completion for 10 s: the device stopped (its log is %s)", log_path);
      if ((completed & 1023) == 0 || !any)
        running = running && g_get_monotonic_time () < end;
    }
  end = g_get_monotonic_time ();
  if (!vhost_driver_stop (driver, &error))
    g_error ("%s", error->message);
  vhost_user_master_close (master);
  return completed * (double) G_USEC_PER_SEC / (end - start);
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Seconds per run (default 3)", "S" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- requests/s of a device written in Python");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "echo.sock", NULL);
  g_autofree char *log_path = g_build_filename (dir, "python-echo.log", NULL);
  const char *device = g_getenv ("VHOST_PYTHON_ECHO") != NULL ? g_getenv ("VHOST_PYTHON_ECHO") : PYTHON_ECHO;
  const guint sizes[] = { 64, 4096 }, depths[] = { 1, 64 }, batches[] = { 1, 64 };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  bench_pin_to_cpu (0);
  printf ("# %s: one queue on the main context, %d s per run, the driver on CPU 0, the device on CPU %s\n",
          device, seconds, BENCH_BACK_END_CPU);
  printf ("%-8s %-10s %-8s %s\n", "size", "in-flight", "batch", "requests/s");
  for (guint b = 0; b < G_N_ELEMENTS (batches); b++)
    {
      g_autofree char *batch = g_strdup_printf ("%u", batches[b]);
      const char *device_argv[] = { "/usr/bin/python3", device, "--socket-path", sock, "--batch", batch, NULL };
      VhostPeer *peer = bench_back_end_start (dir, "python-echo", "python3-gi", device_argv, sock, 20000);

      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
        for (guint d = 0; d < G_N_ELEMENTS (depths); d++)
          printf ("%-8u %-10u %-8u %.0f\n", sizes[s], depths[d], batches[b], run (sock, log_path, sizes[s], depths[d]));
      vhost_peer_terminate (peer, SIGTERM, sock);
      vhost_peer_free (peer);
    }
  vhost_peer_remove_dir (dir);
  return 0;
}
