# SPDX-License-Identifier: LGPL-2.1-or-later
# PyGObject overrides of the Vhost namespace: the API that GObject-Introspection gives, made Pythonic.
"""Python overrides for vhost-glib's ``Vhost`` namespace.

PyGObject loads this module with ``from gi.repository import Vhost``. It keeps
the C API reachable and adds:

- ``UserMaster.connect(signal, callback)`` is GObject's signal connect, as on
  every GObject; the vhost-user connection is ``UserMaster.connect_backend()``;
- ``bytes``, ``bytearray`` and ``memoryview`` wherever bytes go in, ``bytes``
  wherever they come out (not ``GLib.Bytes``), in methods and virtual functions;
- ``Driver.alloc(size)`` returns the address; ``Driver(backend, memory_size)``
  (positional or keywords, with ``n_regions=``) raises the error that says why a
  driver could not be made; driver buffers as ``(addr, len)`` tuples or
  ``DriverBuffer(addr=.., len=..)``;
- ``for request in queue:`` pops a queue's pending requests;
- ``Features`` and ``ProtocolFeatures``: the feature sets as ``enum.IntFlag``
  masks, returned by the methods that read features;
- ``VhostError`` and one subclass per ``Vhost.Error`` code (``DisconnectedError``,
  ``RejectedError``...), subclasses of ``GLib.Error``, raised instead of a bare
  ``GLib.Error``;
- ``with`` blocks that stop a driver and close a master or a slave;
- an exception in a device's ``do_*`` virtual function fails the request (the
  front-end sees it) instead of being printed and forgotten.
"""
import enum
import sys
import traceback
import warnings

from gi import _gi
from gi.repository import Gio, GLib, GObject

from ..module import get_introspection_module
from ..overrides import override

Vhost = get_introspection_module("Vhost")

__all__ = []

_DOMAIN = "vhost-error-quark"


def _export(obj, name=None):
    name = name or obj.__name__
    globals()[name] = obj
    __all__.append(name)
    return obj


# Feature sets as integer masks with names. Virtio feature sets travel as 64-bit
# integers, which a GFlags type cannot hold: Vhost.VirtioFeature gives bit numbers.

def _feature_members():
    members = {}
    for bit, value in sorted(Vhost.VirtioFeature.__enum_values__.items()):
        members[value.value_name[len("VHOST_VIRTIO_F_"):]] = 1 << bit
    # The specification's short names of the ring features.
    members["INDIRECT_DESC"] = members["RING_INDIRECT_DESC"]
    members["EVENT_IDX"] = members["RING_EVENT_IDX"]
    return members


Features = _export(enum.IntFlag("Features", _feature_members(), module=__name__))
Features.__doc__ = ("Virtio feature bits as masks: ``Features.VERSION_1 | Features.EVENT_IDX``. "
                    "Device-specific bits (0 to 23) have no name but are kept.")

ProtocolFeatures = _export(enum.IntFlag("ProtocolFeatures", {
    value.first_value_name[len("VHOST_USER_PROTOCOL_F_"):]: mask
    for mask, value in sorted(Vhost.UserProtocolFeatures.__flags_values__.items())
    if mask != 0 and bin(mask).count("1") == 1
}, module=__name__))
ProtocolFeatures.__doc__ = "vhost-user protocol features as masks: ``ProtocolFeatures.MQ | ProtocolFeatures.CONFIG``."


# Errors: one exception class per Vhost.Error code.

class VhostError(GLib.Error):
    """A ``GLib.Error`` of the ``VHOST_ERROR`` domain; its subclasses name the code."""

    code_value = int(Vhost.Error.FAILED)

    def __init__(self, message="vhost-glib error", domain=_DOMAIN, code=None):
        super().__init__(message, domain, self.code_value if code is None else code)


_export(VhostError)
_error_classes = {}
for _code, _value in sorted(Vhost.Error.__enum_values__.items()):
    _name = "".join(part.capitalize() for part in _value.value_nick.split("-")) + "Error"
    _error_classes[_code] = _export(type(_name, (VhostError,), {
        "code_value": _code,
        "__doc__": "``Vhost.Error.%s``." % _value.value_name[len("VHOST_ERROR_"):],
        "__module__": __name__,
    }))


