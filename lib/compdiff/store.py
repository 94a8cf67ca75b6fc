"""The results store: explicit, checksummed, loud on a miss.

A run lives in ``results/<experiment>/<run_id>/``:

* ``config.json``   — the resolved config (every field, every default pinned);
* ``manifest.json`` — sha256 and size of every other file, the engine version, the config hash,
  the library version and when/where it was made;
* artifacts        — ``*.json`` (metrics, loss curves) and ``*.npz`` (arrays), nothing that executes.

``run_id`` is a hash of the canonical config JSON *and* :data:`ENGINE_VERSION`, so a change of
either gives a new id. A run made by another engine version for the same config is found by its
``config_hash`` and reported as stale (:class:`StaleResultError`), never reused. A file whose
checksum does not match, or that the manifest does not list, is reported by name
(:class:`CorruptArtifactError`), never used: a :class:`Run` reads only the files its manifest lists.

Writes go to a temporary folder that is renamed into place, so a killed writer leaves no half run;
a per-run lock file keeps two processes from computing the same run at once.

With ``COMPDIFF_NO_TRAIN=1`` (tests, CI, the book build) a miss is an error naming the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, paths

# Bump when a change to data, model, training or evaluation code changes what a run produces.
# Every committed result made under an older value is then reported as stale.
ENGINE_VERSION = "1"


class StoreError(RuntimeError):
    """Base class of the store's errors."""


class MissingResultError(StoreError):
    """The run is not in the store and training is switched off."""


class CorruptArtifactError(StoreError):
    """A file of a stored run is missing, truncated or altered."""


class StaleResultError(StoreError):
    """The store holds this config, made by another engine version."""


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # a field added after runs were stored carries metadata omit_default=True: left out of the
        # config (and so of the run id) while it holds its default, so older runs keep their ids
        return {"__type__": type(obj).__name__,
                **{f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                   if not (f.metadata.get("omit_default") and getattr(obj, f.name) == f.default)}}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot put {type(obj).__name__} into a run config")


