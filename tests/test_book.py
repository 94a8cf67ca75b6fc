"""The built book (``make html`` → ``_build/html``): every page, image and internal link is there,
nothing is fetched from the network, and in headless Chromium the math renders.

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


def chromium(*args, timeout=90):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars",
             # anything not on localhost fails to resolve: the book must not need it
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--virtual-time-budget=15000"]
    with contextlib.ExitStack() as stack:
        import tempfile

        profile = stack.enter_context(tempfile.TemporaryDirectory())
        return subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_pages_render_with_math_in_headless_chromium(html):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(html) as base:
        for page in toc_pages():
            url = f"{base}/{page}.html"
            dom = chromium("--dump-dom", url).stdout
            assert "<main" in dom or 'id="main-content"' in dom, f"{page}: no page content"
            source = (html / f"{page}.html").read_text()
            if "\\(" in source or "\\[" in source or 'class="math' in source:
                assert "mjx-container" in dom, f"{page}: math was not typeset by MathJax"
            shot = SHOTS / f"{page.replace('/', '_')}.png"
            chromium(f"--screenshot={shot}", "--window-size=1280,1800", url)
            assert shot.is_file() and shot.stat().st_size > 10_000, f"{page}: no screenshot"
