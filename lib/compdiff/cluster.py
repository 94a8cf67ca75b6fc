"""Dispatching a sweep's missing runs to a cluster with submitit (Slurm), or to its local executor.

The local batched trainer (:func:`compdiff.runs.get_sweep`) stays the default. This module only
splits the runs a sweep still lacks into jobs and hands each job to submitit. Every job calls
``get_sweep`` on its share of the runs, so a job trains, scores and stores its runs exactly as a
local sweep would. The store must be on a filesystem the nodes share. Its run locks keep two jobs
off the same run, and a killed job loses only the run in progress, so submitting again resumes.

    python -m compdiff train efficiency --profile paper --executor slurm --partition gpu \\
        --runs-per-job 8 --timeout-min 120

``submitit`` is an optional dependency (``pip install compdiff[cluster]``); it is pinned in
requirements.txt.
"""

from __future__ import annotations

from pathlib import Path

from . import experiments, paths, store

EXECUTORS = ("local", "slurm")


def _train_job(experiment: str, cfgs: dict, names: list, device: str) -> dict:
    """What one job runs: fill the store with ``names`` of ``cfgs``; returns {name: run id}."""
    from . import runs

    got = runs.get_sweep(experiment, cfgs, device=device, only=names, progress=False)
    return {n: got[n].run_id for n in names}


def missing_runs(experiment: str, cfgs: dict) -> list[str]:
    """Names of the runs of ``cfgs`` that the store lacks, one name per distinct config."""
    seen, out = set(), []
    for name, cfg in cfgs.items():
        rid = store.run_id(cfg)
        if rid in seen or store.lookup(experiment, cfg) is not None:
            continue
        seen.add(rid)
        out.append(name)
    return out


def make_executor(executor: str = "local", *, folder=None, timeout_min: int = 240, partition: str | None = None,
                  gpus_per_node: int = 0, cpus_per_task: int = 2, slurm_extra: dict | None = None):
    """A submitit executor: "local" (jobs run as subprocesses of this machine) or "slurm"."""
    experiments.check_choice("executor", executor, EXECUTORS)
    experiments.check_int("timeout_min", timeout_min, 1)
    experiments.check_int("gpus_per_node", gpus_per_node, 0)
    experiments.check_int("cpus_per_task", cpus_per_task, 1)
    try:
        import submitit
    except ImportError as e:  # pragma: no cover - submitit is pinned in requirements.txt
        raise ImportError("dispatching a sweep needs submitit: pip install submitit (pinned in "
                          "requirements.txt), or train locally without --executor") from e
    folder = Path(folder) if folder is not None else paths.runs_dir() / "submitit"
    if executor == "local":
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=timeout_min)
    else:
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = dict(timeout_min=timeout_min, gpus_per_node=gpus_per_node, cpus_per_task=cpus_per_task,
                      name="compdiff")
        if partition:
            params["slurm_partition"] = partition
        ex.update_parameters(**params, **{f"slurm_{k}" if not k.startswith("slurm_") else k: v
                                           for k, v in (slurm_extra or {}).items()})
    return ex


def submit_sweep(experiment: str, cfgs: dict, *, executor="local", runs_per_job: int = 1, device: str = "auto",
                 wait: bool = False, **executor_kwargs) -> list:
    """Submit the missing runs of ``cfgs`` (stored under ``experiment``) as jobs of at most
    ``runs_per_job`` runs each; ``executor`` is "local", "slurm" or a submitit executor. Returns
    the submitit jobs ([] when nothing is missing); ``wait`` blocks until every job has finished
    and raises the first job's error."""
    experiments.check_int("runs_per_job", runs_per_job, 1)
    if not store.training_allowed():
        raise store.MissingResultError("COMPDIFF_NO_TRAIN is set: nothing may be trained, so nothing is submitted")
    todo = missing_runs(experiment, cfgs)
    if not todo:
        return []
    ex = make_executor(executor, **executor_kwargs) if isinstance(executor, str) else executor
    chunks = [todo[i:i + runs_per_job] for i in range(0, len(todo), runs_per_job)]
    jobs = [ex.submit(_train_job, experiment, {n: cfgs[n] for n in chunk}, chunk, device) for chunk in chunks]
    if wait:
        for job in jobs:
            job.result()
    return jobs
