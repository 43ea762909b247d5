/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-blk: a virtio-blk back-end serving an image file, a block device, RAM or nothing (the device is
 * VhostToolBlk in blk-device.c); its command line, socket and signals. */
#undef G_LOG_DOMAIN /* the project-wide one is the library's */
#define G_LOG_DOMAIN "vhost-user-blk"
#define G_LOG_USE_STRUCTURED

#include <string.h>
#include <sys/sysinfo.h>

#include "blk-device.h"
#include "tool-common.h"

/* The default --busy-poll-us: half the library's. Polling bridges a gap between two
 * requests by spinning through it, a sleep and a wake-up saved for the gap's length
 * in CPU time. At 10 % of qemu-storage-daemon's peak (requests 29 us apart on the
 * benchmarks' machine) 32 us polled through every gap: 1.06 - 1.32 times qsd's CPU
 * time per request, for a median latency of 4 - 9 us against its 27; 16 sleeps
 * through them: 0.64 - 0.71 of qsd's, the same median latency as qsd's. */
#define DEFAULT_BUSY_POLL_US 16

/* The RAM and swap of the machine: a RAM disk larger than that could never be filled. */
static guint64
machine_memory (void)
{
  struct sysinfo info;

  if (sysinfo (&info) < 0)
    return G_MAXUINT64;
  return ((guint64) info.totalram + info.totalswap) * MAX (info.mem_unit, 1);
}

int
main (int argc, char **argv)
{
  g_auto(VhostToolOptions) options = { 0 };
  g_autofree char *blk_file = NULL, *ram = NULL, *null = NULL, *serial = NULL, *num_queues_text = NULL;
  g_autofree char *threads_text = NULL;
  gboolean read_only = FALSE, direct = FALSE;
  gint64 num_queues = 1;
  guint threads;
  const GOptionEntry entries[] = {
    { "blk-file", 'b', 0, G_OPTION_ARG_FILENAME, &blk_file, "Serve the raw image file or block device PATH", "PATH" },
    { "ram", 0, 0, G_OPTION_ARG_STRING, &ram, "Serve a RAM disk of SIZE bytes (K, M, G suffixes)", "SIZE" },
    { "null", 0, 0, G_OPTION_ARG_STRING, &null,
      "Serve a disk of SIZE bytes that stores nothing (reads leave the buffers as they are)", "SIZE" },
    { "read-only", 'r', 0, G_OPTION_ARG_NONE, &read_only, "Export the disk read-only", NULL },
    { "direct", 0, 0, G_OPTION_ARG_NONE, &direct, "Open --blk-file with O_DIRECT, bypassing the page cache", NULL },
    { "num-queues", 'q', 0, G_OPTION_ARG_STRING, &num_queues_text,
      "Offer N queues (1-64)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_STRING, &threads_text,
      "Serve the queues with N worker threads, queue i in thread i mod N (1-64, at most --num-queues; "
      "default: one per queue, at most one per CPU the program may run on)", "N" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, "The serial number GET_ID returns (at most 20 bytes)", "TEXT" },
    { NULL }
  };
  static const char *const capabilities[] = { "read-only", "blk-file", NULL };
  g_autoptr(VhostToolBlk) blk = NULL;
  g_autoptr(GError) error = NULL;
  VhostToolBlkConfig config = { 0 };
  const char *size_option = NULL;
  guint64 memory;
  guint sources;
  int code;

  if ((code = vhost_tool_parse (&argc, &argv,
                                "Serves a virtio-blk device to a vhost-user front-end (QEMU, cloud-hypervisor...)\n"
                                "from an image file, a block device, RAM or nothing.",
                                entries, &options)) >= 0)
    return code;
  if (options.print_capabilities)
    {
      vhost_tool_print_capabilities ("block", capabilities);
      return VHOST_TOOL_EXIT_OK;
    }
  sources = (blk_file != NULL) + (ram != NULL) + (null != NULL);
  if (sources != 1)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, sources == 0 ? "one of --blk-file, --ram or --null is required"
                                                                : "--blk-file, --ram and --null cannot be used together");
  if (direct && blk_file == NULL)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--direct applies to --blk-file only");
  if (num_queues_text != NULL &&
      (code = vhost_tool_parse_number ("num-queues", num_queues_text, 1, VHOST_TOOL_BLK_MAX_QUEUES, &num_queues)) >= 0)
    return code;
  if ((code = vhost_tool_parse_threads (threads_text, num_queues, VHOST_TOOL_BLK_MAX_QUEUES, "queue", "--num-queues",
                                       &threads)) >= 0)
    return code;
  if (serial != NULL && strlen (serial) > VHOST_TOOL_BLK_SERIAL_MAX)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--serial is longer than %d bytes", VHOST_TOOL_BLK_SERIAL_MAX);
  if ((code = vhost_tool_check (&options)) >= 0)
    return code;

  config.read_only = read_only;
  config.direct = direct;
  config.num_queues = num_queues;
  config.threads = threads;
  config.serial = serial;
  if (blk_file != NULL)
    {
      config.backing = VHOST_TOOL_BLK_BACKING_FILE;
      config.path = blk_file;
    }
  else
    {
      config.backing = ram != NULL ? VHOST_TOOL_BLK_BACKING_RAM : VHOST_TOOL_BLK_BACKING_NULL;
      size_option = ram != NULL ? "--ram" : "--null";
      if (!vhost_tool_parse_size (ram != NULL ? ram : null, &config.size, &error))
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "%s: %s", size_option, error->message);
      if (config.size == 0)
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "%s: the disk is empty", size_option);
      if (config.size % VHOST_TOOL_BLK_SECTOR_SIZE != 0)
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "%s: %" G_GUINT64_FORMAT " is not a multiple of %d bytes",
                                size_option, config.size, VHOST_TOOL_BLK_SECTOR_SIZE);
      if (config.size > VHOST_TOOL_BLK_SIZE_MAX)
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE,
                                "%s: %" G_GUINT64_FORMAT " bytes is more than a disk's byte offsets reach (at most %"
                                G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " sectors)",
                                size_option, config.size, (guint64) VHOST_TOOL_BLK_SIZE_MAX,
                                (guint64) VHOST_TOOL_BLK_SIZE_MAX / VHOST_TOOL_BLK_SECTOR_SIZE);
      if (ram != NULL && config.size > (memory = machine_memory ()))
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE,
                                "--ram: %" G_GUINT64_FORMAT " bytes is more than this machine's memory (%"
                                G_GUINT64_FORMAT " bytes of RAM and swap)",
                                config.size, memory);
    }

  blk = g_object_new (VHOST_TYPE_TOOL_BLK, "busy-poll-us", DEFAULT_BUSY_POLL_US, NULL);
  if (!vhost_tool_blk_configure (blk, &config, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s%s%s", size_option != NULL ? size_option : "",
                            size_option != NULL ? ": " : "", error->message);
  g_message ("Serving %s%s: %" G_GUINT64_FORMAT " sectors, %u queue%s in %u thread%s, polling for up to %d us after "
             "a request",
             blk_file != NULL ? blk_file : ram != NULL ? "a RAM disk" : "a null disk", read_only ? " read-only" : "",
             vhost_tool_blk_get_capacity (blk), vhost_tool_blk_get_num_queues (blk), num_queues > 1 ? "s" : "",
             vhost_tool_blk_get_threads (blk), vhost_tool_blk_get_threads (blk) > 1 ? "s" : "",
             options.busy_poll_us >= 0 ? options.busy_poll_us : DEFAULT_BUSY_POLL_US);
  return vhost_tool_run (VHOST_USER_SLAVE (blk), &options);
}
