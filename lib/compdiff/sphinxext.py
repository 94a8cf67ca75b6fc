"""A Sphinx extension for the book (listed in ``_config.yml``): drop repeated ``<script>`` tags.

sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = …``) twice under
Jupyter Book 1.0.4 / Sphinx 7.4, and the second copy throws "Identifier 'THEBE_JS_URL' has already
been declared" in every browser console. Keeping only the first of identical scripts fixes it.
"""

from __future__ import annotations


def _key(script) -> tuple:
    attrs = getattr(script, "attributes", {}) or {}
    # an inline script is registered once with filename None and once with "": the same script
    return (str(getattr(script, "filename", script) or ""), str(attrs.get("body", "")))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for s in scripts:
        k = _key(s)
        if k not in seen:
            seen.add(k)
            kept.append(s)
    scripts[:] = kept  # in place: later handlers (MathJax, per page) append to this same list


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=100)  # early: emit_firstresult stops at the first handler that returns
    return {"parallel_read_safe": True, "parallel_write_safe": True}
