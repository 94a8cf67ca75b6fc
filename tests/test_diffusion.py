"""Tests of the forward process and the DDPM / DDIM samplers (spec §1.3)."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from compdiff.diffusion import (
    DiffusionConfig,
    SampleNoise,
    ddim_timesteps,
    ddpm_timesteps,
    make_schedule,
    q_sample,
    sample_ddim,
    sample_ddpm,
    sample_seed,
    training_loss,
)
from compdiff.unet import PRESETS, ConditionalUNet

@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # the random labels/inputs of these tests are fixed


# a short schedule whose ᾱ_{T−1} ≈ e^−10, so x_T ~ N(0, I) holds as well as at T = 1000
SHORT = DiffusionConfig(T=100, beta_start=1e-3, beta_end=0.2)


class Recorder:
    """Fake ε-model: records the timesteps it is called with; ε̂ = a smooth function of x, t."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, labels, return_features=False):
        self.calls.append(int(t[0]))
        assert (t == t[0]).all()
        eps = 0.3 * torch.tanh(x) + 0.01 * labels[:, :1, None, None] + 1e-4 * t[:, None, None,
                                                                                 None]
        if return_features:
            return eps, x.mean(dim=(2, 3))
        return eps


def gaussian_eps(schedule, m, s):
    """Exact ε-predictor for data N(m, s²) per pixel:
    ε*(x_t, t) = (x_t − √ᾱ_t m) √(1−ᾱ_t) / (ᾱ_t s² + 1 − ᾱ_t)."""
    abar = schedule.alpha_bars

    def model(x, t, labels):
        a = abar[t].to(x.dtype).reshape(-1, 1, 1, 1)
        return (x - a.sqrt() * m) * (1 - a).sqrt() / (a * s**2 + 1 - a)

    return model


def test_linear_schedule_values():
    cfg = DiffusionConfig()
    sch = make_schedule(cfg)
    assert sch.T == 1000 and sch.betas.dtype == torch.float64
    assert sch.alpha_bars[0].item() == pytest.approx(1 - 1e-4, rel=1e-12)
    expected_last = np.prod(1 - np.linspace(1e-4, 0.02, 1000))
    assert sch.alpha_bars[-1].item() == pytest.approx(expected_last, rel=1e-9)
    assert sch.alpha_bars[-1].item() == pytest.approx(4.036e-5, rel=1e-3)
    assert sch.betas[-1].item() == pytest.approx(0.02)
    # β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t), β̃_0 = 0
    t = 500
    ab = sch.alpha_bars
    assert sch.posterior_variance[t].item() == pytest.approx(
        (sch.betas[t] * (1 - ab[t - 1]) / (1 - ab[t])).item(), rel=1e-12)
    assert sch.posterior_variance[0].item() == 0.0
    f32 = sch.to("cpu")
    assert f32.alpha_bars.dtype == torch.float32 and sch.alpha_bars.dtype == torch.float64


def test_cosine_schedule():
    sch = make_schedule(DiffusionConfig(schedule="cosine"))
    assert (sch.betas > 0).all() and (sch.betas <= 0.999).all()
    assert (sch.alpha_bars[1:] < sch.alpha_bars[:-1]).all()
    assert sch.alpha_bars[0].item() > 0.9999 and sch.alpha_bars[-1].item() < 1e-4


@pytest.mark.parametrize("field,value", [
    ("T", 0), ("T", 10.5), ("schedule", "quadratic"), ("beta_start", 0.0), ("beta_end", 1.0),
    ("beta_end", 1e-5), ("prediction", "x0"), ("loss_weighting", "snr"), ("min_snr_gamma", 0.0),
])
def test_bad_diffusion_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        replace(DiffusionConfig(), **{field: value})


