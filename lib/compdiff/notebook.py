"""The few lines every figure notebook starts and ends with, and the parts of a figure page.

``setup`` validates the papermill parameters (an unknown profile or device is an error that lists
the allowed ones), applies the house style and records the library version the notebook ran with;
``footer`` prints how the figure was made and how to rerun it.

A figure page (cebra-figures style) is, in order: the Colab launch cell (:func:`launch_cell_source`,
hidden in the book, a no-op off Colab), the title with the paper's caption beside ours
(:func:`header_markdown`, the caption quoted from :mod:`compdiff.captions`), a "what we assumed"
box (:func:`assumed_markdown`), the parameters, the figure with a heading per panel, a printed
summary, and the footer. ``tests/test_book.py`` checks every figure notebook against these.
"""

from __future__ import annotations

import functools
import html
import platform
import subprocess
from dataclasses import dataclass

from . import __version__, captions, experiments, paths, plotting, store

LAUNCH_TAG = "launch"  # the first cell of every figure notebook (with "remove-cell": not in the book)
COLAB_METADATA = {"accelerator": "GPU", "colab": {"provenance": [], "gpuType": "T4"}}

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Context:
    figure: str
    profile: str
    seed: int
    device: str


def setup(figure: str, *, profile: str, seed: int = 0, device: str = "auto") -> Context:
    experiments.figure(figure)
    experiments.check_profile(profile)
    if device not in DEVICES:
        raise experiments.ConfigError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    if not isinstance(seed, int) or seed < 0:
        raise experiments.ConfigError(f"seed = {seed!r} must be a non-negative integer")
    plotting.use_style()
    return Context(figure, profile, seed, device)


# what figure execution itself writes: a notebook records the code that made it, not these
GENERATED = ("notebooks/*.ipynb", "book/report.md", "book/runs.md", "book/assumptions.md")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The last commit that changed the code or the results (anything but :data:`GENERATED`), with
    ``+dirty`` if such files have uncommitted changes; "unknown" outside a git checkout.

    Executed notebooks are generated files: committing them, or executing them again, does not
    change the version they record, so re-executing a clean checkout rewrites them unchanged."""
    spec = ["--", ".", *(f":(exclude){g}" for g in GENERATED)]
    try:
        log = subprocess.run(["git", "-C", str(paths.ROOT), "log", "-1", "--format=%H", *spec],
                             capture_output=True, text=True, timeout=10)
        st = subprocess.run(["git", "-C", str(paths.ROOT), "status", "--porcelain", "--untracked-files=no", *spec],
                            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = log.stdout.strip()[:10]
    if log.returncode != 0 or not commit:
        return "unknown"
    return commit + ("+dirty" if st.returncode == 0 and st.stdout.strip() else "")


def rerun_command(ctx: Context) -> str:
    return f"python -m compdiff figure {ctx.figure} --profile {ctx.profile} --device {ctx.device} --seed {ctx.seed}"


def _run_seed(run) -> str:
    cfg = run.config
    return str(cfg.get("train", {}).get("seed", cfg.get("seed", "?")))


def footer(ctx: Context, runs: list | tuple = ()) -> None:
    """Provenance: profile, seeds, code version, the stored runs used, the figure files written,
    and the rerun command. Shown as a box in the book (HTML) and as plain lines elsewhere."""
    version = f"compdiff {__version__} (engine {store.ENGINE_VERSION}, commit {code_version()})"
    seeds = sorted({_run_seed(r) for r in runs}) or [str(ctx.seed)]
    files = [p.relative_to(paths.ROOT).as_posix() if p.is_relative_to(paths.ROOT) else str(p) for p in plotting.SAVED]
    lines = [f"figure {ctx.figure} · profile {ctx.profile} · seed(s) {', '.join(seeds)} · {version} "
             f"· python {platform.python_version()}"]
    lines += [f"  from {run.provenance}" for run in runs]
    if files:
        lines.append("figure files: " + ", ".join(files))
    lines.append(f"rerun: {rerun_command(ctx)}")
    text = "\n".join(lines)
    e = html.escape
    rows = [("profile", f"<code>{e(ctx.profile)}</code>"), ("seeds", e(", ".join(seeds))),
            ("code", e(f"{version}, python {platform.python_version()}"))]
    if runs:
        rows.append(("stored runs", "<br>".join(e(r.provenance) for r in runs)))
    if files:
        rows.append(("figure files", " ".join(f"<code>{e(f)}</code>" for f in files)))
    rows.append(("rerun", f"<code>{e(rerun_command(ctx))}</code>"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    box = (f'<div class="compdiff-footer"><p><strong>How this figure was made</strong></p>'
           f'<table class="compdiff-footer-table">{body}</table></div>')
    try:
        from IPython.display import display

        display({"text/plain": text, "text/html": box}, raw=True)
    except ImportError:
        print(text)


# ---------------------------------------------------------------------------------------------
# The parts of a figure page


def repository_url() -> str:
    """The repository's address: ``repository.url`` of ``_config.yml``, the one place it is written."""
    import yaml

    cfg = yaml.safe_load((paths.ROOT / "_config.yml").read_text())
    try:
        return cfg["repository"]["url"].rstrip("/")
    except (KeyError, TypeError, AttributeError):
        raise experiments.ConfigError("_config.yml: field repository.url is missing; it must hold the "
                                      "repository's address (https://github.com/OWNER/NAME)") from None


