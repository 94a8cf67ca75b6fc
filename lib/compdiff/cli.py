"""``python -m compdiff …``: run figures, train runs, build the book.

    python -m compdiff list
    python -m compdiff figure fig13 --profile smoke --device cpu [-p name=value ...]
    python -m compdiff figure fig06 --dry-run -p sigmas='[0.5, 1]'   # its runs, stored or not, and cost
    python -m compdiff status [fig05 ...] [--profile cpu] # per figure: stored, missing, unconverged runs
    python -m compdiff status fig06 --seeds 0-2 --recipe v-stop   # several seeds, a cpu recipe
    python -m compdiff status --priority                  # the decisive runs (gpu_priority.txt): progress
                                                          # and the core-hours left, from measurements
    python -m compdiff readme-costs [--write]             # README's training-cost table, from results/
    python -m compdiff figures --profile cpu              # every figure notebook
    python -m compdiff train basic --profile cpu          # fill the store for one experiment
    python -m compdiff assumptions                        # regenerate book/assumptions.md
    python -m compdiff report                             # regenerate book/report.md from results/
    python -m compdiff results pack compose/b127eba4 -o runs.tar.gz   # runs + weights, one bundle
    python -m compdiff results unpack runs.tar.gz         # checked, then added to results/
    python -m compdiff results restore-weights            # weights of older runs, from git history
    python -m compdiff runs-page                          # regenerate book/runs.md from results/
    python -m compdiff gpu-slot --minutes 10 --out slot/  # a GPU for a few minutes: train the priority
                                                          # list's missing runs, score, pack one archive
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from . import experiments, paths
from .experiments import ConfigError

_T0 = time.monotonic()  # the command's start: a GPU slot's minutes count from here
# the same as compdiff.notebook.DEVICES; not imported from there, so that the training commands
# (gpu-slot above all) import without matplotlib
DEVICES = ("auto", "cpu", "cuda", "mps")


def notebook_parameters(path: Path) -> dict:
    """Names and defaults of a notebook's ``parameters`` cell; an error if it has none."""
    nb = json.loads(Path(path).read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ConfigError(f"{path}: no cell tagged 'parameters' (papermill would only warn; we refuse)")
    src = "".join(cells[0]["source"])
    params = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def resolve_parameters(key: str, profile: str, device: str, seed: int, extra: list[str]) -> dict:
    """Validate and merge the parameters for one figure; errors list what is allowed."""
    experiments.check_profile(profile)
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    path = experiments.notebook_path(key)
    if not path.exists():
        raise ConfigError(f"{path}: notebook missing")
    allowed = notebook_parameters(path)
    params = {"profile": profile, "device": device, "seed": int(seed)}
    for item in extra:
        if "=" not in item:
            raise ConfigError(f"parameter {item!r} must be written name=value")
        name, value = item.split("=", 1)
        params[name.strip()] = _parse_value(value.strip())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for {key}; allowed: {', '.join(sorted(allowed))}"
        )
    _check_common(params["profile"], params["device"], params["seed"])  # -p may have replaced them
    overrides = sweep_overrides(key, params)
    if overrides:  # checked here, so a bad value is named before a kernel starts
        from . import query

        query.points(key, params["profile"], seed=params["seed"], **overrides)
    return params


def sweep_overrides(key: str, params: dict) -> dict:
    """The parameters of ``params`` that override a field of figure ``key``'s sweep."""
    from . import query

    return {k: v for k, v in params.items() if k in query.override_names(key) and v is not None}


def _check_common(profile, device, seed) -> None:
    experiments.check_profile(profile)
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed = {seed!r} must be a non-negative integer")


VOLATILE = ("start_time", "end_time", "duration")  # papermill's timings: they differ on every execution


