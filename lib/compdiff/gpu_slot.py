"""A GPU slot: one prepared command turns a few minutes of a GPU into stored runs (DESIGN.md, Compute).

    python -m compdiff gpu-slot --minutes 10 --out slot/          # or: make gpu-slot MINUTES=10

A GPU comes now and then for about fifteen minutes, on a machine with no network (Colab, a
workstation, a cluster node with a time limit). The command, measured from its start:

1. reports the device, its memory and the library versions it found (``slot.json``);
2. measures training throughput for at most a minute: K models per step (K = 1, 8, 32, 64, as
   memory allows) against one model, fp32 and bf16 (``benchmark.json``), and picks K from it;
3. trains the highest-priority missing runs of the priority list (``gpu_priority.txt``, a plain
   file: :func:`read_priority`), K of one shape at a time (:func:`compdiff.train.train_many`),
   until a deadline: M minutes less a reserve for scoring and packing. A run still going then stops
   after its current step, an exact resume point (``last.pt``);
4. scores and stores every finished run on the device (:func:`compdiff.runs.get_run`: sampling,
   representation readout), as long as the time left allows the slowest scoring seen so far;
5. packs the stored runs (weights included), the checkpoints of the unfinished ones, the
   benchmark and a log into one archive in DIR (:func:`compdiff.store.pack`).

``python -m compdiff results unpack ARCHIVE`` adds the finished runs to ``results/`` (checksums and
engine version checked) and puts each unfinished run's checkpoint into ``runs/<experiment>/<run_id>``,
where the next slot, on a GPU or a CPU, resumes it (as do ``train`` and ``figure``).

Imports only torch, numpy, scipy and tqdm, so it runs on a bare GPU machine (no matplotlib,
ripser, umap, papermill or Jupyter).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import math
import os
import platform
import re
import signal
import socket
import tempfile
import time
from pathlib import Path

from . import __version__, experiments, paths, query, store
from .config import LABEL_ENCODINGS, PRESETS
from .experiments import ConfigError

PRIORITY_FILE = paths.ROOT / "gpu_priority.txt"
BENCH_KS = (1, 8, 32, 64)
BENCH_MAX_SECONDS = 60.0


# ---------------------------------------------------------------------------------------------
# The priority list


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of the priority list: the runs of ``source`` at ``profile`` for each seed, kept by
    ``filters`` (figure keys, run names or run-name patterns of a sweep: :func:`keeps`); ``recipe`` a
    cpu recipe; ``label_encoding`` the UNet's label encoding of a ``periodic`` run
    (:data:`LABEL_ENCODING_SOURCES`; None: the default); ``preset`` another UNet
    (:data:`compdiff.config.PRESETS`) for a source of :data:`PRESET_SOURCES` (None: the profile's); ``around``
    a figure of :data:`compdiff.placement.CURVES` for a source of :data:`AROUND_SOURCES`: keep only the
    cells next to that figure's crossings (the seeds after the first, where a dense sweep decides)."""

    source: str
    profile: str
    seeds: tuple
    filters: tuple = ()
    why: str = ""
    line: int = 0
    recipe: str | None = None
    label_encoding: str | None = None
    preset: str | None = None
    around: str | None = None

    def __str__(self) -> str:
        return " ".join([self.source, self.profile, ",".join(map(str, self.seeds)), *self.filters]
                        + ([f"recipe={self.recipe}"] if self.recipe else [])
                        + ([f"label_encoding={self.label_encoding}"] if self.label_encoding else [])
                        + ([f"preset={self.preset}"] if self.preset else [])
                        + ([f"around={self.around}"] if self.around else []))


@dataclasses.dataclass(frozen=True)
class Job:
    """One run a slot may train: its priority entry, store experiment, name and config."""

    entry: Entry
    experiment: str
    name: str
    config: object
    profile: str

    @property
    def run_id(self) -> str:
        return store.run_id(self.config)

    @property
    def label(self) -> str:
        return f"{self.experiment}/{self.run_id} ({self.name}, {self.profile}, seed {self.config.train.seed})"


# the sources whose config takes ``label_encoding=`` (experiments.periodic_config: the Figs 2, 3, 8 ablation)
LABEL_ENCODING_SOURCES = ("periodic",)
# the sources whose configs take ``preset=`` (another UNet of config.PRESETS: the capacity ablations)
PRESET_SOURCES = ("periodic", "compose", "efficiency")
# the sources whose lines take ``around=FIGURE`` (placement.CURVES: a dense sweep's extra seeds go to the
# cells around each crossing)
AROUND_SOURCES = ("efficiency",)
_OPTIONS = ("recipe=", "label_encoding=", "preset=", "around=")  # the NAME=VALUE tokens of a line; every other token is a filter


