"""Read generated images back into positions and score them (spec §1.5; Figs 2, 4, 5, 6, 10–12).

Coordinates and layout follow :mod:`compdiff.data` (``img[..., row=y, col=x]``, pixel j centred at
j, latent = frame + offset). Images are expected in [0, 1] — convert the DDPM's [−1, 1] with
:func:`compdiff.data.from_model_range` first; values outside [0, 1] are tolerated (negative values
get no weight in centroids). numpy + scipy only; torch tensors are accepted and copied to numpy.

Accuracy of a bump sample (§1.5, INFERRED): exactly one bump, and its peak within ``tol`` (1 px) of
the label on each axis (wrap-around distance on the torus for periodic data). The peak is the
argmax refined by the intensity-weighted centroid of a ``window`` × ``window`` neighbourhood (5 by
default: §1.5's "3×3 (or 5×5)"; for σ = 1 the 5×5 centroid is within 0.05 px of a noiseless bump's
centre, the 3×3 one up to 0.23 px off). Near a non-periodic border the window shrinks symmetrically
around the argmax, so a bump at the edge is not pulled inwards. Bumps are counted as the connected
groups of local maxima of the lightly blurred image that exceed ``rel_threshold`` × its maximum;
an image whose maximum is below ``min_peak`` is blank (0 bumps).

Accuracy of an SOS sample: x̂ from the column profile (mean over rows), ŷ from the row profile, each
by argmax + centroid above the profile's median; a profile has a *clear* peak when its prominence
(max − median) is at least ``min_prominence`` and it has a single local maximum above half its
prominence. Only the coordinates visible in the frame are scored (1D images score one coordinate).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from . import data

DEFAULT_TOL = 1.0  # px, on each axis (the author's later code: "±1 pixel")
DEFAULT_WINDOW = 5
DEFAULT_BLUR_SIGMA = 0.5
DEFAULT_MIN_PEAK = 0.25  # an image whose max is below this is blank
DEFAULT_MIN_PROMINENCE = 0.1  # a profile peak lower than this above the median is not "clear"
STRIPE_CONTRAST = 0.5  # a stripe's cross profile must be < this × its own prominence


def _as_numpy(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _images(images, name: str = "images") -> np.ndarray:
    arr = _as_numpy(images, name).astype(np.float64, copy=False)
    if arr.ndim == 4 and arr.shape[1] == 1:  # (B, 1, N, N) from a single-channel model
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (B, N, N) or (B, 1, N, N), got {arr.shape}")
    return np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)


def _labels(labels, n: int, name: str = "labels") -> np.ndarray:
    labels = data.check_labels(_as_numpy(labels, name), name)
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} rows but images has {n}")
    return labels


def _check_window(window) -> int:
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f"window = {window!r} must be an odd positive integer")
    return int(window)


def _refine_1d(profiles: np.ndarray, idx: np.ndarray, radius: int, periodic: bool) -> np.ndarray:
    """Centroid of ``profiles`` (B, N) (weights clipped at 0) over idx ± radius, per row."""
    B, N = profiles.shape
    k = np.arange(-radius, radius + 1)
    pos = idx[:, None] + k[None, :]
    if periodic:
        valid = np.ones(pos.shape, bool)
    else:  # shrink the window symmetrically at the border
        r = np.minimum(radius, np.minimum(idx, N - 1 - idx))
        valid = np.abs(k)[None, :] <= r[:, None]
    w = np.where(valid, np.clip(profiles[np.arange(B)[:, None], pos % N], 0, None), 0.0)
    tot = w.sum(axis=1)
    shift = np.divide((w * k).sum(axis=1), tot, out=np.zeros(B), where=tot > 0)
    est = idx + shift
    return np.mod(est, N) if periodic else est


class Peaks(NamedTuple):
    """Per image: sub-pixel peak (x, y) in frame units, number of bumps, and the maximum value."""

    x: np.ndarray
    y: np.ndarray
    n_bumps: np.ndarray
    max_value: np.ndarray


def find_peaks(
    images,
    *,
    periodic=False,
    rel_threshold=0.5,
    blur_sigma=DEFAULT_BLUR_SIGMA,
    window=DEFAULT_WINDOW,
    min_peak=DEFAULT_MIN_PEAK,
) -> Peaks:
    """Peak position and bump count of each image (B, N, N) (spec §1.5); see the module docstring.

    Periodic positions are reduced to [0, N)."""
    img = _images(images)
    window = _check_window(window)
    if not 0 <= rel_threshold < 1:
        raise ValueError(f"rel_threshold = {rel_threshold!r} must lie in [0, 1)")
    if not blur_sigma >= 0:
        raise ValueError(f"blur_sigma = {blur_sigma!r} must be ≥ 0")
    B, N, _ = img.shape
    mode = "wrap" if periodic else "nearest"
    blurred = (
        ndimage.gaussian_filter(img, sigma=(0, blur_sigma, blur_sigma), mode=mode)
        if blur_sigma
        else img
    )
    # locate on the blurred image (a lone noisy pixel does not win), then take the raw argmax of
    # its 3×3 neighbourhood (blurring near a border shifts the maximum) and refine on the raw image
    iy, ix = np.divmod(blurred.reshape(B, -1).argmax(axis=1), N)
    dy, dx = (a.ravel() for a in np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij"))
    cy, cx = iy[:, None] + dy, ix[:, None] + dx  # (B, 9)
    cy, cx = (cy % N, cx % N) if periodic else (np.clip(cy, 0, N - 1), np.clip(cx, 0, N - 1))
    best = img[np.arange(B)[:, None], cy, cx].argmax(axis=1)
    iy, ix = cy[np.arange(B), best], cx[np.arange(B), best]
    r = window // 2
    # the 2D centroid over the window = 1D centroids of the window's row and column sums
    k = np.arange(-r, r + 1)
    near_rows = np.take_along_axis(img, ((iy[:, None] + k) % N)[:, :, None], axis=1)  # (B, w, N)
    near_cols = np.take_along_axis(img, ((ix[:, None] + k) % N)[:, None, :], axis=2)  # (B, N, w)
    if not periodic:  # shrink symmetrically at the border in the other axis too (_refine_1d)
        ry = np.minimum(r, np.minimum(iy, N - 1 - iy))
        rx = np.minimum(r, np.minimum(ix, N - 1 - ix))
        near_rows = near_rows * (np.abs(k)[None, :] <= ry[:, None])[:, :, None]
        near_cols = near_cols * (np.abs(k)[None, :] <= rx[:, None])[:, None, :]
    x = _refine_1d(np.clip(near_rows, 0, None).sum(axis=1), ix, r, periodic)
    y = _refine_1d(np.clip(near_cols, 0, None).sum(axis=2), iy, r, periodic)

    local_max = blurred == ndimage.maximum_filter(blurred, size=(1, 3, 3), mode=mode)
    top = blurred.reshape(B, -1).max(axis=1)
    strong = local_max & (blurred > rel_threshold * top[:, None, None])
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # 8-connected within an image, never across the batch
    lab, n_lab = ndimage.label(strong, structure=structure)
    owner = np.zeros(n_lab + 1, np.int64)
    b_idx = np.nonzero(lab)[0]
    owner[lab[lab > 0]] = b_idx
    counts = np.bincount(owner[1:], minlength=B) if n_lab else np.zeros(B, np.int64)
    peak = img.reshape(B, -1).max(axis=1)
    counts = np.where(peak >= min_peak, counts, 0)
    return Peaks(x, y, counts.astype(np.int64), peak)


class SOSReading(NamedTuple):
    """Per image: x̂ (column profile) and ŷ (row profile) in frame units, whether each profile has a
    single clear peak, and each profile's prominence (max − median)."""

    x: np.ndarray
    y: np.ndarray
    x_clear: np.ndarray
    y_clear: np.ndarray
    x_prominence: np.ndarray
    y_prominence: np.ndarray


