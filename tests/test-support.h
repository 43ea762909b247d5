/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared test helpers: fd counting, a configurable test device, and a slave served from its own thread. */
#pragma once

#include <vhost-glib/vhost-glib.h>
#include "vhost-glib/vhost-user-slave-private.h"
#include "fd-count.h"

G_BEGIN_DECLS

/* 1 in a build with AddressSanitizer (the tools of that build have it too): their
 * RSS then holds its shadow memory and the freed blocks it keeps in quarantine, and
 * says little about what they use; LeakSanitizer checks their leaks at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define VHOST_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VHOST_TEST_SANITIZED 1
#endif
#endif
#ifndef VHOST_TEST_SANITIZED
#define VHOST_TEST_SANITIZED 0
#endif

/* g_test_init(), the log writer of vhost_test_log_capture_start(), and the
 * process-wide objects that hold fds for good (the default main context's wakeup
 * fd) created up front, so that fd counts in tests are exact. */
void vhost_test_init (int *argc, char ***argv);

/* Record what is logged in `domain` (structured or not, from any thread) instead of
 * printing it: a string per message, its level's letter ('W', 'M', 'I', 'D'), a
 * space, the message. vhost_test_init() installs the writer this needs. */
void vhost_test_log_capture_start (const char *domain);
/* (transfer full) The lines recorded since the start or the last take. */
GPtrArray *vhost_test_log_capture_take (void);
/* Take the lines recorded so far and assert that one matches `pattern`
 * (g_pattern_match_simple() on "L message"). */
void vhost_test_log_capture_assert (const char *pattern);
void vhost_test_log_capture_stop (void);

/* A memfd of `size` bytes. */
int vhost_test_memfd (gsize size);

/* VhostTestDevice: a VhostUserSlave whose answers are set by the test, and which
 * records the device-specific requests it receives. */
#define VHOST_TYPE_TEST_DEVICE (vhost_test_device_get_type ())
G_DECLARE_FINAL_TYPE (VhostTestDevice, vhost_test_device, VHOST, TEST_DEVICE, VhostUserSlave)

typedef struct
{
  VhostUserRequest request;
  GBytes *payload;       /* (owned) */
  guint n_fds;
  int fd;                /* (owned) a duplicate of the first fd, or -1 */
} VhostTestRecord;

struct _VhostTestDevice
{
  VhostUserSlave parent_instance;

  guint64 features;
  guint64 protocol_features;
  guint num_queues;
  gboolean config_writable;
  guint8 config[64];
  GPtrArray *records;    /* (element-type VhostTestRecord) device requests seen */
  GArray *handled;       /* (element-type guint) every request code handled */
  guint resets;
  guint vring_changes;
  GError *disconnect_error;
  guint disconnects;
  guint states_loaded;   /* device states taken by load_state */
};

VhostTestDevice *vhost_test_device_new (void);
/* The last record of `request`, or NULL. */
VhostTestRecord *vhost_test_device_find (VhostTestDevice *device, VhostUserRequest request);

/* A slave running on its own thread and GMainContext. */
typedef struct _VhostTestSlaveThread VhostTestSlaveThread;

/* Start a thread, create `device` there (g_object_new (type)), let `setup` run in
 * that thread (it may be NULL), and serve `fd` if fd >= 0. */
VhostTestSlaveThread *vhost_test_slave_thread_new (GType type,
                                                   int fd,
                                                   void (*setup) (VhostUserSlave *slave, gpointer data),
                                                   gpointer data);
VhostUserSlave *vhost_test_slave_thread_get_slave (VhostTestSlaveThread *thread);
/* Run `func` in the slave's thread and wait for it. */
void vhost_test_slave_thread_run (VhostTestSlaveThread *thread,
                                  void (*func) (VhostUserSlave *slave, gpointer data),
                                  gpointer data);
/* Run `func` in the slave's thread while this thread iterates the thread-default
 * context (so that a front-end living here can answer back-end requests). */
void vhost_test_slave_thread_run_iterating (VhostTestSlaveThread *thread,
                                            void (*func) (VhostUserSlave *slave, gpointer data),
                                            gpointer data);
/* Hold the slave's thread (it reads nothing, so a front-end's requests wait for
 * their replies) until vhost_test_slave_thread_resume(); returns once it is held. */
void vhost_test_slave_thread_pause (VhostTestSlaveThread *thread);
/* Let a held slave go on; with `close`, it first closes its connection, as a
 * back-end that goes away with requests unanswered. */
void vhost_test_slave_thread_resume (VhostTestSlaveThread *thread, gboolean close);
/* In the slave's thread, let the slave (a VhostTestDevice) work until its
 * connection ended (disconnects > 0), for 5 s at most. */
void vhost_test_slave_thread_wait_disconnect (VhostTestSlaveThread *thread);
/* Stop the loop, drop the slave in its thread, join. */
void vhost_test_slave_thread_free (VhostTestSlaveThread *thread);

/* The usual start of a session on `master`: GET_FEATURES, SET_OWNER,
 * GET_PROTOCOL_FEATURES (whose offer must hold `protocol_features`),
 * SET_PROTOCOL_FEATURES with them and SET_FEATURES with every feature offered,
 * which it returns. */
guint64 vhost_test_negotiate (VhostUserMaster *master, guint64 protocol_features);

/* Wait for and take one completion of `queue`, failing the test after `timeout_ms`. */
void vhost_test_reap_one (VhostDriver *driver, guint queue, guint timeout_ms, guint64 *tag, guint *len);

/* Iterate the thread-default context until `*flag` is set, failing after `timeout_ms`. */
void vhost_test_wait_for_flag (gboolean *flag, guint timeout_ms);

/* A GAsyncReadyCallback that keeps a reference to the result in `*(GAsyncResult **) data`,
 * for the test to finish the call after vhost_test_wait_for_result(). */
void vhost_test_store_result (GObject *source, GAsyncResult *result, gpointer data);
/* Iterate the thread-default context until `*result` is set, failing after `timeout_ms`. */
void vhost_test_wait_for_result (GAsyncResult **result, guint timeout_ms);

/* Whether the running kernel is older than `major`.`minor` (what uname says). */
gboolean vhost_test_kernel_older_than (guint major, guint minor);

/* Asserts that `error` is `code` in VHOST_ERROR and that its message starts with `prefix`. */
void vhost_test_assert_error_prefix (const GError *error, VhostError code, const char *prefix);

/* Waits until `fd` is readable, failing the test after `timeout_ms`. */
void vhost_test_wait_readable (int fd, guint timeout_ms);

G_END_DECLS
