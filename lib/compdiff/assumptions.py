"""Every choice the paper does not state: one row each, with the config field that holds it.

The book's assumptions page (``book/assumptions.md``) is generated from this list by
``python -m compdiff assumptions`` (``make book`` runs it), and a test checks the committed page is
current, so the page can never drift from the code. Values are read from the configs themselves.

Tags follow ``shared/paper/spec.md``: INFERRED (our reconstruction, consistent with what is stated)
and UNKNOWN (not recoverable; a default so work can go ahead).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    topic: str
    field: str  # "module:expression" evaluated in compdiff.<module>
    tag: str  # INFERRED | UNKNOWN
    why: str
    figures: str = ""

    def value(self):
        module, expr = self.field.split(":", 1)
        mod = importlib.import_module(f"compdiff.{module}")
        return eval(expr, {"__builtins__": {}}, vars(mod))  # expressions are ours, written below


ROWS: list[Assumption] = [
    # -- data (spec §1.1)
    Assumption("Pixel-centre convention", "data:PIXEL_CENTRE_CONVENTION", "INFERRED",
               "The predecessor paper puts pixel centres on integer coordinates; we use 0-based centres "
               "0…N−1 in generator and detector alike.", "all"),
    Assumption("Intensity polarity", "data:POLARITY", "UNKNOWN",
               "The author's later code draws dark bumps; we draw bright bumps on black, in [0, 1], "
               "mapped to [−1, 1] for the DDPM.", "all"),
    Assumption("SOS normalisation", "data:SOS_NORMALISATION", "UNKNOWN",
               "Dividing the sum of stripes by 2 keeps the intersection at 1 and the background at 0.", "1, 4, 9, 10, 12"),
    Assumption("Bump / stripe width σ (px)", "experiments:DataConfig().sigma", "INFERRED",
               "The author's later code uses σ = 1 throughout; Fig 6 sweeps σ.", "1, 2, 4, 5, 9–12"),
    Assumption("Latent frame placement (offset, px)", "experiments:DataConfig().offset", "INFERRED",
               "The 32×32 frame is centred in the 44×44 latent canvas: frame = latent − 6, a margin ≥ 3σ for σ ≤ 2.", "4, 9, 10"),
    Assumption("Rim band width (in σ)", "experiments:DataConfig().rim_sigmas", "INFERRED",
               "A hidden coordinate within 3σ of the frame leaves a visible trace of its stripe: those "
               "labels are the 'rim' of 2D examples of Fig 10.", "10"),
    Assumption("Fig 1 example centre", "experiments:DataConfig().example_mu", "INFERRED",
               "The caption shows one bump and one SOS; we centre them.", "1"),
    # -- percolation (spec §1.7)
    Assumption("Overlap of two bumps", "experiments:PercolationConfig().overlap", "INFERRED",
               "Normalised inner product of two continuous Gaussians, exp(−d²/4σ²); the pixel cosine "
               "of rendered images is drawn beside it in Fig 6b.", "6, 13, 14"),
    Assumption("Mass-ratio denominator", "experiments:PercolationConfig().denominator", "INFERRED",
               "Largest cluster divided by the number of kept sites, so a fully connected sample scores 1 "
               "at every λ.", "6, 13, 14"),
    Assumption("Percolation lattice (L, spacing d)", "experiments:(PercolationConfig().L, PercolationConfig().d)", "INFERRED",
               "The simulated lattice is the 32×32, d = 1 training lattice.", "6, 13, 14"),
    Assumption("σ values of Figs 6, 13, 14", "experiments:PercolationConfig().sigmas", "INFERRED",
               "Fig 6e's legend is not recoverable; the list must contain σ = 0.1 (Fig 6d).", "6, 13, 14"),
    Assumption("λ grid", "experiments:PercolationConfig().keep_fractions", "INFERRED", "Steps of 0.05 from 0.05 to 1.", "6, 13, 14"),
    Assumption("Fig 13 thresholds", "experiments:PercolationConfig().thresholds", "INFERRED",
               "The caption says 'different overlap thresholds'; we span 0.5 to 0.001, including the "
               "stated 0.005 (Fig 6c) and 0.05 (Fig 14b).", "13"),
    Assumption("Random draws per (σ, λ)", "experiments:PercolationConfig().trials", "INFERRED",
               "Enough for a smooth curve at L = 32 (cpu profile; the paper profile uses 200).", "6, 13, 14"),
    # -- model (spec §1.2)
    Assumption("UNet of the paper profile", "unet:(PRESETS['paper'].base_channels, PRESETS['paper'].channel_mults, PRESETS['paper'].bottleneck_mult)", "INFERRED",
               "The widely copied 3-level conditional UNet (64→128→256→256, bottleneck 512) matches the "
               "Fig 7 description; its width is not stated.", "7 and every model"),
    Assumption("Self-attention resolutions (paper profile)", "unet:PRESETS['paper'].attention_resolutions", "INFERRED",
               "'Interlaced self-attention': after every down and up block.", "7"),
    Assumption("Sinusoidal encoding width per variable", "unet:PRESETS['paper'].emb_dim_per_var", "INFERRED",
               "Concatenated encodings of t, μx, μy (stated); 256 dimensions each is ours.", "7"),
    Assumption("Label scaling before the encoding", "unet:PRESETS['paper'].label_scale", "UNKNOWN",
               "Raw μ in pixels, like the timestep.", "all models"),
    Assumption("UNet of the cpu profile", "experiments:(basic_config('cpu').unet.base_channels, basic_config('cpu').unet.channel_mults, basic_config('cpu').unet.attention_resolutions)", "INFERRED",
               "The same shape at a width a 2-core CPU trains in tens of minutes (MEASURED.md), "
               "with a small conditioning MLP.", "all cpu models"),
    Assumption("Representation read out", "experiments:REPRESENTATION_LAYER", "INFERRED",
               "The predecessor paper analyses 'layer 4' outputs; we read the bottleneck.", "2, 3, 8, 11, 15"),
    Assumption("Where the representation is read", "experiments:(RepresentationConfig().steps, RepresentationConfig().eta, RepresentationConfig().seed)", "UNKNOWN",
               "One shared noise image for every label, carried down a DDIM chain (steps, η, noise seed); "
               "the bottleneck is read at its last step t = 0, and for the final model also at t = T−1 and "
               "mid-chain (Fig 2 prints the sensitivity).", "2, 3, 8"),
    Assumption("Periodic model snapshots (cpu profile, images seen)", "experiments:periodic_config('cpu').train.checkpoint_every_images", "INFERRED",
               "The paper shows epoch 0, 150 and the terminal epoch; we snapshot after the first epoch, through "
               "the middle and at the end of the cpu budget (375 epochs of 1024 images).", "2, 3, 8"),
    Assumption("Ideal tori embedding noise (fraction of the RMS radius)", "geometry:0.01", "INFERRED",
               "The spec's 1% noise, so the reference histograms of Fig 3 have width; the embedding map is a "
               "random orthogonal one.", "2, 3"),
    # -- diffusion (spec §1.3)
    Assumption("Diffusion steps T", "diffusion:DiffusionConfig().T", "UNKNOWN", "The DDPM default (Ho et al. 2020).", "all models"),
    Assumption("Noise schedule", "diffusion:(DiffusionConfig().schedule, DiffusionConfig().beta_start, DiffusionConfig().beta_end)", "UNKNOWN",
               "Linear β, the DDPM default.", "all models"),
    Assumption("Loss", "diffusion:(DiffusionConfig().prediction, DiffusionConfig().loss_weighting)", "UNKNOWN",
               "ε-prediction with the plain MSE.", "all models"),
    # -- training (spec §1.4)
    Assumption("Optimiser and learning rate (paper profile)", "experiments:(basic_config('paper').train.lr, basic_config('paper').train.batch_size)", "UNKNOWN",
               "AdamW at 3e-4, batch 64: the defaults of the code the architecture follows.", "all models"),
    Assumption("Training budget (paper profile, images seen)", "experiments:basic_config('paper').train.images", "INFERRED",
               "Fig 2 shows a checkpoint at epoch 150 before the terminal one: 300 epochs of 1024 images.", "2, 7"),
    Assumption("CPU recipe (lr, schedule, loss weighting, EMA, images seen)", "experiments:(basic_config('cpu').train.lr, basic_config('cpu').train.lr_schedule, basic_config('cpu').train.decay_images, basic_config('cpu').diffusion.loss_weighting, basic_config('cpu').train.ema_decay, basic_config('cpu').train.images)", "INFERRED",
               "The prototype's lr, batch and EMA (MEASURED.md) with min-SNR-5 loss weighting (Hang et al. "
               "2023), which moves the loss towards the noisy steps where the label matters, and a "
               "warmup-stable-decay lr: constant, then linear to 0 over the last 128k images, which settles "
               "where the bump is placed. A cosine decay with plain ε-MSE never taught the tiny model the "
               "label in 320k images (0.1%); a constant lr reached 78% at 384k, most misses a bump > 1 px off "
               "(benchmarks/RESULTS.md). Not the paper's (its loss and schedule are UNKNOWN). Samples use "
               "the EMA weights.", "4, 7, 10, 11, 12"),
    Assumption("Periodic model budget and lr (cpu profile)", "experiments:(periodic_config('cpu').train.images, periodic_config('cpu').train.lr_schedule)", "INFERRED",
               "The cpu recipe without its final lr decay (the run was made before the decay was adopted): "
               "its accuracy is on the Fig 2 page.", "2, 3, 8"),
    Assumption("Stored representation (principal components kept)", "experiments:RepresentationConfig().stored_components", "INFERRED",
               "A storage choice, not an analysis one: clouds are stored as scores on their top principal "
               "directions (the share of variance kept is stored too); every Fig 2, 3, 8 measure is "
               "invariant to that centring and rotation.", "2, 3, 8"),
    Assumption("Composition models' budget (cpu profile, images seen)", "experiments:COMPOSE_CPU_IMAGES", "INFERRED",
               "Three quarters of the basic run's budget, the lr falling over the last quarter, so that the "
               "sweep of Figs 4, 10, 11, 12 fits a sitting; the basic run's recipe and UNet.", "4, 10, 11, 12"),
    Assumption("Fig 4g subsampling rates (cpu profile)", "experiments:COMPOSE_GRIDS['cpu'].keep_fractions", "INFERRED",
               "The spec suggests 100% down to 1%; two rates on a CPU.", "4"),
    Assumption("Fig 11 lesion widths and lattice (cpu profile)", "experiments:(COMPOSE_GRIDS['cpu'].lesion_widths, ComposeRunConfig.d)", "INFERRED",
               "The caption's three UMAP widths, on the d = 1 lattice (the spec suggests d = 0.5 for a finer "
               "sweep; 4× the labels).", "11"),
    Assumption("Fig 12 hole widths W (cpu profile)", "experiments:COMPOSE_GRIDS['cpu'].hole_widths", "INFERRED",
               "The spec suggests W ∈ {2, …, 16}; two widths on a CPU. Interior = centred at (16, 16), "
               "exterior = the corner [32 − W, 32)² (the author's later code has these two modes).", "12"),
    Assumption("Fig 6e grid: σ and λ (cpu profile)", "experiments:(EFFICIENCY_GRIDS['cpu'].sigmas, EFFICIENCY_GRIDS['cpu'].keep_fractions)", "INFERRED",
               "The spec suggests σ ∈ {0.1, 0.25, 0.5, 0.75, 1, 1.5} and λ in steps of 0.1; on a CPU four σ whose "
               "simulated λ_c spread from never (0.1) to 0.05 (1.0), and six λ, denser where they jump.", "6, 14, 15"),
    Assumption("Fig 5 grid: N and subsampling shares (cpu profile)", "experiments:(EFFICIENCY_GRIDS['cpu'].frame_sizes, EFFICIENCY_GRIDS['cpu'].bump_keep_fractions, EFFICIENCY_GRIDS['cpu'].mixed_keep_fractions)", "INFERRED",
               "The spec suggests N ∈ {16, 24, 32, 40, 48}; three N on a CPU. The 2D-only shares are the "
               "Fig 6e λ grid (its σ = 1 column is Fig 5a's N = 32 curve); the mixed shares go lower, "
               "since the stripes carry most of the factors.", "5"),
    Assumption("UNet and budget at other image sizes N (attention resolutions at N = 16)",
               "experiments:unet_at(compose_base('cpu', 0)['unet'], 16).attention_resolutions", "INFERRED",
               "The same UNet at every N, its attention at the same levels (resolutions scaled by N/32), "
               "and the composition budget (COMPOSE_CPU_IMAGES images) at every N, share and σ. The budget "
               "counts images seen, not epochs: at N = 32 a model trained on the whole lattice (λ = 1) passes "
               "over each label 375 times, one at λ = 0.2 five times as often.", "5, 6, 14, 15"),
    Assumption("Latent margin of the stripes at any N (px each side)", "experiments:LATENT_MARGIN", "INFERRED",
               "Fig 9 states a 44×44 canvas for the 32×32 frame (6 px each side); we keep 6 px at every N "
               "(the spec leaves fixed or scaled open).", "5"),
    Assumption("Which labels a subsample keeps", "experiments:ComposeRunConfig.split_seed", "INFERRED",
               "Exactly round(λ·N²) labels, drawn by a seeded permutation (data.subsample_mask); the rest "
               "are the held-out (OOD) labels.", "4g, 5, 6, 14"),
    Assumption("Fig 14c losses: validation set and draws", "experiments:EFFICIENCY_LOSS_DRAWS", "INFERRED",
               "Plain (unweighted) ε-MSE of the final model over this many seeded (t, ε) draws per label; "
               "training = the kept labels, validation = the held-out labels of the lattice.", "14"),
    Assumption("Fig 5c threshold crossing", "efficiency:FIG5_THRESHOLD", "INFERRED",
               "The 60% is stated; the crossing is interpolated linearly in log(dataset size) between the two "
               "sizes around it, and a curve that starts above 60% gives only an upper bound (not fitted).", "5"),
    Assumption("Fig 6e onset level", "efficiency:ONSET_LEVEL", "INFERRED",
               "The λ at which terminal accuracy first reaches 50%, compared with the λ at which the simulated "
               "mass ratio reaches 0.5. A σ column not fully trained is read between stored λ only where they "
               "are neighbours on the λ grid, as if accuracy never falls as λ grows (the page shows whether the "
               "stored accuracies do); otherwise the onset is an interval, judged only where the whole interval "
               "passes or fails. Fig 5c's 60% crossings are read the same way.", "5, 6"),
    Assumption("Fig 15 continuity measure (k of the k-NN graph)", "efficiency:KNN_K", "INFERRED",
               "Connected components of the symmetric k-nearest-neighbour graph of the final bottleneck cloud: "
               "1 = one continuous manifold.", "15"),
    Assumption("Training labels scored as ID (stripe-trained models)", "experiments:ComposeRunConfig.train_label_eval", "INFERRED",
               "A random subset of the 1D training labels, scored on the visible coordinate only.", "4, 10"),
    # -- evaluation (spec §1.5)
    Assumption("Accuracy tolerance (px per axis)", "experiments:EvalConfig().tol", "INFERRED",
               "The author's later code scores peaks within ±1 pixel; a sample must also hold exactly one bump.", "all accuracies"),
    Assumption("Sampler that scores accuracy (cpu profile)", "experiments:(EvalConfig().sampler, EvalConfig().steps, EvalConfig().eta)", "INFERRED",
               "Stochastic DDIM with 50 steps agrees with 1000-step DDPM at 1/20 of the cost (MEASURED.md); "
               "every run reports its own DDPM check.", "all accuracies"),
    Assumption("Weights that generate", "experiments:EvalConfig().weights", "INFERRED",
               "The exponential moving average of the weights where a run keeps one.", "all accuracies"),
]


def render_markdown() -> str:
    lines = [
        "# Assumptions",
        "",
        "The paper's body, appendix and hyperparameter tables are not available to us (see the",
        "[introduction](intro.md)). Everything below is **our choice**, not the paper's: each row names",
        "the config field that holds it, so a reader can change it and rerun. `INFERRED` marks a",
        "reconstruction consistent with what the paper states; `UNKNOWN` marks a default where nothing",
        "could be recovered. Values are those of the `cpu` profile unless the row says otherwise.",
        "",
        "This page is generated from `lib/compdiff/assumptions.py` by `python -m compdiff assumptions`.",
        "",
        "| topic | our value | config field | tag | why | figures |",
        "|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        value = row.value()
        if isinstance(value, float):
            value = f"{value:g}"
        module, expr = row.field.split(":", 1)
        lines.append(
            f"| {row.topic} | `{value}` | `compdiff.{module}` `{expr}` | {row.tag} | {row.why} | {row.figures} |"
        )
    return "\n".join(lines) + "\n"
