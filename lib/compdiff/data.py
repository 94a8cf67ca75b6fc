"""Images and labels: Gaussian bumps, stripes and sums of stripes (SOS); label lattices and splits.

Paper: spec §1.1 (data), Figs 1, 2, 4, 5, 6, 9, 10, 11, 12. numpy only.

Conventions (the one place they are stated; every other module refers here)
---------------------------------------------------------------------------
* **Layout.** An image is ``img[..., row, col]`` with row = y and col = x; a batch is
  ``(B, N, N)`` float32. The frame size N defaults to 32.
* **Pixel centres.** The pixel with 0-based index j has its centre at coordinate j, so the frame's
  pixel centres are 0, 1, …, N−1 (:data:`PIXEL_CENTRE_CONVENTION`). A label μ = (μx, μy) is a
  continuous coordinate in these units. The d = 1 lattice of a 32×32 frame is {0, …, 31}²
  (1024 labels), ``x`` varying fastest (:func:`lattice`).
* **Latent canvas** (Fig 9: the 32×32 frame embedded in a 44×44 latent space). Images are drawn on a
  canvas of C pixels whose pixel k has its centre at latent coordinate k, and the centred frame is
  cropped out: frame pixels are canvas pixels ``offset … offset + N − 1`` with
  ``offset = (C − N) / 2`` (6 for 44 / 32). So *frame coordinate = latent coordinate − offset*.
  When a function takes ``canvas``, labels are in latent units; with ``canvas=None`` they are in
  frame units (offset 0). (Evaluating the Gaussians at the frame's latent coordinates is exactly
  render-then-crop, without drawing the hidden margin.)
* **Intensity** (:data:`POLARITY`): bright on dark, background 0, bump peak 1, all in [0, 1].
  The DDPM works in [−1, 1]: :func:`to_model_range` (2x − 1) and :func:`from_model_range`.
* **Bump** (Fig 1): ``I = exp(−(x−μx)²/2σ² − (y−μy)²/2σ²)``. With ``periodic=True`` (Fig 2;
  frame only) differences wrap, ``Δ = ((u − μ + N/2) mod N) − N/2``: the bump lives on the N×N
  torus and μ, μ + N give the same image.
* **Stripe** (Figs 4, 9): a vertical stripe at μx is ``g(x; μx) = exp(−(x−μx)²/2σ²)`` in every
  row; a horizontal one likewise in y. Amplitude 1.
* **SOS** (sum of stripes): ``(g(x; μx) + g(y; μy)) / SOS_NORMALISATION`` with
  ``SOS_NORMALISATION = 2``, so the intersection is 1 and the background 0. Drawn on the canvas and
  cropped, so a label whose μy is far outside the frame shows only its vertical stripe ("1D", at
  amplitude 1/2) and one with both coordinates far outside is blank ("0D").
* **Mixed bump + stripe data** (Figs 4g, 5b, 9d; latent units): a 2D bump when both coordinates are
  in the frame, a vertical stripe at μx (amplitude 1) when only x is, a horizontal stripe when only
  y is, blank when neither is.
* **Visibility** of a latent coordinate u (:func:`visibility`): ``IN_FRAME`` if
  offset ≤ u ≤ offset + N − 1; ``RIM`` if outside the frame but within ``rim_sigmas·σ`` (default 3)
  of the nearest frame pixel centre, so its stripe leaves a trace at the border (Fig 10);
  ``HIDDEN`` otherwise.
* **Regions** (frame units, shifted by ``offset`` for latent labels): the held-out cross of Fig 4
  is 13 ≤ μ ≤ 19 on either axis; the interior square of Fig 12 is ``[16 − W/2, 16 + W/2)²``, the
  exterior one ``[N − W, N)²``; the lesion of Fig 11 is ``|μx − 16| < w/2``. Region tests allow a
  rounding slack of :data:`_EPS` so lattices like ``0.1·k`` land on the intended side.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PIXEL_CENTRE_CONVENTION = "0-based: pixel j is centred at coordinate j (frame centres 0…N−1)"
POLARITY = "bright bump (peak 1) on a dark background (0)"
BACKGROUND = 0.0
PEAK = 1.0
SOS_NORMALISATION = 2.0  # UNKNOWN in the paper: /2 keeps the SOS intersection at 1
STRIPE_AMPLITUDE = 1.0  # the stripes of the mixed bump + stripe data
DEFAULT_FRAME = 32
DEFAULT_CANVAS = 44
DEFAULT_RIM_SIGMAS = 3.0
CROSS_RANGE = (13.0, 19.0)  # Fig 4a: "except for the held-out range between 13 and 19"
FRAME_CENTRE = 16.0  # centre of the Fig 11 lesion and Fig 12 interior square (frame units)

HIDDEN, RIM, IN_FRAME = 0, 1, 2  # visibility classes
KINDS = ("bump", "sos", "mixed")
ORIENTATIONS = ("vertical", "horizontal")

_EPS = 1e-9
# Narrowest width a renderer accepts (px). A bump far narrower than a pixel is numerically a delta
# (it lights only a pixel whose centre it sits on); below ~1e-162 σ² underflows to 0 and
# exp(−0/0) would be NaN, so widths are bounded well above that. Above SIGMA_MAX an image is flat
# at 1 to float32 precision (and past ~1e154 σ² overflows).
SIGMA_MIN = 1e-3
SIGMA_MAX = 1e6


# ---------------------------------------------------------------------------------------------
# argument checks (each error names the argument and what is allowed)


def _is_number(value) -> bool:
    """A real scalar (Python, numpy or 0-d array), not a bool."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_sigma(sigma) -> float:
    if not _is_number(sigma) or not np.isfinite(sigma) or not SIGMA_MIN <= sigma <= SIGMA_MAX:
        raise ValueError(f"sigma = {sigma!r} must lie in [SIGMA_MIN, SIGMA_MAX] = [{SIGMA_MIN:g}, {SIGMA_MAX:g}] px")
    return float(sigma)


