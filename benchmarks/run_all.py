"""Run every benchmarks/bench_*.py and write their reports to benchmarks/RESULTS.md.

Each benchmark prints a small Markdown section: what it measures, the baseline it measured in the
same process, and the ratios. Timings live here, never in tests.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _sections(text: str) -> dict:
    """The ``## bench_*.py`` sections of a RESULTS.md, by name, in order."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("## bench_"):
            name = line[3:].strip()
            out[name] = []
        if name:
            out[name].append(line)
    return {k: "\n".join(v).rstrip() + "\n" for k, v in out.items()}


def main(argv: list[str]) -> int:
    """Run every benchmark (or those named: their sections of RESULTS.md are replaced, the others
    kept as they were)."""
    names = argv or sorted(p.name for p in HERE.glob("bench_*.py"))
    kept = _sections((HERE / "RESULTS.md").read_text()) if argv and (HERE / "RESULTS.md").exists() else {}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    out = [
        "# Benchmark results",
        "",
        f"Made by `make bench` (`python benchmarks/run_all.py`) on {time.strftime('%Y-%m-%d')}: "
        f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, python {platform.python_version()}.",
        "Every number is a ratio against a baseline measured in the same process; absolute speeds",
        "are for orientation only.",
        "",
    ]
    if kept:
        out[2] = (f"Sections {', '.join(names)} made by `python benchmarks/run_all.py {' '.join(names)}` on "
                  f"{time.strftime('%Y-%m-%d')}: {cpu}, torch {torch.__version__}; the others kept from "
                  "earlier runs (each says its own machine where it matters).")
    fresh = {}
    for name in names:
        print(f"running {name} …", flush=True)
        r = subprocess.run([sys.executable, str(HERE / name)], capture_output=True, text=True)
        sec = [f"## {name}", "", f"Command: `python benchmarks/{name}`", ""]
        sec += [r.stdout.strip() or "(no output)", ""]
        if r.returncode:
            sec += ["```", r.stderr.strip()[-2000:], "```", ""]
            print(r.stderr, file=sys.stderr)
        fresh[name] = "\n".join(sec)
    for name in sorted(set(kept) | set(fresh)):
        out.append(fresh.get(name) or kept[name])
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
