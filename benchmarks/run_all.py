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


def main(argv: list[str]) -> int:
    names = argv or sorted(p.name for p in HERE.glob("bench_*.py"))
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
    for name in names:
        print(f"running {name} …", flush=True)
        r = subprocess.run([sys.executable, str(HERE / name)], capture_output=True, text=True)
        out += [f"## {name}", "", f"Command: `python benchmarks/{name}`", ""]
        out += [r.stdout.strip() or "(no output)", ""]
        if r.returncode:
            out += ["```", r.stderr.strip()[-2000:], "```", ""]
            print(r.stderr, file=sys.stderr)
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