def _check_count(name: str, value) -> int:
    if not _is_number(value) or not np.isfinite(value) or int(value) != value or value < 1:
        raise ValueError(f"{name} = {value!r} must be a positive integer")
    return int(value)


def _check_frame(frame) -> int:
    return _check_count("frame", frame)


def frame_offset(frame: int = DEFAULT_FRAME, canvas: int | None = DEFAULT_CANVAS) -> int:
    """Offset of the centred frame in the latent canvas: (canvas − frame) / 2; 0 if no canvas."""
    frame = _check_frame(frame)
    if canvas is None:
        return 0
    if (not _is_number(canvas) or not np.isfinite(canvas) or int(canvas) != canvas
            or canvas < frame or (canvas - frame) % 2):
        raise ValueError(
            f"canvas = {canvas!r} must be an integer ≥ frame = {frame} with canvas − frame even"
        )
    return (int(canvas) - frame) // 2


def _check_coords(name: str, values) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    return arr


def check_labels(labels, name: str = "labels") -> np.ndarray:
    """Labels as a finite (M, 2) float64 array of (μx, μy); ValueError naming ``name`` otherwise."""
    arr = np.asarray(labels, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (M, 2) of (mu_x, mu_y), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    return arr


def _check_width(name: str, width, frame: int) -> float:
    if not _is_number(width) or not np.isfinite(width) or not 0 < width <= frame:
        raise ValueError(f"{name} = {width!r} must lie in (0, frame = {frame}]")
    return float(width)


def _pair(mu_x, mu_y) -> tuple[np.ndarray, np.ndarray]:
    mx, my = _check_coords("mu_x", mu_x), _check_coords("mu_y", mu_y)
    if mx.shape != my.shape:
        raise ValueError(f"mu_x and mu_y must have the same length, got {mx.shape} and {my.shape}")
    return mx, my


# ---------------------------------------------------------------------------------------------
# rendering


def to_model_range(x):
    """[0, 1] image intensities → the DDPM's [−1, 1] (2x − 1)."""
    return 2 * x - 1


def from_model_range(x):
    """The DDPM's [−1, 1] → [0, 1] intensities ((x + 1) / 2); no clipping."""
    return (x + 1) / 2


def _profile(mu: np.ndarray, sigma: float, frame: int, offset: int, periodic: bool) -> np.ndarray:
    """g(u; μ) at the frame's pixel centres (latent coordinates offset … offset+N−1): (B, N)."""
    u = offset + np.arange(frame, dtype=np.float64)
    delta = u[None, :] - mu[:, None]
    if periodic:
        delta = np.mod(delta + frame / 2, frame) - frame / 2
    return np.exp(-(delta**2) / (2 * sigma**2))


def render_bumps(mu_x, mu_y, sigma, *, frame=DEFAULT_FRAME, canvas=None, periodic=False):
    """2D Gaussian bumps (Fig 1) at labels (μx, μy): (B, frame, frame) float32.

    Labels are in latent units if ``canvas`` is given, else in frame units; ``periodic`` (Fig 2)
    wraps the bump on the frame's torus and needs ``canvas=None``.
    """
    mx, my = _pair(mu_x, mu_y)
    sigma, frame = _check_sigma(sigma), _check_frame(frame)
    offset = frame_offset(frame, canvas)
    if periodic and canvas is not None:
        raise ValueError("periodic=True draws on the frame's torus: canvas must be None")
    gx = _profile(mx, sigma, frame, offset, periodic)
    gy = _profile(my, sigma, frame, offset, periodic)
    return (gy[:, :, None] * gx[:, None, :]).astype(np.float32)


RENDER_TOL = 1e-3  # two widths whose lattice bumps differ by less than this (max pixel) draw the same data


def same_renderings(sigmas, *, frame: int = DEFAULT_FRAME, tol: float = RENDER_TOL) -> list[tuple]:
    """Pairs (σ₁, σ₂) of ``sigmas`` whose bumps on integer lattice centres render the same image
    to within ``tol`` (the largest pixel difference, intensities in [0, 1]). Below σ ≈ 0.3 a bump
    on an integer centre is one lit pixel (its neighbours at exp(−1/(2σ²)) ≤ 4e-3), so such widths
    are one data set under two names: σ = 0.1 and 0.25 differ by 3.4e-4."""
    sig = [float(_check_sigma(s)) for s in sigmas]
    c = float(frame // 2)
    imgs = [render_bumps(c, c, s, frame=frame)[0] for s in sig]
    return [(sig[i], sig[j]) for i in range(len(sig)) for j in range(i + 1, len(sig))
            if float(np.abs(imgs[i] - imgs[j]).max()) < tol]


def render_stripes(mu, sigma, orientation, *, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS):
    """1D Gaussian stripes of amplitude 1: ``orientation`` "vertical" (at x = μ) or "horizontal"."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation = {orientation!r}; allowed: {', '.join(ORIENTATIONS)}")
    mu = _check_coords("mu", mu)
    sigma, frame = _check_sigma(sigma), _check_frame(frame)
    g = STRIPE_AMPLITUDE * _profile(mu, sigma, frame, frame_offset(frame, canvas), False)
    out = np.empty((mu.size, frame, frame), dtype=np.float32)
    out[:] = g[:, None, :] if orientation == "vertical" else g[:, :, None]
    return out


def render_sos(mu_x, mu_y, sigma, *, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS):
    """Sums of stripes ``(g(x; μx) + g(y; μy)) / SOS_NORMALISATION`` (Figs 1, 4, 9)."""
    mx, my = _pair(mu_x, mu_y)
    sigma, frame = _check_sigma(sigma), _check_frame(frame)
    offset = frame_offset(frame, canvas)
    gx = _profile(mx, sigma, frame, offset, False)
    gy = _profile(my, sigma, frame, offset, False)
    return ((gx[:, None, :] + gy[:, :, None]) / SOS_NORMALISATION).astype(np.float32)


def render_bump_or_stripe(mu_x, mu_y, sigma, *, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS):
    """Mixed data (Figs 4g, 5b, 9d): a bump if both coordinates are in the frame, else the stripe of
    the one that is (amplitude 1), else blank."""
    mx, my = _pair(mu_x, mu_y)
    sigma, frame = _check_sigma(sigma), _check_frame(frame)
    offset = frame_offset(frame, canvas)
    gx = _profile(mx, sigma, frame, offset, False)
    gy = _profile(my, sigma, frame, offset, False)
    vis_x = in_frame(mx, frame=frame, offset=offset)[:, None]
    vis_y = in_frame(my, frame=frame, offset=offset)[:, None]
    # an out-of-frame coordinate is a factor 1 (leaving the other's stripe); neither → blank
    fx = np.where(vis_x, gx, 1.0)
    fy = np.where(vis_y, gy, 1.0)
    img = fy[:, :, None] * fx[:, None, :] * (vis_x | vis_y)[:, :, None]
    return (STRIPE_AMPLITUDE * img).astype(np.float32)


def render(kind, labels, sigma, *, frame=DEFAULT_FRAME, canvas=None, periodic=False):
    """Dispatch on ``kind`` ∈ {"bump", "sos", "mixed"} for labels of shape (B, 2)."""
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}; allowed: {', '.join(KINDS)}")
    labels = check_labels(labels)
    if periodic and kind != "bump":
        raise ValueError(f"periodic=True is only defined for kind='bump', not {kind!r}")
    mx, my = labels[:, 0], labels[:, 1]
    if kind == "bump":
        return render_bumps(mx, my, sigma, frame=frame, canvas=canvas, periodic=periodic)
    if kind == "sos":
        return render_sos(mx, my, sigma, frame=frame, canvas=canvas)
    return render_bump_or_stripe(mx, my, sigma, frame=frame, canvas=canvas)


# ---------------------------------------------------------------------------------------------
# visibility in the latent canvas


def in_frame(u, *, frame=DEFAULT_FRAME, offset=0.0) -> np.ndarray:
    """True where offset ≤ u ≤ offset + frame − 1 (its stripe crosses a frame pixel centre)."""
    u = np.asarray(u, dtype=np.float64)
    return (u >= offset - _EPS) & (u <= offset + frame - 1 + _EPS)


def visibility(
    u, sigma, *, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS, rim_sigmas=DEFAULT_RIM_SIGMAS
):
    """Class of each latent coordinate: ``IN_FRAME`` (2), ``RIM`` (1) or ``HIDDEN`` (0); int8 array.

    RIM = outside the frame but within ``rim_sigmas``·σ of the nearest frame pixel centre (Fig 10).
    """
    sigma, frame = _check_sigma(sigma), _check_frame(frame)
    if not np.isfinite(rim_sigmas) or rim_sigmas < 0:
        raise ValueError(f"rim_sigmas = {rim_sigmas!r} must be a finite number ≥ 0")
    offset = frame_offset(frame, canvas)
    u = np.asarray(u, dtype=np.float64)
    lo, hi = offset, offset + frame - 1
    gap = np.maximum(lo - u, u - hi)  # > 0 outside the frame: distance to the nearest centre
    out = np.full(u.shape, HIDDEN, dtype=np.int8)
    out[gap <= rim_sigmas * sigma + _EPS] = RIM
    out[in_frame(u, frame=frame, offset=offset)] = IN_FRAME
    return out


# ---------------------------------------------------------------------------------------------
# label lattices


def lattice(n: int, d: float = 1.0, start: float = 0.0) -> np.ndarray:
    """(n², 2) float64 labels (μx, μy) = start + d·(i, j), i, j = 0…n−1, x varying fastest."""
    n = _check_count("n", n)
    if not _is_number(d) or not np.isfinite(d) or not d > 0:
        raise ValueError(f"d = {d!r} must be a finite number > 0")
    if not _is_number(start) or not np.isfinite(start):
        raise ValueError(f"start = {start!r} must be finite")
    axis = start + d * np.arange(int(n), dtype=np.float64)
    xs, ys = np.meshgrid(axis, axis, indexing="xy")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _per_axis(extent: int, d: float, name: str) -> int:
    if not _is_number(d) or not np.isfinite(d) or not d > 0:
        raise ValueError(f"d = {d!r} must be a finite number > 0")
    n = int(round(extent / d))
    if n < 1 or abs(n * d - extent) > 1e-6:
        raise ValueError(f"d = {d!r} must divide {name} = {extent} into a whole number of steps")
    return n


def frame_lattice(d: float = 1.0, *, frame=DEFAULT_FRAME, canvas=None) -> np.ndarray:
    """The frame's lattice {0, d, …, frame − d}², in latent units when ``canvas`` is given."""
    frame = _check_frame(frame)
    return lattice(_per_axis(frame, d, "frame"), d, start=frame_offset(frame, canvas))


def canvas_lattice(d: float = 1.0, *, canvas=DEFAULT_CANVAS) -> np.ndarray:
    """The whole latent canvas {0, d, …, canvas − d}², latent units (Fig 9's 44×44 label space)."""
    return lattice(_per_axis(_check_frame(canvas), d, "canvas"), d)


# ---------------------------------------------------------------------------------------------
# splits: boolean masks over an (M, 2) label array


def cross_masks(
    labels, *, lo=CROSS_RANGE[0], hi=CROSS_RANGE[1], offset=0.0
) -> dict[str, np.ndarray]:
    """Fig 4's held-out cross lo ≤ μ ≤ hi (frame units; subtract ``offset`` for latent labels).

    Returns masks ``vertical`` (x in the band, y not), ``horizontal`` (y in, x not),
    ``intersection`` (both) and ``cross`` (their union).
    """
    labels = check_labels(labels)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"the cross band lo = {lo!r}, hi = {hi!r} must be finite with lo ≤ hi")
    f = labels - offset
    bx = (f[:, 0] >= lo - _EPS) & (f[:, 0] <= hi + _EPS)
    by = (f[:, 1] >= lo - _EPS) & (f[:, 1] <= hi + _EPS)
    return {"vertical": bx & ~by, "horizontal": by & ~bx, "intersection": bx & by, "cross": bx | by}


def _half_open(v: np.ndarray, a: float, b: float) -> np.ndarray:
    return (v >= a - _EPS) & (v < b - _EPS)


def interior_square_mask(labels, width, *, centre=FRAME_CENTRE, frame=DEFAULT_FRAME, offset=0.0):
    """Fig 12a: the W×W square ``[centre − W/2, centre + W/2)²`` (frame units)."""
    labels, frame = check_labels(labels), _check_frame(frame)
    w = _check_width("width", width, frame)
    f = labels - offset
    return _half_open(f[:, 0], centre - w / 2, centre + w / 2) & _half_open(
        f[:, 1], centre - w / 2, centre + w / 2
    )


def exterior_square_mask(labels, width, *, frame=DEFAULT_FRAME, offset=0.0):
    """Fig 12b: the W×W corner square ``[N − W, N)²`` (frame units)."""
    labels, frame = check_labels(labels), _check_frame(frame)
    w = _check_width("width", width, frame)
    f = labels - offset
    return _half_open(f[:, 0], frame - w, frame) & _half_open(f[:, 1], frame - w, frame)


def lesion_mask(labels, lesion_width, *, centre=FRAME_CENTRE, frame=DEFAULT_FRAME, offset=0.0):
    """Fig 11: the vertical lesion ``|μx − centre| < w/2`` (frame units)."""
    labels, frame = check_labels(labels), _check_frame(frame)
    w = _check_width("lesion_width", lesion_width, frame)
    return np.abs(labels[:, 0] - offset - centre) < w / 2 - _EPS


def stripe_label_masks(
    labels, sigma, *, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS, rim_sigmas=DEFAULT_RIM_SIGMAS
) -> dict[str, np.ndarray]:
    """Fig 10's label classes for latent labels (see :func:`visibility`).

    ``vertical_1d`` (x in frame, y hidden), ``horizontal_1d``, ``pure_1d`` (either);
    ``vertical_rim`` (x in frame, y in the rim), ``horizontal_rim``, ``rim`` (either);
    ``in_frame_2d`` (both in frame); ``no_frame`` (neither in frame: 0D or rim-only images).
    """
    labels = check_labels(labels)
    vx = visibility(labels[:, 0], sigma, frame=frame, canvas=canvas, rim_sigmas=rim_sigmas)
    vy = visibility(labels[:, 1], sigma, frame=frame, canvas=canvas, rim_sigmas=rim_sigmas)
    m = {
        "vertical_1d": (vx == IN_FRAME) & (vy == HIDDEN),
        "horizontal_1d": (vy == IN_FRAME) & (vx == HIDDEN),
        "vertical_rim": (vx == IN_FRAME) & (vy == RIM),
        "horizontal_rim": (vy == IN_FRAME) & (vx == RIM),
        "in_frame_2d": (vx == IN_FRAME) & (vy == IN_FRAME),
        "no_frame": (vx != IN_FRAME) & (vy != IN_FRAME),
    }
    m["pure_1d"] = m["vertical_1d"] | m["horizontal_1d"]
    m["rim"] = m["vertical_rim"] | m["horizontal_rim"]
    return m


def subsample_count(n: int, keep_fraction: float) -> int:
    """max(1, round(λ·n)), rounding halves up: the size of a λ-subsample of n labels."""
    n = _check_count("n", n)
    if not _is_number(keep_fraction) or not np.isfinite(keep_fraction) or not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction = {keep_fraction!r} must lie in (0, 1]")
    return max(1, int(np.floor(keep_fraction * n + 0.5)))


def subsample_mask(n: int, keep_fraction: float, seed: int) -> np.ndarray:
    """Exactly :func:`subsample_count` True entries among n, chosen by ``Generator(seed)``."""
    k = subsample_count(n, keep_fraction)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed = {seed!r} must be a non-negative integer")
    mask = np.zeros(int(n), dtype=bool)
    mask[np.random.default_rng(seed).permutation(int(n))[:k]] = True
    return mask


def rim_subsample_mask(masks: dict, keep_fraction: float, seed: int) -> np.ndarray:
    """Which rim labels a Fig 10 rim sweep keeps: a boolean mask over the labels of ``masks`` (those of
    :func:`stripe_label_masks`), True at :func:`subsample_count` of the ``vertical_rim`` labels and as
    many of the ``horizontal_rim`` ones (the share applies to each orientation, so both stay present),
    each drawn by a permutation of ``Generator((seed, orientation))``. For one seed a smaller share keeps
    a subset of a larger one's labels; never a 1D label."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed = {seed!r} must be a non-negative integer")
    out = np.zeros(len(masks["rim"]), dtype=bool)
    for i, part in enumerate(("vertical_rim", "horizontal_rim")):
        idx = np.flatnonzero(masks[part])
        if idx.size:
            k = subsample_count(idx.size, keep_fraction)
            out[idx[np.random.default_rng((int(seed), i)).permutation(idx.size)[:k]]] = True
    return out


# ---------------------------------------------------------------------------------------------
# training sets


class Dataset(NamedTuple):
    """A training set: labels (M, 2) float32, images (M, N, N) float32, and named boolean masks
    over its M labels (which part or region each label belongs to)."""

    labels: np.ndarray
    images: np.ndarray
    masks: dict


def _dataset(labels: np.ndarray, images: np.ndarray, masks: dict | None = None) -> Dataset:
    return Dataset(
        labels.astype(np.float32), images.astype(np.float32, copy=False), dict(masks or {})
    )


def _check_mask(name: str, mask, m: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (m,):
        raise ValueError(
            f"{name} must be a boolean array of shape ({m},), got {mask.dtype} {mask.shape}"
        )
    return mask


def periodic_bump_dataset(sigma=1.0, n=32, d=1.0, *, frame=DEFAULT_FRAME) -> Dataset:
    """Fig 2/3: periodic bumps on the n×n lattice of spacing d (frame units)."""
    labels = lattice(n, d)
    return _dataset(labels, render("bump", labels, sigma, frame=frame, periodic=True))


def bump_dataset(
    sigma=1.0, n=32, d=1.0, *, holdout=None, frame=DEFAULT_FRAME, canvas=None
) -> Dataset:
    """Figs 5a, 6, 11, 12: bumps on ``lattice(n, d, start=offset)`` minus ``holdout``.

    ``holdout`` is a boolean mask over that lattice (e.g. from :func:`lesion_mask`, or
    ``~subsample_mask(...)``); labels are in latent units when ``canvas`` is given.
    """
    labels = lattice(n, d, start=frame_offset(frame, canvas))
    if holdout is not None:
        labels = labels[~_check_mask("holdout", holdout, len(labels))]
    return _dataset(labels, render("bump", labels, sigma, frame=frame, canvas=canvas))


def sos_dataset(
    sigma=1.0, n=32, d=1.0, *, holdout=None, frame=DEFAULT_FRAME, canvas=DEFAULT_CANVAS
) -> Dataset:
    """Fig 12 (SOS variant): 2D SOS on the in-frame lattice minus ``holdout`` (latent units)."""
    labels = lattice(n, d, start=frame_offset(frame, canvas))
    if holdout is not None:
        labels = labels[~_check_mask("holdout", holdout, len(labels))]
    return _dataset(labels, render("sos", labels, sigma, frame=frame, canvas=canvas))


def sos_cross_dataset(
    sigma=1.0,
    n=32,
    d=1.0,
    *,
    lo=CROSS_RANGE[0],
    hi=CROSS_RANGE[1],
    frame=DEFAULT_FRAME,
    canvas=DEFAULT_CANVAS,
) -> Dataset:
    """Fig 4 model 1: 2D SOS on the in-frame lattice minus the held-out cross (latent units)."""
    offset = frame_offset(frame, canvas)
    cross = cross_masks(lattice(n, d, start=offset), lo=lo, hi=hi, offset=offset)["cross"]
    return sos_dataset(sigma, n, d, holdout=cross, frame=frame, canvas=canvas)


def stripe_dataset(
    sigma=1.0,
    d=1.0,
    *,
    rim=True,
    rim_sigmas=DEFAULT_RIM_SIGMAS,
    frame=DEFAULT_FRAME,
    canvas=DEFAULT_CANVAS,
    rim_keep_fraction=1.0,
    rim_seed=0,
) -> Dataset:
    """Figs 4b and 10: 1D SOS images (one stripe in frame, the other coordinate out of frame).

    Labels: the canvas lattice (spacing d, latent units) restricted to ``pure_1d`` labels, plus
    the ``rim`` labels if ``rim`` (Fig 10d–f): see :func:`stripe_label_masks`, whose masks are
    returned. ``rim_keep_fraction`` < 1 keeps only that share of the rim labels, drawn with
    ``rim_seed`` (:func:`rim_subsample_mask`; the rim sweep of Fig 10); every 1D label stays.
    """
    labels = canvas_lattice(d, canvas=canvas)
    masks = stripe_label_masks(labels, sigma, frame=frame, canvas=canvas, rim_sigmas=rim_sigmas)
    keep = masks["pure_1d"] | (masks["rim"] if rim else False)
    if rim_keep_fraction != 1.0:
        if not rim:
            raise ValueError(f"rim_keep_fraction = {rim_keep_fraction!r} needs rim=True (it is the share of "
                             "the rim labels kept)")
        keep &= ~masks["rim"] | rim_subsample_mask(masks, rim_keep_fraction, rim_seed)
    labels = labels[keep]
    names = ("vertical_1d", "horizontal_1d", "pure_1d", "vertical_rim", "horizontal_rim", "rim")
    return _dataset(
        labels,
        render("sos", labels, sigma, frame=frame, canvas=canvas),
        {k: masks[k][keep] for k in names},
    )


def concat_datasets(**parts: Dataset) -> Dataset:
    """Union of named training sets. Masks: one per part name (its rows), and every mask of a
    part carried over (False on the other parts' rows; same-named masks OR-ed). Labels are not
    deduplicated."""
    if not parts:
        raise ValueError("parts must name at least one dataset")
    sizes = [len(p.labels) for p in parts.values()]
    total, starts = sum(sizes), np.cumsum([0, *sizes])
    masks: dict[str, np.ndarray] = {}
    for (name, part), a, b in zip(parts.items(), starts[:-1], starts[1:], strict=True):
        rows = np.zeros(total, dtype=bool)
        rows[a:b] = True
        masks[name] = rows
        for key, m in part.masks.items():
            full = masks.setdefault(key, np.zeros(total, dtype=bool))
            full[a:b] |= m
    labels = np.concatenate([p.labels for p in parts.values()])
    images = np.concatenate([p.images for p in parts.values()])
    return _dataset(labels, images, masks)


def sos_stripe_union_dataset(
    sigma=1.0,
    n=32,
    d=1.0,
    *,
    rim=True,
    rim_sigmas=DEFAULT_RIM_SIGMAS,
    frame=DEFAULT_FRAME,
    canvas=DEFAULT_CANVAS,
) -> Dataset:
    """Fig 4 model 3: 2D SOS minus the cross (part ``sos_2d``) ∪ 1D stripes (part ``stripes``)."""
    return concat_datasets(
        sos_2d=sos_cross_dataset(sigma, n, d, frame=frame, canvas=canvas),
        stripes=stripe_dataset(
            sigma, d, rim=rim, rim_sigmas=rim_sigmas, frame=frame, canvas=canvas
        ),
    )


def mixed_dataset(
    sigma=1.0,
    n=32,
    d=1.0,
    *,
    keep=None,
    rim=False,
    rim_sigmas=DEFAULT_RIM_SIGMAS,
    frame=DEFAULT_FRAME,
    canvas=DEFAULT_CANVAS,
) -> Dataset:
    """Figs 4g, 5b: 2D bumps on the in-frame lattice where ``keep`` (e.g. :func:`subsample_mask`)
    plus amplitude-1 stripes at every 1D label (and rim label if ``rim``) of the canvas lattice.

    Parts ``bump_2d`` (bumps, even at lattice points past the last pixel centre) and ``stripe_1d``
    (rendered by :func:`render_bump_or_stripe`); latent units.
    """
    offset = frame_offset(frame, canvas)
    bumps = lattice(n, d, start=offset)
    if keep is not None:
        bumps = bumps[_check_mask("keep", keep, len(bumps))]
    stripes = canvas_lattice(d, canvas=canvas)
    sm = stripe_label_masks(stripes, sigma, frame=frame, canvas=canvas, rim_sigmas=rim_sigmas)
    stripes = stripes[sm["pure_1d"] | (sm["rim"] if rim else False)]
    return concat_datasets(
        bump_2d=_dataset(bumps, render("bump", bumps, sigma, frame=frame, canvas=canvas)),
        stripe_1d=_dataset(stripes, render("mixed", stripes, sigma, frame=frame, canvas=canvas)),
    )
