"""A Sphinx extension for the book (listed in ``_config.yml``): figures at full size, and no
repeated ``<script>`` tags.

Figures: every notebook cell whose output holds an image is tagged ``full-width`` (the theme's class:
at 992 px and wider the cell spans the article and its right margin, and the page's contents
sidebar steps aside while it is in view), so a multi-panel figure is drawn about 1070 px wide at a
1400 px window instead of squeezed into the text column; and every figure image links to its
full-size file, so a reader can open it alone and zoom. Done here, at build time, so no notebook
carries the tag by hand and a new figure gets it too.

Scripts: sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = …``) twice under
Jupyter Book 1.0.4 / Sphinx 7.4, and the second copy throws "Identifier 'THEBE_JS_URL' has already
been declared" in every browser console. Keeping only the first of identical scripts fixes it.
"""

from __future__ import annotations

import re

FULL_WIDTH = "tag_full-width"  # the class the theme gives a cell tagged "full-width"


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


def full_width_figures(app, doctree) -> None:
    """Tag every notebook cell that shows an image as full-width (see the module docstring)."""
    from docutils import nodes

    for cell in doctree.findall(nodes.container):
        classes = cell.get("classes", [])
        if "cell" in classes and FULL_WIDTH not in classes and next(iter(cell.findall(nodes.image)), None) is not None:
            classes.append(FULL_WIDTH)


# an <img> of a built image (Sphinx copies them to _images/), and whether a link already holds it
_IMG = re.compile(r'(<a\b[^>]*>\s*)?(<img\b[^>]*?\bsrc="([^"]*_images/[^"]+)"[^>]*>)')


def link_figures(app, pagename, templatename, context, doctree) -> None:
    """Wrap every built image that is not already a link in a link to its own file."""
    body = context.get("body")
    if not body:
        return

    def wrap(m):
        if m.group(1):
            return m.group(0)
        return (f'<a class="reference internal image-reference compdiff-figure-link" href="{m.group(3)}" '
                f'title="open the full-size image">{m.group(2)}</a>')

    context["body"] = _IMG.sub(wrap, body)


def setup(app):
    app.connect("doctree-read", full_width_figures)
    app.connect("html-page-context", link_figures)
    app.connect("html-page-context", dedupe_scripts, priority=100)  # early: emit_firstresult stops at the first handler that returns
    return {"parallel_read_safe": True, "parallel_write_safe": True}
