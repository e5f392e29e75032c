"""Sphinx extension: let docstrings refer to minidl's public names (``minidl.Linear``).

The API reference documents each object where it is defined (``minidl.linear.Linear``), but the
docstrings, like the book, use the names a reader imports: ``:class:`~minidl.Linear```. When such a
reference finds no target, resolve it to the object's defining module and try again.
"""

from __future__ import annotations

import importlib


def _defining_name(target: str) -> str | None:
    parts = target.split(".")
    if parts[0] != "minidl" or len(parts) < 2:
        return None
    obj = importlib.import_module("minidl")
    for part in parts[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or f"{module}.{qualname}" == target:
        return None
    return f"{module}.{qualname}"


def _resolve(app, env, node, contnode):  # Sphinx "missing-reference" hook
    if node.get("refdomain") != "py":
        return None
    target = _defining_name(node.get("reftarget", ""))
    if target is None:
        return None
    domain = env.get_domain("py")
    retry = node.deepcopy()
    retry["reftarget"] = target
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, retry, contnode)


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
