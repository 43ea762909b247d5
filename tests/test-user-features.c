/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The specification's latest protocol features through a master and a slave in one process: shared memory regions
 * (SHMEM), GET_VRING_BASE_INFLIGHT, and the dependencies of protocol features on the master. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"

#define PAGE 4096
#define SHMEM_FEATURES                                                                                             \
  (VHOST_USER_PROTOCOL_F_SHMEM | VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD |       \
   VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define MEMFD_NAME "vhost-shmem-test"

/* The device's regions: 17 pages, none, 5 pages. */
static const guint64 region_sizes[] = { 17 * PAGE, 0, 5 * PAGE };

typedef struct
{
  gint fds_before;
  GArray *regions;             /* (element-type Range) the regions the master reserved */
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;     /* (unowned) lives in the thread */
  VhostUserMaster *master;
  GArray *mapped;              /* (element-type Seen) shmem-map signals */
  GArray *unmapped;            /* (element-type Seen) shmem-unmap signals */
  gboolean map_seen;           /* a shmem-map signal came */
} Fixture;

typedef struct
{
  guint shmid;
  guint64 offset, len;
  VhostUserShmemMapFlags flags;
} Seen;

/* One line of /proc/self/maps: the range, the permissions, the inode. */
typedef struct
{
  guint64 start, end;
  char perms[5];
  guint64 inode;
  const char *line;
} MapsLine;

/* Call `func` for each line of /proc/self/maps until it returns TRUE. */
static void
maps_foreach (gboolean (*func) (const MapsLine *line, gpointer data), gpointer data)
{
  g_autofree char *maps = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      MapsLine line = { .line = lines[i] };
      guint64 offset;

      if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %4s %" G_GINT64_MODIFIER "x %*s %"
                  G_GINT64_MODIFIER "u", &line.start, &line.end, line.perms, &offset, &line.inode) == 5 &&
          func (&line, data))
        return;
    }
}

typedef struct
{
  const char *needle;
  guint n;
} MapsCount;

static gboolean
count_named (const MapsLine *line, gpointer data)
{
  MapsCount *count = data;

  count->n += strstr (line->line, count->needle) != NULL;
  return FALSE;
}

/* The lines of /proc/self/maps that name `needle`. */
static guint
maps_count (const char *needle)
{
  MapsCount count = { needle, 0 };

  maps_foreach (count_named, &count);
  return count.n;
}

typedef struct
{
  guintptr start, end;
  gboolean reserved;
} Range;

static gboolean
find_reservation (const MapsLine *line, gpointer data)
{
  Range *range = data;

  range->reserved = strcmp (line->perms, "---p") == 0 && line->inode == 0 && line->start <= range->start &&
                    range->end <= line->end;
  return line->start <= range->start && range->start < line->end;
}

/* Whether `size` bytes at `addr` lie in anonymous mappings without access: the
 * reservation of a region (the kernel may merge it with others like it). */
static gboolean
is_reserved (gconstpointer addr, guint64 size)
{
  Range range = { (guintptr) addr, (guintptr) addr + size, FALSE };

  maps_foreach (find_reservation, &range);
  return range.reserved;
}

typedef struct
{
  guintptr addr;
  char perms[5];
} MapsFind;

static gboolean
find_perms (const MapsLine *line, gpointer data)
{
  MapsFind *find = data;

  if (find->addr < line->start || find->addr >= line->end)
    return FALSE;
  memcpy (find->perms, line->perms, sizeof find->perms);
  return TRUE;
}

/* The permissions ("r--s", "---p"...) of the mapping that holds `addr` are `expected`. */
static void
assert_perms (gconstpointer addr, const char *expected)
{
  MapsFind find = { (guintptr) addr, "none" };

  maps_foreach (find_perms, &find);
  g_assert_cmpstr (find.perms, ==, expected);
}

static void
on_shmem_map (VhostUserMaster *m, guint shmid, guint64 offset, guint64 len, VhostUserShmemMapFlags flags, Fixture *f)
{
  Seen seen = { shmid, offset, len, flags };

  g_array_append_val (f->mapped, seen);
  f->map_seen = TRUE;
}

static void
on_shmem_unmap (VhostUserMaster *m, guint shmid, guint64 offset, guint64 len, Fixture *f)
{
  Seen seen = { shmid, offset, len, 0 };

  g_array_append_val (f->unmapped, seen);
}

static void
declare_regions (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_slave_set_shmem_regions (slave, data, data != NULL ? G_N_ELEMENTS (region_sizes) : 0,
                                                     &error));
  g_assert_no_error (error);
}

/* The regions the master reserved are gone, and whatever was mapped in them. */
static void
assert_released (Fixture *f)
{
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 0);
  for (guint i = 0; i < f->regions->len; i++)
    {
      Range *range = &g_array_index (f->regions, Range, i);

      g_assert_false (is_reserved ((gconstpointer) range->start, range->end - range->start));
    }
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int sv[2];

  f->fds_before = vhost_test_count_open_fds ();
  f->regions = g_array_new (FALSE, FALSE, sizeof (Range));
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  f->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], declare_regions, (gpointer) region_sizes);
  f->device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (f->thread));
  f->master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);
  f->mapped = g_array_new (FALSE, FALSE, sizeof (Seen));
  f->unmapped = g_array_new (FALSE, FALSE, sizeof (Seen));
  g_signal_connect (f->master, "shmem-map", G_CALLBACK (on_shmem_map), f);
  g_signal_connect (f->master, "shmem-unmap", G_CALLBACK (on_shmem_unmap), f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->master);
  vhost_test_slave_thread_free (f->thread);
  g_array_unref (f->mapped);
  g_array_unref (f->unmapped);
  assert_released (f);
  g_array_unref (f->regions);
  vhost_test_assert_fd_count (f->fds_before);
}