def keeps(filters: tuple, point) -> bool:
    """Whether a priority line's ``filters`` keep a sweep's ``point``: no filter keeps every point
    but the extensions (:attr:`compdiff.experiments.Point.extends`, named by a pattern or a name
    only: ``fig05x_*``); a figure key keeps the runs that figure shows; a word with ``*``, ``?`` or
    ``[`` is a pattern over run names (fnmatch: ``fig06n16_*``); any other word names one run."""
    if not filters:
        return point.extends is None
    return any(f == point.name or f in point.figures
                              or (any(c in f for c in "*?[") and fnmatch.fnmatchcase(point.name, f)) for f in filters)


def _sources() -> tuple:
    return tuple(experiments.EXPERIMENTS) + tuple(experiments.SWEEP_POINTS)


def read_priority(path=None) -> list[Entry]:
    """The entries of a priority list (default :data:`PRIORITY_FILE`), checked: an unknown source,
    profile, figure or run name is an error naming the line and the allowed values."""
    path = Path(path or PRIORITY_FILE)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"priority list {path}: cannot be read ({e})") from None
    entries = []
    for i, raw in enumerate(text.splitlines(), 1):
        body, _, why = raw.partition("#")
        toks = body.split()
        if not toks:
            continue
        where = f"{path.name} line {i}"
        if len(toks) < 3:
            raise ConfigError(f"{where}: {raw.strip()!r} needs SOURCE PROFILE SEEDS [FILTER ...]")
        source, profile, seeds = toks[0], toks[1], toks[2]
        recipe = next((t.split("=", 1)[1] for t in toks[3:] if t.startswith("recipe=")), None)
        encoding = next((t.split("=", 1)[1] for t in toks[3:] if t.startswith("label_encoding=")), None)
        preset = next((t.split("=", 1)[1] for t in toks[3:] if t.startswith("preset=")), None)
        near = next((t.split("=", 1)[1] for t in toks[3:] if t.startswith("around=")), None)
        filters = tuple(t for t in toks[3:] if not t.startswith(_OPTIONS))
        if source not in _sources():
            raise ConfigError(f"{where}: unknown source {source!r}; allowed: {', '.join(_sources())}")
        if profile not in experiments.PROFILES:
            raise ConfigError(f"{where}: unknown profile {profile!r}; allowed: {', '.join(experiments.PROFILES)}")
        if recipe is not None:
            try:
                experiments.resolve_recipe(profile, recipe)
            except ConfigError as e:
                raise ConfigError(f"{where}: {e}") from None
        if encoding is not None:
            if source not in LABEL_ENCODING_SOURCES:
                raise ConfigError(f"{where}: label_encoding= applies to {', '.join(LABEL_ENCODING_SOURCES)} only "
                                  f"(not {source!r})")
            if encoding not in LABEL_ENCODINGS:
                raise ConfigError(f"{where}: label_encoding = {encoding!r} is not allowed; allowed: "
                                  f"{', '.join(LABEL_ENCODINGS)}")
        if preset is not None:
            if source not in PRESET_SOURCES:
                raise ConfigError(f"{where}: preset= applies to {', '.join(PRESET_SOURCES)} only (not {source!r})")
            if preset not in PRESETS:
                raise ConfigError(f"{where}: preset = {preset!r} is not allowed; allowed: {', '.join(PRESETS)}")
        if near is not None:
            from .placement import CURVES

            if source not in AROUND_SOURCES:
                raise ConfigError(f"{where}: around= applies to {', '.join(AROUND_SOURCES)} only (not {source!r})")
            if near not in CURVES:
                raise ConfigError(f"{where}: around = {near!r} is not allowed; allowed: {', '.join(CURVES)}")
        entry = Entry(source, profile, query.parse_seeds(seeds, f"{where}: seeds"), filters, why.strip(), i, recipe,
                      encoding, preset, near)
        if filters and source in experiments.EXPERIMENTS:
            raise ConfigError(f"{where}: {source!r} is one run per seed; filters ({' '.join(filters)}) "
                              f"apply to the sweeps ({', '.join(experiments.SWEEP_POINTS)})")
        if filters:  # names checked at the entry's own profile (another profile may lack some)
            pts = experiments.SWEEP_POINTS[source](profile, seed=entry.seeds[0])
            known = {p.name for p in pts} | {f for p in pts for f in p.figures}
            bad = [f for f in filters if not any(keeps((f,), p) for p in pts)]
            if bad:
                raise ConfigError(f"{where}: {', '.join(bad)} name(s) no run or figure of the {source} sweep "
                                  f"at profile {profile}; allowed: {', '.join(sorted(known))}, or a pattern "
                                  "over run names (fig06n16_*)")
        entries.append(entry)
    return entries


