/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Linux guests for interop tests: kernel, initramfs, QEMU, and the result on the serial console. */
#include <string.h>

#include "guest.h"
#include "peer.h"
#include "test-support.h"

char *
vhost_guest_find_kernel (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/lib/modules", 0, NULL);
  char *newest = NULL;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *vmlinuz = g_strdup_printf ("/boot/vmlinuz-%s", name);

      if (g_file_test (vmlinuz, G_FILE_TEST_IS_REGULAR) && (newest == NULL || strverscmp (name, newest) > 0))
        {
          g_free (newest);
          newest = g_strdup (name);
        }
    }
  if (newest == NULL)
    g_error ("No kernel in /boot with modules in /lib/modules: apt-get install linux-image-amd64 "
             "(.ci/install-deps.sh does)");
  return newest;
}

void
vhost_guest_make_initramfs (const char *dir, const char *kver, const char *initrd, const char *init_script,
                            const char *modules)
{
  vhost_guest_make_initramfs_with_files (dir, kver, initrd, init_script, modules, NULL);
}

void
vhost_guest_make_initramfs_with_files (const char *dir, const char *kver, const char *initrd, const char *init_script,
                                       const char *modules, const char *const *files)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "vm", "make-initramfs.sh", NULL);
  g_autofree char *init = g_build_filename (dir, "init", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *head[] = { "bash", script, "-k", kver, initrd, init, modules };
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = -1;

  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (guint i = 0; files != NULL && files[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) files[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_file_test ("/bin/busybox", G_FILE_TEST_IS_EXECUTABLE))
    g_error ("/bin/busybox is missing: apt-get install busybox-static (.ci/install-deps.sh does)");
  g_assert_true (g_file_set_contents (init, init_script, -1, &error));
  g_assert_no_error (error);
  g_test_message ("building %s with %s", initrd, script);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("make-initramfs.sh failed (%s):\n%s%s", error->message, out, err);
  g_assert_true (g_file_test (initrd, G_FILE_TEST_IS_REGULAR));
}

/* The serial console's text: no carriage returns, no ANSI escape sequences. */
static char *
clean_console (const char *log)
{
  GString *text = g_string_new (NULL);

  for (const char *p = log; *p != '\0'; p++)
    {
      if (*p == '\r')
        continue;
      if (*p == '\033')
        {
          if (p[1] == '[')
            {
              /* CSI: parameters and intermediates up to a final byte in @..~. */
              p += 2;
              while (*p != '\0' && !(*p >= '@' && *p <= '~'))
                p++;
              if (*p == '\0')
                break;
            }
          else if (p[1] != '\0')
            p++;
          continue;
        }
      g_string_append_c (text, *p);
    }
  return g_string_free (text, FALSE);
}

char *
vhost_guest_get_console (VhostPeer *guest)
{
  g_autofree char *log = vhost_peer_get_log (guest);

  return clean_console (log);
}

/* The words after the marker, or NULL. */
static char **
find_result (const char *console)
{
  const char *marker = strstr (console, VHOST_GUEST_RESULT_MARKER);
  const char *end;
  g_autofree char *line = NULL;

  if (marker == NULL)
    return NULL;
  marker += strlen (VHOST_GUEST_RESULT_MARKER);
  end = strchr (marker, '\n');
  line = end != NULL ? g_strndup (marker, end - marker) : g_strdup (marker);
  return g_strsplit (g_strstrip (line), " ", -1);
}

const char *
vhost_guest_result_value (char **words, const char *key)
{
  gsize len = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, len) == 0 && words[i][len] == '=')
      return words[i] + len + 1;
  return NULL;
}

VhostPeer *
vhost_guest_start (const char *dir, const char *kver, const char *initrd, guint smp, const char *const *devices)
{
  return vhost_guest_start_with_memory (dir, "qemu", kver, initrd, smp,
                                        "memory-backend-memfd,id=mem,size=512M,share=on", NULL, devices);
}

