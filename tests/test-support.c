/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared test helpers: a configurable test device, a slave served from its own thread, captured logs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "test-support.h"

/* The log capture: the domain it records and what it recorded, under a lock (workers log too). */
static GMutex capture_lock;
static char *capture_domain;
static GPtrArray *capture_lines;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *domain = NULL, *message = NULL;
  GLogWriterOutput output = G_LOG_WRITER_UNHANDLED;

  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  g_mutex_lock (&capture_lock);
  if (capture_domain != NULL && g_strcmp0 (domain, capture_domain) == 0)
    {
      char kind = level & G_LOG_LEVEL_WARNING ? 'W' : level & G_LOG_LEVEL_MESSAGE ? 'M'
                                                    : level & G_LOG_LEVEL_INFO   ? 'I'
                                                                                 : 'D';

      g_ptr_array_add (capture_lines, g_strdup_printf ("%c %s", kind, message));
      output = G_LOG_WRITER_HANDLED;
    }
  g_mutex_unlock (&capture_lock);
  return output == G_LOG_WRITER_HANDLED ? output : g_log_writer_default (level, fields, n_fields, data);
}

void
vhost_test_log_capture_start (const char *domain)
{
  g_mutex_lock (&capture_lock);
  g_free (capture_domain);
  capture_domain = g_strdup (domain);
  g_clear_pointer (&capture_lines, g_ptr_array_unref);
  capture_lines = g_ptr_array_new_with_free_func (g_free);
  g_mutex_unlock (&capture_lock);
}

GPtrArray *
vhost_test_log_capture_take (void)
{
  GPtrArray *lines;

  g_mutex_lock (&capture_lock);
  lines = g_steal_pointer (&capture_lines);
  capture_lines = g_ptr_array_new_with_free_func (g_free);
  g_mutex_unlock (&capture_lock);
  return lines;
}

void
vhost_test_log_capture_assert (const char *pattern)
{
  g_autoptr(GPtrArray) lines = vhost_test_log_capture_take ();

  for (guint i = 0; i < lines->len; i++)
    if (g_pattern_match_simple (pattern, g_ptr_array_index (lines, i)))
      return;
  g_error ("no log line matches '%s' among the %u taken", pattern, lines->len);
}

void
vhost_test_log_capture_stop (void)
{
  g_mutex_lock (&capture_lock);
  g_clear_pointer (&capture_domain, g_free);
  g_clear_pointer (&capture_lines, g_ptr_array_unref);
  g_mutex_unlock (&capture_lock);
}

void
vhost_test_init (int *argc, char ***argv)
{
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_test_init (argc, argv, NULL);
  g_main_context_default ();
  /* GTask's type creates GLib's worker context (an eventfd) the first time. */
  g_type_class_unref (g_type_class_ref (G_TYPE_TASK));
  g_type_class_unref (g_type_class_ref (G_TYPE_SOCKET_CLIENT));
}

int
vhost_test_memfd (gsize size)
{
  int fd = memfd_create ("vhost-test", MFD_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  return fd;
}

static void
record_free (VhostTestRecord *record)
{
  g_bytes_unref (record->payload);
  if (record->fd >= 0)
    close (record->fd);
  g_free (record);
}

G_DEFINE_FINAL_TYPE (VhostTestDevice, vhost_test_device, VHOST_TYPE_USER_SLAVE)

static guint64
test_get_features (VhostUserSlave *slave)
{
  return VHOST_TEST_DEVICE (slave)->features;
}

static guint64
test_get_protocol_features (VhostUserSlave *slave)
{
  return VHOST_TEST_DEVICE (slave)->protocol_features;
}

static guint
test_get_num_queues (VhostUserSlave *slave)
{
  return VHOST_TEST_DEVICE (slave)->num_queues;
}

static GBytes *
test_get_config (VhostUserSlave *slave, guint offset, guint size, GError **error)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);

  if (offset > sizeof self->config || size > sizeof self->config - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "GET_CONFIG: out of range");
      return NULL;
    }
  return g_bytes_new (self->config + offset, size);
}

static gboolean
test_set_config (VhostUserSlave *slave, guint offset, GBytes *data, guint flags, GError **error)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);
  gsize size = g_bytes_get_size (data);

  if (!self->config_writable || offset > sizeof self->config || size > sizeof self->config - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "SET_CONFIG: refused");
      return FALSE;
    }
  memcpy (self->config + offset, g_bytes_get_data (data, NULL), size);
  return TRUE;
}

static void
test_vring_state_changed (VhostUserSlave *slave, guint index, gboolean started, gboolean enabled)
{
  VHOST_TEST_DEVICE (slave)->vring_changes++;
}

