/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the decoders of the kernel's replies to vDPA discovery (CTRL_CMD_GETFAMILY
 * "vdpa" and the VDPA_CMD_DEV_GET dump), fed arbitrary bytes.
 *
 * Its corpus, corpus/vdpa-netlink/: kernel-* are replies as Linux 6.1 sent them in the guest test
 * of tests/vm/ (vdpa0 on vdpasim_net, vdpa1 on vdpasim_blk), truncated-* and garbled-* are those
 * cut short or with a length, a flag, a number or a byte changed, and crash-* are inputs that
 * crashed a decoder once (crash-dump-length-negative-as-int: a message length that libmnl, which
 * compares lengths as ints, takes for negative, found with the decoder's own bounds removed). */
#include <stdint.h>
#include <string.h>

#include "vhost-glib/vhost-vdpa-discovery-private.h"

/* The port id of the socket that received the captured replies of corpus/vdpa-netlink/. */
#define CAPTURED_PORTID 102

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The first byte chooses the decoding, the rest is the datagram: bit 0 the reply (0 the family's,
 * 1 the dump), bit 1 whether the messages must carry the request's sequence number and the port
 * id of the captures (otherwise any is taken). */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gboolean dump, checked;
  guint32 portid;
  GError *error = NULL;

  if (size == 0)
    return 0;
  dump = (data[0] & 1) != 0;
  checked = (data[0] & 2) != 0;
  portid = checked ? CAPTURED_PORTID : 0;
  data++;
  size--;

  if (dump)
    {
      GHashTable *table = vhost_vdpa_device_table_new ();
      gboolean done = FALSE;
      GHashTableIter iter;
      gpointer value;

      if (vhost_vdpa_parse_dev_dump (table, data, size, checked ? VHOST_VDPA_SEQ_DEV_GET : 0, portid, &done,
                                     &error))
        g_assert_no_error (error);
      else
        g_assert_true (error != NULL && error->domain == VHOST_ERROR);
      /* What was decoded, before an error too, are strings from the input: shorter than it. */
      g_hash_table_iter_init (&iter, table);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          VhostVdpaDeviceInfo *info = value;
          const char *mgmtdev = vhost_vdpa_device_info_get_mgmtdev (info);

          g_assert_cmpuint (strlen (vhost_vdpa_device_info_get_name (info)), <, size);
          if (mgmtdev != NULL)
            g_assert_cmpuint (strlen (mgmtdev), <, size);
        }
      g_hash_table_unref (table);
    }
  else
    {
      guint16 family = 0;

      if (vhost_vdpa_parse_family_reply (data, size, checked ? VHOST_VDPA_SEQ_FAMILY : 0, portid, &family, &error))
        g_assert_true (family == 0 || family >= 16);
      else
        g_assert_true (error != NULL && error->domain == VHOST_ERROR);
    }
  g_clear_error (&error);
  return 0;
}