def _vhost_error(error):
    """The VhostError subclass for a GLib.Error of the vhost domain; other errors as they are."""
    if isinstance(error, VhostError) or error.domain != _DOMAIN:
        return error
    return _error_classes.get(error.code, VhostError)(error.message, error.domain, error.code)


# Bytes in and out.

def _to_gbytes(value):
    if value is None or isinstance(value, GLib.Bytes):
        return value
    if not isinstance(value, bytes):
        value = bytes(memoryview(value))
    return GLib.Bytes.new(value)


def _as_bytes(data):
    """``bytes`` for a byte-array argument: a bytes-like object or a ``GLib.Bytes``, copied only if need be."""
    if type(data) is bytes:
        return data
    return data.get_data() if isinstance(data, GLib.Bytes) else bytes(memoryview(data))


def _from_gbytes(value):
    if isinstance(value, GLib.Bytes):
        return value.get_data()
    if isinstance(value, tuple):
        return tuple(v.get_data() if isinstance(v, GLib.Bytes) else v for v in value)
    return value


_DIRECTION_IN, _DIRECTION_OUT = 0, 1  # GIDirection


def _is_gbytes(type_info):
    if type_info.get_tag_as_string() != "interface":
        return False
    iface = type_info.get_interface()
    return iface.get_namespace() == "GLib" and iface.get_name() == "Bytes"


def _bytes_arguments(info):
    """The Python positions and names of a callable's GBytes in-arguments."""
    args = info.get_arguments()
    hidden = {a.get_type().get_array_length() for a in args if a.get_type().get_tag_as_string() == "array"}
    positions, names, position = [], [], 0
    for index, arg in enumerate(args):
        if arg.get_direction() == _DIRECTION_OUT:
            continue
        if index in hidden:
            continue
        if _is_gbytes(arg.get_type()):
            positions.append(position)
            names.append(arg.get_name())
        position += 1
    return positions, names


def _wrap_callable(info, orig, is_method):
    """A wrapper that takes bytes-like objects for GBytes, gives bytes back, and raises VhostError subclasses."""
    positions, names = _bytes_arguments(info)
    offset = 1 if is_method else 0
    positions = [p + offset for p in positions]
    returns_bytes = _is_gbytes(info.get_return_type()) or any(
        _is_gbytes(a.get_type()) for a in info.get_arguments() if a.get_direction() != _DIRECTION_IN)
    throws = info.can_throw_gerror()
    if not positions and not returns_bytes and not throws:
        return None

    def wrapper(*args, **kwargs):
        if positions:
            args = list(args)
            for p in positions:
                if p < len(args):
                    args[p] = _to_gbytes(args[p])
            for name in names:
                if name in kwargs:
                    kwargs[name] = _to_gbytes(kwargs[name])
        try:
            result = orig(*args, **kwargs)
        except GLib.Error as error:
            raise _vhost_error(error) from None
        return _from_gbytes(result) if returns_bytes else result

    wrapper.__name__ = info.get_name()
    wrapper.__qualname__ = info.get_name()
    wrapper.__doc__ = getattr(orig, "__doc__", None)
    wrapper.__wrapped__ = orig
    return wrapper


def _patch_namespace():
    """Wrap, in place, every method of the namespace's classes, interfaces and records that needs it."""
    repository = _gi.Repository.get_default()
    for info in repository.get_infos("Vhost"):
        if not isinstance(info, (_gi.ObjectInfo, _gi.InterfaceInfo, _gi.StructInfo)):
            continue
        klass = getattr(Vhost, info.get_name(), None)
        if klass is None:
            continue
        for method in info.get_methods():
            name = method.get_name()
            if not hasattr(klass, name):
                continue
            wrapper = _wrap_callable(method, getattr(klass, name), method.is_method())
            if wrapper is not None:
                setattr(klass, name, wrapper if method.is_method() else staticmethod(wrapper))


_patch_namespace()


