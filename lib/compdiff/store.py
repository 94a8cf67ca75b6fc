"""The results store: explicit, checksummed, loud on a miss.

A run lives in ``results/<experiment>/<run_id>/``:

* ``config.json``   — the resolved config (every field, every default pinned);
* ``manifest.json`` — sha256 and size of every other file, the engine version, the config hash,
  the library version and when/where it was made;
* artifacts        — ``*.json`` (metrics, loss curves) and ``*.npz`` (arrays), nothing that executes.

Weights (``*.pt`` artifacts) are not kept in the run folder, and so not in git: they go to a local
cache, ``weights/<experiment>/<run_id>/<sha256[:16]>/<name>`` (:func:`compdiff.paths.weights_dir`),
keyed by the checksum the manifest records for them under ``"weights"``. A figure never needs them
(it reads stored samples); :meth:`Run.weights` hands them out verified, or says how to get them.
:func:`pack` and :func:`unpack` move runs, weights included (and the checkpoints of unfinished
runs), between machines as one checksummed, engine-versioned bundle; :func:`restore_weights` recovers the weights of runs committed before they
left git from the git history.

``run_id`` is a hash of the canonical config JSON *and* :data:`ENGINE_VERSION`, so a change of
either gives a new id. A run made by another engine version for the same config is found by its
``config_hash`` and reported as stale (:class:`StaleResultError`), never reused. A file whose
checksum does not match, or that the manifest does not list, is reported by name
(:class:`CorruptArtifactError`), never used: a :class:`Run` reads only the files its manifest lists.

A run folder is verified against its manifest the first time a process opens it, and again only
when a file's size or modification time changes (so a report build reads each run once).

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
import subprocess
import sys
import tarfile
import tempfile
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


def git_commit() -> str | None:
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
    def weight_names(self) -> list[str]:
        return sorted(self.manifest.get("weights", {}))

    def weights(self, name: str) -> Path:
        """The cached file of weights artifact ``name`` (e.g. ``model_ema.pt``), checksum verified.

        Raises :class:`MissingResultError` (saying how to get it) when the local cache lacks it and
        :class:`CorruptArtifactError` when the cached file does not match the manifest."""
        listed = self.manifest.get("weights", {})
        if name not in listed:
            if name in self.manifest.get("files", {}):  # a run stored before weights left the run folder
                return self.path / name
            raise FileNotFoundError(f"run {self.experiment}/{self.run_id} has no weights {name!r}; "
                                    f"it has: {', '.join(sorted(listed)) or 'none'}")
        path = weights_path(self.experiment, self.run_id, name, listed[name]["sha256"])
        if not path.is_file():
            raise MissingResultError(
                f"weights {name} of run {self.experiment}/{self.run_id} are not in the local cache "
                f"({path}); weights are not kept in git: bring them with `python -m compdiff results unpack "
                f"BUNDLE`, recover those of runs committed before that with `python -m compdiff results "
                f"restore-weights`, or retrain the run")
        _verify_file(path, listed[name], what=f"cached weights of run {self.experiment}/{self.run_id}")
        return path

    @property
    def provenance(self) -> str:
        m = self.manifest
        commit = (m.get("git_commit") or "unknown")[:10]
        return f"run {self.experiment}/{self.run_id} (engine {m['engine_version']}, compdiff {m['library_version']}, commit {commit})"


def _run_path(experiment: str, rid: str) -> Path:
    return paths.results_dir() / experiment / rid


def weights_path(experiment: str, rid: str, name: str, sha256: str) -> Path:
    """Where the weights artifact ``name`` of a run (checksum ``sha256``) lives in the local cache."""
    return paths.weights_dir() / experiment / rid / sha256[:16] / name


# what this process has verified, with the stat signature it had then: run folders and single files
_VERIFIED_RUNS: dict[str, tuple] = {}
_VERIFIED_FILES: dict[str, tuple] = {}


def _signature(paths_: list[Path]) -> tuple:
    out = []
    for p in paths_:
        try:
            st = p.stat()
        except OSError:
            return ()
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _verify_file(f: Path, meta, *, what: str) -> None:
    """Check one file against its manifest entry ({"size", "sha256"}), once per process while unchanged."""
    try:
        size, digest = meta["size"], meta["sha256"]
    except (KeyError, TypeError):
        raise CorruptArtifactError(f"{f}: the manifest gives no size and sha256 for it") from None
    key = str(f.resolve())
    sig = _signature([f])
    if sig and _VERIFIED_FILES.get(key) == (sig, digest):
        return
    if not f.is_file():
        raise CorruptArtifactError(f"{f}: listed in the manifest but missing")
    if f.stat().st_size != size or _sha256(f) != digest:
        raise CorruptArtifactError(f"{f} ({what}): checksum mismatch (truncated or altered); "
                                   "delete it to fetch or recompute it")
    _VERIFIED_FILES[key] = (sig, digest)


def verify(path: Path) -> dict:
    """Check a run folder against its manifest; returns the manifest or raises CorruptArtifactError.

    The checksums are computed the first time a process verifies the folder; later calls only
    compare sizes and modification times with that verification's, and hash again if any changed."""
    mpath = path / "manifest.json"
    key = str(Path(path).resolve())
    cached = _VERIFIED_RUNS.get(key)
    if cached is not None:
        manifest, sig = cached
        if sig and sig == _signature([mpath, *(path / n for n in manifest["files"])]) \
                and _listing(path, manifest) == []:
            return manifest
        _VERIFIED_RUNS.pop(key, None)
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
    extra = _listing(path, manifest)
    if extra:
        raise CorruptArtifactError(f"{path / extra[0]}: not in the manifest (added after the run was written); "
                                   f"remove it or delete the run folder")
    _VERIFIED_RUNS[key] = (manifest, _signature([mpath, *(path / n for n in files)]))
    return manifest