def test_q_sample_and_loss():
    sch = make_schedule(DiffusionConfig())
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    xt = q_sample(sch.to("cpu"), x0, t, noise)
    ab = sch.alpha_bars[t].float().reshape(-1, 1, 1, 1)
    torch.testing.assert_close(xt, ab.sqrt() * x0 + (1 - ab).sqrt() * noise)
    # the float64 schedule works too
    torch.testing.assert_close(q_sample(sch, x0, t, noise), xt)
    perfect = lambda x, tt, lab: noise  # noqa: E731
    assert training_loss(perfect, sch, x0, None, t, noise).item() == 0.0
    zero = lambda x, tt, lab: torch.zeros_like(x)  # noqa: E731
    plain = training_loss(zero, sch, x0, None, t, noise)
    assert plain.item() == pytest.approx(noise.pow(2).mean().item(), rel=1e-6)
    # min-SNR: the t = 0 sample (SNR ≈ 1e4) is down-weighted by γ/SNR
    weighted = training_loss(zero, sch, x0, None, t, noise, "min_snr")
    assert weighted.item() < plain.item()


def test_ddpm_visits_every_timestep_once():
    sch = make_schedule(SHORT)
    rec = Recorder()
    sample_ddpm(rec, sch, torch.rand(3, 2), seed=0, shape=(1, 4, 4))
    assert rec.calls == list(range(99, -1, -1)) == ddpm_timesteps(100)


@pytest.mark.parametrize("k", [2, 7, 10, 50, 99, 100])
def test_ddim_visits_its_timesteps(k):
    ts = ddim_timesteps(100, k)
    assert len(ts) == k and ts[0] == 99 and ts[-1] == 0
    assert all(a > b for a, b in zip(ts, ts[1:]))
    rec = Recorder()
    sample_ddim(rec, make_schedule(SHORT), torch.rand(2, 2), steps=k, seed=0, shape=(1, 4, 4))
    assert rec.calls == ts


def test_ddim_timesteps_spacing_and_errors():
    assert ddim_timesteps(1000, 1000) == ddpm_timesteps(1000)
    assert ddim_timesteps(1000, 1) == [999]
    ts = ddim_timesteps(1000, 50)
    gaps = np.diff(ts)
    assert set(gaps.tolist()) <= {-20, -21}  # evenly spaced up to rounding
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match="DDIM steps"):
            ddim_timesteps(1000, bad)


def test_ddim_eta1_all_steps_equals_ddpm_posterior():
    sch = make_schedule(SHORT)
    labels = torch.rand(5, 2) * 4
    a = sample_ddpm(Recorder(), sch, labels, seed=3, shape=(1, 6, 6), variance="posterior")
    b = sample_ddim(Recorder(), sch, labels, steps=100, eta=1.0, seed=3, shape=(1, 6, 6))
    # float32 rounding differs between the two forms (x̂_0 is divided by √ᾱ ≈ 0.005 at t = T−1)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    c = sample_ddpm(Recorder(), sch, labels, seed=3, shape=(1, 6, 6), variance="beta")
    assert (a - c).abs().max() > 1e-4  # the two DDPM variances differ


def _chain_moments(schedule, ts, step_coefs, m, s):
    """Exact mean and variance of the sampler's output for data N(m, s²) and the exact ε*:
    each update is affine in x_t, x_s = √ᾱ_s m + c (x_t − √ᾱ_t m) + σ z, so the moments
    follow a scalar recursion from x_T ~ N(0, 1)."""
    ab = schedule.alpha_bars.double().tolist()
    mu, var = 0.0, 1.0
    for i, t in enumerate(ts):
        a = ab[t]
        b = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
        c, sigma2 = step_coefs(i, t, a, b, a * s**2 + 1 - a)
        mu = math.sqrt(b) * m + c * (mu - math.sqrt(a) * m)
        var = c * c * var + sigma2
    return mu, var


def _ddpm_coefs(schedule, variance):
    betas = schedule.betas.double().tolist()
    var = schedule.posterior_variance if variance == "posterior" else schedule.betas
    var = var.double().tolist()

    def coefs(i, t, a, b, d):
        # x' = (x − β/√(1−ᾱ) ε*)/√α + σz with ε* = √(1−ᾱ)(x − √ᾱ m)/d; note √ᾱ_{t−1} = √ᾱ/√α
        k = betas[t] / d
        return (1 - k) / math.sqrt(1 - betas[t]), (var[t] if t > 0 else 0.0)

    return coefs


