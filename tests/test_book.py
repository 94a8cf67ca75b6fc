"""The built book (``make html`` → ``_build/html``), served from localhost and loaded in headless
Chromium (driven over the DevTools protocol): every page loads, every image decodes, every internal
link and anchor resolves, there are no console errors, no request leaves localhost, and the math
renders. The figure notebooks carry the parts of a figure page (``compdiff.notebook``).

Screenshots of every page are kept in ``_build/screenshots/`` for a person to look at.
"""

import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from PIL import Image

from compdiff import paths

HTML = paths.ROOT / "_build" / "html"
SHOTS = paths.ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def toc_pages() -> list[str]:
    toc = yaml.safe_load((paths.ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part["chapters"]]
    return pages


@pytest.fixture(scope="module")
def html():
    if not (HTML / "index.html").exists():
        pytest.fail("no built book: run `make html` first (make test does)")
    return HTML


def test_every_toc_page_is_built(html):
    for page in toc_pages():
        assert (html / f"{page}.html").is_file(), page


def _refs(page: Path):
    text = page.read_text()
    return re.findall(r'<(img|script|link|a)\b[^>]*?\b(?:src|href)="([^"]+)"', text)


def test_images_decode_links_resolve_and_nothing_is_remote(html):
    checked_images = 0
    for page in toc_pages():
        path = html / f"{page}.html"
        for tag, ref in _refs(path):
            url = urlparse(ref)
            if url.scheme in ("http", "https") or ref.startswith("//"):
                # plain links to other sites are fine; nothing may be *loaded* from the network
                assert tag == "a", f"{path.name}: {tag} loads {ref} from the network"
                continue
            if url.scheme or not url.path:
                continue  # mailto:, javascript:, pure #anchors
            target = (path.parent / unquote(url.path)).resolve()
            assert target.exists(), f"{path.name}: broken {tag} reference {ref}"
            if tag == "img":
                if target.suffix == ".svg":  # the theme's launch-button logos
                    import xml.etree.ElementTree as ET

                    assert ET.parse(target).getroot().tag.endswith("svg"), f"{target}: not an SVG"
                else:
                    with Image.open(target) as im:
                        im.load()
                checked_images += 1
    assert checked_images >= 5  # every figure page has at least one figure


@contextlib.contextmanager
def serve(root: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


class Browser:
    """Headless Chromium driven over the DevTools protocol (websocket-client, already pinned): one
    browser for the whole module, so that every page costs a navigation, not a browser start."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars", "--disable-extensions",
             "--remote-debugging-port=0", "--window-size=1400,1800",
             # anything not on localhost fails to resolve: the book must not need it
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

    def __init__(self, user_data: Path):
        import json
        import time
        import urllib.request

        import websocket

        self.proc = subprocess.Popen([CHROMIUM, *self.FLAGS, f"--user-data-dir={user_data}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = user_data / "DevToolsActivePort"
        deadline = time.time() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.width, self.mobile = WIDE, False
        self.resize(WIDE)

    def resize(self, width: int, mobile: bool = False, height: int = 1800):
        self.width, self.mobile = width, mobile
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def call(self, method, **params):
        import json

        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method, timeout=20):
        import json
        import time

        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.ws.settimeout(max(deadline - time.time(), 0.05))
            try:
                msg = json.loads(self.ws.recv())
            except Exception:
                break
            finally:
                self.ws.settimeout(30)
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"no {method} within {timeout} s")

    def visit(self, url: str, *, dark: bool = False) -> dict:
        """Load ``url`` at the current width; return what the page requested, logged and showed, and
        its layout (:data:`LAYOUT`). ``dark``: switch the theme to dark mode before the screenshot."""
        import base64

        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        # let MathJax (served locally) finish, then read the page's state in one go
        state = self.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression="""
            (async () => {
              const sleep = ms => new Promise(r => setTimeout(r, ms));
              for (let i = 0; i < 200 && document.readyState !== 'complete'; i++) await sleep(50);
              if (window.MathJax) {  // the config object exists before tex-chtml.js replaces it
                for (let i = 0; i < 200 && !(MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
                if (MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
              }
              const imgs = [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}));
              return {main: !!document.querySelector('main, #main-content'), imgs,
                      mathjax: document.querySelectorAll('mjx-container').length,
                      height: document.documentElement.scrollHeight};
            })()""")["result"]["value"]
        if dark:  # what the theme's light/dark switch does
            self.call("Runtime.evaluate", expression="document.documentElement.dataset.mode = 'dark';"
                                                     "document.documentElement.dataset.theme = 'dark';")
        state["layout"] = self.call("Runtime.evaluate", expression=LAYOUT, returnByValue=True)["result"]["value"]
        # the whole page, up to 6000 px tall, so a person can read it top to bottom
        height = max(min(int(state["height"]), 6000), 900)
        width, mobile = self.width, self.mobile
        self.resize(width, mobile, height)
        shot = self.call("Page.captureScreenshot", format="png")["data"]
        self.resize(width, mobile)
        events = list(self.events)
        requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
        failed = [e["params"].get("errorText", "") for e in events if e["method"] == "Network.loadingFailed"]
        errors = [e["params"]["entry"]["text"] + " " + e["params"]["entry"].get("url", "")
                  for e in events if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
        errors += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                   for e in events if e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"]
        errors += [e["params"]["exceptionDetails"].get("exception", {}).get("description", "exception")
                   for e in events if e["method"] == "Runtime.exceptionThrown"]
        return {"state": state, "png": base64.b64decode(shot), "requests": requests, "failed": failed, "errors": errors}

    def close(self):
        with contextlib.suppress(Exception):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


WIDE, NARROW = 1400, 390  # a laptop's window and a phone's screen (issue 21)

# The layout a reader meets: each figure image's drawn and natural width, whether it sits under a
# "Gallery" heading, and its background; every printed output that scrolls sideways; how wide the
# page is against the window.
LAYOUT = """(() => {
  const art = document.querySelector('article.bd-article') || document.querySelector('main');
  const imgs = [...document.querySelectorAll('article img')].map(i => {
    const sec = i.closest('section');
    const h = sec && sec.querySelector('h1, h2, h3');
    return {src: i.currentSrc || i.src, width: Math.round(i.getBoundingClientRect().width),
            natural: i.naturalWidth, ok: i.complete && i.naturalWidth > 0,
            gallery: !!(h && /^Gallery/.test(h.textContent.trim())),
            linked: !!i.closest('a[href]'), background: getComputedStyle(i).backgroundColor};
  });
  const scrolls = [...document.querySelectorAll('div.cell_output pre')]
    .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 80));
  return {article: art ? Math.round(art.getBoundingClientRect().width) : 0, imgs, scrolls,
          page: document.documentElement.scrollWidth, window: window.innerWidth,
          text: document.body.innerText};
})()"""


def browser_pages() -> list[str]:
    return toc_pages() + ["genindex"]


@pytest.fixture(scope="module")
def visits(html, tmp_path_factory):
    """Every page of the book, loaded once in headless Chromium from a localhost server."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = {}
    browser = Browser(tmp_path_factory.mktemp("chromium"))
    try:
        with serve(html) as base:
            for page in browser_pages():
                v = browser.visit(f"{base}/{page}.html")
                v["base"] = base
                shot = SHOTS / f"{page.replace('/', '_')}.png"
                shot.write_bytes(v["png"])
                out[page] = v
    finally:
        browser.close()
    return out


def test_every_page_loads_with_content(visits):
    for page, v in visits.items():
        assert v["state"]["main"], f"{page}: no main content"
        assert len(v["png"]) > 10_000, f"{page}: blank screenshot"


def test_every_figure_image_decodes_in_the_browser(visits):
    n = 0
    for page, v in visits.items():
        for img in v["state"]["imgs"]:
            assert img["ok"], f"{page}: image {img['src']} did not decode"
            n += 1
    assert n >= 5


def test_no_console_errors(visits):
    for page, v in visits.items():
        assert not v["errors"], f"{page}: console errors: {v['errors']}"
        assert not v["failed"], f"{page}: failed requests: {v['failed']}"


def test_no_request_leaves_localhost(visits):
    for page, v in visits.items():
        for url in v["requests"]:
            u = urlparse(url)
            assert u.scheme in ("data", "blob") or url.startswith(v["base"] + "/"), f"{page}: requested {url}"


def test_math_is_typeset(visits, html):
    for page, v in visits.items():
        source = (html / f"{page}.html").read_text()
        if "\\(" in source or "\\[" in source or 'class="math' in source:
            assert v["state"]["mathjax"] > 0, f"{page}: math was not typeset by MathJax"


# ---------------------------------------------------------------------------------------------
# Reading the book (issue 21): figures at full size, summaries that wrap, galleries that load, the
# runs page, narrow screens and dark mode

FIGURE_PAGES = ("notebooks/fig02_torus_dynamics", "notebooks/fig04_composition", "notebooks/fig06_percolation")
GALLERY_PAGES = ("notebooks/fig02_torus_dynamics", "notebooks/fig04_composition", "notebooks/fig06_percolation",
                 "notebooks/fig10_rim", "notebooks/fig11_lesion", "notebooks/fig12_holes")
READER_PAGES = ("book/report", "book/runs", *FIGURE_PAGES)


def test_multi_panel_figures_are_drawn_at_least_800_px_wide(visits):
    """At a 1400 px window a wide figure uses the page's width (the theme's full-width cells), not
    the ~780 px text column; and every figure links to its full-size file."""
    for page in FIGURE_PAGES + ("book/report",):
        imgs = visits[page]["state"]["layout"]["imgs"]
        wide = [i for i in imgs if i["natural"] >= 1000]
        assert wide, f"{page}: no multi-panel figure"
        for i in wide:
            assert i["width"] >= 800, f"{page}: {i['src']} drawn {i['width']} px wide (natural {i['natural']})"
    for page, v in visits.items():
        for i in v["state"]["layout"]["imgs"]:
            if "/_images/" in i["src"]:
                assert i["linked"], f"{page}: figure {i['src']} does not link to its file"


def test_no_printed_summary_scrolls_sideways(visits, narrow_visits):
    for label, vs in (("1400 px", visits), ("390 px", narrow_visits)):
        for page, v in vs.items():
            assert not v["state"]["layout"]["scrolls"], f"{page} at {label}: output scrolls sideways: " \
                f"{v['state']['layout']['scrolls']}"


def test_every_gallery_image_loads(visits):
    for page in GALLERY_PAGES:
        gallery = [i for i in visits[page]["state"]["layout"]["imgs"] if i["gallery"]]
        assert len(gallery) == 1, f"{page}: {len(gallery)} gallery images under the 'Gallery' heading, want 1"
        for i in gallery:
            assert i["ok"], f"{page}: gallery image {i['src']} did not load"


def test_runs_page_lists_every_stored_run(visits, html):
    """Every run of results/ is on the runs page (a run stored after the page was built excepted)."""
    from compdiff import store

    built = (html / "book" / "runs.html").stat().st_mtime
    text = visits["book/runs"]["state"]["layout"]["text"]
    runs = [r for r in store.list_runs() if (r.path / "manifest.json").stat().st_mtime < built]
    assert runs
    missing = [f"{r.experiment}/{r.run_id}" for r in runs if f"{r.experiment}/{r.run_id}" not in text]
    assert not missing, f"runs page lacks {missing}"


def test_pages_fit_a_phone_screen(narrow_visits):
    """At 390 px nothing widens the page beyond the screen (wide tables scroll in their own box)."""
    for page, v in narrow_visits.items():
        lay = v["state"]["layout"]
        assert lay["page"] <= lay["window"] + 1, f"{page}: {lay['page']} px wide at a {lay['window']} px screen"


def test_dark_mode_keeps_figures_on_a_light_ground(dark_visits):
    """Matplotlib figures may be transparent: in dark mode each sits on the theme's light image ground."""
    for page, v in dark_visits.items():
        for i in v["state"]["layout"]["imgs"]:
            if "/_images/" in i["src"]:
                assert i["background"] not in ("rgba(0, 0, 0, 0)", "transparent"), f"{page}: {i['src']} transparent in dark mode"


def _visit_some(html, tmp_path_factory, pages, sub: str, *, width: int, dark: bool = False) -> dict:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    (SHOTS / sub).mkdir(parents=True, exist_ok=True)
    out = {}
    browser = Browser(tmp_path_factory.mktemp(f"chromium-{sub}"))
    try:
        browser.resize(width, mobile=width < 600)
        with serve(html) as base:
            for page in pages:
                v = browser.visit(f"{base}/{page}.html", dark=dark)
                (SHOTS / sub / f"{page.replace('/', '_')}.png").write_bytes(v["png"])
                out[page] = v
    finally:
        browser.close()
    return out


@pytest.fixture(scope="module")
def narrow_visits(html, tmp_path_factory):
    """The reader's pages on a phone (390 px), screenshots in _build/screenshots/narrow/."""
    return _visit_some(html, tmp_path_factory, READER_PAGES, "narrow", width=NARROW)


@pytest.fixture(scope="module")
def dark_visits(html, tmp_path_factory):
    """The reader's pages in the theme's dark mode at 1400 px, screenshots in _build/screenshots/dark/."""
    return _visit_some(html, tmp_path_factory, READER_PAGES, "dark", width=WIDE, dark=True)


# ---------------------------------------------------------------------------------------------
# Every page's internal links, anchors included


def _ids(path: Path, cache={}) -> set:
    if path not in cache:
        cache[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text()))
    return cache[path]


