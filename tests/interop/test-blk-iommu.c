/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest behind QEMU's vIOMMU (intel-iommu, device IOTLB) on a tools/vhost-user-blk disk with
 * VIRTIO_F_ACCESS_PLATFORM: O_DIRECT writes and reads through IOTLB misses, updates and invalidations. */
#include <signal.h>
#include <string.h>

#include "test-support.h"
#include "guest.h"

#define IMAGE_SIZE (8 * 1024 * 1024)
#define PATTERN_SIZE (1024 * 1024)
#define QEMU_TIMEOUT_MS (150 * 1000)

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " virtio_blk";

/* QEMU 7.2 under TCG: the IOMMU with a device IOTLB (interrupt remapping off: it
 * needs a split irqchip, which is KVM's), each disk behind a PCIe root port so
 * that it has an ATS capability (the guest then invalidates its device IOTLB,
 * which QEMU turns into IOTLB_MSG invalidations), with iommu_platform. The
 * IOMMU comes before the devices it translates for. */
#define IOMMU_DEVICE "-device", "intel-iommu,intremap=off,device-iotlb=on"
#define DISK(id, chardev, options)                                                            \
  "-device", "pcie-root-port,id=rp" id ",bus=pcie.0,chassis=" id,                             \
  "-chardev", chardev,                                                                        \
  "-device", "vhost-user-blk-pci,chardev=c" id ",bus=rp" id ",iommu_platform=on,ats=on" options

/* The kernel's IOMMU, strict: every unmap invalidates at once. (In 6.1 the x86
 * option iommu=strict alone leaves the DMA domains in lazy mode; iommu.strict=1
 * is the generic one.) */
#define IOMMU_APPEND "intel_iommu=on iommu=strict iommu.strict=1"

/* The guest's /init. Each disk (told apart by serial: one with a split ring,
 * one with a packed ring and two queues) is behind the IOMMU in a translated
 * (DMA) domain with strict invalidation; 1 MiB of random data is written to it
 * with O_DIRECT in 64 KiB and 256 KiB requests, read back with O_DIRECT,
 * compared. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  "n=0\n"
  "while [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; do\n"
  "  n=$((n + 1)); [ $n -le 600 ] || result FAIL no /dev/vda and /dev/vdb\n"
  "  sleep 0.05\n"
  "done\n"
  "strict=$(dmesg | grep -c 'TLB invalidation policy: strict')\n"
  "out=\"PASS strict=$strict\"\n"
  "for d in vda vdb; do\n"
  "  name=$(cat /sys/block/$d/serial)\n"
  "  group=$(readlink /sys/block/$d/device/../iommu_group)\n"
  "  [ -n \"$group\" ] || result FAIL $name is not behind an IOMMU\n"
  "  type=$(cat /sys/kernel/iommu_groups/${group##*/}/type)\n"
  "  dd if=/dev/urandom of=/tmp/pat bs=4096 count=256 2>/dev/null || result FAIL pattern\n"
  "  dd if=/tmp/pat of=/dev/$d bs=65536 count=8 oflag=direct 2>/tmp/err || result FAIL write $name $(cat /tmp/err)\n"
  "  dd if=/tmp/pat of=/dev/$d bs=262144 skip=2 seek=2 count=2 oflag=direct 2>/tmp/err ||"
  " result FAIL write $name $(cat /tmp/err)\n"
  "  dd if=/dev/$d of=/tmp/back bs=131072 count=8 iflag=direct 2>/tmp/err || result FAIL read $name $(cat /tmp/err)\n"
  "  cmp /tmp/pat /tmp/back || result FAIL compare $name\n"
  "  md5=$(md5sum /tmp/pat)\n"
  "  back=$(md5sum /tmp/back)\n"
  "  out=\"$out $name-md5=${md5%% *} $name-back=${back%% *} $name-type=$type\"\n"
  "done\n"
  "result $out\n";

/* How many lines of the log have `text`. */
static guint
count_lines (const char *log, const char *text)
{
  guint n = 0;

  for (const char *p = strstr (log, text); p != NULL; p = strstr (p + 1, text))
    n++;
  return n;
}

typedef struct
{
  const char *name;
  char *sock;
  char *image;
  VhostPeer *tool;
  char *log;
} Disk;

