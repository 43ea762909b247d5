/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain of vhost-glib and its codes: GLib only, shared by every layer. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <glib.h>
#include <vhost-glib/vhost-version-macros.h>

G_BEGIN_DECLS

/**
 * VHOST_ERROR:
 *
 * The error domain of vhost-glib. Errors in this domain are from the
 * #VhostError enumeration.
 */
#define VHOST_ERROR (vhost_error_quark ())
VHOST_AVAILABLE_IN_ALL
GQuark vhost_error_quark (void);

/**
 * VhostError:
 * @VHOST_ERROR_FAILED: a failure with no more specific code.
 * @VHOST_ERROR_DISCONNECTED: the peer closed the connection, or hung up in the
 *   middle of a message, or the object is not connected.
 * @VHOST_ERROR_PROTOCOL: a malformed message: a truncated header, flags without
 *   the version bit, a reply where a request was expected, a reply to another request.
 * @VHOST_ERROR_MESSAGE_SIZE: the payload size is over the limit, or wrong for the request.
 * @VHOST_ERROR_FDS: the message carried too few or too many file descriptors
 *   (the extra ones are closed), or another kind of control message.
 * @VHOST_ERROR_UNKNOWN_REQUEST: the request code is not one of the specification.
 * @VHOST_ERROR_INVALID_ARGUMENT: a value out of range: a vring index, a queue
 *   size, memory regions that overlap or whose bounds overflow.
 * @VHOST_ERROR_MAP_FAILED: a memory region could not be mapped.
 * @VHOST_ERROR_NOT_SUPPORTED: the request needs a feature or protocol feature that was
 *   not negotiated, or the device does not implement it.
 * @VHOST_ERROR_REJECTED: the peer answered the request with a failure
 *   (a non-zero REPLY_ACK status, an empty GET_CONFIG reply).
 * @VHOST_ERROR_IO: a system call failed on the socket or a file descriptor.
 * @VHOST_ERROR_BROKEN: the object is in a state where the request is not valid
 *   (for example a second connection while one is being served).
 * @VHOST_ERROR_TIMED_OUT: the peer did not answer within the object's timeout.
 * @VHOST_ERROR_NO_SPACE: a queue has no room for the buffers.
 * @VHOST_ERROR_ADDRESS_IN_USE: the address asked for is taken by another device
 *   (a vsock guest CID that another vhost-vsock device has: EADDRINUSE), or
 *   another process listens on the socket path a back-end was to listen on.
 * @VHOST_ERROR_NOT_FOUND: what the request names does not exist: a device node
 *   (ENOENT, ENODEV, ENXIO), or a vhost-scsi target that configfs does not have,
 *   or a back-end program's binary.
 * @VHOST_ERROR_INVALID_DATA: a file or a program's output does not follow its
 *   format: a back-end program's JSON descriptor, or what it prints for
 *   --print-capabilities.
 *
 * Error codes of the %VHOST_ERROR domain. Messages name the request (or the system
 * call) and, where there is one, the errno text.
 */
typedef enum {
  VHOST_ERROR_FAILED = 0,
  VHOST_ERROR_DISCONNECTED = 1,
  VHOST_ERROR_PROTOCOL = 2,
  VHOST_ERROR_MESSAGE_SIZE = 3,
  VHOST_ERROR_FDS = 4,
  VHOST_ERROR_UNKNOWN_REQUEST = 5,
  VHOST_ERROR_INVALID_ARGUMENT = 6,
  VHOST_ERROR_MAP_FAILED = 7,
  VHOST_ERROR_NOT_SUPPORTED = 8,
  VHOST_ERROR_REJECTED = 9,
  VHOST_ERROR_IO = 10,
  VHOST_ERROR_BROKEN = 11,
  VHOST_ERROR_TIMED_OUT = 12,
  VHOST_ERROR_NO_SPACE = 13,
  VHOST_ERROR_ADDRESS_IN_USE = 14,
  VHOST_ERROR_NOT_FOUND = 15,
  VHOST_ERROR_INVALID_DATA = 16,
} VhostError;

G_END_DECLS