static void
test_reset (VhostUserSlave *slave)
{
  VHOST_TEST_DEVICE (slave)->resets++;
}

/* Device requests: record them, and answer with what a real device would. */
static gboolean
test_device_request (VhostUserSlave *slave,
                     VhostUserRequest request,
                     GBytes *payload,
                     GUnixFDList *fds,
                     GBytes **reply,
                     GUnixFDList **reply_fds,
                     GError **error)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);
  VhostTestRecord *record = g_new0 (VhostTestRecord, 1);
  guint64 zero = 0;

  record->request = request;
  record->payload = g_bytes_ref (payload);
  record->n_fds = g_unix_fd_list_get_length (fds);
  record->fd = record->n_fds > 0 ? g_unix_fd_list_get (fds, 0, NULL) : -1;
  g_ptr_array_add (self->records, record);

  switch (request)
    {
    case VHOST_USER_GET_SHARED_OBJECT:
      *reply = g_bytes_new (&zero, sizeof zero);
      *reply_fds = g_unix_fd_list_new ();
      {
        int fd = vhost_test_memfd (4096);
        g_assert_cmpint (pwrite (fd, "shared", 6, 0), ==, 6);
        g_unix_fd_list_append (*reply_fds, fd, NULL);
        close (fd);
      }
      return TRUE;
    case VHOST_USER_CREATE_CRYPTO_SESSION:
      *reply = g_bytes_ref (payload);
      return TRUE;
    case VHOST_USER_POSTCOPY_ADVISE:
      *reply = g_bytes_new (NULL, 0);
      *reply_fds = g_unix_fd_list_new ();
      {
        int fd = vhost_test_memfd (16);
        g_unix_fd_list_append (*reply_fds, fd, NULL);
        close (fd);
      }
      return TRUE;
    case VHOST_USER_POSTCOPY_END:
    case VHOST_USER_CHECK_DEVICE_STATE:
    case VHOST_USER_SET_DEVICE_STATE_FD:
      {
        guint64 status = 0;

        if (request == VHOST_USER_SET_DEVICE_STATE_FD)
          status = 1u << 8; /* no fd of its own: use the front-end's */
        *reply = g_bytes_new (&status, sizeof status);
      }
      return TRUE;
    default:
      return TRUE;
    }
}

/* The device's own state: its config space, behind a tag that load_state checks. */
static GBytes *
test_save_state (VhostUserSlave *slave, GError **error)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);
  g_autoptr(GByteArray) state = g_byte_array_new ();

  g_byte_array_append (state, (const guint8 *) "test", 4);
  g_byte_array_append (state, self->config, sizeof self->config);
  return g_byte_array_free_to_bytes (g_steal_pointer (&state));
}

static gboolean
test_load_state (VhostUserSlave *slave, GBytes *state, GError **error)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);
  gsize size;
  const guint8 *data = g_bytes_get_data (state, &size);

  if (size != 4 + sizeof self->config || memcmp (data, "test", 4) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "not a test device's state (%" G_GSIZE_FORMAT
                   " bytes)", size);
      return FALSE;
    }
  memcpy (self->config, data + 4, sizeof self->config);
  self->states_loaded++;
  return TRUE;
}

static void
test_handled_cb (VhostUserSlave *slave, VhostUserRequest request, const GError *error, gpointer data)
{
  guint code = request;

  g_array_append_val (VHOST_TEST_DEVICE (slave)->handled, code);
}

static void
test_disconnected_cb (VhostUserSlave *slave, const GError *error, gpointer data)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (slave);

  g_clear_error (&self->disconnect_error);
  self->disconnect_error = g_error_copy (error);
  self->disconnects++;
}

static void
vhost_test_device_init (VhostTestDevice *self)
{
  self->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | 0x3;
  self->protocol_features = G_MAXUINT64;
  self->num_queues = 4;
  for (guint i = 0; i < sizeof self->config; i++)
    self->config[i] = i * 3 + 1;
  self->records = g_ptr_array_new_with_free_func ((GDestroyNotify) record_free);
  self->handled = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (self, "request-handled", G_CALLBACK (test_handled_cb), NULL);
  g_signal_connect (self, "disconnected", G_CALLBACK (test_disconnected_cb), NULL);
}

static void
vhost_test_device_finalize (GObject *object)
{
  VhostTestDevice *self = VHOST_TEST_DEVICE (object);

  g_ptr_array_unref (self->records);
  g_array_unref (self->handled);
  g_clear_error (&self->disconnect_error);
  G_OBJECT_CLASS (vhost_test_device_parent_class)->finalize (object);
}

