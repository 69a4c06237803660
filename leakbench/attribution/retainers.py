"""The walk from a grown container back to a root a person recognises, and the expression that names it.

Up through ``gc.get_referrers``, breadth first, so the nearest root wins:
a module's globals (``myagent._CACHE``), a class (``myagent.Agent.cache``),
a local of a live thread's frame, through instances (``.history``), dict
keys (``['s1']``), list items, closures (``.<closure seen>``), an
``lru_cache`` or a thread-local. Stdlib only: Python targets load it through
the probe, with ``holders``.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import types
import weakref
from collections import deque

MAX_DEPTH = 8
HARNESS = ("leakbench", "_leakbench", "_pytest", "pluggy", "xdist", "execnet")
"""Modules whose globals are the harness's, never a user's holder."""
HARNESS_FILES = ("/leakbench/", "/_pytest/", "/pluggy/", "/xdist/", "/execnet/", "threading.py")


def find_roots() -> dict[int, tuple[str, str]]:
    """id -> (expression, kind) for the roots a walk can reach by id: each module's globals (its ``__dict__``)
    and the locals of every live thread's frames. Classes are recognised as they are met."""
    roots: dict[int, tuple[str, str]] = {}
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType) and not name.startswith(HARNESS):
            roots[id(vars(module))] = (_module_name(name, module), MODULE)
    frame: types.FrameType | None
    for ident, frame in sys._current_frames().items():
        thread = _thread_name(ident)
        while frame is not None:
            code = frame.f_code
            if not any(part in code.co_filename for part in HARNESS_FILES):
                for key, value in list(frame.f_locals.items()):
                    where = f"{getattr(code, 'co_qualname', code.co_name)}() local {key}"
                    roots.setdefault(id(value), (where, f"thread {thread!r} frame"))
            frame = frame.f_back
    return roots


MODULE = "module global"


def _module_name(name: str, module: types.ModuleType) -> str:
    """A script run as ``python agent.py`` is ``__main__``: named by its file, as its author knows it."""
    path = getattr(module, "__file__", None)
    return os.path.splitext(os.path.basename(path))[0] if name == "__main__" and path else name


def _thread_name(ident: int) -> str:
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread.name
    return str(ident)


def path_to_root(obj: object, roots: dict[int, tuple[str, str]], ignore: set[int]) -> tuple[str, str] | None:
    """Breadth first up the referrers to the nearest root: its expression, then each step down to ``obj``."""
    if id(obj) in roots and roots[id(obj)][1] != MODULE:
        return roots[id(obj)]
    seen = {id(obj)}
    level: list[tuple[object, list[str], str | None]] = [(obj, [], None)]
    for _ in range(MAX_DEPTH):
        following: list[tuple[object, list[str], str | None]] = []
        for child, steps, via in level:
            referrers = gc.get_referrers(child)
            ignore.add(id(referrers))
            for parent in referrers:
                if id(parent) in seen or id(parent) in ignore or isinstance(parent, types.FrameType):
                    continue
                seen.add(id(parent))
                if isinstance(parent, type):  # a class holds its attributes in its __dict__
                    if isinstance(child, dict) and not parent.__module__.startswith(HARNESS):
                        expression = f"{parent.__module__}.{parent.__qualname__}"
                        return _join(expression, [ATTRIBUTES, *steps]), via or "class attribute"
                    continue
                step = _step(parent, child)
                if step is None:
                    continue
                path = [step, *steps]
                if id(parent) in roots:
                    expression, kind = roots[id(parent)]
                    if kind == MODULE:
                        return _join(expression, [ATTRIBUTES, *path]), via or kind
                    return _join(expression, path), via or kind
                following.append((parent, path, _via(parent) or via))
            del referrers
        level = following
        if not level:
            return None
    return None


def _via(parent: object) -> str | None:
    """What a holder is, when what holds the container says more than where it lives."""
    name = type(parent).__name__
    return {"_lru_cache_wrapper": "lru_cache", "_local": "thread-local"}.get(name)


ATTRIBUTES = "\0"
"""A step meaning "the dict below is an object's attributes": the next ``['key']`` is written ``.key``."""


CLOSURE, FUNCTION = "\1", "\2"
"""A function's step carries its free variables' names; its closure's step, which cell: ``.<closure seen>``."""


def _join(expression: str, steps: list[str]) -> str:
    out, attributes, free = expression, False, [""]
    for step in steps:
        if step == ATTRIBUTES:
            attributes = True
            continue
        if step.startswith(FUNCTION):
            free = step[1:].split(",")
            continue
        if step.startswith(CLOSURE):
            n = int(step[1:])
            step = f".<closure {free[n] if n < len(free) else n}>"
        if attributes and step.startswith("['") and step[2:-2].isidentifier():
            step = "." + step[2:-2]
        out, attributes = out + step, False
    return out


def _step(parent: object, child: object) -> str | None:
    """How ``parent`` refers to ``child``, as it would be written after the parent's expression."""
    if isinstance(parent, dict):
        for key, value in list(parent.items()):
            if value is child:
                # a thread-local keeps each thread's attributes under a weak reference to the thread
                return ATTRIBUTES if isinstance(key, weakref.ref) else f"[{key!r}]"
        return "<key>" if any(key is child for key in list(parent)) else None
    if isinstance(parent, tuple) and _is_closure(parent):
        for n, value in enumerate(parent):
            if value is child:
                return f"{CLOSURE}{n}"  # named by the function that holds the tuple
        return None
    if isinstance(parent, (list, tuple, deque)):
        for n, value in enumerate(parent):
            if value is child:
                return f"[{n}]"
        return None
    if isinstance(parent, (set, frozenset)):
        return "{...}"
    if isinstance(parent, types.CellType):
        return ""  # named by the function that holds the cell
    if isinstance(parent, types.FunctionType):
        if parent.__closure__ is child:
            return FUNCTION + ",".join(parent.__code__.co_freevars)
        return None
    if type(parent).__name__ in ("_lru_cache_wrapper", "_local"):
        return ""
    if isinstance(parent, (types.MethodType, types.ModuleType, type)):
        return None
    attributes = getattr(parent, "__dict__", None)
    if isinstance(attributes, dict):
        if attributes is child:
            return ATTRIBUTES
        for key, value in list(attributes.items()):
            if value is child:
                return f".{key}"
    return f"<{type_name(type(parent))}>"


def _is_closure(parent: tuple) -> bool:
    return bool(parent) and all(isinstance(item, types.CellType) for item in parent)


def type_name(kind: type) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
