"""The recipe study of issue 18: images to 60 / 90 / 95% accuracy on ``basic``, per recipe and seed.

    PYTHONPATH=lib python benchmarks/recipe_study.py train RECIPE --seed S   # one run (resumes)
    PYTHONPATH=lib python benchmarks/recipe_study.py queue RECIPE:S …        # several, in order
    PYTHONPATH=lib python benchmarks/recipe_study.py queue --until 64000 RECIPE:S …  # a screen
    PYTHONPATH=lib python benchmarks/recipe_study.py list                    # recipes and state
    PYTHONPATH=lib python benchmarks/recipe_study.py adopt v:0 v:1 v:2       # → the pipeline's v-stop runs

A run trains in segments of ``EVERY`` images (exact resume between them) and, after each, scores
its EMA model on 256 fixed training labels with a DDIM-25 (η = 1) sample per label and logs the
label-use gap (``compdiff.monitor``). It stops once two consecutive checks read ≥ 95%, or at the
recipe's cap. At the end the same 256 labels are sampled with DDIM-50, the judged sampler, and
both accuracies are kept: their agreement is measured on every run.

Each run writes ``benchmarks/recipe_runs/<recipe>-s<seed>.json`` (committed: the evidence);
weights stay in ``weights/recipe_study/`` (ignored by git). ``bench_recipe.py`` turns the records
into ``benchmarks/recipe.json`` and its table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "lib"))

from compdiff import experiments, monitor  # noqa: E402

RUNS = HERE / "recipe_runs"
SCRATCH = ROOT / "weights" / "recipe_study"
EVERY = 16_000
BAR = 0.95
CAP = 256_000
# a check samples only once the label-use gap is ≥ this at every noise level (experiments.StopRule's
# label_use): before that the accuracy is 0 in every run measured, and the sampling cost ~30%
LABEL_USE = 0.5


def _today(seed):
    # the recipe the study started from (the cpu default before issue 18's switch)
    return experiments.basic_config("cpu", seed=seed, recipe="wsd-eps")


def _constant(cfg, images=CAP):
    """cfg with a constant lr after its warmup, no decay, and a cap of ``images``: a run that stops
    when it converges cannot decay its lr towards an end it does not know."""
    return replace(cfg, train=replace(cfg.train, lr_schedule="constant", decay_images=0, images=images))


def _batch(cfg, b, lr):
    """cfg at batch ``b`` and ``lr``, its EMA half-life kept in images (decay^(b/64) per step)."""
    tr = cfg.train
    ema = None if tr.ema_decay is None else round(tr.ema_decay ** (b / tr.batch_size), 6)
    return replace(cfg, train=replace(tr, batch_size=b, lr=lr, ema_decay=ema))


def _film(cfg):
    return replace(cfg, unet=replace(cfg.unet, conditioning="film"))


def _diff(cfg, **kw):
    return replace(cfg, diffusion=replace(cfg.diffusion, **kw))


def _v(seed):
    return _constant(_diff(_today(seed), prediction="v", loss_weighting="none"))


def _cond_lr(cfg, mult):
    return replace(cfg, train=replace(cfg.train, cond_lr_mult=mult))


def _lr(cfg, lr):
    return replace(cfg, train=replace(cfg.train, lr=lr))


# name → (description, seed → BumpRunConfig)
RECIPES = {
    "today": ("the cpu profile's recipe before issue 18 (wsd-eps): ε-prediction, min-SNR-5, wsd lr (2e-3), 512k images", _today),
    "eps-minsnr-const": ("ε-prediction, min-SNR-5, constant lr 2e-3", lambda s: _constant(_today(s))),
    "v": ("v-prediction, plain v-MSE (x₀-error weight 1 + SNR), constant lr 2e-3",
          lambda s: _constant(_diff(_today(s), prediction="v", loss_weighting="none"))),
    "v-minsnr": ("v-prediction, min-SNR-5 (x₀-error weight min(SNR, 5)), constant lr 2e-3",
                 lambda s: _constant(_diff(_today(s), prediction="v", loss_weighting="min_snr"))),
    "eps-lognormal": ("ε-prediction, min-SNR-5, half of each batch's t log-normal at mid noise "
                      "(ln σ ~ N(0.5, 0.8²)), constant lr 2e-3",
                      lambda s: _constant(_diff(_today(s), t_sampling="lognormal"))),
    "v-lognormal": ("v-prediction, plain v-MSE, half of each batch's t log-normal at mid noise, constant lr 2e-3",
                    lambda s: _constant(_diff(_today(s), prediction="v", loss_weighting="none",
                                              t_sampling="lognormal"))),
    "v-film": ("v-prediction, plain v-MSE, FiLM conditioning (scale and shift), constant lr 2e-3",
               lambda s: _film(_constant(_diff(_today(s), prediction="v", loss_weighting="none")))),
    "eps-b16": ("ε-prediction, min-SNR-5, batch 16 (4× the updates per image), constant lr 1e-3 "
                "(√-scaled), EMA half-life kept in images",
                lambda s: _batch(_constant(_today(s)), 16, 1e-3)),
    "v-b16": ("v-prediction, plain v-MSE, batch 16, constant lr 1e-3, EMA half-life kept in images",
              lambda s: _batch(_constant(_diff(_today(s), prediction="v", loss_weighting="none")), 16, 1e-3)),
    "v-condlr10": ("v-prediction, plain v-MSE, constant lr 2e-3, the conditioning path (embedding MLP and "
                   "injection Linears) at 10× lr", lambda s: _cond_lr(_v(s), 10.0)),
    "v-condlr30": ("v-prediction, plain v-MSE, constant lr 2e-3, the conditioning path at 30× lr",
                   lambda s: _cond_lr(_v(s), 30.0)),
    "v-lr4e-3": ("v-prediction, plain v-MSE, constant lr 4e-3", lambda s: _lr(_v(s), 4e-3)),
    "v-film-condlr10": ("v-prediction, plain v-MSE, FiLM conditioning, the conditioning path at 10× lr",
                        lambda s: _cond_lr(_film(_v(s)), 10.0)),
    "eps-film": ("ε-prediction, min-SNR-5, FiLM conditioning (scale and shift), constant lr 2e-3",
                 lambda s: _film(_constant(_today(s)))),
}


def cpu_info() -> dict:
    from compdiff.query import cpu_info as read

    model, flags = read()
    keep = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return {"model": model or platform.processor(), "flags": keep}


def record_path(name: str, seed: int) -> Path:
    return RUNS / f"{name}-s{seed}.json"


def snapshot() -> list[Path]:
    """Write a record (``"finished": false``) for every run still in training, from its history so
    far: the evidence of an unfinished run, committed like the finished ones (they resume)."""
    import torch

    written = []
    for hist in sorted(SCRATCH.glob("*-s*/history.json")):
        name, seed = hist.parent.name.rsplit("-s", 1)
        path = record_path(name, int(seed))
        if name not in RECIPES or (path.exists() and json.loads(path.read_text()).get("finished")):
            continue
        desc, make = RECIPES[name]
        cfg = make(int(seed))
        rec = {"recipe": name, "description": desc, "seed": int(seed), "finished": False, "stopped": None,
               "config": {"diffusion": cfg.diffusion.to_dict(), "train": cfg.train.to_dict()},
               "bar": BAR, "every": EVERY, "cap": cfg.train.images,
               "history": json.loads(hist.read_text())["history"], "final_ddim50": None,
               "cpu": cpu_info(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
        RUNS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec, indent=1) + "\n")
        written.append(path)
    return written


def train_one(name: str, seed: int, until: int | None = None) -> dict | None:
    """Train one recipe and seed to its stop (or, with ``until``, pause it after the check at that
    many images: a screen; the record is then written by :func:`snapshot`)."""
    import torch

    from compdiff.diffusion import make_schedule  # noqa: F401  (torch only past this point)
    from compdiff.train import load_model

    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}")
    desc, make = RECIPES[name]
    cfg = make(seed)
    RUNS.mkdir(parents=True, exist_ok=True)
    path = record_path(name, seed)
    if path.exists() and json.loads(path.read_text()).get("finished"):
        print(f"{path.name}: already finished")
        return json.loads(path.read_text())
    scratch = SCRATCH / f"{name}-s{seed}"
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"== {name} seed {seed}: {desc} (torch threads {torch.get_num_threads()})", flush=True)
    log = lambda s: print(f"[{name} s{seed} {time.strftime('%H:%M:%S')}] {s}", flush=True)
    res = monitor.train_until(cfg, scratch, every=EVERY, bar=BAR, patience=2, device="cpu", log=log,
                              history_path=scratch / "history.json", until=until,
                              label_use=LABEL_USE)
    if res["stopped"] is None:
        snapshot()
        log(f"paused at {res['images']:,d} images (screen to {until:,d}) → {record_path(name, seed)}")
        return None
    model = load_model(scratch / "last.pt", which=cfg.eval.weights)
    ds, eval_labels, score = monitor.run_data(cfg)
    idx = monitor.fixed_subset(len(eval_labels), 256)
    t0 = time.perf_counter()
    judged = monitor.quick_accuracy(model, cfg, eval_labels[idx], score, steps=cfg.eval.steps)
    rec = {
        "recipe": name, "description": desc, "seed": seed, "finished": True, "stopped": res["stopped"],
        "config": {"diffusion": cfg.diffusion.to_dict(), "train": cfg.train.to_dict(),
                   "unet_preset": "tiny" if cfg.unet == experiments.basic_config("cpu").unet else "other"},
        "bar": BAR, "every": EVERY, "cap": cfg.train.images,
        "history": res["history"],
        "final_ddim50": {**judged, "seconds": time.perf_counter() - t0},
        "cpu": cpu_info(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    path.write_text(json.dumps(rec, indent=1) + "\n")
    log(f"done ({res['stopped']}): {res['images']:,d} images, DDIM-25 "
        f"{100 * res['history'][-1]['accuracy']:.1f}% vs DDIM-50 {100 * judged['accuracy']:.1f}% → {path}")
    return rec


def adopt(name: str, seed: int, recipe: str = "v-stop") -> Path:
    """Hand a study run to the pipeline as the ``basic`` run of the cpu ``recipe`` and ``seed``,
    when the two configs differ only in the cap (``train.images``) and the stop rule, and the lr is
    constant: then the cap does not enter the trajectory (``lr_at`` ignores it under a constant
    schedule; the batch order, t and noise come from the seed), so the study's checkpoints are the
    pipeline run's, bit for bit (tests/test_train.py checks this invariance). The checkpoints are
    copied into ``runs/basic/<run id>/`` with the target's spec written into them, and the study's
    checks become the run's stop history; the pipeline (``python -m compdiff train``, ``figure`` or
    a worker) then resumes it: it stops where the history says (at the bar) or trains on to the
    target's own bar or cap, and scores it. The study's checks drew samples at every check (no
    label-use gate), so the adopted history has accuracies where a gated run would have none."""
    import shutil

    import torch

    from compdiff import paths, store  # noqa: E402
    from compdiff.train import RunSpec, load_checkpoint

    desc, make = RECIPES[name]
    src_cfg = make(seed)
    dst = experiments.basic_config("cpu", seed=seed, recipe=recipe)
    if src_cfg.train.lr_schedule != "constant":
        raise SystemExit(f"{name}: lr_schedule {src_cfg.train.lr_schedule!r}: its cap enters the trajectory")
    same = replace(src_cfg, train=replace(src_cfg.train, images=dst.train.images), stop=dst.stop)
    if same != dst:
        raise SystemExit(f"{name} seed {seed} is not the basic run of recipe {recipe!r} but for its cap: "
                         f"{same} ≠ {dst}")
    if dst.train.images < src_cfg.train.images:
        raise SystemExit(f"{name}: the target's cap {dst.train.images} is below the study's {src_cfg.train.images}")
    scratch = SCRATCH / f"{name}-s{seed}"
    out = paths.runs_dir() / "basic" / store.run_id(dst)
    if out.exists():
        raise SystemExit(f"{out} exists: remove it first")
    spec = RunSpec(unet=dst.unet, diffusion=dst.diffusion, train=dst.train)
    tmp = out.with_name(out.name + ".adopting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    src_hash = json.loads((scratch / "run_spec.json").read_text())["spec_hash"]
    for ck in sorted(scratch.glob("*.pt")):
        d = load_checkpoint(ck)
        if d["spec_hash"] != src_hash:
            raise SystemExit(f"{ck}: spec hash {d['spec_hash']} ≠ its run's {src_hash}")
        d.update(spec=spec.to_dict(), spec_hash=spec.spec_hash(), adopted_from=f"recipe study {name} seed {seed}")
        torch.save(d, tmp / ck.name)
    for js in ("run_spec.json", "loss_curve.json"):
        d = json.loads((scratch / js).read_text())
        d["spec_hash"] = spec.spec_hash()
        if "spec" in d:
            d["spec"] = spec.to_dict()
        (tmp / js).write_text(json.dumps(d, indent=1))
    hist = json.loads((scratch / "history.json").read_text())
    hist["adopted_from"] = f"benchmarks/recipe_study.py {name} seed {seed} (checks sampled at every point)"
    (tmp / monitor.HISTORY).write_text(json.dumps(hist, indent=1))
    tmp.rename(out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("recipe")
    t.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("queue")
    q.add_argument("jobs", nargs="+", help="RECIPE:SEED …, trained one after another")
    q.add_argument("--until", type=int, default=None,
                   help="a screen: pause each run after its check at this many images (resumable)")
    ad = sub.add_parser("adopt", help="hand finished study runs to the pipeline as basic runs of a cpu recipe")
    ad.add_argument("jobs", nargs="+", help="RECIPE:SEED …")
    ad.add_argument("--recipe", default="v-stop", help="the cpu recipe (experiments.CPU_RECIPES) they are runs of")
    sub.add_parser("list")
    sub.add_parser("snapshot", help="write the records of the runs still training (finished: false)")
    a = ap.parse_args(argv)
    if a.cmd == "train":
        train_one(a.recipe, a.seed)
    elif a.cmd == "queue":
        for job in a.jobs:
            name, _, seed = job.partition(":")
            train_one(name, int(seed or 0), until=a.until)
    elif a.cmd == "adopt":
        for job in a.jobs:
            name, _, seed = job.partition(":")
            print(f"{job} → {adopt(name, int(seed or 0), a.recipe)}")
    elif a.cmd == "snapshot":
        for p in snapshot():
            print(f"wrote {p}")
    else:
        for name, (desc, _) in RECIPES.items():
            done = sorted(p.stem.rsplit("-s", 1)[1] for p in RUNS.glob(f"{name}-s*.json"))
            print(f"{name:20s} {desc}  [finished seeds: {', '.join(done) or 'none'}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
