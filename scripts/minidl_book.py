"""Sphinx extension with two small fixes for the minidl book.

1. Public names: the API reference documents each object where it is defined
   (``minidl.linear.Linear``), but the docstrings, like the book, use the names a reader imports:
   ``:class:`~minidl.Linear```, or a name their module imports (``:func:`dead_units``` in
   ``minidl.reproduce``). When such a reference finds no target, resolve it to the object's defining
   module and try again.
2. One copy of each inline script: with Jupyter Book 1 and Sphinx 7.4, sphinx-thebe's inline
   configuration script (``const THEBE_JS_URL = ...``) ends up twice in every page, and the second
   copy throws "Identifier 'THEBE_JS_URL' has already been declared" in the browser.
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
    target = node.get("reftarget", "")
    module = node.get("py:module") or ""
    if not target.startswith("minidl.") and module.startswith("minidl"):
        # A name the current module imports from another: :func:`dead_units` in minidl.reproduce.
        target = f"{module}.{target}"
    target = _defining_name(target)
    if target is None:
        return None
    domain = env.get_domain("py")
    retry = node.deepcopy()
    retry["reftarget"] = target
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, retry, contnode)


def _one_copy_of_each_script(app, pagename, templatename, context, doctree):  # "html-page-context" hook
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("missing-reference", _resolve)
    app.connect("html-page-context", _one_copy_of_each_script)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