def launch_cell_source(url: str | None = None, version: str = __version__) -> str:
    """The first cell of every figure notebook: on Google Colab only, fetch this book's version of
    compdiff and work from it; anywhere else (papermill, nbval, a laptop) a no-op."""
    url = url or repository_url()
    return f'''# Launch cell: runs only on Google Colab (the book's "launch" button); elsewhere it does nothing.
# On Colab it fetches compdiff {version} (code and committed results) from the repository, installs
# it over Colab's own CUDA torch, and works from its notebooks/ folder. device = "auto" below then
# picks Colab's GPU; profile "cpu" replays the committed results and trains what is missing, and
# profile = "paper" runs the paper's scale.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    REPO, VERSION = "{url}", "{version}"
    if not os.path.isdir("/content/compdiff"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", f"v{{VERSION}}", REPO, "/content/compdiff"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/compdiff[analysis]"], check=True)
    sys.path.insert(0, "/content/compdiff/lib")
    os.chdir("/content/compdiff/notebooks")
    import torch

    print(f"Colab: compdiff {{VERSION}} from {{REPO}}; GPU available: {{torch.cuda.is_available()}}")'''


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def header_markdown(number: int, title: str, ours: str) -> str:
    """Title, then the paper's caption (verbatim from :mod:`compdiff.captions`) beside ours."""
    if number in captions.MISSING:
        paper = f"*{captions.MISSING[number]}*"
    else:
        paper = _quote(f"“{captions.caption(number)}”")
        if number in captions.TRUNCATED:
            paper += "\n\n*(The caption available to us stops here.)*"
    return (f"# {title}\n\n"
            f"::::{{grid}} 1 1 2 2\n:gutter: 2\n\n"
            f":::{{grid-item-card}} The paper's caption (Fig {number})\n:class-card: compdiff-caption\n\n{paper}\n:::\n\n"
            f":::{{grid-item-card}} Our figure\n:class-card: compdiff-caption\n\n{ours.strip()}\n:::\n\n"
            f"::::")


def assumed_markdown(text: str) -> str:
    """The "what we assumed" box of a figure page, linking to the assumptions page."""
    return (":::{admonition} What we assumed\n:class: note\n\n"
            f"{text.strip()} Every choice that is ours, with the config field that holds it, is on the "
            "[assumptions page](../book/assumptions.md).\n:::")
