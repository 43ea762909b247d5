/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmarks share: peer processes with logs, waiting for sockets, CPU pinning, a null virtio-blk device. */
#pragma once

#include <gio/gio.h>
#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char *log_path;
} BenchPeer;

/* A private temporary directory, removed (with its files) by bench_remove_dir(). */
char *bench_make_dir (void);
void bench_remove_dir (const char *dir);

/* Start argv with stdout and stderr into dir/name.log and stdin a pipe; exits the
 * benchmark with a message if argv[0] is not installed. */
BenchPeer *bench_peer_start (const char *dir, const char *name, const char *const *argv);
void bench_peer_wait_for_socket (BenchPeer *peer, const char *path, guint timeout_ms);
/* The log so far, NUL bytes replaced. */
char *bench_peer_get_log (BenchPeer *peer);
/* Close stdin and wait up to timeout_ms for the peer to exit; then SIGKILL. */
void bench_peer_stop (BenchPeer *peer, guint timeout_ms);

/* Pin the calling thread (and the threads it creates later) to one CPU. */
void bench_pin_to_cpu (guint cpu);

/* How long a cache line takes to go from `cpu_a` to `cpu_b` and back, in ns: the
 * mean over many round trips of two threads that take turns writing one line.
 * On a VM it tells where the host has put the two vCPUs at the moment (siblings
 * of one core, one L3, two L3s), which sets the cost of every ring and buffer
 * line the two sides pass between them. */
double bench_line_round_trip_ns (guint cpu_a, guint cpu_b);

/* Where the host has put the two vCPUs, told by the line round trip between them. */
typedef enum
{
  BENCH_PLACEMENT_ONE_CORE,
  BENCH_PLACEMENT_ONE_L3,
  BENCH_PLACEMENT_TWO_L3S,
  BENCH_PLACEMENT_CHANGED, /* the round trips of one round disagree */
} BenchPlacement;

/* The placement of a round from the round trips taken before, between and after
 * its runs (`n` of them): BENCH_PLACEMENT_CHANGED unless they all agree. */
BenchPlacement bench_placement_of (const double *rtt_ns, guint n);
const char *bench_placement_name (BenchPlacement placement);
/* Prints (as `#` comment lines) how rounds are told apart by placement. */
void bench_print_placement_rule (void);

/* Orders two doubles (a GCompareFunc). */
int bench_compare_double (gconstpointer a, gconstpointer b);

/* The median of `n` values (sorted in place). */
double bench_median (double *values, guint n);

/* A device served from a thread of its own, pinned to `cpu` with the workers it
 * starts: `create` makes the slave in that thread; it listens on `socket_path`. */
typedef struct _BenchServer BenchServer;
typedef VhostUserSlave *(*BenchServerCreate) (gpointer data);

BenchServer *bench_server_start (const char *socket_path, guint cpu, guint busy_poll_us, BenchServerCreate create,
                                 gpointer data);
VhostUserSlave *bench_server_get_slave (BenchServer *server);
void bench_server_stop (BenchServer *server);

/* A virtio-blk device that completes every request at once without touching
 * storage, like qemu-storage-daemon's null-co: reads return the buffer as it was. */
#define BENCH_TYPE_BLK_NULL (bench_blk_null_get_type ())
G_DECLARE_FINAL_TYPE (BenchBlkNull, bench_blk_null, BENCH, BLK_NULL, VhostUserSlave)

BenchBlkNull *bench_blk_null_new (guint64 capacity_bytes);

G_END_DECLS