def _ddim_coefs(eta):
    def coefs(i, t, a, b, d):
        sigma = eta * math.sqrt((1 - b) / (1 - a) * max(1 - a / b, 0.0))
        c = (math.sqrt(a * b) * S_DATA**2 + math.sqrt((1 - b - sigma**2) * (1 - a))) / d
        return c, sigma**2

    return coefs


M_DATA, S_DATA = 0.3, 0.2


def _gaussian_run(sampler, cfg, steps=None, eta=0.0, variance="beta", seed=1):
    sch = make_schedule(cfg)
    model = gaussian_eps(sch, M_DATA, S_DATA)
    labels = torch.zeros(50, 2)
    kw = dict(seed=seed, shape=(1, 16, 16))  # 12,800 independent pixels
    if sampler == "ddpm":
        x = sample_ddpm(model, sch, labels, variance=variance, **kw)
    else:
        x = sample_ddim(model, sch, labels, steps=steps, eta=eta, **kw)
    return sch, x


def _assert_moments(x, mean, var, extra_rel=0.0):
    n = x.numel()
    se_mean = math.sqrt(var / n)
    assert abs(x.mean().item() - mean) < 4 * se_mean + 1e-3, (x.mean().item(), mean)
    rel = 4 * math.sqrt(2 / n) + extra_rel  # 4 standard errors of a sample variance
    assert x.var().item() == pytest.approx(var, rel=rel), (x.var().item(), var)


@pytest.mark.parametrize("sampler,steps", [("ddpm", None), ("ddim", 1000)])
def test_samplers_recover_gaussian_data(sampler, steps):
    """With the exact ε* of N(m, s²), T = 1000 steps return the data's moments (the
    discretisation bias, ≈1% here, is below the 2% slack)."""
    _, x = _gaussian_run(sampler, DiffusionConfig(), steps=steps)
    _assert_moments(x, M_DATA, S_DATA**2, extra_rel=0.02)


@pytest.mark.parametrize("sampler,steps,eta,variance", [
    ("ddpm", None, 0.0, "beta"), ("ddpm", None, 0.0, "posterior"),
    ("ddim", 50, 0.0, None), ("ddim", 50, 1.0, None), ("ddim", 17, 0.5, None),
])
def test_samplers_match_exact_discrete_moments(sampler, steps, eta, variance):
    """Few, coarse steps shrink the variance (each DDIM step multiplies it by a cos² ≤ 1):
    the sampled moments must equal the exact moments of the discrete chain."""
    sch, x = _gaussian_run(sampler, SHORT, steps=steps, eta=eta, variance=variance)
    if sampler == "ddpm":
        ts, coefs = ddpm_timesteps(sch.T), _ddpm_coefs(sch, variance)
    else:
        ts, coefs = ddim_timesteps(sch.T, steps), _ddim_coefs(eta)
    mean, var = _chain_moments(sch, ts, coefs, M_DATA, S_DATA)
    _assert_moments(x, mean, var)


def test_same_seed_same_samples_any_batch_size():
    sch = make_schedule(SHORT)
    labels = torch.rand(7, 2) * 8
    kw = dict(shape=(1, 5, 5))
    a = sample_ddpm(Recorder(), sch, labels, seed=11, batch_size=256, **kw)
    b = sample_ddpm(Recorder(), sch, labels, seed=11, batch_size=3, **kw)
    c = sample_ddpm(Recorder(), sch, labels, seed=12, batch_size=256, **kw)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3
    # noise depends on the sample's index, not on its position in the call
    sub = sample_ddpm(Recorder(), sch, labels[4:6], seed=11, indices=[4, 5], **kw)
    assert torch.equal(sub, a[4:6])
    d = sample_ddim(Recorder(), sch, labels, steps=20, eta=0.5, seed=11, batch_size=2, **kw)
    e = sample_ddim(Recorder(), sch, labels, steps=20, eta=0.5, seed=11, batch_size=5, **kw)
    assert torch.equal(d, e)