def resolve(entries: list[Entry], profile: str | None = None, notes: list | None = None) -> list[Job]:
    """Every run of ``entries`` in priority order (a run two entries share comes once, at the first).
    ``profile`` resolves every entry at that profile instead of its own (``--profile smoke``).
    The configs come from :mod:`compdiff.experiments` and so follow whatever a profile says. A line
    with ``around=FIGURE`` keeps only the cells next to that figure's crossings, read from the store
    now (:func:`compdiff.placement.around`); what it kept is appended to ``notes``."""
    jobs, seen = [], set()
    for e in entries:
        prof = profile or e.profile
        # a recipe is a cpu-profile choice: resolved at another profile (--profile smoke), the
        # entry takes that profile's own recipe
        kw = {"recipe": e.recipe} if e.recipe and prof == "cpu" else {}
        if e.label_encoding:  # an architecture choice: kept at any profile
            kw["label_encoding"] = e.label_encoding
        if e.preset:  # so is the UNet
            kw["preset"] = e.preset
        for seed in e.seeds:
            if e.source in experiments.EXPERIMENTS:
                opts = [f"{k}={v}" for k, v in (("label_encoding", e.label_encoding), ("preset", e.preset)) if v]
                name = e.source + (f" ({', '.join(opts)})" if opts else "")
                found = [(e.source, name, experiments.experiment_config(e.source, prof, seed=seed, **kw))]
            else:
                exp = experiments.SWEEP_STORE[e.source]
                every = experiments.SWEEP_POINTS[e.source](prof, seed=seed, **kw)
                pts = [p for p in every if keeps(e.filters, p)]
                if e.around:
                    from .placement import REFERENCE_SEED, around

                    ref = experiments.SWEEP_POINTS[e.source](prof, seed=REFERENCE_SEED, **kw)
                    pts, note = around(e.around, exp, pts, ref, prof, seed_points=every)
                    if notes is not None:
                        notes.append(f"line {e.line}, seed {seed}: {note}")
                found = [(exp, p.name, p.config) for p in pts]
            for exp, name, cfg in found:
                key = (exp, store.run_id(cfg))
                if key not in seen:
                    seen.add(key)
                    jobs.append(Job(e, exp, name, cfg, prof))
    return jobs


# ---------------------------------------------------------------------------------------------
# Environment and benchmark