def _returning(klass, name, flag_type):
    orig = getattr(klass, name)

    def wrapper(*args, **kwargs):
        return flag_type(orig(*args, **kwargs))

    wrapper.__name__ = name
    wrapper.__doc__ = "%s, as ``Vhost.%s``." % (name, flag_type.__name__)
    wrapper.__wrapped__ = orig
    setattr(klass, name, wrapper)


for _klass, _name in ((Vhost.Backend, "get_features"), (Vhost.Backend, "get_features_finish"),
                      (Vhost.Backend, "query_features"), (Vhost.UserMaster, "get_acked_features"),
                      (Vhost.UserSlave, "get_acked_features"), (Vhost.Driver, "get_acked_features")):
    _returning(_klass, _name, Features)
for _klass, _name in ((Vhost.Backend, "negotiate_protocol"), (Vhost.Backend, "negotiate_protocol_finish"),
                      (Vhost.UserMaster, "get_protocol_features"), (Vhost.UserMaster, "get_protocol_features_finish"),
                      (Vhost.UserMaster, "query_protocol_features"), (Vhost.UserMaster, "get_acked_protocol_features"),
                      (Vhost.UserSlave, "get_acked_protocol_features")):
    _returning(_klass, _name, ProtocolFeatures)


# The classes.

_backend_connect = Vhost.UserMaster.connect