def _read_profile(p: np.ndarray, window: int, min_prominence: float):
    B, N = p.shape
    base = np.median(p, axis=1, keepdims=True)
    q = p - base
    idx = q.argmax(axis=1)
    est = _refine_1d(q, idx, window // 2, periodic=False)
    prom = q.max(axis=1)
    # local maxima (plateaus count once) above half the prominence
    padded = np.pad(q, ((0, 0), (1, 1)), mode="edge")
    is_max = (q >= padded[:, :-2]) & (q >= padded[:, 2:]) & (q > 0.5 * prom[:, None])
    starts = is_max & ~np.pad(is_max, ((0, 0), (1, 0)))[:, :-1]
    clear = (prom >= min_prominence) & (starts.sum(axis=1) == 1)
    return est, clear, prom


def read_sos(images, *, window=DEFAULT_WINDOW, min_prominence=DEFAULT_MIN_PROMINENCE) -> SOSReading:
    """Read (x̂, ŷ) of sum-of-stripes images (B, N, N) from their column and row profiles (§1.5)."""
    img = _images(images)
    window = _check_window(window)
    x, xc, xp = _read_profile(img.mean(axis=1), window, min_prominence)  # mean over rows → f(x)
    y, yc, yp = _read_profile(img.mean(axis=2), window, min_prominence)
    return SOSReading(x, y, xc, yc, xp, yp)


class BumpScore(NamedTuple):
    """Per sample: correct, the estimates (x̂, ŷ) in label units, and the bump count."""

    correct: np.ndarray
    x: np.ndarray
    y: np.ndarray
    n_bumps: np.ndarray


def bump_accuracy(
    images, labels, *, offset=0.0, periodic=False, tol=DEFAULT_TOL, **peak_kwargs
) -> BumpScore:
    """Per-sample correctness of bump images against labels (§1.5). ``offset`` converts latent
    labels (frame = latent − offset); ``peak_kwargs`` go to :func:`find_peaks`."""
    img = _images(images)
    lab = _labels(labels, len(img))
    pk = find_peaks(img, periodic=periodic, **peak_kwargs)
    x, y = pk.x + offset, pk.y + offset
    period = img.shape[-1] if periodic else None
    ok = (
        (pk.n_bumps == 1)
        & (_wrap(x - lab[:, 0], period) <= tol)
        & (_wrap(y - lab[:, 1], period) <= tol)
    )
    return BumpScore(ok, x, y, pk.n_bumps)


def _wrap(delta: np.ndarray, period) -> np.ndarray:
    """|delta|, or its distance on a circle of ``period`` when given."""
    if period is None:
        return np.abs(delta)
    return np.abs(np.mod(delta + period / 2, period) - period / 2)


class SOSScore(NamedTuple):
    """Per sample: x / y correctness (False where that coordinate is not scored), which coordinates
    are scored (visible in the frame), the joint result over the scored ones, and the estimates."""

    x_correct: np.ndarray
    y_correct: np.ndarray
    correct: np.ndarray
    x_scored: np.ndarray
    y_scored: np.ndarray
    x: np.ndarray
    y: np.ndarray


def sos_accuracy(
    images, labels, *, offset=6.0, tol=DEFAULT_TOL, check_hidden=False, **read_kwargs
) -> SOSScore:
    """Per-sample correctness of SOS images (Figs 4, 10, 12). Labels in latent units (``offset``).

    A coordinate in the frame (:func:`compdiff.data.in_frame`) is correct if its profile has a clear
    peak within ``tol``; the joint result needs every visible coordinate right. With
    ``check_hidden`` a hidden coordinate must also show *no* clear peak (by default it is ignored,
    so a label with neither coordinate in frame is vacuously correct)."""
    img = _images(images)
    lab = _labels(labels, len(img))
    N = img.shape[-1]
    rd = read_sos(img, **read_kwargs)
    x, y = rd.x + offset, rd.y + offset
    xs = data.in_frame(lab[:, 0], frame=N, offset=offset)
    ys = data.in_frame(lab[:, 1], frame=N, offset=offset)
    xc = xs & rd.x_clear & (np.abs(x - lab[:, 0]) <= tol)
    yc = ys & rd.y_clear & (np.abs(y - lab[:, 1]) <= tol)
    x_ok = np.where(xs, xc, ~rd.x_clear if check_hidden else True)
    y_ok = np.where(ys, yc, ~rd.y_clear if check_hidden else True)
    return SOSScore(xc, yc, x_ok & y_ok, xs, ys, x, y)


def mixed_accuracy(images, labels, *, offset=6.0, tol=DEFAULT_TOL, **peak_kwargs) -> np.ndarray:
    """Per-sample correctness of mixed bump / stripe images (Figs 4g, 5b): a label with both
    coordinates in frame must be a correct bump (:func:`bump_accuracy`); one with only x in frame
    a vertical stripe — a clear column-profile peak within ``tol`` of μx and a row profile flatter
    than :data:`STRIPE_CONTRAST` × that peak (so a bump does not pass) — and likewise for y; one
    with neither must be blank (maximum below ``min_peak``)."""
    img = _images(images)
    lab = _labels(labels, len(img))
    N = img.shape[-1]
    xs = data.in_frame(lab[:, 0], frame=N, offset=offset)
    ys = data.in_frame(lab[:, 1], frame=N, offset=offset)
    bump = bump_accuracy(img, lab, offset=offset, tol=tol, **peak_kwargs).correct
    rd = read_sos(img)
    vert = (
        rd.x_clear
        & (np.abs(rd.x + offset - lab[:, 0]) <= tol)
        & (rd.y_prominence < STRIPE_CONTRAST * rd.x_prominence)
    )
    horiz = (
        rd.y_clear
        & (np.abs(rd.y + offset - lab[:, 1]) <= tol)
        & (rd.x_prominence < STRIPE_CONTRAST * rd.y_prominence)
    )
    blank = img.reshape(len(img), -1).max(axis=1) < peak_kwargs.get("min_peak", DEFAULT_MIN_PEAK)
    return np.select([xs & ys, xs, ys], [bump, vert, horiz], default=blank)


def accuracy_by_set(correct, masks) -> dict[str, float]:
    """Mean of ``correct`` over each named mask (ID, OOD, regions…), plus ``overall`` (all samples)
    unless a mask of that name is given. An empty set gives NaN."""
    correct = np.asarray(_as_numpy(correct, "correct"), dtype=bool)
    if correct.ndim != 1:
        raise ValueError(f"correct must be 1-D, got shape {correct.shape}")
    out = {}
    for name, mask in {"overall": np.ones(correct.shape, bool), **masks}.items():
        mask = np.asarray(_as_numpy(mask, name))
        if mask.dtype != bool or mask.shape != correct.shape:
            raise ValueError(
                f"masks[{name!r}] must be a boolean array of shape {correct.shape}, "
                f"got {mask.dtype} {mask.shape}"
            )
        out[name] = float(correct[mask].mean()) if mask.any() else float("nan")
    return out


class NearestTrain(NamedTuple):
    """Per sample: RMS-per-pixel distance to the nearest training image, and that image's index."""

    distance: np.ndarray
    index: np.ndarray


def nearest_train_distance(samples, train_images, *, chunk=256) -> NearestTrain:
    """Memorisation measure: for each sample, the RMS (per pixel) L2 distance to its nearest
    training image. Computed as |a|² + |b|² − 2a·b in float64, ``chunk`` samples at a time, so
    only a (chunk × M) matrix is ever held."""
    s = _as_numpy(samples, "samples")
    t = _as_numpy(train_images, "train_images")
    if s.ndim < 2 or t.ndim < 2 or s.shape[1:] != t.shape[1:]:
        raise ValueError(
            f"samples {s.shape} and train_images {t.shape} must be (B, ...) and (M, ...) "
            "with equal image shapes"
        )
    if len(t) == 0:
        raise ValueError("train_images must hold at least one image")
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk = {chunk!r} must be a positive integer")
    s = s.reshape(len(s), -1).astype(np.float64)
    t = t.reshape(len(t), -1).astype(np.float64)
    t_sq = (t**2).sum(axis=1)
    dist = np.empty(len(s))
    index = np.empty(len(s), np.int64)
    for a in range(0, len(s), int(chunk)):
        blk = s[a : a + int(chunk)]
        d2 = (blk**2).sum(axis=1)[:, None] + t_sq[None, :] - 2 * blk @ t.T
        j = d2.argmin(axis=1)
        index[a : a + len(blk)] = j
        dist[a : a + len(blk)] = np.sqrt(np.maximum(d2[np.arange(len(blk)), j], 0) / s.shape[1])
    return NearestTrain(dist, index)