static void
negotiate (Fixture *f, guint64 protocol_features)
{
  vhost_test_negotiate (f->master, protocol_features);
}

/* Negotiate SHMEM (and `extra`), and read the regions. */
static void
negotiate_shmem (Fixture *f, guint64 extra)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint64 *sizes = NULL;
  guint n = 0;

  negotiate (f, SHMEM_FEATURES | extra);
  sizes = vhost_user_master_get_shmem_config (f->master, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (sizes, n * sizeof (guint64), region_sizes, sizeof region_sizes);
  for (guint i = 0; i < n; i++)
    {
      guint64 size;
      gpointer base = vhost_user_master_get_shmem_region (f->master, i, &size);
      Range range = { (guintptr) base, (guintptr) base + size };

      if (base != NULL)
        g_array_append_val (f->regions, range);
    }
}

static int
test_memfd (gsize size)
{
  int fd = memfd_create (MEMFD_NAME, MFD_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  return fd;
}

/* GET_SHMEM_CONFIG: the sizes by region ID, and a reservation for each region,
 * inaccessible until something is mapped there. */
static void
test_config (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint64 *again = NULL;
  guint64 size = 1;
  gpointer region;
  guint n = 0;

  negotiate_shmem (f, 0);
  region = vhost_user_master_get_shmem_region (f->master, 0, &size);
  g_assert_nonnull (region);
  g_assert_cmpuint (size, ==, 17 * PAGE);
  g_assert_true (is_reserved (region, size));
  g_assert_null (vhost_user_master_get_shmem_region (f->master, 1, &size));
  g_assert_cmpuint (size, ==, 0);
  g_assert_true (is_reserved (vhost_user_master_get_shmem_region (f->master, 2, &size), 5 * PAGE));
  g_assert_cmpuint (size, ==, 5 * PAGE);
  g_assert_null (vhost_user_master_get_shmem_region (f->master, 3, NULL));

  /* Asked again: the same regions, in the same place. */
  again = vhost_user_master_get_shmem_config (f->master, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpmem (again, n * sizeof (guint64), region_sizes, sizeof region_sizes);
  g_assert_true (vhost_user_master_get_shmem_region (f->master, 0, NULL) == region);
  g_assert_true (is_reserved (region, size));

  /* Nothing is mapped: nothing to read. */
  g_assert_null (vhost_user_master_read_shmem (f->master, 0, 0, 16, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "not mapped"));
  g_clear_error (&error);
  g_assert_null (vhost_user_master_read_shmem (f->master, 1, 0, 16, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "no shared memory region 1"));
}

static void
set_regions_connected (VhostUserSlave *slave, gpointer data)
{
  static const guint64 odd[] = { PAGE + 1 };
  g_autoptr(GError) error = NULL;
  guint64 many[VHOST_USER_MAX_SHMEM_REGIONS + 1] = { 0 };
  const guint64 *sizes;
  guint n = 0;

  /* The regions stay the same for the whole connection. */
  g_assert_false (vhost_user_slave_set_shmem_regions (slave, region_sizes, 1, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  sizes = vhost_user_slave_get_shmem_regions (slave, &n);
  g_assert_cmpmem (sizes, n * sizeof (guint64), region_sizes, sizeof region_sizes);

  vhost_user_slave_close (slave);
  g_assert_false (vhost_user_slave_set_shmem_regions (slave, odd, 1, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "page size"));
  g_clear_error (&error);
  g_assert_false (vhost_user_slave_set_shmem_regions (slave, many, G_N_ELEMENTS (many), &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (vhost_user_slave_set_shmem_regions (slave, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_null (vhost_user_slave_get_shmem_regions (slave, &n));
  g_assert_cmpuint (n, ==, 0);
}

static void
test_slave_regions (Fixture *f, gconstpointer data)
{
  vhost_test_slave_thread_run (f->thread, set_regions_connected, NULL);
}

/* A device without a region does not offer SHMEM, and the master does not send
 * what it did not negotiate. */
static void
test_no_regions (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  VhostTestSlaveThread *thread;
  guint64 offered = 0;
  guint n = 1;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], declare_regions, NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), NULL, &error));
  g_assert_true (vhost_user_master_get_protocol_features (master, &offered, &error));
  g_assert_no_error (error);
  g_assert_cmphex (offered & VHOST_USER_PROTOCOL_F_SHMEM, ==, 0);
  g_assert_cmphex (offered & VHOST_USER_PROTOCOL_F_DEVICE_STATE, !=, 0);
  g_assert_null (vhost_user_master_get_shmem_config (master, &n, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "GET_SHMEM_CONFIG"));
  g_assert_cmpuint (n, ==, 0);
  g_assert_true (vhost_user_master_get_connected (master));
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* What the slave maps, in its own thread. */
typedef struct
{
  guint shmid;
  int fd;                        /* (owned) the file, -1 for an unmap */
  guint64 fd_offset, shm_offset, len;
  VhostUserShmemMapFlags flags;
  VhostError code;               /* what the call gives: 0 for success */
} Map;

static void
slave_map (VhostUserSlave *slave, gpointer data)
{
  Map *m = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (m->fd >= 0)
    ok = vhost_user_slave_shmem_map (slave, m->shmid, m->fd, m->fd_offset, m->shm_offset, m->len, m->flags, &error);
  else
    ok = vhost_user_slave_shmem_unmap (slave, m->shmid, m->shm_offset, m->len, &error);
  if (m->code == 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, VHOST_ERROR, (gint) m->code);
    }
}

/* Map (or unmap, fd -1) from the slave and wait for the master's answer; the
 * slave keeps no fd: `fd` is closed after. */
static void
map_from_slave (Fixture *f, guint shmid, int fd, guint64 fd_offset, guint64 shm_offset, guint64 len,
                VhostUserShmemMapFlags flags, VhostError code)
{
  Map m = { shmid, fd, fd_offset, shm_offset, len, flags, code };

  vhost_test_slave_thread_run_iterating (f->thread, slave_map, &m);
  if (fd >= 0)
    close (fd);
}

static void
assert_seen (GArray *seen, guint i, guint shmid, guint64 offset, guint64 len, VhostUserShmemMapFlags flags)
{
  const Seen *s;

  g_assert_cmpuint (seen->len, >, i);
  s = &g_array_index (seen, Seen, i);
  g_assert_cmpuint (s->shmid, ==, shmid);
  g_assert_cmpuint (s->offset, ==, offset);
  g_assert_cmpuint (s->len, ==, len);
  g_assert_cmpuint (s->flags, ==, flags);
}

static void
assert_read (Fixture *f, guint shmid, guint64 offset, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = vhost_user_master_read_shmem (f->master, shmid, offset, strlen (expected), &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), expected, strlen (expected));
}

/* SHMEM_MAP of a memfd the slave writes: the master reads the bytes through its
 * region, read-only or writable as asked; SHMEM_UNMAP takes them away again. */
static void
test_map (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd = test_memfd (4 * PAGE);
  guint8 *region, *region2;
  char back[8];

  negotiate_shmem (f, 0);
  region = vhost_user_master_get_shmem_region (f->master, 0, NULL);
  g_assert_cmpint (pwrite (fd, "hello from the device", 21, PAGE + 16), ==, 21);

  /* Page 1 of the file, read-only, at page 2 of region 0. */
  map_from_slave (f, 0, fcntl (fd, F_DUPFD_CLOEXEC, 3), PAGE, 2 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  g_assert_cmpuint (f->mapped->len, ==, 1);
  assert_seen (f->mapped, 0, 0, 2 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY);
  assert_read (f, 0, 2 * PAGE + 16, "hello from the device");
  g_assert_cmpmem (region + 2 * PAGE + 16, 5, "hello", 5);
  /* The master's view is the file: what the device writes now shows. */
  g_assert_cmpint (pwrite (fd, "HELLO", 5, PAGE + 16), ==, 5);
  assert_read (f, 0, 2 * PAGE + 16, "HELLO from the device");
  /* Read-only as asked: no write permission (a write would fault), and the pages
   * around are still reserved. */
  assert_perms (region + 2 * PAGE, "r--s");
  assert_perms (region + PAGE, "---p");
  assert_perms (region + 3 * PAGE, "---p");
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 1);

  /* Pages 2-3 of the same file, writable, at the start of region 2: the driver's
   * writes reach the device. */
  map_from_slave (f, 2, fcntl (fd, F_DUPFD_CLOEXEC, 3), 2 * PAGE, 0, 2 * PAGE, VHOST_USER_SHMEM_MAP_WRITABLE, 0);
  assert_seen (f->mapped, 1, 2, 0, 2 * PAGE, VHOST_USER_SHMEM_MAP_WRITABLE);
  region2 = vhost_user_master_get_shmem_region (f->master, 2, NULL);
  assert_perms (region2, "rw-s");
  assert_perms (region2 + 2 * PAGE, "---p");
  memcpy (region2 + PAGE + 100, "written", 7);
  g_assert_cmpint (pread (fd, back, 7, 3 * PAGE + 100), ==, 7);
  g_assert_cmpmem (back, 7, "written", 7);
  /* A read across two mappings' boundary is fine only where both are mapped. */
  g_assert_null (vhost_user_master_read_shmem (f->master, 2, PAGE, 2 * PAGE, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* The device closed its copies of the file: the master keeps the mappings,
   * never an fd (the fixture counts them). */
  map_from_slave (f, 0, -1, 0, 2 * PAGE, PAGE, 0, 0);
  g_assert_cmpuint (f->unmapped->len, ==, 1);
  assert_seen (f->unmapped, 0, 0, 2 * PAGE, PAGE, 0);
  assert_perms (region + 2 * PAGE, "---p");
  g_assert_null (vhost_user_master_read_shmem (f->master, 0, 2 * PAGE + 16, 5, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The range is free again. */
  map_from_slave (f, 0, fcntl (fd, F_DUPFD_CLOEXEC, 3), PAGE, 2 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  assert_read (f, 0, 2 * PAGE + 16, "HELLO");
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 2);
  close (fd);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* The mappings go with a device reset, as the specification says; the regions
 * stay. */
static void
test_reset (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint8 *region;

  negotiate_shmem (f, VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_STATUS);
  region = vhost_user_master_get_shmem_region (f->master, 0, NULL);
  map_from_slave (f, 0, test_memfd (2 * PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_WRITABLE, 0);
  map_from_slave (f, 0, test_memfd (2 * PAGE), PAGE, 4 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 2);
  g_assert_true (vhost_user_master_reset_device (f->master, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->unmapped->len, ==, 2);
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 0);
  assert_perms (region, "---p");
  assert_perms (region + 4 * PAGE, "---p");
  g_assert_true (vhost_user_master_get_shmem_region (f->master, 0, NULL) == region);

  /* A status of 0 is a reset too. */
  map_from_slave (f, 2, test_memfd (PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  g_assert_true (vhost_user_master_set_status (f->master, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, &error));
  g_assert_cmpuint (f->unmapped->len, ==, 2);
  g_assert_true (vhost_user_master_set_status (f->master, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->unmapped->len, ==, 3);
  assert_seen (f->unmapped, 2, 2, 0, PAGE, 0);
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 0);
}

static void
slave_hangs_up (VhostUserSlave *slave, gpointer data)
{
  vhost_user_slave_close (slave);
}

static void
on_disconnected (VhostUserMaster *m, GError *error, gboolean *flag)
{
  *flag = TRUE;
}

/* The back-end goes away: the regions and their mappings go with the connection. */
static void
test_disconnect (Fixture *f, gconstpointer data)
{
  gboolean disconnected = FALSE;

  negotiate_shmem (f, 0);
  map_from_slave (f, 0, test_memfd (PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_WRITABLE, 0);
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 1);
  g_signal_connect (f->master, "disconnected", G_CALLBACK (on_disconnected), &disconnected);
  vhost_test_slave_thread_run (f->thread, slave_hangs_up, NULL);
  vhost_test_wait_for_flag (&disconnected, 5000);
  g_assert_null (vhost_user_master_get_shmem_region (f->master, 0, NULL));
  assert_released (f);
}

/* Bad mappings from the slave: the master refuses each with a failure status
 * (the slave's call fails), says why in its log, maps nothing, and the session
 * goes on. */
typedef enum {
  FILE_MEMFD,            /* a memfd of 4 pages */
  FILE_MEMFD_SMALL,      /* a memfd of 1 page */
  FILE_EVENTFD,          /* not mappable */
  FILE_READ_ONLY,        /* the memfd opened again read-only */
  FILE_NONE,             /* an unmap */
} FileKind;

typedef struct
{
  const char *name;
  guint shmid;
  FileKind file;
  guint64 fd_offset, shm_offset, len;
  VhostUserShmemMapFlags flags;
  const char *message;   /* a part of the master's log message */
} BadMap;

static const BadMap bad_maps[] = {
  { "unused-region", 1, FILE_MEMFD, 0, 0, PAGE, 0, "*has no shared memory region 1" },
  { "past-regions", 200, FILE_MEMFD, 0, 0, PAGE, 0, "*has no shared memory region 200" },
  { "out-of-range", 2, FILE_MEMFD, 0, 4 * PAGE, 2 * PAGE, 0, "*are not inside region 2 of 20480 bytes" },
  { "offset-overflow", 0, FILE_MEMFD, 0, G_MAXUINT64 - PAGE + 1, 2 * PAGE, 0, "*are not inside region 0*" },
  { "length-overflow", 0, FILE_MEMFD, 0, PAGE, G_MAXUINT64 - PAGE + 1, 0, "*are not inside region 0*" },
  { "file-offset-overflow", 0, FILE_MEMFD, G_MAXUINT64 - PAGE + 1, 0, PAGE, 0, "*file offset*overflows" },
  { "empty", 0, FILE_MEMFD, 0, 0, 0, 0, "*0 bytes at offset 0 are not inside*" },
  { "unaligned-offset", 0, FILE_MEMFD, 0, 100, PAGE, 0, "*multiples of the page size*" },
  { "unaligned-length", 0, FILE_MEMFD, 0, 0, PAGE + 1, 0, "*multiples of the page size*" },
  { "unaligned-file-offset", 0, FILE_MEMFD, 10, 0, PAGE, 0, "*multiples of the page size*" },
  { "overlap", 0, FILE_MEMFD, 0, 6 * PAGE, 2 * PAGE, 0, "*overlap the mapping of 24576 bytes at 4096" },
  { "beyond-file", 0, FILE_MEMFD_SMALL, 0, 12 * PAGE, 2 * PAGE, 0, "*needs 8192 bytes of its file, which holds 4096" },
  { "not-mappable", 0, FILE_EVENTFD, 0, 12 * PAGE, PAGE, 0, "*mmap of 4096 bytes*" },
  { "writable-read-only-file", 0, FILE_READ_ONLY, 0, 12 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_WRITABLE,
    "*mmap of 4096 bytes of the file at 0, writable: Permission denied" },
  { "unmap-nothing", 0, FILE_NONE, 0, 12 * PAGE, PAGE, 0, "*SHMEM_UNMAP: region 0 has no mapping of 4096*" },
  { "unmap-part", 0, FILE_NONE, 0, 6 * PAGE, PAGE, 0, "*SHMEM_UNMAP: region 0 has no mapping of 4096 bytes at*" },
  { "unmap-outside", 2, FILE_NONE, 0, 5 * PAGE, PAGE, 0, "*SHMEM_UNMAP: 4096 bytes at offset 20480 are not inside*" },
};

static int
bad_map_file (FileKind kind)
{
  g_autofree char *path = NULL;
  int fd, reopened;

  switch (kind)
    {
    case FILE_MEMFD:
      return test_memfd (4 * PAGE);
    case FILE_MEMFD_SMALL:
      return test_memfd (PAGE);
    case FILE_EVENTFD:
      return eventfd (0, EFD_CLOEXEC);
    case FILE_READ_ONLY:
      fd = test_memfd (4 * PAGE);
      path = g_strdup_printf ("/proc/self/fd/%d", fd);
      reopened = open (path, O_RDONLY | O_CLOEXEC);
      close (fd);
      g_assert_cmpint (reopened, >=, 0);
      return reopened;
    default:
      return -1;
    }
}

static void
test_bad_map (Fixture *f, gconstpointer data)
{
  const BadMap *bad = data;
  guint8 *region;

  negotiate_shmem (f, 0);
  region = vhost_user_master_get_shmem_region (f->master, 0, NULL);
  /* Pages 1 to 6 of region 0 hold a mapping already. */
  map_from_slave (f, 0, test_memfd (6 * PAGE), 0, PAGE, 6 * PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);

  vhost_test_log_capture_start ("Vhost");
  map_from_slave (f, bad->shmid, bad_map_file (bad->file), bad->fd_offset, bad->shm_offset, bad->len, bad->flags,
                  VHOST_ERROR_REJECTED);
  {
    g_autofree char *pattern = g_strconcat ("M ", bad->message, NULL);

    vhost_test_log_capture_assert (pattern);
    vhost_test_log_capture_stop ();
  }
  /* Nothing changed: one mapping, the rest of the region still reserved. */
  g_assert_cmpuint (f->mapped->len, ==, 1);
  g_assert_cmpuint (f->unmapped->len, ==, 0);
  g_assert_cmpuint (maps_count (MEMFD_NAME), ==, 1);
  assert_perms (region, "---p");
  assert_perms (region + PAGE, "r--s");
  assert_perms (region + 7 * PAGE, "---p");
  assert_perms (region + 12 * PAGE, "---p");
  g_assert_true (vhost_user_master_get_connected (f->master));
  /* And the session goes on: the next good mapping works. */
  map_from_slave (f, 0, test_memfd (PAGE), 0, 14 * PAGE, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  g_assert_cmpuint (f->mapped->len, ==, 2);
}

/* A mapping before the master read the regions has nowhere to go. */
static void
test_map_before_config (Fixture *f, gconstpointer data)
{
  negotiate (f, SHMEM_FEATURES);
  vhost_test_log_capture_start ("Vhost");
  map_from_slave (f, 0, test_memfd (PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, VHOST_ERROR_REJECTED);
  vhost_test_log_capture_assert ("M *SHMEM_MAP: the front-end has not read the shared memory regions "
                                 "(GET_SHMEM_CONFIG)");
  vhost_test_log_capture_stop ();
  g_assert_cmpuint (f->mapped->len, ==, 0);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* Without REPLY_ACK nothing comes back: a good mapping is made, a bad one only
 * logged by the master, and the slave's calls return at once. The master reads
 * them in order, so the good one that follows a bad one shows it was read. */
static void
test_map_no_reply_ack (Fixture *f, gconstpointer data)
{
  negotiate_shmem (f, 0);
  negotiate (f, SHMEM_FEATURES & ~(guint64) VHOST_USER_PROTOCOL_F_REPLY_ACK);
  /* Nothing of that negotiation waited for the slave: a request with a reply
   * does, so that the slave holds the new back-end request channel before it
   * maps (until then it has none: the master closed the old one). */
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, NULL));
  vhost_test_log_capture_start ("Vhost");
  map_from_slave (f, 1, test_memfd (PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  map_from_slave (f, 0, test_memfd (PAGE), 0, 0, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY, 0);
  vhost_test_wait_for_flag (&f->map_seen, 5000);
  vhost_test_log_capture_assert ("M *has no shared memory region 1");
  vhost_test_log_capture_stop ();
  assert_seen (f->mapped, 0, 0, 0, PAGE, VHOST_USER_SHMEM_MAP_READ_ONLY);
}

static void
slave_map_refused_locally (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd = test_memfd (PAGE);

  g_assert_false (vhost_user_slave_shmem_map (slave, 256, fd, 0, 0, PAGE, 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vhost_user_slave_shmem_map (slave, 0, fd, 0, 0, PAGE, 1 << 3, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Negotiated without BACKEND_SEND_FD (or SHMEM): the fd cannot go. */
  g_assert_false (vhost_user_slave_shmem_map (slave, 0, fd, 0, 0, PAGE, 0, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, data));
  g_clear_error (&error);
  close (fd);
}

static void
test_map_not_negotiated (Fixture *f, gconstpointer data)
{
  negotiate (f, SHMEM_FEATURES & ~(guint64) VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD);
  vhost_test_slave_thread_run (f->thread, slave_map_refused_locally, "feature BACKEND_SEND_FD,");
  negotiate (f, SHMEM_FEATURES & ~(guint64) VHOST_USER_PROTOCOL_F_SHMEM);
  vhost_test_slave_thread_run (f->thread, slave_map_refused_locally, "feature SHMEM,");
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* The dependencies of protocol features, on the master: a set that breaks them
 * is refused before anything is sent; a negotiation leaves out a feature whose
 * dependencies the back-end lacks. */
typedef struct
{
  guint64 feature;
  guint64 needs;
  const char *message;
} Dependency;

static const Dependency dependencies[] = {
  { VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS, VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_REPLY_ACK,
    "INBAND_NOTIFICATIONS needs REPLY_ACK and BACKEND_REQ, which are not in" },
  { VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
    "GET_VRING_BASE_INFLIGHT needs INFLIGHT_SHMFD, which is not in" },
};

static guint
count_handled (VhostTestDevice *device, VhostUserRequest request)
{
  guint n = 0;

  for (guint i = 0; i < device->handled->len; i++)
    n += g_array_index (device->handled, guint, i) == request;
  return n;
}

static void
test_dependencies (Fixture *f, gconstpointer data)
{
  const Dependency *dep = data;
  VhostBackend *backend = VHOST_BACKEND (f->master);
  g_autoptr(GError) error = NULL;
  guint64 acked = 0, lowest = dep->needs & -dep->needs;
  guint sets;

  negotiate (f, VHOST_USER_PROTOCOL_F_MQ);
  /* A request with a reply: the slave handled everything before it. */
  g_assert_true (vhost_backend_get_features (backend, NULL, &error));
  sets = count_handled (f->device, VHOST_USER_SET_PROTOCOL_FEATURES);

  /* Alone, and with only one of what it needs: refused, nothing sent. */
  g_assert_false (vhost_user_master_set_protocol_features (f->master, dep->feature, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, dep->message));
  g_clear_error (&error);
  if (dep->needs != lowest)
    {
      g_assert_false (vhost_user_master_set_protocol_features (f->master, dep->feature | lowest, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "which is not in"));
      g_clear_error (&error);
    }
  g_assert_false (vhost_backend_negotiate_protocol (backend, dep->feature | VHOST_USER_PROTOCOL_F_MQ, &acked, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, VHOST_USER_PROTOCOL_F_MQ);
  g_assert_true (vhost_backend_get_features (backend, NULL, &error));
  g_assert_cmpuint (count_handled (f->device, VHOST_USER_SET_PROTOCOL_FEATURES), ==, sets);
  g_assert_true (vhost_user_master_get_connected (f->master));

  /* With what it needs: accepted. */
  g_assert_true (vhost_user_master_set_protocol_features (f->master, dep->feature | dep->needs, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_negotiate_protocol (backend, dep->feature | dep->needs, &acked, &error));
  g_assert_no_error (error);
  g_assert_cmphex (acked, ==, dep->feature | dep->needs);

  /* A back-end that lacks a dependency (once it handled the last request): the
   * feature is left out. */
  g_assert_true (vhost_backend_get_features (backend, NULL, &error));
  f->device->protocol_features = G_MAXUINT64 & ~lowest;
  g_assert_true (vhost_backend_negotiate_protocol (backend, dep->feature | dep->needs, &acked, &error));
  g_assert_no_error (error);
  g_assert_cmphex (acked, ==, dep->needs & ~lowest);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, dep->needs & ~lowest);
}

/* In-band notifications, negotiated as they must be: a kick goes (with
 * REPLY_ACK, the call returns once it was handled); a bad queue index is refused
 * before it is sent. */
static void
test_inband_kick (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint kicks;

  negotiate (f, VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS | VHOST_USER_PROTOCOL_F_BACKEND_REQ |
                  VHOST_USER_PROTOCOL_F_REPLY_ACK);
  kicks = count_handled (f->device, VHOST_USER_VRING_KICK);
  g_assert_true (vhost_user_master_vring_kick (f->master, 3, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_master_vring_kick (f->master, 256, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "VRING_KICK"));
  g_clear_error (&error);
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (f->master), NULL, &error));
  g_assert_cmpuint (count_handled (f->device, VHOST_USER_VRING_KICK), ==, kicks + 1);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* GET_VRING_BASE_INFLIGHT is offered only with INFLIGHT_SHMFD; sent without
 * it anyway, the back-end refuses it. */
static void
test_vring_base_inflight_offer (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 offered = 0, features = VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT;
  g_autoptr(GBytes) payload = g_bytes_new (&features, sizeof features);
  g_autoptr(GBytes) reply = NULL;

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
  g_assert_true (vhost_user_master_get_protocol_features (f->master, &offered, &error));
  g_assert_cmphex (offered & VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, !=, 0);
  f->device->protocol_features = G_MAXUINT64 & ~(guint64) VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
  g_assert_true (vhost_user_master_get_protocol_features (f->master, &offered, &error));
  g_assert_no_error (error);
  g_assert_cmphex (offered & VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT, ==, 0);

  f->device->protocol_features = G_MAXUINT64;
  reply = vhost_user_master_send_request (f->master, VHOST_USER_SET_PROTOCOL_FEATURES, payload, NULL, NULL, NULL,
                                          &error);
  g_assert_null (reply);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_assert_true (vhost_user_master_get_connected (f->master));
  g_assert_cmphex (vhost_user_slave_get_acked_protocol_features (VHOST_USER_SLAVE (f->device)), ==,
                   VHOST_USER_PROTOCOL_F_REPLY_ACK);
}

/* GET_VRING_BASE with and without GET_VRING_BASE_INFLIGHT, on a device that holds
 * its requests (asynchronous I/O): without it the drain handler completes them
 * all before the answer; with it the suspend handler completes the odd ones and
 * leaves the even ones in flight, which the queue takes up from the inflight
 * area when it starts again, so that each completes once. */
#define HELD_CHAINS 8

typedef struct
{
  VhostVirtqueueElement held[HELD_CHAINS];
  struct iovec iov[HELD_CHAINS][2];
  guint n_held;                  /* (owned by whoever processes the queue: the worker, or a stop) */
  gint hold;                     /* (atomic) the handler holds what it pops */
  gint popped, drains, suspends, dropped; /* (atomic) */
} Holder;

static Holder holder;

/* Answer a chain: its tag (the first readable byte) plus 100 in the writable one. */
static void
holder_complete (VhostVirtqueue *queue, VhostVirtqueueElement *elem)
{
  guint8 tag = 0;

  g_assert_cmpuint (vhost_virtqueue_element_read (elem, 0, &tag, 1), ==, 1);
  tag += 100;
  g_assert_cmpuint (vhost_virtqueue_element_write (elem, 0, &tag, 1), ==, 1);
  vhost_virtqueue_push (queue, elem, 1);
}

static void
holder_handler (VhostVirtqueue *queue, gpointer data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[2];

  while (holder.n_held < HELD_CHAINS &&
         vhost_virtqueue_pop (queue, &holder.held[holder.n_held], holder.iov[holder.n_held], 2))
    {
      g_atomic_int_inc (&holder.popped);
      if (g_atomic_int_get (&holder.hold))
        holder.n_held++;
      else
        holder_complete (queue, &holder.held[holder.n_held]);
    }
  while (holder.n_held == HELD_CHAINS && vhost_virtqueue_pop (queue, &elem, iov, 2))
    holder_complete (queue, &elem);
}

static void
holder_drain (VhostVirtqueue *queue, gpointer data)
{
  g_atomic_int_inc (&holder.drains);
  for (guint i = 0; i < holder.n_held; i++)
    holder_complete (queue, &holder.held[i]);
  holder.n_held = 0;
}

/* The even tags' I/O is cancelled: they stay in flight. */
static void
holder_suspend (VhostVirtqueue *queue, gpointer data)
{
  g_atomic_int_inc (&holder.suspends);
  for (guint i = 0; i < holder.n_held; i++)
    {
      guint8 tag = 0;

      vhost_virtqueue_element_read (&holder.held[i], 0, &tag, 1);
      if (tag & 1)
        holder_complete (queue, &holder.held[i]);
      else
        g_atomic_int_inc (&holder.dropped);
    }
  holder.n_held = 0;
}

static void
setup_holder (VhostUserSlave *slave, gpointer data)
{
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);

  VHOST_TEST_DEVICE (slave)->num_queues = 1;
  VHOST_TEST_DEVICE (slave)->features |= VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED);
  vhost_user_slave_set_busy_poll_us (slave, 0);
  vhost_virtqueue_set_handler (queue, holder_handler, NULL, NULL);
  vhost_virtqueue_set_drain_handler (queue, holder_drain, NULL, NULL);
  vhost_virtqueue_set_suspend_handler (queue, holder_suspend, NULL, NULL);
}

static void
wait_popped (gint n)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  while (g_atomic_int_get (&holder.popped) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

/* Reap what completed so far, checking the answers. */
static guint
reap_all (VhostDriver *driver, guint8 *in, guint *completed)
{
  g_autoptr(GError) error = NULL;
  guint64 tag;
  guint len, n = 0;

  while (vhost_driver_reap (driver, 0, &tag, &len, &error))
    {
      g_assert_cmpuint (len, ==, 1);
      g_assert_cmpuint (in[tag], ==, tag + 100);
      g_assert_cmpuint (completed[tag], ==, 0);
      completed[tag]++;
      n++;
    }
  g_assert_no_error (error);
  return n;
}

/* A packed ring of 16 descriptors, `n` descriptors on from its start: the
 * position, and the wrap counter (1 at the start) in bit 15. */
static guint
packed_position (guint n)
{
  return n % 16 | ((n / 16) % 2 == 0 ? 0x8000u : 0);
}

typedef struct
{
  gboolean suspend;              /* GET_VRING_BASE_INFLIGHT negotiated */
  gboolean packed;
} HolderCase;

static void
test_vring_base_inflight (gconstpointer data)
{
  const HolderCase *c = data;
  gboolean suspend = c->suspend;
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                     (c->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0);
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  VhostTestSlaveThread *thread;
  guint64 out_addr, in_addr;
  guint8 *out, *in;
  guint completed[HELD_CHAINS] = { 0 };
  guint base = 0, reaped;
  int sv[2];

  memset (&holder, 0, sizeof holder);
  holder.hold = TRUE;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_holder, NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  driver = vhost_driver_new (VHOST_BACKEND (master), 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 1, 16, features, &error));
  g_assert_cmphex (vhost_driver_get_acked_features (driver) & features, ==, features);
  g_assert_no_error (error);
  /* The driver keeps the inflight area; the feature comes on top. */
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, !=,
                   0);
  if (suspend)
    g_assert_true (vhost_user_master_set_protocol_features (
      master, vhost_user_master_get_acked_protocol_features (master) | VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT,
      &error));
  g_assert_no_error (error);

  g_assert_true (vhost_driver_alloc (driver, HELD_CHAINS, &out_addr, &error));
  g_assert_true (vhost_driver_alloc (driver, HELD_CHAINS, &in_addr, &error));
  out = vhost_driver_get_host_address (driver, out_addr, HELD_CHAINS);
  in = vhost_driver_get_host_address (driver, in_addr, HELD_CHAINS);
  for (guint i = 0; i < HELD_CHAINS; i++)
    {
      VhostDriverBuffer o = { out_addr + i, 1 }, n = { in_addr + i, 1 };

      out[i] = i;
      g_assert_true (vhost_driver_submit (driver, 0, &o, 1, &n, 1, i, &error));
    }
  vhost_driver_kick (driver, 0);
  wait_popped (HELD_CHAINS);
  g_assert_cmpuint (reap_all (driver, in, completed), ==, 0);
  /* The requests of the bring-up stopped the queue too, with nothing held. */
  g_atomic_int_set (&holder.drains, 0);

  /* GET_VRING_BASE: the available position counts every chain taken, completed
   * or not; a packed ring's used one (bits 16-31), those completed, in
   * descriptors (two a chain) with the wrap counter in bit 15. */
  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (master), 0, &base, &error));
  g_assert_no_error (error);
  if (c->packed)
    g_assert_cmphex (base, ==, packed_position (2 * HELD_CHAINS) |
                                 packed_position (2 * (suspend ? HELD_CHAINS / 2 : HELD_CHAINS)) << 16);
  else
    g_assert_cmpuint (base, ==, HELD_CHAINS);
  reaped = reap_all (driver, in, completed);
  g_assert_cmpint (g_atomic_int_get (&holder.suspends), ==, (suspend ? 1 : 0));
  g_assert_cmpint (g_atomic_int_get (&holder.drains), ==, (suspend ? 0 : 1));
  g_assert_cmpuint (reaped, ==, (suspend ? HELD_CHAINS / 2 : HELD_CHAINS));
  for (guint i = 0; i < HELD_CHAINS; i++)
    g_assert_cmpuint (completed[i], ==, (suspend ? i & 1 : 1));

  /* The queue starts again (polled, since its kick fd went with GET_VRING_BASE):
   * the chains left in flight come back first, and complete. */
  holder.hold = FALSE;
  g_assert_true (vhost_backend_set_vring_base (VHOST_BACKEND (master), 0, base, &error));
  g_assert_true (vhost_backend_set_vring_kick (VHOST_BACKEND (master), 0, -1, &error));
  g_assert_no_error (error);
  while (reaped < HELD_CHAINS)
    {
      g_assert_true (vhost_driver_wait (driver, 0, 5000, &error));
      g_assert_no_error (error);
      reaped += reap_all (driver, in, completed);
    }
  for (guint i = 0; i < HELD_CHAINS; i++)
    g_assert_cmpuint (completed[i], ==, 1);
  g_assert_cmpint (g_atomic_int_get (&holder.popped), ==, (suspend ? HELD_CHAINS + HELD_CHAINS / 2 : HELD_CHAINS));
  g_assert_cmpint (g_atomic_int_get (&holder.dropped), ==, (suspend ? HELD_CHAINS / 2 : 0));

  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

static const HolderCase holder_cases[] = {
  { FALSE, FALSE },
  { TRUE, FALSE },
  { FALSE, TRUE },
  { TRUE, TRUE },
};

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

#define ADD(path, func) g_test_add ("/vhost/user-features/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("shmem/config", test_config);
  ADD ("shmem/slave-regions", test_slave_regions);
  ADD ("shmem/map", test_map);
  ADD ("shmem/reset", test_reset);
  ADD ("shmem/disconnect", test_disconnect);
  ADD ("shmem/map-before-config", test_map_before_config);
  ADD ("shmem/map-no-reply-ack", test_map_no_reply_ack);
  ADD ("shmem/map-not-negotiated", test_map_not_negotiated);
  ADD ("get-vring-base-inflight/offer", test_vring_base_inflight_offer);
  ADD ("inband/kick", test_inband_kick);
#undef ADD
  g_test_add_func ("/vhost/user-features/shmem/no-regions", test_no_regions);
  for (guint i = 0; i < G_N_ELEMENTS (bad_maps); i++)
    {
      g_autofree char *path = g_strconcat ("/vhost/user-features/shmem/bad-map/", bad_maps[i].name, NULL);

      g_test_add (path, Fixture, &bad_maps[i], fixture_setup, test_bad_map, fixture_teardown);
    }
  g_test_add ("/vhost/user-features/dependencies/inband-notifications", Fixture, &dependencies[0], fixture_setup,
              test_dependencies, fixture_teardown);
  g_test_add ("/vhost/user-features/dependencies/get-vring-base-inflight", Fixture, &dependencies[1],
              fixture_setup, test_dependencies, fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (holder_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/vhost/user-features/get-vring-base-inflight/%s/%s",
                                               holder_cases[i].packed ? "packed" : "split",
                                               holder_cases[i].suspend ? "suspend" : "drain");

      g_test_add_data_func (path, &holder_cases[i], test_vring_base_inflight);
    }
  return g_test_run ();
}