def canonical_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: Any) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def run_id(config: Any) -> str:
    """Hash of the config and the engine version (16 hex digits)."""
    return hashlib.sha256((canonical_json(config) + "|engine=" + ENGINE_VERSION).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_commit() -> str | None:
    head = paths.ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (paths.ROOT / ".git" / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None


@dataclasses.dataclass
class Run:
    """A stored run: its folder, config and artifacts (loaded lazily, verified on open)."""

    experiment: str
    run_id: str
    path: Path
    manifest: dict

    @property
    def config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    def json(self, name: str) -> Any:
        return json.loads(self.file(f"{name}.json").read_text())

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.file(f"{name}.npz"), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def file(self, name: str) -> Path:
        """The path of an artifact the manifest lists (checked when the run was opened)."""
        if name not in self.manifest.get("files", {}):
            listed = ", ".join(sorted(self.manifest.get("files", {})))
            raise FileNotFoundError(f"run {self.experiment}/{self.run_id} has no artifact {name!r}; it has: {listed}")
        return self.path / name

    @property
    def provenance(self) -> str:
        m = self.manifest
        commit = (m.get("git_commit") or "unknown")[:10]
        return f"run {self.experiment}/{self.run_id} (engine {m['engine_version']}, compdiff {m['library_version']}, commit {commit})"


def _run_path(experiment: str, rid: str) -> Path:
    return paths.results_dir() / experiment / rid


def verify(path: Path) -> dict:
    """Check a run folder against its manifest; returns the manifest or raises CorruptArtifactError."""
    mpath = path / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as e:
        raise CorruptArtifactError(f"{mpath}: manifest missing or unreadable ({e})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or "config.json" not in files:
        raise CorruptArtifactError(f"{mpath}: manifest lists no files (config.json at least); delete the run folder to recompute it")
    if manifest.get("run_id", path.name) != path.name:
        raise CorruptArtifactError(f"{mpath}: made for run {manifest.get('run_id')!r}, found in folder {path.name!r}")
    for name, meta in files.items():
        f = path / name
        if not f.is_file():
            raise CorruptArtifactError(f"{f}: listed in the manifest but missing")
        try:
            size, digest = meta["size"], meta["sha256"]
        except (KeyError, TypeError):
            raise CorruptArtifactError(f"{mpath}: no size and sha256 for {name}") from None
        if f.stat().st_size != size or _sha256(f) != digest:
            raise CorruptArtifactError(f"{f}: checksum mismatch (truncated or altered); delete the run folder to recompute it")
    extra = sorted(p.name for p in path.iterdir()  # dotfiles (.DS_Store …) are the desktop's, never read
                   if p.name != "manifest.json" and p.name not in files and not p.name.startswith("."))
    if extra:
        raise CorruptArtifactError(f"{path / extra[0]}: not in the manifest (added after the run was written); "
                                   f"remove it or delete the run folder")
    return manifest


def _stale_candidates(experiment: str, chash: str) -> list[Path]:
    root = paths.results_dir() / experiment
    found = []
    if root.is_dir():
        for mpath in root.glob("*/manifest.json"):
            try:
                m = json.loads(mpath.read_text())
            except ValueError:
                continue
            if m.get("config_hash") == chash and m.get("engine_version") != ENGINE_VERSION:
                found.append(mpath.parent)
    return found


def lookup(experiment: str, config: Any) -> Run | None:
    """The stored run for ``config``, verified; None on a clean miss; raises if stale or corrupt."""
    rid = run_id(config)
    path = _run_path(experiment, rid)
    if path.is_dir():
        manifest = verify(path)
        if manifest.get("engine_version") != ENGINE_VERSION:
            raise StaleResultError(f"{path}: made by engine version {manifest.get('engine_version')}, this library is "
                                   f"engine version {ENGINE_VERSION}; rerun it (delete the old folder) instead of reusing it")
        return Run(experiment, rid, path, manifest)
    stale = _stale_candidates(experiment, config_hash(config))
    if stale:
        raise StaleResultError(
            f"{stale[0]}: made by engine version {json.loads((stale[0] / 'manifest.json').read_text()).get('engine_version')}, "
            f"this library is engine version {ENGINE_VERSION}; rerun it (delete the old folder) instead of reusing it"
        )
    return None


def _write_artifact(tmp: Path, name: str, value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        fname = name
        (tmp / fname).write_bytes(value)
    elif isinstance(value, Path):
        fname = name
        shutil.copyfile(value, tmp / fname)
    elif isinstance(value, Mapping) and value and all(isinstance(v, np.ndarray) for v in value.values()):
        fname = f"{name}.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, **value)
        (tmp / fname).write_bytes(buf.getvalue())
    else:
        fname = f"{name}.json"
        (tmp / fname).write_text(json.dumps(_jsonable(value), indent=1, allow_nan=True))
    return fname


def write(experiment: str, config: Any, artifacts: Mapping[str, Any], *, meta: Mapping | None = None) -> Run:
    """Write a run atomically. ``artifacts``: name → dict of arrays (npz), bytes/Path (verbatim) or JSON-able."""
    rid = run_id(config)
    final = _run_path(experiment, rid)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{rid}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        (tmp / "config.json").write_text(json.dumps(_jsonable(config), indent=1, sort_keys=True))
        files = {}
        for name, value in artifacts.items():
            fname = _write_artifact(tmp, name, value)
            files[fname] = {"sha256": _sha256(tmp / fname), "size": (tmp / fname).stat().st_size}
        files["config.json"] = {"sha256": _sha256(tmp / "config.json"), "size": (tmp / "config.json").stat().st_size}
        manifest = {
            "experiment": experiment,
            "run_id": rid,
            "config_hash": config_hash(config),
            "engine_version": ENGINE_VERSION,
            "library_version": __version__,
            "git_commit": _git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": socket.gethostname(),
            "meta": _jsonable(dict(meta or {})),
            "files": files,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if final.exists():  # an older copy that failed verification: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(experiment, rid, final, manifest)


@contextlib.contextmanager
def _lock(experiment: str, rid: str):
    lockdir = paths.results_dir() / ".locks"
    lockdir.mkdir(parents=True, exist_ok=True)
    lockfile = lockdir / f"{experiment}-{rid}.lock"
    with open(lockfile, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process computing {experiment}/{rid} (lock {lockfile})", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)  # released by the kernel if that process dies
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def training_allowed() -> bool:
    return os.environ.get("COMPDIFF_NO_TRAIN", "") not in ("1", "true", "yes")


def load_or_compute(experiment: str, config: Any, compute: Callable[[], Mapping[str, Any]], *, meta: Mapping | None = None) -> Run:
    """Load the stored run of ``config`` or compute and store it.

    ``compute()`` returns the artifacts mapping for :func:`write`. Under ``COMPDIFF_NO_TRAIN=1`` a
    miss raises :class:`MissingResultError` naming the run and the command that makes it.
    """
    run = lookup(experiment, config)
    if run is not None:
        return run
    rid = run_id(config)
    if not training_allowed():
        raise MissingResultError(
            f"no stored run {experiment}/{rid} in {paths.results_dir()} and COMPDIFF_NO_TRAIN is set; "
            f"make it with `python -m compdiff train {experiment} --profile <profile>`"
        )
    with _lock(experiment, rid):
        run = lookup(experiment, config)  # another process may have finished it meanwhile
        if run is not None:
            return run
        # a writer killed mid-write leaves its temporary folder; no live writer of this run exists
        for tmp in _run_path(experiment, rid).parent.glob(f".tmp-{rid}-*"):
            shutil.rmtree(tmp, ignore_errors=True)
        return write(experiment, config, compute(), meta=meta)


def list_runs(experiment: str | None = None) -> list[Run]:
    """Every verified run in the store (corrupt ones raise)."""
    root = paths.results_dir()
    out = []
    for mpath in sorted(root.glob(f"{experiment or '*'}/*/manifest.json")):
        if mpath.parent.name.startswith(".tmp-"):
            continue
        out.append(Run(mpath.parent.parent.name, mpath.parent.name, mpath.parent, verify(mpath.parent)))
    return out