static void
disk_start (Disk *disk, const char *dir, const char *name, const char *extra)
{
  g_autofree guint8 *zeroes = g_malloc0 (IMAGE_SIZE);
  g_autofree char *sock_name = g_strconcat (name, ".sock", NULL);
  g_autofree char *image_name = g_strconcat (name, ".img", NULL);
  g_autofree char *socket_arg = NULL, *file_arg = NULL, *serial_arg = g_strdup_printf ("--serial=%s", name);
  g_autoptr(GError) error = NULL;

  disk->name = name;
  disk->sock = g_build_filename (dir, sock_name, NULL);
  disk->image = g_build_filename (dir, image_name, NULL);
  socket_arg = g_strdup_printf ("--socket-path=%s", disk->sock);
  file_arg = g_strdup_printf ("--blk-file=%s", disk->image);
  g_assert_true (g_file_set_contents (disk->image, (const char *) zeroes, IMAGE_SIZE, &error));
  g_assert_no_error (error);
  {
    const char *argv[] = { g_getenv ("VHOST_USER_BLK"), socket_arg, file_arg, serial_arg, "--verbose", extra, NULL };

    g_assert_nonnull (argv[0]);
    disk->tool = vhost_peer_start (dir, name, NULL, argv);
  }
  vhost_peer_wait_for_socket (disk->tool, disk->sock, 10000);
}

/* After the guest: the tool stops cleanly; the image holds what the guest
 * wrote; the back-end's debug log says it missed, QEMU translated through the
 * vIOMMU and updated its IOTLB, and the guest's unmaps came as invalidations. */
static void
disk_check (Disk *disk, char **result)
{
  g_autofree char *key = g_strconcat (disk->name, "-md5", NULL), *back_key = g_strconcat (disk->name, "-back", NULL);
  g_autofree char *type_key = g_strconcat (disk->name, "-type", NULL);
  g_autofree char *after = NULL, *md5 = NULL;
  g_autofree guint8 *zeroes = g_malloc0 (IMAGE_SIZE);
  g_autoptr(GError) error = NULL;
  guint misses, updates, invalidations;
  gsize length;

  vhost_peer_terminate (disk->tool, SIGTERM, disk->sock);
  disk->log = vhost_peer_get_log (disk->tool);
  g_clear_pointer (&disk->tool, vhost_peer_free);

  g_assert_cmpstr (vhost_guest_result_value (result, type_key), ==, "DMA");
  g_assert_cmpstr (vhost_guest_result_value (result, back_key), ==, vhost_guest_result_value (result, key));
  g_assert_true (g_file_get_contents (disk->image, &after, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  md5 = g_compute_checksum_for_data (G_CHECKSUM_MD5, (const guint8 *) after, PATTERN_SIZE);
  g_assert_cmpstr (md5, ==, vhost_guest_result_value (result, key));
  g_assert_true (memcmp (after + PATTERN_SIZE, zeroes, IMAGE_SIZE - PATTERN_SIZE) == 0);

  misses = count_lines (disk->log, "IOTLB miss: vring");
  updates = count_lines (disk->log, "IOTLB update: IOVA");
  invalidations = count_lines (disk->log, "IOTLB invalidation: IOVA");
  g_test_message ("%s: the back-end sent %u IOTLB misses; it was sent %u updates and %u invalidations", disk->name,
                  misses, updates, invalidations);
  g_assert_cmpuint (misses, >=, 1);
  g_assert_cmpuint (updates, >=, misses);
  g_assert_cmpuint (invalidations, >=, 1);
  /* Nothing was refused, and no queue broke. */
  g_assert_cmpuint (count_lines (disk->log, "IOTLB access failure"), ==, 0);
  g_assert_null (strstr (disk->log, "broke a queue"));
}

static void
disk_clear (Disk *disk)
{
  g_free (disk->sock);
  g_free (disk->image);
  g_free (disk->log);
}

static void
test_guest (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *chardev1 = NULL, *chardev2 = NULL;
  g_auto(GStrv) result = NULL;
  Disk split = { 0 }, packed = { 0 };
  VhostPeer *guest;

  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);
  disk_start (&split, dir, "split-disk", NULL);
  disk_start (&packed, dir, "packed-disk", "--num-queues=2");
  chardev1 = g_strdup_printf ("socket,id=c1,path=%s", split.sock);
  chardev2 = g_strdup_printf ("socket,id=c2,path=%s", packed.sock);
  {
    const char *devices[] = { IOMMU_DEVICE, DISK ("1", chardev1, ",num-queues=1"), DISK ("2", chardev2, ",packed=on,num-queues=2"),
                              NULL };

    guest = vhost_guest_start_with_memory (dir, "qemu", kver, initrd, 2, "memory-backend-memfd,id=mem,size=512M,share=on",
                                           IOMMU_APPEND, devices);
  }
  result = vhost_guest_wait_result (guest, QEMU_TIMEOUT_MS);
  vhost_peer_free (guest);

  /* The guest's IOMMU invalidated strictly. */
  g_assert_cmpstr (vhost_guest_result_value (result, "strict"), ==, "1");
  disk_check (&split, result);
  disk_check (&packed, result);
  disk_clear (&split);
  disk_clear (&packed);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/blk-tool/iommu", test_guest);
  return g_test_run ();
}