static void
vhost_test_device_class_init (VhostTestDeviceClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vhost_test_device_finalize;
  slave_class->get_features = test_get_features;
  slave_class->get_protocol_features = test_get_protocol_features;
  slave_class->get_num_queues = test_get_num_queues;
  slave_class->get_config = test_get_config;
  slave_class->set_config = test_set_config;
  slave_class->vring_state_changed = test_vring_state_changed;
  slave_class->reset = test_reset;
  slave_class->device_request = test_device_request;
  slave_class->save_state = test_save_state;
  slave_class->load_state = test_load_state;
}

VhostTestDevice *
vhost_test_device_new (void)
{
  return g_object_new (VHOST_TYPE_TEST_DEVICE, NULL);
}

VhostTestRecord *
vhost_test_device_find (VhostTestDevice *device, VhostUserRequest request)
{
  for (guint i = device->records->len; i > 0; i--)
    {
      VhostTestRecord *record = g_ptr_array_index (device->records, i - 1);

      if (record->request == request)
        return record;
    }
  return NULL;
}

struct _VhostTestSlaveThread
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex mutex;
  GCond cond;
  gboolean ready;
  GType type;
  int fd;
  void (*setup) (VhostUserSlave *slave, gpointer data);
  gpointer setup_data;
  VhostUserSlave *slave;
  gboolean paused;        /* (locked by mutex) the thread waits in pause_cb */
  gboolean resume;        /* (locked by mutex) */
  gboolean close_on_resume;
};

static gpointer
slave_thread_main (gpointer data)
{
  VhostTestSlaveThread *t = data;

  g_main_context_push_thread_default (t->context);
  t->slave = g_object_new (t->type, NULL);
  if (t->setup != NULL)
    t->setup (t->slave, t->setup_data);
  if (t->fd >= 0)
    g_assert_true (vhost_user_slave_serve_fd (t->slave, t->fd, NULL));
  g_mutex_lock (&t->mutex);
  t->ready = TRUE;
  g_cond_signal (&t->cond);
  g_mutex_unlock (&t->mutex);

  g_main_loop_run (t->loop);

  vhost_user_slave_close (t->slave);
  g_clear_object (&t->slave);
  while (g_main_context_iteration (t->context, FALSE))
    ;
  g_main_context_pop_thread_default (t->context);
  return NULL;
}

VhostTestSlaveThread *
vhost_test_slave_thread_new (GType type, int fd, void (*setup) (VhostUserSlave *slave, gpointer data), gpointer data)
{
  VhostTestSlaveThread *t = g_new0 (VhostTestSlaveThread, 1);

  t->context = g_main_context_new ();
  t->loop = g_main_loop_new (t->context, FALSE);
  g_mutex_init (&t->mutex);
  g_cond_init (&t->cond);
  t->type = type;
  t->fd = fd;
  t->setup = setup;
  t->setup_data = data;
  t->thread = g_thread_new ("test-slave", slave_thread_main, t);
  g_mutex_lock (&t->mutex);
  while (!t->ready)
    g_cond_wait (&t->cond, &t->mutex);
  g_mutex_unlock (&t->mutex);
  return t;
}

VhostUserSlave *
vhost_test_slave_thread_get_slave (VhostTestSlaveThread *t)
{
  return t->slave;
}

typedef struct
{
  VhostTestSlaveThread *thread;
  void (*func) (VhostUserSlave *slave, gpointer data);
  gpointer data;
  gboolean done;
} RunData;

static gboolean
run_in_thread_cb (gpointer user_data)
{
  RunData *run = user_data;

  run->func (run->thread->slave, run->data);
  g_mutex_lock (&run->thread->mutex);
  run->done = TRUE;
  g_cond_broadcast (&run->thread->cond);
  g_mutex_unlock (&run->thread->mutex);
  g_main_context_wakeup (NULL);
  return G_SOURCE_REMOVE;
}

void
vhost_test_slave_thread_run (VhostTestSlaveThread *t, void (*func) (VhostUserSlave *slave, gpointer data), gpointer data)
{
  RunData run = { t, func, data, FALSE };

  g_main_context_invoke (t->context, run_in_thread_cb, &run);
  g_mutex_lock (&t->mutex);
  while (!run.done)
    g_cond_wait (&t->cond, &t->mutex);
  g_mutex_unlock (&t->mutex);
}