def _tag_for_book(path: Path, dst: Path | None = None) -> None:
    """Fold the parameter cells in the book (the footer prints the values that were used), and drop
    what changes on every execution (papermill's timings, its temporary file name, the injected
    cell's random id), so that executing an unchanged figure rewrites it unchanged."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for meta in [nb.metadata.get("papermill", {})] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for key in VOLATILE:
            meta.pop(key, None)
    pm_meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if key in pm_meta:
            p = Path(pm_meta[key] if key == "input_path" or dst is None else dst).resolve()
            pm_meta[key] = p.relative_to(paths.ROOT).as_posix() if p.is_relative_to(paths.ROOT) else p.name
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, path)


def run_figure(key: str, *, profile: str, device: str = "auto", seed: int = 0, extra: list[str] = (),
               output: Path | None = None, progress: bool = True) -> Path:
    """Execute one figure notebook with papermill; by default it replaces the committed notebook."""
    import papermill as pm

    params = resolve_parameters(key, profile, device, seed, list(extra))
    src = experiments.notebook_path(key)
    dst = Path(output) if output else src
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", dir=dst.parent)
    os.close(fd)
    t0 = time.time()
    try:
        pm.execute_notebook(str(src), tmp, parameters=params, cwd=str(paths.NOTEBOOKS),
                            progress_bar=progress, kernel_name="python3", request_save_on_cell_execute=False)
        _tag_for_book(Path(tmp), dst)
        os.replace(tmp, dst)  # a failed run leaves the committed notebook untouched
    except BaseException:
        failed = dst.with_suffix(".failed.ipynb")
        if os.path.exists(tmp):
            os.replace(tmp, failed)
            print(f"execution failed; the partly executed notebook is {failed}", file=sys.stderr)
        raise
    print(f"{key}: {dst} ({profile}, {device}) in {time.time() - t0:.1f} s")
    return dst


def _cmd_list(args) -> int:
    for f in experiments.FIGURES.values():
        print(f"{f.key}  {f.notebook:40s} {f.title}")
    return 0


def _cmd_figure(args) -> int:
    if args.dry_run:
        from . import query

        params = resolve_parameters(args.figure, args.profile, args.device, args.seed, list(args.param))
        for line in query.dry_run_lines(args.figure, params["profile"], seed=params["seed"],
                                        **sweep_overrides(args.figure, params)):
            print(line)
        return 0
    run_figure(args.figure, profile=args.profile, device=args.device, seed=args.seed, extra=args.param,
               output=args.output, progress=not args.quiet)
    return 0


def _cmd_figures(args) -> int:
    keys = args.only or sorted(experiments.FIGURES)
    for key in keys:  # every key checked before the first figure runs
        experiments.figure(key)
    _check_common(args.profile, args.device, args.seed)
    for key in keys:
        run_figure(key, profile=args.profile, device=args.device, seed=args.seed, progress=not args.quiet)
    return 0


def _cmd_train(args) -> int:
    _check_common(args.profile, args.device, 0)
    from . import runs

    if args.executor is None:
        runs.train_experiment(args.experiment, profile=args.profile, device=args.device)
        return 0
    from . import cluster

    if args.experiment not in experiments.SWEEPS:
        raise ConfigError(f"--executor dispatches sweeps; {args.experiment!r} is not one "
                          f"(sweeps: {', '.join(experiments.SWEEPS)})")
    cfgs = experiments.SWEEPS[args.experiment](args.profile)
    jobs = cluster.submit_sweep(experiments.SWEEP_STORE[args.experiment], cfgs, executor=args.executor,
                                runs_per_job=args.runs_per_job, device=args.device, wait=args.wait,
                                timeout_min=args.timeout_min, partition=args.partition,
                                gpus_per_node=args.gpus_per_node, cpus_per_task=args.cpus_per_task)
    print(f"{args.experiment} ({args.profile}): {len(jobs)} job(s) submitted to {args.executor}"
          + "".join(f"\n  job {j.job_id}" for j in jobs) + ("" if jobs else " (nothing missing)"))
    return 0


def _cmd_status(args) -> int:
    from . import query

    if args.priority is not None:
        given = [name for name, v in (("figure keys", args.figures), ("--seed", args.seed is not None),
                                      ("--seeds", args.seeds), ("--recipe", args.recipe)) if v]
        if given:
            raise ConfigError(f"status --priority counts the priority list's own lines (their seeds, filters and "
                              f"recipes); it takes no {', '.join(given)} (only --profile, -v)")
        for line in query.priority_lines(args.priority or None, profile=args.profile, verbose=args.verbose):
            print(line)
        return 0
    keys = args.figures or sorted(experiments.FIGURES)
    for key in keys:
        experiments.figure(key)
    profile = args.profile or experiments.DEFAULT_PROFILE
    experiments.check_profile(profile)
    if args.seeds is not None and args.seed is not None:
        raise ConfigError("give --seed or --seeds, not both")
    seeds = None if args.seeds is None else query.parse_seeds(args.seeds)
    if args.recipe is not None:
        experiments.resolve_recipe(profile, args.recipe)
    for line in query.status_lines(keys, profile, seed=args.seed or 0, verbose=args.verbose, seeds=seeds,
                                   recipe=args.recipe):
        print(line)
    return 0


def _cmd_readme_costs(args) -> int:
    from . import readme_costs

    block = readme_costs.block()
    if args.write:
        changed = readme_costs.write(block)
        print(f"{readme_costs.README.name}: training-cost table {'rewritten' if changed else 'already current'}")
        return 0
    print(block)
    if readme_costs.current() != block:
        print(f"{readme_costs.README.name}: its training-cost table is stale; rewrite it with "
              "`python -m compdiff readme-costs --write`", file=sys.stderr)
        return 1
    return 0


def _cmd_assumptions(args) -> int:
    from . import assumptions

    out = Path(args.output)
    out.write_text(assumptions.render_markdown())
    print(f"wrote {out}")
    return 0


def _cmd_report(args) -> int:
    from . import report

    out = report.write(Path(args.output), profile=args.profile)
    print(f"wrote {out}")
    return 0


def _cmd_results(args) -> int:
    from . import store

    if args.action == "pack":
        if not args.runs and not args.all:
            raise ConfigError("results pack: name the runs (EXPERIMENT/RUN_ID, a run folder or a run-id prefix) or give --all")
        runs = store.list_runs() if args.all else [store.find_run(r) for r in args.runs]
        index = store.pack(runs, Path(args.output), require_weights=args.require_weights)
        missing = sum(bool(r["weights_missing"]) for r in index["runs"])
        print(f"packed {len(index['runs'])} run(s) into {args.output}"
              + (f"; {missing} without weights (not in the local cache)" if missing else ""))
    elif args.action == "unpack":
        for exp, rid, what in store.unpack(Path(args.bundle)):
            print(f"{exp}/{rid}: {what}")
    elif args.action == "restore-weights":
        done = store.restore_weights()
        for run, name in done:
            print(f"{run}: {name} restored from git history")
        print(f"{len(done)} weights file(s) restored into {paths.weights_dir()}")
    return 0


def _cmd_runs_page(args) -> int:
    from . import runs_page

    out = runs_page.write(Path(args.output) if args.output else None)
    print(f"wrote {out}")
    return 0


def _shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    try:
        i, n = int(i), int(n)
    except ValueError:
        i, n = -1, 0
    if not sep or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard must be I/N with 0 ≤ I < N (e.g. 0/2), got {text!r}")
    return i, n


def _cmd_gpu_slot(args) -> int:
    from . import gpu_slot

    gpu_slot.run_slot(args.minutes, args.out, device=args.device, profile=args.profile, priority=args.priority,
                      models=args.models, bench_seconds=args.bench_seconds, reserve_minutes=args.reserve_minutes,
                      stop_after_images=args.stop_after_images, max_mb=args.max_mb, progress=not args.quiet,
                      t0=_T0, shard=args.shard, claim=args.claim, archive=not args.no_archive)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m compdiff", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="the figures and their notebooks").set_defaults(func=_cmd_list)

    def common(sp):
        sp.add_argument("--profile", default=experiments.DEFAULT_PROFILE, help=f"one of {', '.join(experiments.PROFILES)}")
        sp.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--quiet", action="store_true", help="no progress bar")

    f = sub.add_parser("figure", help="execute one figure notebook with papermill")
    f.add_argument("figure", help="figure key, e.g. fig13 (see `list`)")
    common(f)
    f.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="an extra notebook parameter (must exist in its parameters cell)")
    f.add_argument("--output", type=Path, default=None, help="write here instead of replacing notebooks/<nb>")
    f.add_argument("--dry-run", action="store_true",
                   help="list the figure's runs (config, run id, stored or missing, estimated cost); run nothing")
    f.set_defaults(func=_cmd_figure)

    st = sub.add_parser("status", help="per figure (or per priority line): runs stored, missing, unconverged, "
                                       "and the cost of the missing")
    st.add_argument("figures", nargs="*", help="figure keys (default: all)")
    st.add_argument("--profile", default=None,
                    help=f"one of {', '.join(experiments.PROFILES)} (default {experiments.DEFAULT_PROFILE}; with "
                         "--priority: each line's own)")
    st.add_argument("--seed", type=int, default=None, help="one seed (default 0)")
    st.add_argument("--seeds", default=None, metavar="SEEDS", help="several seeds, counted together: 0-2 or 0,1,2")
    st.add_argument("--recipe", default=None,
                    help=f"a cpu recipe: one of {', '.join(experiments.CPU_RECIPES)} (default {experiments.CPU_RECIPE})")
    st.add_argument("--priority", nargs="?", const="", default=None, metavar="FILE",
                    help="instead of figures, the lines of the priority list (default gpu_priority.txt): runs "
                         "stored, converged, unconverged, missing, and the core-hours left here")
    st.add_argument("-v", "--verbose", action="store_true", help="name the missing and unconverged runs")
    st.set_defaults(func=_cmd_status)

    rc = sub.add_parser("readme-costs", help="README.md's training-cost table, from the stored runs' metrics")
    rc.add_argument("--write", action="store_true",
                    help="rewrite the table in README.md (default: print it; exit 1 if README's is stale)")
    rc.set_defaults(func=_cmd_readme_costs)

    fs = sub.add_parser("figures", help="execute every figure notebook")
    common(fs)
    fs.add_argument("--only", nargs="*", help="a subset of figure keys")
    fs.set_defaults(func=_cmd_figures)

    t = sub.add_parser("train", help="train and evaluate the runs of one experiment into results/")
    t.add_argument("experiment")
    t.add_argument("--profile", default=experiments.DEFAULT_PROFILE)
    t.add_argument("--device", default="auto")
    t.add_argument("--executor", choices=("local", "slurm"), default=None,
                   help="dispatch a sweep's missing runs as submitit jobs (default: train here)")
    t.add_argument("--runs-per-job", type=int, default=1)
    t.add_argument("--timeout-min", type=int, default=240)
    t.add_argument("--partition", default=None, help="Slurm partition")
    t.add_argument("--gpus-per-node", type=int, default=0)
    t.add_argument("--cpus-per-task", type=int, default=2)
    t.add_argument("--wait", action="store_true", help="block until every job has finished")
    t.set_defaults(func=_cmd_train)

    a = sub.add_parser("assumptions", help="regenerate the book's assumptions page")
    a.add_argument("--output", default=str(paths.BOOK / "assumptions.md"))
    a.set_defaults(func=_cmd_assumptions)

    r = sub.add_parser("report", help="regenerate the book's reproduction report from results/")
    r.add_argument("--output", default=str(paths.BOOK / "report.md"))
    r.add_argument("--profile", default=experiments.DEFAULT_PROFILE,
                   help=f"profile of the simulations the report runs; one of {', '.join(experiments.PROFILES)}")
    r.set_defaults(func=_cmd_report)

    res = sub.add_parser("results", help="move stored runs between machines (bundles), restore weights")
    rsub = res.add_subparsers(dest="action", required=True)
    pk = rsub.add_parser("pack", help="write runs (with their cached weights) to one checksummed bundle")
    pk.add_argument("runs", nargs="*", help="EXPERIMENT/RUN_ID, a run folder, or a unique run-id prefix")
    pk.add_argument("--all", action="store_true", help="every run in results/")
    pk.add_argument("-o", "--output", required=True, help="the bundle to write (.tar.gz)")
    pk.add_argument("--require-weights", action="store_true", help="fail if a run's weights are not cached")
    up = rsub.add_parser("unpack", help="check a bundle and add its runs to results/ (never overwrites)")
    up.add_argument("bundle")
    rsub.add_parser("restore-weights", help="fill the weights cache from git history (runs committed with weights)")
    res.set_defaults(func=_cmd_results)

    rp = sub.add_parser("runs-page", help="regenerate book/runs.md (every stored run) from results/")
    rp.add_argument("--output", default=None, help="where to write (default book/runs.md)")
    rp.set_defaults(func=_cmd_runs_page)

    g = sub.add_parser("gpu-slot", help="a GPU for a few minutes: benchmark, train the priority list's missing "
                                        "runs K at a time, score, pack one archive (results unpack adds it)")
    g.add_argument("--minutes", type=float, required=True, help="the slot's length, counted from the command's start")
    g.add_argument("--out", required=True, type=Path, help="folder for the archive, benchmark.json, slot.json, slot.log")
    g.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}, or cuda:N")
    g.add_argument("--profile", default=None,
                   help=f"resolve every priority entry at this profile ({', '.join(experiments.PROFILES)}); "
                        "default: each entry's own")
    g.add_argument("--priority", default=None, type=Path, help="the priority list (default: gpu_priority.txt)")
    g.add_argument("--models", type=int, default=None, help="K, runs trained per step (default: the benchmark's best)")
    g.add_argument("--bench-seconds", type=float, default=None,
                   help="the benchmark's budget (default: 10%% of the slot, at most 60; 0 skips it)")
    g.add_argument("--reserve-minutes", type=float, default=None,
                   help="kept for scoring and packing after training stops (default: 15%% of the slot)")
    g.add_argument("--stop-after-images", type=int, default=None,
                   help="stop every run there at the latest (an exact resume point)")
    g.add_argument("--max-mb", type=float, default=None,
                   help="the archive's size limit: weights and checkpoints beyond it are left out and listed")
    g.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    g.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="take only the I-th of every N runs still to train (N workers, one per core)")
    g.add_argument("--claim", action="store_true",
                   help="workers on one machine: read the list again before each run and take the first "
                        "missing run no other worker holds (a per-run lock); instead of --shard")
    g.add_argument("--no-archive", action="store_true",
                   help="store the runs here and pack nothing (a background worker on this machine)")
    g.set_defaults(func=_cmd_gpu_slot)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # the store's errors: a missing, corrupt or stale run, named
        from .store import StoreError

        if not isinstance(e, StoreError):
            raise
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
