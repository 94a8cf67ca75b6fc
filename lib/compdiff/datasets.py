"""What each experiment trains on and how its samples are scored: one registry entry per dataset.

:data:`DATASETS` maps a :class:`compdiff.experiments.ComposeRunConfig` ``dataset`` to the function
that builds its training set and its held-out region over the evaluation lattice;
:func:`compose_data` adds the evaluation labels, the regions and the scorer. :func:`bump_run_data`
does the same for the basic and periodic runs (2D bumps on the whole lattice). numpy only.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import data, evaluate


class Held(NamedTuple):
    """A training set and the evaluation labels it holds out (the ``ood`` region)."""

    ds: data.Dataset
    ood: np.ndarray


def _keep(cfg, labels):
    return data.subsample_mask(len(labels), cfg.keep_fraction, cfg.split_seed)


def _sos_cross(cfg, labels, offset, cross):
    return Held(data.sos_cross_dataset(cfg.sigma, cfg.n, cfg.d), cross["cross"])


def _stripes(cfg, labels, offset, cross):  # every 2D label is held out: the model saw only stripes
    ds = data.stripe_dataset(cfg.sigma, cfg.d, rim=cfg.rim, rim_keep_fraction=cfg.rim_keep_fraction,
                             rim_seed=cfg.split_seed)
    return Held(ds, np.ones(len(labels), bool))


def _sos_stripes(cfg, labels, offset, cross):
    return Held(data.sos_stripe_union_dataset(cfg.sigma, cfg.n, cfg.d), cross["cross"])


def _bump_stripes(cfg, labels, offset, cross):
    keep = _keep(cfg, labels)
    return Held(data.mixed_dataset(cfg.sigma, cfg.n, cfg.d, keep=keep, frame=cfg.frame, canvas=cfg.canvas), ~keep)


def _bump_subsample(cfg, labels, offset, cross):
    keep = _keep(cfg, labels)
    return Held(data.bump_dataset(cfg.sigma, cfg.n, cfg.d, holdout=~keep, frame=cfg.frame), ~keep)


def _bump_lesion(cfg, labels, offset, cross):
    hole = data.lesion_mask(labels, cfg.lesion_width)
    return Held(data.bump_dataset(cfg.sigma, cfg.n, cfg.d, holdout=hole), hole)


def _square(render):
    def build(cfg, labels, offset, cross):
        fn = data.interior_square_mask if cfg.hole == "interior" else data.exterior_square_mask
        hole = fn(labels, cfg.hole_width, offset=offset)
        return Held(render(cfg.sigma, cfg.n, cfg.d, holdout=hole), hole)
    return build


# dataset → (builder, whether its regions include the Fig 4 cross's three sections)
DATASETS: dict[str, tuple[Callable, bool]] = {
    "sos_cross": (_sos_cross, True),
    "stripes": (_stripes, True),
    "sos_stripes": (_sos_stripes, True),
    "bump_stripes": (_bump_stripes, False),
    "bump_subsample": (_bump_subsample, False),
    "bump_lesion": (_bump_lesion, False),
    "bump_hole": (_square(data.bump_dataset), False),
    "sos_hole": (_square(data.sos_dataset), False),
}


def compose_data(cfg):
    """(training set, evaluation labels, region masks over them, scorer) of a composition run.

    Evaluation labels: the frame lattice (latent units when ``cfg.canvas``). Regions: the
    held-out part (``ood``) and the rest (``id``); for the Fig 4 data also the cross's
    ``vertical``, ``horizontal`` and ``intersection`` sections."""
    build, with_cross = DATASETS[cfg.dataset]
    offset = data.frame_offset(cfg.frame, cfg.canvas)
    labels = data.lattice(cfg.n, cfg.d, start=offset).astype(np.float32)
    cross = data.cross_masks(labels, offset=offset)
    held = build(cfg, labels, offset, cross)
    masks = {"ood": held.ood, "id": ~held.ood}
    if with_cross:
        masks.update({k: cross[k] for k in ("vertical", "horizontal", "intersection")})
    tol = cfg.eval.tol
    if cfg.kind == "sos":
        def score(imgs, lab):
            return evaluate.sos_accuracy(imgs, lab, offset=offset, tol=tol)
    else:  # bumps in the frame (also the 2D part of mixed data): latent labels shift by offset
        def score(imgs, lab):
            return evaluate.bump_accuracy(imgs, lab, offset=offset, tol=tol)
    return held.ds, labels, masks, score


def bump_run_data(cfg):
    """(training set, evaluation labels, scorer) of a basic or periodic bump run: every label of
    the lattice is trained on and scored."""
    if cfg.periodic:
        ds = data.periodic_bump_dataset(cfg.sigma, cfg.n, cfg.d)
    else:
        ds = data.bump_dataset(cfg.sigma, cfg.n, cfg.d)
    eval_labels = data.lattice(cfg.n, cfg.d).astype(np.float32)

    def score(imgs, labels):
        return evaluate.bump_accuracy(imgs, labels, periodic=cfg.periodic, tol=cfg.eval.tol)

    return ds, eval_labels, score
