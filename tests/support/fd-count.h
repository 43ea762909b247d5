/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Counting this process's open fds, for tests that check that nothing leaks one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The number of open file descriptors of this process (entries of /proc/self/fd). */
gint vhost_test_count_open_fds (void);

/* Wait (up to 2 s) until GLib has let go of the fds it keeps for child processes
 * that exited (a pidfd, a wait context): they close in its worker thread, later. */
void vhost_test_settle_fds (void);

/* Assert that the process has `expected` open fds; on failure, list them. */
void vhost_test_assert_fd_count (gint expected);

G_END_DECLS