def test_sample_noise_per_sample_streams():
    a = SampleNoise(5, [0, 1, 2], (2, 3))
    b = SampleNoise(5, [2], (2, 3))
    a1, a2 = a.next(), a.next()
    b1, b2 = b.next(), b.next()
    assert a1.shape == (3, 2, 3)
    assert torch.equal(a1[2], b1[0]) and torch.equal(a2[2], b2[0])
    assert not torch.equal(a1, a2) and not torch.equal(a1[0], a1[1])
    assert sample_seed(5, 2) == sample_seed(5, 2) != sample_seed(6, 2)


def test_features_and_model_mode():
    torch.manual_seed(0)
    cfg = replace(PRESETS["micro"], image_size=16)
    model = ConditionalUNet(cfg)
    model.train()
    sch = make_schedule(SHORT)
    labels = torch.rand(3, 2) * 16
    ts = ddim_timesteps(100, 5)
    x, feats = sample_ddim(model, sch, labels, steps=5, seed=0, shape=(1, 16, 16),
                           return_features_at=[ts[0], 0], batch_size=2)
    assert model.training  # mode restored
    assert x.shape == (3, 1, 16, 16) and x.abs().max() <= 1.0
    assert sorted(feats) == [0, ts[0]]
    assert feats[0].shape == (3, 16, 2, 2)
    # the recorded t = T−1 feature is the bottleneck of the model on x_T at t = T−1
    model.eval()
    x_T = SampleNoise(0, range(3), (1, 16, 16)).next()
    with torch.no_grad():
        _, f = model(x_T, torch.full((3,), ts[0]), labels, return_features=True)
    torch.testing.assert_close(feats[ts[0]], f)
    with pytest.raises(ValueError, match="does not visit"):
        sample_ddim(model, sch, labels, steps=5, seed=0, shape=(1, 16, 16),
                    return_features_at=[51])


@pytest.mark.parametrize("chunk, channels_last", [(2, False), (None, True), (2, True)])
def test_cpu_sampler_levers_change_no_sample(monkeypatch, chunk, channels_last):
    """CPU_SAMPLER_CHUNK and CPU_SAMPLER_CHANNELS_LAST reorder float operations only: the samples
    and the features equal one NCHW call on the whole batch up to float rounding, and
    the model leaves the sampler in the layout it came in."""
    from compdiff import diffusion

    torch.manual_seed(0)
    model = ConditionalUNet(replace(PRESETS["micro"], image_size=16)).eval()
    sch = make_schedule(SHORT)
    labels = torch.rand(5, 2) * 16
    ts = ddim_timesteps(100, 5)
    kw = dict(steps=5, eta=1.0, seed=3, shape=(1, 16, 16), return_features_at=[ts[0], 0], batch_size=4)
    monkeypatch.setattr(diffusion, "CPU_SAMPLER_CHUNK", None)
    monkeypatch.setattr(diffusion, "CPU_SAMPLER_CHANNELS_LAST", False)
    x0, f0 = sample_ddim(model, sch, labels, **kw)
    monkeypatch.setattr(diffusion, "CPU_SAMPLER_CHUNK", chunk)
    monkeypatch.setattr(diffusion, "CPU_SAMPLER_CHANNELS_LAST", channels_last)
    for layout in (torch.contiguous_format, torch.channels_last):
        model.to(memory_format=layout)
        x1, f1 = sample_ddim(model, sch, labels, **kw)
        torch.testing.assert_close(x1, x0, atol=1e-3, rtol=0)  # a random net amplifies rounding
        for t in f0:
            torch.testing.assert_close(f1[t], f0[t], atol=1e-4, rtol=1e-4)
        assert x1.is_contiguous() and all(f.is_contiguous() for f in f1.values())
        assert diffusion._is_channels_last(model) == (layout is torch.channels_last)