void
vhost_test_slave_thread_run_iterating (VhostTestSlaveThread *t,
                                       void (*func) (VhostUserSlave *slave, gpointer data),
                                       gpointer data)
{
  RunData run = { t, func, data, FALSE };
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  gboolean done = FALSE;

  g_main_context_invoke (t->context, run_in_thread_cb, &run);
  while (!done)
    {
      g_main_context_iteration (NULL, FALSE);
      g_mutex_lock (&t->mutex);
      done = run.done;
      g_mutex_unlock (&t->mutex);
      if (!done)
        g_usleep (200);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

static void
wait_disconnect (VhostUserSlave *slave, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  while (VHOST_TEST_DEVICE (slave)->disconnects == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
}

void
vhost_test_slave_thread_wait_disconnect (VhostTestSlaveThread *thread)
{
  vhost_test_slave_thread_run (thread, wait_disconnect, NULL);
}

static gboolean
pause_cb (gpointer data)
{
  VhostTestSlaveThread *t = data;
  gboolean close_on_resume;

  g_mutex_lock (&t->mutex);
  t->paused = TRUE;
  t->resume = FALSE;
  g_cond_broadcast (&t->cond);
  while (!t->resume)
    g_cond_wait (&t->cond, &t->mutex);
  t->paused = FALSE;
  close_on_resume = t->close_on_resume;
  g_mutex_unlock (&t->mutex);
  if (close_on_resume)
    vhost_user_slave_close (t->slave);
  return G_SOURCE_REMOVE;
}

void
vhost_test_slave_thread_pause (VhostTestSlaveThread *t)
{
  g_main_context_invoke (t->context, pause_cb, t);
  g_mutex_lock (&t->mutex);
  while (!t->paused)
    g_cond_wait (&t->cond, &t->mutex);
  g_mutex_unlock (&t->mutex);
}

void
vhost_test_slave_thread_resume (VhostTestSlaveThread *t, gboolean close)
{
  g_mutex_lock (&t->mutex);
  g_assert_true (t->paused);
  t->close_on_resume = close;
  t->resume = TRUE;
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->mutex);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
vhost_test_slave_thread_free (VhostTestSlaveThread *t)
{
  g_main_context_invoke (t->context, quit_cb, t->loop);
  g_thread_join (t->thread);
  g_main_loop_unref (t->loop);
  g_main_context_unref (t->context);
  g_mutex_clear (&t->mutex);
  g_cond_clear (&t->cond);
  g_free (t);
}

static gboolean
timeout_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
vhost_test_wait_for_flag (gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *source = g_timeout_source_new (timeout_ms);

  g_source_set_callback (source, timeout_flag_cb, &timed_out, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  while (!*flag && !timed_out)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_source_destroy (source);
  g_source_unref (source);
  g_assert_false (timed_out);
}

void
vhost_test_store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

void
vhost_test_wait_for_result (GAsyncResult **result, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *source = g_timeout_source_new (timeout_ms);

  g_source_set_callback (source, timeout_flag_cb, &timed_out, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  while (*result == NULL && !timed_out)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_source_destroy (source);
  g_source_unref (source);
  g_assert_false (timed_out);
}

guint64
vhost_test_negotiate (VhostUserMaster *master, guint64 protocol_features)
{
  g_autoptr(GError) error = NULL;
  guint64 features = 0, offered = 0;

  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_true (vhost_user_master_get_protocol_features (master, &offered, &error));
  g_assert_no_error (error);
  g_assert_cmphex (offered & protocol_features, ==, protocol_features);
  g_assert_true (vhost_user_master_set_protocol_features (master, protocol_features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_no_error (error);
  return features;
}

void
vhost_test_reap_one (VhostDriver *driver, guint queue, guint timeout_ms, guint64 *tag, guint *len)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autoptr(GError) error = NULL;

  while (!vhost_driver_reap (driver, queue, tag, len, &error))
    {
      g_assert_no_error (error);
      if (g_get_monotonic_time () > deadline)
        g_error ("queue %u: no completion within %u ms", queue, timeout_ms);
      vhost_driver_wait (driver, queue, 500, NULL);
    }
}

gboolean
vhost_test_kernel_older_than (guint major, guint minor)
{
  struct utsname u;
  guint running_major = 0, running_minor = 0;

  g_assert_no_errno (uname (&u));
  if (sscanf (u.release, "%u.%u", &running_major, &running_minor) != 2)
    g_error ("Cannot read the kernel version from \"%s\"", u.release);
  return running_major < major || (running_major == major && running_minor < minor);
}

void
vhost_test_assert_error_prefix (const GError *error, VhostError code, const char *prefix)
{
  g_assert_error (error, VHOST_ERROR, (gint) code);
  if (!g_str_has_prefix (error->message, prefix))
    g_error ("expected an error starting with \"%s\", got \"%s\"", prefix, error->message);
}

void
vhost_test_wait_readable (int fd, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left = deadline - g_get_monotonic_time ();
      int r;

      if (left <= 0)
        g_error ("fd %d was not readable within %u ms", fd, timeout_ms);
      r = poll (&pfd, 1, (int) (left / 1000) + 1);
      if (r < 0 && errno == EINTR)
        continue;
      g_assert_no_errno (r);
      if (r > 0)
        return;
    }
}