def _listing(path: Path, manifest: dict) -> list[str]:
    """Files of a run folder that its manifest does not list (dotfiles, the desktop's, excepted)."""
    files = manifest["files"]
    return sorted(p.name for p in path.iterdir()
                  if p.name != "manifest.json" and p.name not in files and not p.name.startswith("."))


_STALE_INDEX: dict[str, tuple] = {}  # experiment folder → (its mtime, {config hash: [(run folder, engine)]})


def _stale_candidates(experiment: str, chash: str) -> list[Path]:
    """Run folders of ``experiment`` made for this config hash by another engine version. The
    folder's manifests are read once per process and again only when a run is added or removed."""
    root = paths.results_dir() / experiment
    if not root.is_dir():
        return []
    mtime = root.stat().st_mtime_ns
    key = str(root.resolve())
    cached = _STALE_INDEX.get(key)
    if cached is None or cached[0] != mtime:
        index: dict = {}
        for mpath in root.glob("*/manifest.json"):
            try:
                m = json.loads(mpath.read_text())
            except ValueError:
                continue
            index.setdefault(m.get("config_hash"), []).append((mpath.parent, m.get("engine_version")))
        _STALE_INDEX[key] = cached = (mtime, index)
    return [p for p, engine in cached[1].get(chash, []) if engine != ENGINE_VERSION]


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


WEIGHT_SUFFIX = ".pt"  # artifacts with this suffix are weights: kept in the local cache, not in git