def test_sampler_argument_errors():
    sch = make_schedule(SHORT)
    with pytest.raises(ValueError, match="labels"):
        sample_ddpm(Recorder(), sch, torch.rand(3, 3), seed=0)
    with pytest.raises(ValueError, match="eta"):
        sample_ddim(Recorder(), sch, torch.rand(3, 2), steps=5, eta=1.5, seed=0)
    with pytest.raises(ValueError, match="variance"):
        sample_ddpm(Recorder(), sch, torch.rand(3, 2), seed=0, variance="fixed_large")
    with pytest.raises(ValueError, match="indices"):
        sample_ddpm(Recorder(), sch, torch.rand(3, 2), seed=0, indices=[0, 1])


def test_v_prediction_loss_and_weights():
    """v = √ᾱ ε − √(1−ᾱ) x₀ is the target under prediction="v"; min-SNR weighs the x₀-error by
    min(SNR, γ) under both targets, i.e. min(SNR, γ)/(SNR + 1) on the v-MSE."""
    from compdiff.diffusion import loss_weights, to_eps
    sch = make_schedule(DiffusionConfig(prediction="v"))
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    ab = sch.alpha_bars[t].float().reshape(-1, 1, 1, 1)
    v = ab.sqrt() * noise - (1 - ab).sqrt() * x0
    assert training_loss(lambda x, tt, lab: v, sch, x0, None, t, noise).item() < 1e-12
    assert training_loss(lambda x, tt, lab: noise, sch, x0, None, t, noise).item() > 0.01
    xt = q_sample(sch, x0, t, noise)
    torch.testing.assert_close(to_eps(sch, v, xt, t), noise, atol=1e-5, rtol=1e-5)
    snr = (ab / (1 - ab)).flatten()
    torch.testing.assert_close(loss_weights(sch, t, "min_snr", 5.0, "v"), snr.clamp(max=5) / (snr + 1))
    torch.testing.assert_close(loss_weights(sch, t, "min_snr", 5.0, "eps"), snr.clamp(max=5) / snr)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_v_model_samples_like_its_eps_twin(sampler):
    """The exact v* = (ε* − √(1−ᾱ) x_t)/√ᾱ of the Gaussian data, sampled under prediction="v",
    gives the samples of ε* under prediction="eps" (same seed)."""
    sch_e = make_schedule(SHORT)
    sch_v = make_schedule(replace(SHORT, prediction="v"))
    eps_model = gaussian_eps(sch_e, M_DATA, S_DATA)
    abar = sch_e.alpha_bars

    def v_model(x, t, labels):
        a = abar[t].to(x.dtype).reshape(-1, 1, 1, 1)
        return (eps_model(x, t, labels) - (1 - a).sqrt() * x) / a.sqrt()

    labels = torch.zeros(8, 2)
    kw = dict(seed=5, shape=(1, 6, 6))
    if sampler == "ddpm":
        a, b = sample_ddpm(eps_model, sch_e, labels, **kw), sample_ddpm(v_model, sch_v, labels, **kw)
    else:
        a = sample_ddim(eps_model, sch_e, labels, steps=10, eta=1.0, **kw)
        b = sample_ddim(v_model, sch_v, labels, steps=10, eta=1.0, **kw)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_draw_timesteps_uniform_is_the_plain_draw_and_lognormal_centres_mid_noise():
    from compdiff.diffusion import draw_timesteps
    cfg = DiffusionConfig()
    sch = make_schedule(cfg)
    a = draw_timesteps(cfg, sch, 64, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, torch.randint(0, 1000, (64,), generator=torch.Generator().manual_seed(3)))
    ln = replace(cfg, t_sampling="lognormal", lognormal_fraction=0.5)
    b = draw_timesteps(ln, sch, 4000, torch.Generator().manual_seed(3))
    assert b.min() >= 0 and b.max() <= 999
    sig = ((1 - sch.alpha_bars) / sch.alpha_bars).sqrt()
    log_sig = sig[b[:2000]].log()
    assert abs(log_sig.mean().item() - 0.5) < 0.1 and abs(log_sig.std().item() - 0.8) < 0.1
    # the uniform half is the plain draw's tail
    torch.testing.assert_close(b[2000:], torch.randint(0, 1000, (4000,), generator=torch.Generator().manual_seed(3))[2000:])
    with pytest.raises(ValueError, match="t_sampling"):
        replace(cfg, t_sampling="edm")