def test_internal_links_and_anchors_resolve(html):
    checked = 0
    for page in browser_pages():
        path = html / f"{page}.html"
        for ref in re.findall(r'<a\b[^>]*?\bhref="([^"]+)"', path.read_text()):
            url = urlparse(ref)
            if url.scheme or ref.startswith("//"):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            assert target.exists(), f"{path.name}: broken link {ref}"
            if url.fragment and target.suffix == ".html":
                assert unquote(url.fragment) in _ids(target), f"{path.name}: link {ref}: no anchor #{url.fragment}"
            checked += 1
    assert checked > 20


# ---------------------------------------------------------------------------------------------
# The figure pages: the parts every one has (compdiff.notebook)


def figure_notebooks() -> list[Path]:
    return [paths.ROOT / f"{p}.ipynb" for p in toc_pages() if p.startswith("notebooks/")]


@pytest.mark.parametrize("nb_path", figure_notebooks(), ids=lambda p: p.stem)
def test_figure_page_has_its_parts(nb_path):
    import nbformat

    from compdiff import captions, notebook

    nb = nbformat.read(nb_path, as_version=4)
    first = nb.cells[0]
    assert notebook.LAUNCH_TAG in first.metadata.get("tags", []), "first cell is not the launch cell"
    assert first.source == notebook.launch_cell_source(), "launch cell differs from notebook.launch_cell_source()"
    assert "remove-cell" in first.metadata["tags"]
    assert nb.metadata.get("accelerator") == "GPU", "no Colab GPU metadata"
    number = int(nb_path.stem[3:5])
    header = nb.cells[1].source
    if number in captions.MISSING:
        assert captions.MISSING[number] in header
    else:
        assert captions.caption(number) in header, "the paper's caption is not quoted verbatim"
    assert "Our figure" in header
    assumed = [c for c in nb.cells if c.cell_type == "markdown" and "What we assumed" in c.source]
    assert assumed and "assumptions.md" in assumed[0].source
    assert any(c.cell_type == "markdown" and c.source.lstrip().startswith(("## ", "### ")) for c in nb.cells[2:]), \
        "no per-panel headings"
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "notebook.footer(" in last.source
    outputs = "".join(o.get("data", {}).get("text/plain", "") for o in last.get("outputs", []))
    assert "rerun: python -m compdiff figure" in outputs and "profile" in outputs, "footer not executed"


def test_repository_address_is_written_once():
    """The address lives in _config.yml; code and notebooks take it from there."""
    from compdiff import notebook

    url = notebook.repository_url()
    assert url.startswith("https://")
    hits = []
    for f in [*(paths.ROOT / "lib").rglob("*.py"), paths.ROOT / "README.md", *(paths.ROOT / "book").glob("*.md")]:
        if url in f.read_text():
            hits.append(f.name)
    assert not hits, f"the repository address is typed in {hits}; read it from _config.yml"