def environment(device) -> dict:
    """The device, its memory and the library versions this slot runs with."""
    import numpy
    import scipy
    import torch
    import tqdm

    from .devices import bf16_autocast_available, resolve_bf16

    env = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": numpy.__version__,
           "scipy": scipy.__version__, "tqdm": tqdm.__version__, "compdiff": __version__,
           "engine_version": store.ENGINE_VERSION, "git_commit": store.git_commit(),
           "host": socket.gethostname(), "device": str(device), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "cuda": torch.version.cuda,
           "bf16_autocast_available": bf16_autocast_available(device),
           "bf16_auto_on": resolve_bf16("auto", device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        free, total = torch.cuda.mem_get_info(device)
        env.update(device_name=props.name, memory_gib=round(total / 2**30, 1), memory_free_gib=round(free / 2**30, 1),
                   compute_capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    else:
        env["device_name"] = platform.processor() or platform.machine()
        with contextlib.suppress(ValueError, OSError, AttributeError):
            env["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    optional = {}
    for mod in ("matplotlib", "ripser", "umap", "papermill", "jupyter_book"):
        try:
            import importlib.util

            optional[mod] = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):
            optional[mod] = False
    env["optional_packages_present"] = optional
    return env


def _bench_jobs(spec, K: int, bf16: bool, root: Path):
    import torch

    from .train import RunSpec

    n = spec.unet.image_size
    g = torch.Generator().manual_seed(0)
    images = torch.rand((1024, spec.unet.in_channels, n, n), generator=g) * 2 - 1
    labels = torch.rand((1024, 2), generator=g) * (n - 1)
    b = spec.train.batch_size
    tc = dataclasses.replace(spec.train, images=b * 10**6, bf16=bf16, checkpoint_every_images=None,
                             resume_every_images=None, log_every_images=b * 100, warmup_images=0,
                             lr_schedule="constant", decay_images=0)
    return [(RunSpec(spec.unet, spec.diffusion, dataclasses.replace(tc, seed=k)), images, labels, root / f"r{k}")
            for k in range(K)]


def benchmark(spec, device, seconds: float, *, ks=BENCH_KS, log=print) -> dict:
    """Training images/s of K models of ``spec`` per step (K in ``ks``, as memory allows) against one,
    fp32 and bf16 autocast, on random images of the spec's shape; at most ``seconds`` in all.

    Each measurement is the real loop (:func:`compdiff.train.train_many`, no files written) after
    two warm-up steps; ``ratio`` is against one fp32 model measured here."""
    import torch

    from .devices import resolve_bf16
    from .train import default_max_models, train_many
    from .unet import count_parameters, build_unet

    t_end = time.monotonic() + seconds
    cap = default_max_models(spec, device)
    ks = [k for k in ks if k <= cap] or [1]
    precisions = ["fp32", "bf16"]
    per = seconds / (len(ks) * len(precisions))
    rows = []
    out = {"unet": spec.unet.to_dict(), "parameters": count_parameters(build_unet(spec.unet)),
           "batch_size": spec.train.batch_size, "device": str(device), "max_models": cap,
           "seconds_budget": seconds, "rows": rows}
    for prec in precisions:
        try:
            resolve_bf16(prec == "bf16", device)
        except ValueError as e:
            rows.append({"precision": prec, "skipped": str(e)})
            continue
        for K in ks:
            if time.monotonic() + per / 2 > t_end:
                rows.append({"precision": prec, "K": K, "skipped": "out of benchmark time"})
                continue
            t_start = time.monotonic()
            try:
                with tempfile.TemporaryDirectory() as td:
                    jobs = _bench_jobs(spec, K, prec == "bf16", Path(td))
                    b = spec.train.batch_size
                    train_many(jobs, device, False, max_models=K, stop_after_images=2 * b, write_files=False)
                    # at least a quarter of this measurement's share, whatever the warm-up took
                    t_stop = max(min(t_start + per, t_end), time.monotonic() + per / 4)
                    res = train_many(jobs, device, False, max_models=K, write_files=False,
                                     stop_when=lambda: time.monotonic() >= t_stop)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                rows.append({"precision": prec, "K": K, "skipped": "out of memory"})
                break
            ips = sum(r.images_per_second for r in res)
            rows.append({"precision": prec, "K": K, "images_per_second": ips, "per_model": ips / K,
                         "steps": res[0].images_seen // spec.train.batch_size, "seconds": res[0].wall_seconds})
            log(f"benchmark: {prec} K = {K:>2}: {ips:,.0f} images/s ({ips / K:,.0f} per model, "
                f"{rows[-1]['steps']} steps)")
    base = next((r["images_per_second"] for r in rows if r.get("precision") == "fp32" and r.get("K") == 1
                 and "images_per_second" in r), None)
    for r in rows:
        if base and "images_per_second" in r:
            r["ratio_vs_one_fp32"] = r["images_per_second"] / base
    return out


def best_k(bench: dict | None, bf16: bool) -> int | None:
    """The K of the highest measured images/s at the precision the runs train with."""
    rows = [r for r in (bench or {}).get("rows", []) if "images_per_second" in r
            and r["precision"] == ("bf16" if bf16 else "fp32")]
    return max(rows, key=lambda r: r["images_per_second"])["K"] if rows else None


# ---------------------------------------------------------------------------------------------
# The slot


class SlotLog:
    """Prints each line with the seconds since the slot started, and keeps them for the archive."""

    def __init__(self, t0: float, quiet: bool = False):
        self.t0, self.quiet, self.lines = t0, quiet, []

    def __call__(self, msg: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f} s] {msg}"
        self.lines.append(line)
        if not self.quiet:
            print(line, flush=True)

    def text(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()


@contextlib.contextmanager
def _training_on():
    """The slot trains whatever COMPDIFF_NO_TRAIN says (make exports it for the book and the tests)."""
    old = os.environ.get("COMPDIFF_NO_TRAIN")
    os.environ["COMPDIFF_NO_TRAIN"] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COMPDIFF_NO_TRAIN", None)
        else:
            os.environ["COMPDIFF_NO_TRAIN"] = old


@contextlib.contextmanager
def _stop_on_sigterm(flag: dict):
    """SIGTERM (a scheduler's time limit, a closing notebook) stops training after the current
    step, and the slot still scores what it can and packs."""
    def handler(signum, frame):
        flag["stop"] = True

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "host"


def _train_chunk(chunk: list, dev, progress: bool, K: int, stop_after_images, train_over, log) -> list:
    """Train the runs of ``chunk`` (one batch key) K at a time until ``train_over()``; a run whose
    config has a stop rule (``cfg.stop``) trains in segments with a :class:`compdiff.monitor.Checker`
    check after each (its history in its scratch folder, where the pipeline's scoring finds it) and
    is finished once it stops at the bar or the cap. Returns one result per run, in order (objects
    with ``completed``, ``images_seen``, ``resumed_from_images``, ``images_per_second``)."""
    from types import SimpleNamespace

    from . import monitor, runs
    from .train import train_many

    jobs = {j.run_id: runs.training_job(j.experiment, j.config) for j in chunk}
    plain = [j for j in chunk if getattr(j.config, "stop", None) is None]
    ruled = [j for j in chunk if getattr(j.config, "stop", None) is not None]
    out = {}
    if plain:
        res = train_many([jobs[j.run_id] for j in plain], dev, progress, max_models=K,
                         stop_after_images=stop_after_images, stop_when=train_over)
        out.update({j.run_id: r for j, r in zip(plain, res)})
    if ruled:
        checkers = {j.run_id: monitor.Checker.of_rule(j.config, jobs[j.run_id][3], device=dev) for j in ruled}
        first = {j.run_id: checkers[j.run_id].done for j in ruled}
        speed = {}
        while not train_over():
            live = [j for j in ruled if checkers[j.run_id].stopped() is None
                    and (stop_after_images is None or checkers[j.run_id].done < stop_after_images)]
            if not live:
                break
            target = min(checkers[j.run_id].next_target() for j in live)
            if stop_after_images is not None:
                target = min(target, stop_after_images)
            res = train_many([jobs[j.run_id] for j in live], dev, progress, max_models=K,
                             stop_after_images=target, stop_when=train_over)
            for j, r in zip(live, res):
                ck = checkers[j.run_id]
                speed[j.run_id] = r.images_per_second
                if r.images_seen == ck.next_target():
                    h = ck.check(r)
                    log(f"  {j.label}: {monitor.Checker.line(h).strip()}")
        for j in ruled:
            ck = checkers[j.run_id]
            out[j.run_id] = SimpleNamespace(completed=ck.stopped() is not None, images_seen=ck.done,
                                            resumed_from_images=first[j.run_id],
                                            images_per_second=speed.get(j.run_id, 0.0))
    return [out[j.run_id] for j in chunk]


HELD = "held by another worker"  # a run's status in a claiming slot's summary while another worker trains it


def claim_run(job):
    """A per-run training claim for workers that share one machine's ``results/`` (``--claim``): a
    non-blocking exclusive ``flock`` on ``results/.locks/train-EXPERIMENT-RUNID.lock``, held until
    :func:`release_run` (or the process's end: the kernel releases it if the worker dies). None when
    another process holds it."""
    import fcntl

    lockdir = paths.results_dir() / ".locks"
    lockdir.mkdir(parents=True, exist_ok=True)
    fh = open(lockdir / f"train-{job.experiment}-{job.run_id}.lock", "w")  # noqa: SIM115 - held past this call
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def release_run(fh) -> None:
    import fcntl

    fcntl.flock(fh, fcntl.LOCK_UN)
    fh.close()


def run_slot(minutes: float, out, *, device="auto", profile: str | None = None, priority=None,
             models: int | None = None, bench_seconds: float | None = None, reserve_minutes: float | None = None,
             stop_after_images: int | None = None, max_mb: float | None = None, progress: bool = True,
             quiet: bool = False, t0: float | None = None, shard: tuple[int, int] | None = None,
             claim: bool = False, archive: bool = True) -> dict:
    """One GPU slot (the module docstring): returns its summary, also written as ``slot.json``.

    minutes: the slot's length, from ``t0`` (default: now). out: the folder of the archive.
    profile: resolve every priority entry at this profile. priority: the priority list file.
    models: K, runs of one shape per step (default: the benchmark's best, else the device's).
    bench_seconds: the benchmark's budget (default 10% of the slot, at most a minute; 0 skips).
    reserve_minutes: kept for scoring and packing after training stops (default 15% of the slot).
    stop_after_images: stop every run there at the latest (an exact resume point; splits a long
    run over slots on purpose). max_mb: the archive's size limit (weights and checkpoints that do
    not fit are left out and listed). shard (i, n): take only the i-th of every n runs still to
    train (n workers on one machine, one per core, share the list without colliding). claim: the
    other way for workers to share one machine: before each run the list is read again (so an
    ``around=`` line places the cells that the runs stored meanwhile, by any worker, decide) and
    the worker takes the first missing run no other worker holds (:func:`claim_run`); not with
    ``shard``. archive=False: store the runs here and pack nothing (a worker on the machine that keeps them)."""
    import torch

    from . import runs
    from .devices import resolve_bf16, resolve_device
    from .train import batch_key, default_max_models, train_many

    t0 = time.monotonic() if t0 is None else t0
    if not (isinstance(minutes, (int, float)) and minutes > 0 and math.isfinite(minutes)):
        raise ConfigError(f"--minutes = {minutes!r} must be a positive number")
    if profile is not None:
        experiments.check_profile(profile)
    if models is not None and (not isinstance(models, int) or models < 1):
        raise ConfigError(f"--models = {models!r} must be a positive integer")
    for name, v in (("--bench-seconds", bench_seconds), ("--reserve-minutes", reserve_minutes),
                    ("--max-mb", max_mb)):
        if v is not None and not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
            raise ConfigError(f"{name} = {v!r} must be a non-negative number")
    if stop_after_images is not None and (not isinstance(stop_after_images, int) or stop_after_images < 1):
        raise ConfigError(f"--stop-after-images = {stop_after_images!r} must be a positive integer")
    if claim and shard is not None:
        raise ConfigError("--claim and --shard are two ways to share the list between workers: give one")
    entries = read_priority(priority)  # a bad list fails before the device is touched
    around_notes: list = []
    jobs = resolve(entries, profile, around_notes)
    try:
        dev = resolve_device(device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_end = t0 + 60.0 * minutes
    reserve = 60.0 * (0.15 * minutes if reserve_minutes is None else reserve_minutes)
    t_train_end = t_end - reserve
    t_pack = t_end - min(reserve, 5.0 + 0.03 * 60.0 * minutes)  # scoring stops here: packing takes the rest
    bench_s = min(BENCH_MAX_SECONDS, 6.0 * minutes) if bench_seconds is None else float(bench_seconds)
    log = SlotLog(t0, quiet)
    stop = {"stop": False}

    def train_over() -> bool:
        return stop["stop"] or time.monotonic() >= t_train_end

    summary: dict = {"format": "compdiff.gpu_slot/1", "minutes": minutes, "profile": profile,
                     "priority": str(Path(priority or PRIORITY_FILE)), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    env = environment(dev)
    summary["environment"] = env
    log(f"device {dev} ({env.get('device_name')}, {env.get('memory_gib')} GiB); python {env['python']}, "
        f"torch {env['torch']} (CUDA {env['cuda']}), numpy {env['numpy']}, scipy {env['scipy']}, tqdm {env['tqdm']}; "
        f"compdiff {__version__}, engine {store.ENGINE_VERSION}")

    status: dict = {}

    def unstored(js, stored_how: str) -> list:
        out = []
        for j in js:
            try:
                hit = store.lookup(j.experiment, j.config)
            except store.StoreError as e:
                status[j.run_id] = f"skipped: {type(e).__name__}: {e}"
                continue
            if hit is None:
                out.append(j)
            elif status.get(j.run_id) in (None, HELD):
                status[j.run_id] = stored_how
        return out

    pending = unstored(jobs, "stored before the slot")
    every_job = {j.run_id: j for j in jobs}  # every run any reading of the list named, in order
    if shard is not None:
        i, n = shard
        if not (isinstance(i, int) and isinstance(n, int) and 0 <= i < n):
            raise ConfigError(f"--shard = {i}/{n} must be I/N with 0 ≤ I < N")
        for k, j in enumerate(list(pending)):
            if k % n != i:
                pending.remove(j)
                status[j.run_id] = f"left to another shard (this is {i}/{n})"
    log(f"priority list {summary['priority']}: {len(entries)} entries, {len(jobs)} runs, "
        f"{len(jobs) - len(pending)} stored (or skipped), {len(pending)} to train"
        + (f" (every entry at profile {profile})" if profile else ""))
    for note in around_notes:
        log(note)

    def spec_of(j):
        return runs.run_spec(j.config)

    bench = None
    if bench_s > 0:
        bspec = spec_of(pending[0]) if pending else runs.run_spec(experiments.basic_config(profile or "cpu"))
        log(f"benchmark ({bench_s:.0f} s at most): the UNet of {pending[0].label if pending else 'the cpu basic run'}")
        bench = benchmark(bspec, dev, bench_s, log=log)
        bench["batch_key"] = batch_key(bspec)
        (out / "benchmark.json").write_text(json.dumps(bench, indent=1))
    summary["benchmark"] = bench

    def k_for(spec) -> int:
        cap = default_max_models(spec, dev) if dev.type == "cuda" else 8
        if models is not None:
            return models
        if bench and bench.get("batch_key") == batch_key(spec):
            k = best_k(bench, resolve_bf16(spec.train.bf16, dev))
            if k:
                return min(k, cap)
        return cap if dev.type == "cuda" else 1

    stored: list = []
    checkpoints: dict = {}  # run_id → (job, images_seen)
    score_cost, t_train, t_score, images_trained = 0.0, 0.0, 0.0, 0
    groups = []
    tried: set = set()  # run ids this slot has trained (finished or not) or failed
    claims: dict = {}  # run_id → the claim's file (claim mode)

    def next_chunk() -> tuple[list, int]:
        """The runs to train next, K of one batch key: the first pending ones (shard mode), or, in
        claim mode, the first ones of a fresh reading of the list that no other worker holds."""
        nonlocal pending, around_notes
        if not claim:
            if not pending:
                return [], 0
            key = batch_key(spec_of(pending[0]))
            K = k_for(spec_of(pending[0]))
            return [j for j in pending if batch_key(spec_of(j)) == key][:K], K
        notes: list = []
        fresh = resolve(entries, profile, notes)
        for j in fresh:
            every_job.setdefault(j.run_id, j)
        if notes != around_notes:
            for note in notes:
                log(f"list read again: {note}")
            around_notes = notes
        pending = [j for j in unstored(fresh, "stored by another worker during the slot") if j.run_id not in tried]
        chunk, key, K = [], None, 0
        for j in pending:
            if key is not None and (batch_key(spec_of(j)) != key or len(chunk) == K):
                continue
            fh = claim_run(j)
            if fh is None:
                status.setdefault(j.run_id, HELD)
                continue
            status.pop(j.run_id, None)
            claims[j.run_id] = fh
            if key is None:
                key, K = batch_key(spec_of(j)), k_for(spec_of(j))
            chunk.append(j)
        return chunk, K

    def drop(chunk) -> None:
        for j in chunk:
            tried.add(j.run_id)
            if j in pending:
                pending.remove(j)
            if j.run_id in claims:
                release_run(claims.pop(j.run_id))

    with _training_on(), _stop_on_sigterm(stop):
        while not train_over():
            chunk, K = next_chunk()
            if not chunk:
                break
            log(f"training {len(chunk)} run(s) together (K = {K}): " + ", ".join(j.name for j in chunk))
            ts = time.monotonic()
            try:
                results = _train_chunk(chunk, dev, progress, K, stop_after_images, train_over, log)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                for j in chunk:  # tried again at the smaller K
                    if j.run_id in claims:
                        release_run(claims.pop(j.run_id))
                if K == 1:
                    raise
                models = max(1, K // 2)
                log(f"out of memory at K = {K}: K = {models} from now on")
                continue
            except FloatingPointError as e:
                for j in chunk:
                    status[j.run_id] = f"failed: {e}"
                drop(chunk)
                log(f"training failed: {e}")
                continue
            t_train += time.monotonic() - ts
            groups.append({"K": len(chunk), "runs": [j.run_id for j in chunk], "seconds": time.monotonic() - ts,
                           "images_per_second": sum(r.images_per_second for r in results)})
            for j, r in zip(chunk, results):
                images_trained += r.images_seen - r.resumed_from_images
                if not r.completed:
                    checkpoints[j.run_id] = (j, r.images_seen)
                    status[j.run_id] = f"unfinished at {r.images_seen:,} of {j.config.train.images:,} images"
                    log(f"  {j.label}: stopped at {r.images_seen:,} of {j.config.train.images:,} images")
                    continue
                if time.monotonic() + score_cost > t_pack or stop["stop"]:
                    checkpoints[j.run_id] = (j, r.images_seen)
                    status[j.run_id] = "trained, not scored (no time left): its checkpoint is in the archive"
                    log(f"  {j.label}: trained; no time left to score it")
                    continue
                ts = time.monotonic()
                try:
                    run = runs.get_run(j.experiment, j.config, device=dev, progress=False)
                except Exception as e:  # noqa: BLE001 - one failed scoring must not lose the slot
                    checkpoints[j.run_id] = (j, r.images_seen)
                    status[j.run_id] = f"trained, scoring failed: {type(e).__name__}: {e}"
                    log(f"  {j.label}: scoring failed: {type(e).__name__}: {e}")
                    continue
                dt = time.monotonic() - ts
                t_score += dt
                score_cost = max(score_cost, dt)
                stored.append(run)
                status[j.run_id] = "stored in this slot"
                acc = run.json("metrics").get("accuracy")
                log(f"  {j.label}: stored, accuracy {acc:.3f} (scored in {dt:.1f} s)")
            drop(chunk)
    for fh in claims.values():
        release_run(fh)
    for j in pending:
        status.setdefault(j.run_id, "not started")
    jobs = list(every_job.values())

    summary["plan"] = [{"entry": str(j.entry), "line": j.entry.line, "name": j.name, "experiment": j.experiment,
                        "run_id": j.run_id, "profile": j.profile, "seed": j.config.train.seed,
                        "images": j.config.train.images,
                        "status": status.get(j.run_id, "no longer in the list when it was read again")} for j in jobs]
    summary["groups"] = groups
    summary["counts"] = {"runs_in_list": len(jobs), "stored_in_slot": len(stored),
                         "unfinished": len(checkpoints), "images_trained": images_trained,
                         "train_seconds": t_train, "score_seconds": t_score}
    log(f"trained {images_trained:,} images in {t_train:.1f} s; {len(stored)} run(s) scored and stored in "
        f"{t_score:.1f} s; {len(checkpoints)} unfinished")

    if not archive:
        summary["archive"] = None
        summary["elapsed_seconds"] = time.monotonic() - t0
        log(f"no archive (stored here): {len(stored)} run(s) stored, {len(checkpoints)} unfinished "
            f"(they resume from runs/ on the next call); took {summary['elapsed_seconds']:.1f} s")
        (out / "slot.json").write_text(json.dumps(summary, indent=1, default=str))
        (out / "slot.log").write_bytes(log.text())
        return summary
    host = _safe_name(socket.gethostname())
    archive = out / f"slot-{time.strftime('%Y%m%d-%H%M%S')}-{host}.tar.gz"
    cks = [store.Checkpoint(j.experiment, j.config, paths.runs_dir() / j.experiment / j.run_id, seen,
                            j.config.train.images) for j, seen in checkpoints.values()]
    summary["archive"] = archive.name
    summary["elapsed_before_pack_seconds"] = time.monotonic() - t0
    log(f"packing {len(stored)} run(s) and {len(cks)} checkpoint(s) into {archive}")
    extras = {"benchmark.json": json.dumps(bench, indent=1).encode(),
              "slot.json": json.dumps(summary, indent=1, default=str).encode()}
    index = store.pack(stored, archive, checkpoints=cks, max_bytes=None if max_mb is None else int(max_mb * 2**20),
                       extras={**extras, "slot.log": log.text()})
    left = [f"{c['experiment']}/{c['run_id']}" for c in index.get("checkpoints_left_out", [])]
    left_w = [f"{r['experiment']}/{r['run_id']}" for r in index["runs"] if r.get("weights_left_out")]
    if left or left_w:
        log(f"over the {max_mb} MB limit, left out: checkpoints of {', '.join(left) or 'none'}; "
            f"weights of {', '.join(left_w) or 'none'}")
    summary["left_out"] = {"checkpoints": left, "weights": left_w}
    summary["archive_bytes"] = archive.stat().st_size
    summary["elapsed_seconds"] = time.monotonic() - t0
    log(f"archive {archive} ({archive.stat().st_size / 2**20:.1f} MiB); slot took {summary['elapsed_seconds']:.1f} s "
        f"of {60 * minutes:.0f}; add it elsewhere with `python -m compdiff results unpack {archive.name}`")
    (out / "slot.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "slot.log").write_bytes(log.text())
    summary["archive_path"] = str(archive)
    return summary

