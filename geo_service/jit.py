"""numba kernels compiled on first use, without importing numba when their module is imported.

Importing numba costs about half a second of CPU (llvmlite, its type system), which a serving process paid
before ``/readyz`` although only the walking engine's searches (first run by the background warm-up, after
ready) need it. ``@kernel`` marks a function as an ``njit(cache=True, nogil=True)`` kernel and returns a
stand-in; the first call of any stand-in imports numba and replaces every stand-in of that module (and of the
modules whose kernels it calls) by the real dispatcher in the module's namespace. numba resolves the globals
a kernel calls when it compiles it, so kernels calling kernels work as with ``@njit``; code that kept a stand-in
(``from module import kernel``) keeps working through it. The machine code and its on-disk cache are numba's,
unchanged (the cache is keyed by the function's source file and qualified name).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True}
_LOCK = threading.RLock()


class Kernel:
    """Stands in for the numba dispatcher of ``py_func`` until the first call."""

    def __init__(self, py_func: Callable[..., Any]) -> None:
        self.py_func = py_func
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__module__ = py_func.__module__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func
        self.dispatcher: Any = None

    def __call__(self, *args: Any) -> Any:
        dispatcher = self.dispatcher
        if dispatcher is None:
            dispatcher = compiled(self)
        return dispatcher(*args)

    def __repr__(self) -> str:
        return f"<kernel {self.__module__}.{self.__qualname__} ({'compiled' if self.dispatcher else 'lazy'})>"


def kernel(fn: F) -> F:
    """``@njit(cache=True, nogil=True)``, numba imported and the module's kernels made on first call."""
    return Kernel(fn)  # type: ignore[return-value]  # called like the function it stands for


def compiled(stand_in: Kernel) -> Any:
    """The numba dispatcher of ``stand_in``, made (with every kernel it may call) on first use."""
    with _LOCK:
        if stand_in.dispatcher is None:
            _materialise(sys.modules[stand_in.__module__].__dict__, set())
        return stand_in.dispatcher


def _materialise(namespace: dict[str, Any], done: set[int]) -> None:
    """Replace every stand-in in ``namespace`` by its dispatcher, and the stand-ins of the modules those come
    from (a kernel may call a kernel imported from another module)."""
    if id(namespace) in done:
        return
    done.add(id(namespace))
    from numba import njit

    for name, value in list(namespace.items()):
        if isinstance(value, Kernel):
            if value.dispatcher is None:
                value.dispatcher = njit(**_OPTIONS)(value.py_func)
            namespace[name] = value.dispatcher
            home = sys.modules[value.__module__].__dict__
            _materialise(home, done)