def _install_weights(src: Path, dst: Path) -> None:
    """Move a weights file into the cache atomically (an equal file already there is kept)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".tmp-{dst.name}-{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    src.unlink()


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
        files, weights = {}, {}
        for name, value in artifacts.items():
            fname = _write_artifact(tmp, name, value)
            entry = {"sha256": _sha256(tmp / fname), "size": (tmp / fname).stat().st_size}
            if fname.endswith(WEIGHT_SUFFIX):  # weights leave the run folder for the local cache
                _install_weights(tmp / fname, weights_path(experiment, rid, fname, entry["sha256"]))
                weights[fname] = entry
            else:
                files[fname] = entry
        files["config.json"] = {"sha256": _sha256(tmp / "config.json"), "size": (tmp / "config.json").stat().st_size}
        manifest = {
            "experiment": experiment,
            "run_id": rid,
            "config_hash": config_hash(config),
            "engine_version": ENGINE_VERSION,
            "library_version": __version__,
            "git_commit": git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": socket.gethostname(),
            "meta": _jsonable(dict(meta or {})),
            "files": files,
        }
        if weights:
            manifest["weights"] = weights
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if final.exists():  # an older copy that failed verification: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(experiment, rid, final, manifest)


def attach(run: Run, artifacts: Mapping[str, Any], *, note: str) -> Run:
    """Add artifacts to a stored run (e.g. a sample a figure needs that the run was stored
    without), rewriting its manifest atomically; an existing artifact is never replaced.
    ``note`` (how the artifacts were made) is recorded under the manifest's ``"attached"``."""
    manifest = verify(run.path)
    tmp = Path(tempfile.mkdtemp(dir=run.path.parent, prefix=f".tmp-attach-{run.run_id}-"))
    try:
        added = {}
        for name, value in artifacts.items():
            fname = _write_artifact(tmp, name, value)
            if fname in manifest["files"] or fname in manifest.get("weights", {}) or fname.endswith(WEIGHT_SUFFIX):
                raise StoreError(f"run {run.experiment}/{run.run_id} already has {fname} (or it is weights): not attached")
            added[fname] = {"sha256": _sha256(tmp / fname), "size": (tmp / fname).stat().st_size}
        new = {**manifest, "files": {**manifest["files"], **added},
               "attached": {**manifest.get("attached", {}),
                            **{f: {"note": note, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "library_version": __version__, "git_commit": git_commit()} for f in added}}}
        for fname in added:
            os.replace(tmp / fname, run.path / fname)
        (tmp / "manifest.json").write_text(json.dumps(new, indent=1, sort_keys=True))
        os.replace(tmp / "manifest.json", run.path / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Run(run.experiment, run.run_id, run.path, verify(run.path))


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


# ---------------------------------------------------------------------------------------------
# Bundles: runs (weights included) moved between machines as one file

BUNDLE_FORMAT = 1
BUNDLE_INDEX = "compdiff-bundle.json"


def _manifest_digest(path: Path) -> str:
    return _sha256(path / "manifest.json")


def find_run(ref: str) -> Run:
    """A stored run named ``EXPERIMENT/RUN_ID``, a run folder's path, or a unique run-id prefix."""
    p = Path(ref)
    if (p / "manifest.json").is_file():
        p = p.resolve()
        return Run(p.parent.name, p.name, p, verify(p))
    exp, _, rid = ref.rpartition("/")
    hits = [r for r in list_runs(exp or None) if r.run_id.startswith(rid)] if rid else []
    if len(hits) != 1:
        raise StoreError(f"{ref!r} names {'no' if not hits else len(hits)} stored run(s) in {paths.results_dir()}; "
                         "give EXPERIMENT/RUN_ID (see `python -m compdiff status`)")
    return hits[0]


@dataclasses.dataclass
class Checkpoint:
    """A run still training (or trained, not yet scored): its scratch folder (``last.pt``,
    ``run_spec.json``, snapshots), carried by a bundle so that another machine resumes it."""

    experiment: str
    config: Any
    path: Path
    images_seen: int
    images: int

    @property
    def run_id(self) -> str:
        return run_id(self.config)


def pack(runs: list[Run], out: Path, *, require_weights: bool = False, checkpoints: list[Checkpoint] = (),
         extras: Mapping[str, bytes] | None = None, max_bytes: int | None = None) -> dict:
    """Write ``runs`` (their folders and their cached weights) to the bundle ``out`` (a .tar.gz).

    The bundle's index records the engine version and each run's manifest checksum; weights missing
    from the local cache are left out and listed (an error with ``require_weights``).
    ``checkpoints``: scratch folders of unfinished runs, each file checksummed in the index
    (:func:`unpack` installs them where training resumes). ``extras``: other files (a log, a
    benchmark), under ``slot/``. ``max_bytes``: the run folders and extras always go in; weights,
    then checkpoints, in the order given, only while the bundle stays under it (uncompressed); what
    is left out is listed in the index."""
    index = {"format": BUNDLE_FORMAT, "engine_version": ENGINE_VERSION, "library_version": __version__,
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": []}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}-{os.getpid()}")
    extras = dict(extras or {})
    used = sum(len(v) for v in extras.values())

    def fits(size: int) -> bool:
        return max_bytes is None or used + size <= max_bytes

    try:
        with tarfile.open(tmp, "w:gz") as tar:
            entries = []
            for run in runs:
                manifest = verify(run.path)
                if manifest.get("engine_version") != ENGINE_VERSION:
                    raise StaleResultError(f"{run.path}: made by engine version {manifest.get('engine_version')}; "
                                           f"this library is engine version {ENGINE_VERSION}: not packed")
                base = f"runs/{run.experiment}/{run.run_id}"
                for name in ["manifest.json", *sorted(manifest["files"])]:
                    tar.add(run.path / name, arcname=f"{base}/{name}", recursive=False)
                    used += (run.path / name).stat().st_size
                entry = {"experiment": run.experiment, "run_id": run.run_id,
                         "manifest_sha256": _manifest_digest(run.path), "weights": [], "weights_missing": []}
                entries.append((run, entry))
                index["runs"].append(entry)
            for run, entry in entries:
                for name in run.weight_names:
                    try:
                        w = run.weights(name)
                    except MissingResultError:
                        entry["weights_missing"].append(name)
                        continue
                    if not fits(w.stat().st_size):
                        entry["weights_missing"].append(name)
                        entry["weights_left_out"] = "over the bundle's size limit"
                        continue
                    tar.add(w, arcname=f"weights/{run.experiment}/{run.run_id}/{name}", recursive=False)
                    used += w.stat().st_size
                    entry["weights"].append(name)
                if entry["weights_missing"] and require_weights:
                    raise MissingResultError(f"run {run.experiment}/{run.run_id}: weights "
                                             f"{', '.join(entry['weights_missing'])} are not in the local cache "
                                             "(or over the size limit), and the bundle must carry them")
            for ck in checkpoints:
                files = sorted(p for p in Path(ck.path).iterdir() if p.is_file() and not p.name.startswith("."))
                size = sum(p.stat().st_size for p in files)
                entry = {"experiment": ck.experiment, "run_id": ck.run_id, "config": _jsonable(ck.config),
                         "images_seen": int(ck.images_seen), "images": int(ck.images), "bytes": size}
                if not fits(size):
                    index.setdefault("checkpoints_left_out", []).append(entry)
                    continue
                entry["files"] = {}
                for p in files:
                    tar.add(p, arcname=f"checkpoints/{ck.experiment}/{ck.run_id}/{p.name}", recursive=False)
                    entry["files"][p.name] = {"sha256": _sha256(p), "size": p.stat().st_size}
                used += size
                index.setdefault("checkpoints", []).append(entry)
            for name, blob in sorted(extras.items()):
                info = tarfile.TarInfo(f"slot/{name}")
                info.size, info.mtime = len(blob), int(time.time())
                tar.addfile(info, io.BytesIO(blob))
            if extras:
                index["extras"] = sorted(extras)
            data = json.dumps(index, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(BUNDLE_INDEX)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return index


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
            raise CorruptArtifactError(f"bundle member {m.name!r} is not a plain file inside the bundle: refused")
        members.append(m)
    return members


def _same_run(a: Path, b: Path) -> bool:
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    return ma.get("files") == mb.get("files") and ma.get("weights", {}) == mb.get("weights", {})


def unpack(bundle: Path) -> list[tuple[str, str, str]]:
    """Add the runs of ``bundle`` to the store (and their weights to the local cache).

    Everything is checked before anything is installed: the index, each run's manifest checksum and
    file checksums, that its folder name is the hash of its config, its engine version, and its
    weights' checksums. A corrupt or stale bundle is refused whole. A run already stored is kept
    (its missing weights are added) when it is the same run, and refused when it differs: a
    different run is never overwritten. The checkpoints of unfinished runs a bundle carries (a GPU
    slot's, :mod:`compdiff.gpu_slot`) go to the scratch folder where training resumes them
    (``runs/<experiment>/<run_id>/``), unless the run is stored or the local checkpoint is as far
    along. Returns (experiment, run_id, what happened) per run and checkpoint."""
    bundle = Path(bundle)
    root = paths.results_dir()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpack-") as td:
        td = Path(td)
        try:
            with tarfile.open(bundle, "r:*") as tar:
                tar.extractall(td, members=_safe_members(tar), filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise CorruptArtifactError(f"{bundle}: not a readable bundle ({e})") from None
        try:
            index = json.loads((td / BUNDLE_INDEX).read_text())
        except (OSError, ValueError) as e:
            raise CorruptArtifactError(f"{bundle}: no readable {BUNDLE_INDEX} ({e})") from None
        if index.get("format") != BUNDLE_FORMAT:
            raise CorruptArtifactError(f"{bundle}: bundle format {index.get('format')!r}, this library reads "
                                       f"format {BUNDLE_FORMAT}")
        if index.get("engine_version") != ENGINE_VERSION:
            raise StaleResultError(f"{bundle}: made by engine version {index.get('engine_version')}, this library is "
                                   f"engine version {ENGINE_VERSION}; its runs would be stale: refused")
        plan = []
        for entry in index.get("runs", []):
            exp, rid = entry["experiment"], entry["run_id"]
            src = td / "runs" / exp / rid
            if not src.is_dir() or _manifest_digest(src) != entry["manifest_sha256"]:
                raise CorruptArtifactError(f"{bundle}: run {exp}/{rid} is missing or its manifest was altered")
            manifest = verify(src)
            if manifest.get("engine_version") != ENGINE_VERSION:
                raise StaleResultError(f"{bundle}: run {exp}/{rid} is of engine version "
                                       f"{manifest.get('engine_version')}: refused")
            if run_id(json.loads((src / "config.json").read_text())) != rid:
                raise CorruptArtifactError(f"{bundle}: run {exp}/{rid}: its config does not hash to its id")
            for name in entry.get("weights", []):
                meta = manifest.get("weights", {}).get(name)
                if meta is None:
                    raise CorruptArtifactError(f"{bundle}: run {exp}/{rid} carries weights {name} its manifest does not list")
                _verify_file(td / "weights" / exp / rid / name, meta, what=f"weights of run {exp}/{rid} in {bundle.name}")
            dst = root / exp / rid
            if dst.exists():
                verify(dst)
                if not _same_run(src, dst):
                    raise StoreError(f"{bundle}: run {exp}/{rid} differs from the stored {dst} (another training of "
                                     "the same config); the stored run is never overwritten: remove it first to "
                                     "take the bundle's")
            plan.append((entry, src, dst, manifest))
        checkpoints = _check_checkpoints(bundle, td, index)
        done = []
        for entry, src, dst, manifest in plan:
            exp, rid = entry["experiment"], entry["run_id"]
            for name in entry.get("weights", []):
                target = weights_path(exp, rid, name, manifest["weights"][name]["sha256"])
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(td / "weights" / exp / rid / name, target)
            if dst.exists():
                done.append((exp, rid, "already stored"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                done.append((exp, rid, "added"))
        for entry in checkpoints:
            done.append((entry["experiment"], entry["run_id"], _install_checkpoint(td, entry)))
    return done


def _check_checkpoints(bundle: Path, td: Path, index: dict) -> list[dict]:
    """The bundle's checkpoints (unfinished runs), every file checked against the index."""
    out = []
    for entry in index.get("checkpoints", []):
        exp, rid = entry["experiment"], entry["run_id"]
        if run_id(entry["config"]) != rid:
            raise CorruptArtifactError(f"{bundle}: checkpoint of run {exp}/{rid}: its config does not hash to its id")
        src = td / "checkpoints" / exp / rid
        for name, meta in entry.get("files", {}).items():
            _verify_file(src / name, meta, what=f"checkpoint of run {exp}/{rid} in {bundle.name}")
        if "last.pt" not in entry.get("files", {}):
            raise CorruptArtifactError(f"{bundle}: checkpoint of run {exp}/{rid} has no last.pt")
        out.append(entry)
    return out


def _images_seen(last: Path) -> int | None:
    try:
        from .train import load_checkpoint

        return int(load_checkpoint(last)["images_seen"])
    except Exception:  # noqa: BLE001 - an unreadable local checkpoint is replaced
        return None


def _install_checkpoint(td: Path, entry: dict) -> str:
    """Put an unfinished run's checkpoint where training resumes it (``runs/<experiment>/<run_id>``),
    unless the run is stored already or the local checkpoint is as far along."""
    exp, rid = entry["experiment"], entry["run_id"]
    where = f"{entry['images_seen']:,} of {entry['images']:,} images"
    if _run_path(exp, rid).is_dir():
        return f"checkpoint at {where} not needed: the run is stored"
    dst = paths.runs_dir() / exp / rid
    local = _images_seen(dst / "last.pt") if (dst / "last.pt").is_file() else None
    if local is not None and local >= entry["images_seen"]:
        return f"checkpoint at {where} not installed: the local one ({dst}) is at {local:,} images"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".tmp-{rid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(td / "checkpoints" / exp / rid, tmp)
    old = dst.parent / f".old-{rid}-{os.getpid()}"
    if dst.exists():
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    return f"checkpoint at {where} installed in {dst}; it resumes there (gpu-slot, train or figure)"


def restore_weights(runs: list[Run] | None = None) -> list[tuple[str, str]]:
    """Fill the weights cache from git history: a run committed while weights were still kept in
    its folder has them in an older commit; each blob is checked against the manifest's checksum.
    Returns (run, weights name) of every file restored."""
    restored = []
    root = paths.results_dir()
    for run in list_runs() if runs is None else runs:
        for name, meta in run.manifest.get("weights", {}).items():
            target = weights_path(run.experiment, run.run_id, name, meta["sha256"])
            if target.is_file():
                continue
            rel = (run.path / name).resolve().relative_to(paths.ROOT) if (run.path / name).resolve().is_relative_to(paths.ROOT) else None
            if rel is None or not root.resolve().is_relative_to(paths.ROOT):
                continue
            log = subprocess.run(["git", "-C", str(paths.ROOT), "log", "--all", "--format=%H", "--", rel.as_posix()],
                                 capture_output=True, text=True)
            for commit in log.stdout.split():
                blob = subprocess.run(["git", "-C", str(paths.ROOT), "show", f"{commit}:{rel.as_posix()}"],
                                      capture_output=True)
                if blob.returncode == 0 and hashlib.sha256(blob.stdout).hexdigest() == meta["sha256"]:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(f".tmp-{name}-{os.getpid()}")
                    tmp.write_bytes(blob.stdout)
                    os.replace(tmp, target)
                    restored.append((f"{run.experiment}/{run.run_id}", name))
                    break
    return restored