VhostPeer *
vhost_guest_start_with_memory (const char *dir,
                               const char *name,
                               const char *kver,
                               const char *initrd,
                               guint smp,
                               const char *memory,
                               const char *kernel_args,
                               const char *const *devices)
{
  g_autofree char *kernel = g_strdup_printf ("/boot/vmlinuz-%s", kver);
  g_autofree char *append = g_strdup_printf ("console=ttyS0 quiet panic=-1%s%s", kernel_args != NULL ? " " : "",
                                             kernel_args != NULL ? kernel_args : "");
  /* maxcpus of 2 at least: QEMU before 8.1 drops the guest's memory barriers from
   * the code TCG makes for a machine that can only have one vCPU, and the guest's
   * virtio driver then publishes a chain and reads whether to kick in the wrong
   * order as the back-end sees them: now and then it does not kick for a chain the
   * back-end did not see either, and the queue stalls (QEMU commit "tcg: Do not
   * elide memory barriers for !CF_PARALLEL in system mode"). */
  g_autofree char *cpus = g_strdup_printf ("%u,maxcpus=%u", smp, MAX (smp, 2));
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  /* setpriv makes the kernel kill QEMU if this process dies (a failed assertion, a crash):
   * a guest whose devices went away would otherwise run on forever. */
  const char *const head[] = { "setpriv", "--pdeathsig", "KILL", "--",
                               "qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "512", "-smp", cpus,
                               "-nographic", "-no-reboot", "-nic", "none",
                               "-object", memory, "-numa", "node,memdev=mem",
                               "-kernel", kernel, "-initrd", initrd, "-append", append };

  if (qemu == NULL)
    g_error ("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86 (.ci/install-deps.sh does)");
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (guint i = 0; devices != NULL && devices[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) devices[i]);
  g_ptr_array_add (argv, NULL);
  return vhost_peer_start (dir, name, "util-linux", (const char *const *) argv->pdata);
}

char **
vhost_guest_wait_result (VhostPeer *guest, guint timeout_ms)
{
  g_autofree char *log = NULL, *console = NULL;
  gint64 start = g_get_monotonic_time ();
  char **result;
  int status = -1;

  if (!vhost_peer_wait_exit (guest, timeout_ms, &status))
    {
      log = vhost_peer_get_log (guest);
      g_error ("the guest did not power off within %u s; the console:\n%s", timeout_ms / 1000, log);
    }
  g_test_message ("the guest powered off after %.1f s more; QEMU exited with status %d",
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND, status);
  log = vhost_peer_get_log (guest);
  console = clean_console (log);
  result = find_result (console);
  if (result == NULL || g_strcmp0 (result[0], "PASS") != 0)
    g_error ("the guest did not report PASS; the console:\n%s", console);
  g_assert_cmpint (status, ==, 0);
  return result;
}

void
vhost_guest_wait_console (VhostPeer *guest, const char *text, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean exited = FALSE;

  for (;;)
    {
      g_autofree char *log = vhost_peer_get_log (guest);
      g_autofree char *console = clean_console (log);

      if (strstr (console, text) != NULL)
        return;
      if (exited || g_get_monotonic_time () >= deadline)
        g_error ("the guest did not print \"%s\" %s; the console:\n%s", text,
                 exited ? "before QEMU exited" : "in time", console);
      /* Look once more after QEMU exited or the time ran out. (Not with
       * vhost_peer_wait_exit(): each call leaves a main context behind.) */
      exited = vhost_peer_has_exited (guest);
      g_usleep (100 * 1000);
    }
}

void
vhost_guest_assert_file_md5 (const char *path, gsize size, const char *md5)
{
  g_autofree char *contents = NULL;
  g_autofree char *sum = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, size);
  sum = g_compute_checksum_for_data (G_CHECKSUM_MD5, (const guchar *) contents, length);
  g_assert_cmpstr (sum, ==, md5);
}