class UserMaster(Vhost.UserMaster):
    """The vhost-user front-end. ``connect(signal, callback)`` connects a signal
    handler, as on any GObject; ``connect_backend()`` connects to the back-end."""

    def connect(self, detailed_signal, *args, **kwargs):
        if isinstance(detailed_signal, str):
            return GObject.Object.connect(self, detailed_signal, *args, **kwargs)
        warnings.warn("Vhost.UserMaster.connect() connects signal handlers in Python; "
                      "connect to the back-end with connect_backend()", DeprecationWarning, stacklevel=2)
        return self.connect_backend(detailed_signal)

    def connect_backend(self, cancellable=None):
        """Connects to the back-end's socket (vhost_user_master_connect())."""
        return _backend_connect(self, cancellable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


UserMaster = _export(override(UserMaster))


_DEFAULT_RETURNS = {"get_features": 0, "get_protocol_features": 0, "get_num_queues": 1,
                    "get_max_queue_size": 1}
_FAILING_VFUNCS = set(_DEFAULT_RETURNS) | {"vring_state_changed", "reset"}
_INT_RESULTS = {"get_features", "get_protocol_features"}


def _report(name, exc):
    """The traceback of an exception in a device's code, then the error that fails the request."""
    print("Vhost: exception in %s:" % name, file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return VhostError("%s raised %s: %s" % (name, type(exc).__name__, exc))


def _wrap_vfunc(name, func, vfunc_info):
    """Bytes in and out, and exceptions turned into failed requests, for one do_* method."""
    positions, _ = _bytes_arguments(vfunc_info)
    positions = [p + 1 for p in positions]
    returns_bytes = _is_gbytes(vfunc_info.get_return_type())
    failing = name in _FAILING_VFUNCS
    default = _DEFAULT_RETURNS.get(name)
    as_int = name in _INT_RESULTS

    def wrapper(*args):
        if positions:
            args = list(args)
            for p in positions:
                args[p] = _from_gbytes(args[p])
        try:
            result = func(*args)
        except GLib.Error as error:
            if failing:
                args[0].fail_request(error)
                return default
            raise
        except Exception as exc:
            error = _report("do_" + name, exc)
            if failing:
                args[0].fail_request(error)
                return default
            raise error from None
        if returns_bytes:
            return _to_gbytes(result)
        if as_int:
            return int(result)
        if isinstance(result, tuple):
            return tuple(_to_gbytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v for v in result)
        return result

    wrapper.__name__ = "do_" + name
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func
    return wrapper


_slave_vfuncs = {v.get_name(): v for v in _gi.Repository.get_default().find_by_name("Vhost", "UserSlave").get_vfuncs()}


class UserSlave(Vhost.UserSlave):
    """The vhost-user back-end; a device subclasses it and overrides ``do_*`` methods.

    Bytes arrive as ``bytes`` and may be returned as any bytes-like object. An
    exception in a ``do_*`` method fails the request: as the request's error
    when the virtual function has one, else by ending the connection
    (vhost_user_slave_fail_request()); the front-end sees the failure."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Before PyGObject's metaclass hooks the do_* methods up as virtual functions.
        for name, vfunc in _slave_vfuncs.items():
            func = cls.__dict__.get("do_" + name)
            if func is not None and not hasattr(func, "__wrapped__"):
                setattr(cls, "do_" + name, _wrap_vfunc(name, func, vfunc))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


UserSlave = _export(override(UserSlave))


class DriverBuffer(Vhost.DriverBuffer):
    """One buffer of a chain: ``DriverBuffer(addr, len)``, or an ``(addr, len)`` tuple."""

    def __init__(self, addr=0, len=0):
        Vhost.DriverBuffer.__init__(self)
        self.addr = addr
        self.len = len

    def __iter__(self):
        return iter((self.addr, self.len))

    def __eq__(self, other):
        try:
            return tuple(self) == tuple(other)
        except TypeError:
            return NotImplemented

    def __repr__(self):
        return "Vhost.DriverBuffer(addr=0x%x, len=%d)" % (self.addr, self.len)


DriverBuffer = _export(override(DriverBuffer))


def _buffers(buffers):
    return [b if isinstance(b, Vhost.DriverBuffer) else DriverBuffer(*b) for b in buffers or ()]


_driver_submit = Vhost.Driver.submit


class Driver(Vhost.Driver):
    """The driver side of a device: ``Driver(backend, memory_size)``, with or
    without keywords, and ``n_regions=`` if wanted. A driver that could not make
    its guest memory raises the ``VhostError`` that says why."""

    def __init__(self, backend=None, memory_size=None, **kwargs):
        if backend is None or memory_size is None:
            raise TypeError("Vhost.Driver(backend, memory_size) takes a VhostBackend and the size of the "
                            "guest memory (and n_regions= if wanted)")
        super().__init__(backend=backend, memory_size=memory_size, **kwargs)
        # g_object_new() made the memory (or failed to): GInitable says which.
        try:
            Gio.Initable.init(self, None)
        except GLib.Error as error:
            raise _vhost_error(error) from None

    def alloc(self, size):
        """Allocates ``size`` bytes of guest memory and returns their guest address."""
        return self.alloc_address(size)

    def write(self, addr, data):
        """Copies ``data`` (any bytes-like object) into guest memory at ``addr``."""
        return self.write_data(addr, _as_bytes(data))

    def read(self, addr, length):
        """Copies ``length`` bytes of guest memory at ``addr``, as ``bytes``."""
        return self.read_data(addr, length)

    def submit(self, queue, out, in_, tag):
        """Submits a chain: ``out`` and ``in_`` are lists of ``(addr, len)`` or ``DriverBuffer``."""
        return _driver_submit(self, queue, _buffers(out), _buffers(in_), tag)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.get_running():
            self.stop()
        return False


Driver = _export(override(Driver))


# A request's bytes go through the byte-array variants, which cost a fraction of a GBytes
# round trip (a device in Python pays it on every request).
_request_read_data = Vhost.VirtqueueRequest.read_data.__wrapped__
_request_write_data = Vhost.VirtqueueRequest.write_data.__wrapped__


def _request_read(self):
    """The chain's readable bytes, as ``bytes``."""
    try:
        return _request_read_data(self)
    except GLib.Error as error:
        raise _vhost_error(error) from None


def _request_write(self, offset, data):
    """Copies ``data`` (any bytes-like object) into the chain's writable buffers at ``offset``."""
    try:
        return _request_write_data(self, offset, _as_bytes(data))
    except GLib.Error as error:
        raise _vhost_error(error) from None


Vhost.VirtqueueRequest.read = _request_read
Vhost.VirtqueueRequest.write = _request_write


class Virtqueue(Vhost.Virtqueue):
    """A device-side queue: ``for request in queue:`` pops its pending requests."""

    def __iter__(self):
        pop = self.pop_request
        while True:
            request = pop()
            if request is None:
                return
            yield request


Virtqueue = _export(override(Virtqueue))
