"""Tests of the conditional UNet (spec §1.2, paper Fig 7)."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from compdiff.unet import (
    PRESETS,
    ConditionalUNet,
    UNetConfig,
    build_unet,
    count_parameters,
    sinusoidal_encoding,
)

@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


MICRO16 = replace(PRESETS["micro"], image_size=16)


def _inputs(cfg, b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = cfg.image_size
    x = torch.randn(b, cfg.in_channels, n, n, generator=g)
    t = torch.randint(0, 1000, (b,), generator=g)
    labels = torch.rand(b, 2, generator=g) * n
    return x, t, labels


@pytest.mark.parametrize("cfg", [MICRO16, PRESETS["micro"],
                                 replace(PRESETS["micro"], cond_mlp=False)])
def test_every_submodule_registered_and_trained(cfg):
    torch.manual_seed(0)
    model = ConditionalUNet(cfg)
    # no module hidden in a plain Python container (the minDiffusion-lineage bug)
    for name, mod in model.named_modules():
        for attr, val in vars(mod).items():
            if attr.startswith("_"):  # torch's own registries (_modules, _parameters, ...)
                continue
            if isinstance(val, (list, tuple, dict, set)):
                vals = val.values() if isinstance(val, dict) else val
                assert not any(isinstance(v, nn.Module) for v in vals), f"{name}.{attr}"
    sd = model.state_dict()
    named = dict(model.named_parameters())
    assert set(named) == set(sd)  # no buffers, no unregistered parameters
    # a conditioning Linear in every down, bottleneck and up block
    cond = [n for n in named if ".cond.linear.weight" in n]
    expected = {f"downs.{i}.cond.linear.weight" for i in range(cfg.levels)}
    expected |= {f"ups.{i}.cond.linear.weight" for i in range(cfg.levels)}
    expected |= {"bottleneck.cond.linear.weight"}
    assert set(cond) == expected
    # every parameter receives a gradient: all of them take part in the output
    x, t, labels = _inputs(cfg)
    model(x, t, labels).pow(2).mean().backward()
    for n, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, n


def test_labels_and_t_change_output():
    torch.manual_seed(0)
    model = ConditionalUNet(MICRO16).eval()
    x, t, labels = _inputs(MICRO16)
    with torch.no_grad():
        base = model(x, t, labels)
        other_label = model(x, t, labels + torch.tensor([3.0, 0.0]))
        other_y = model(x, t, labels + torch.tensor([0.0, 3.0]))
        other_t = model(x, t + 100, labels)
        again = model(x, t, labels)
    assert torch.equal(base, again)
    for other in (other_label, other_y, other_t):
        assert (other - base).abs().max() > 1e-4


def test_label_scale_multiplies_mu():
    torch.manual_seed(0)
    a = ConditionalUNet(replace(MICRO16, label_scale=2.0)).eval()
    b = ConditionalUNet(MICRO16).eval()
    b.load_state_dict(a.state_dict())
    x, t, labels = _inputs(MICRO16)
    with torch.no_grad():
        torch.testing.assert_close(a(x, t, labels), b(x, t, 2.0 * labels))


def test_sinusoidal_encoding_formula():
    v = torch.tensor([0.0, 3.0])
    pe = sinusoidal_encoding(v, 8)
    assert pe.shape == (2, 8)
    torch.testing.assert_close(pe[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    k = 2
    omega = 10000.0 ** (-2 * k / 8)
    assert pe[1, k].item() == pytest.approx(torch.sin(torch.tensor(3.0 * omega)).item(), abs=1e-6)
    assert pe[1, 4 + k].item() == pytest.approx(torch.cos(torch.tensor(3.0 * omega)).item(),
                                                abs=1e-6)


def test_paper_preset_size_and_features():
    torch.manual_seed(0)
    model = build_unet("paper").eval()
    n = count_parameters(model)
    assert 23.0e6 < n < 24.5e6, n
    # dome272 layout: 64→128→256→256, bottleneck 512, attention after every down/up block
    assert PRESETS["paper"].level_channels() == [64, 128, 256, 256]
    assert all(blk.attn is not None for blk in list(model.downs) + list(model.ups))
    x, t, labels = _inputs(PRESETS["paper"], b=1)
    seen = {}
    handle = model.bottleneck_module.register_forward_hook(
        lambda m, i, o: seen.__setitem__("feat", o))
    with torch.no_grad():
        eps, feat = model(x, t, labels, return_features=True)
    handle.remove()
    assert eps.shape == (1, 1, 32, 32)
    assert feat.shape == (1, 256, 4, 4)
    assert torch.equal(seen["feat"], feat)


@pytest.mark.parametrize("name,ch", [("small", 64), ("tiny", 32), ("micro", 16)])
def test_small_presets_features(name, ch):
    model = build_unet(name).eval()
    x, t, labels = _inputs(PRESETS[name], b=2)
    with torch.no_grad():
        eps, feat = model(x, t, labels, return_features=True)
    assert eps.shape == x.shape
    assert feat.shape == (2, ch, 4, 4)


def test_bf16_autocast_cpu():
    torch.manual_seed(0)
    model = ConditionalUNet(MICRO16)
    x, t, labels = _inputs(MICRO16)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out, feat = model(x, t, labels, return_features=True)
    assert out.shape == x.shape and torch.isfinite(out.float()).all()
    out.float().pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_unfused_attention_batches_under_vmap():
    """SelfAttention(fused=False), the form the K > 1 trainer vmaps, is the fused attention written
    out: the same outputs, and vmap batches it without a per-model fallback."""
    import copy
    import warnings

    from torch.func import functional_call, stack_module_state, vmap

    from compdiff.unet import SelfAttention

    models = [ConditionalUNet(MICRO16) for _ in range(3)]
    assert any(isinstance(m, SelfAttention) for m in models[0].modules())
    x, t, labels = _inputs(MICRO16)
    base = copy.deepcopy(models[0]).to("meta")
    for m in base.modules():
        if isinstance(m, SelfAttention):
            m.fused = False
    params, buffers = stack_module_state(models)
    xs, ts, ls = (torch.stack([a] * 3) for a in (x, t, labels))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "performance drop ... batching rule" would be a warning
        out = vmap(lambda p, b, *a: functional_call(base, (p, b), a))(params, buffers, xs, ts, ls)
    with torch.no_grad():
        for k, m in enumerate(models):
            assert torch.allclose(out[k], m(x, t, labels), atol=1e-5, rtol=0)


@pytest.mark.parametrize("field,value", [
    ("image_size", 30),
    ("image_size", 0),
    ("in_channels", 0),
    ("base_channels", -8),
    ("channel_mults", ()),
    ("channel_mults", (1, 0, 2)),
    ("attention_resolutions", (5,)),
    ("attention_resolutions", (64,)),
    ("bottleneck_mult", 0),
    ("num_heads", 3),
    ("emb_dim_per_var", 7),
    ("cond_mlp", "yes"),
    ("label_scale", 0.0),
    ("label_scale", float("nan")),
    ("norm_groups", 3),
])
def test_bad_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        replace(PRESETS["micro"], **{field: value})


def test_bad_preset_name():
    with pytest.raises(ValueError, match="preset"):
        build_unet("huge")


def test_forward_checks_shapes():
    model = ConditionalUNet(MICRO16)
    x, t, labels = _inputs(MICRO16)
    with pytest.raises(ValueError, match="image_size=16"):
        model(torch.zeros(3, 1, 32, 32), t, labels)
    with pytest.raises(ValueError, match="labels"):
        model(x, t, labels[:, :1])
    with pytest.raises(ValueError, match="t must"):
        model(x, t[:2], labels)


def test_config_roundtrip():
    cfg = PRESETS["small"]
    assert UNetConfig.from_dict(cfg.to_dict()) == cfg


# ---------------------------------------------------------------------------------------------
# the periodic label encoding (spec §1.1 "Conditioning input [UNKNOWN]"; the Figs 2, 3, 8 ablation)

PERIODIC16 = replace(MICRO16, label_encoding="periodic")


def test_periodic_encoding_is_periodic_in_mu_and_the_sinusoidal_is_not():
    """μ and μ + N (N = image_size, the torus period) are one input with "periodic", two with the
    default; the embedding keeps its width, so nothing else in the network changes."""
    from compdiff.unet import periodic_encoding

    labels = torch.tensor([[0.0, 5.0], [3.0, 31.0], [17.0, 12.5]])
    shifts = (torch.tensor([16.0, 0.0]), torch.tensor([0.0, 16.0]), torch.tensor([-16.0, 32.0]))
    t = torch.tensor([0, 500, 999])
    per, sin = ConditionalUNet(PERIODIC16).eval(), ConditionalUNet(MICRO16).eval()
    with torch.no_grad():
        e = per.embed(t, labels)
        assert e.shape == sin.embed(t, labels).shape
        for s in shifts:
            assert torch.equal(per.embed(t, labels + s), e)
            assert not torch.allclose(sin.embed(t, labels + s), sin.embed(t, labels))
        x = _inputs(PERIODIC16)[0]
        assert torch.equal(per(x, t, labels + shifts[2]), per(x, t, labels))
    # the same parameters, so a state dict moves between the two
    assert {k: v.shape for k, v in per.state_dict().items()} == {k: v.shape for k, v in sin.state_dict().items()}
    # the formula: sin and cos of k·2πμ/N, k = 1..d/2 (the spec's (cos, sin) of 2πμ/32 is k = 1)
    pe = periodic_encoding(torch.tensor([8.0]), 6, 32.0)
    theta = 2 * torch.pi * 8 / 32
    want = torch.tensor([[torch.sin(torch.tensor(k * theta)) for k in (1, 2, 3)]
                         + [torch.cos(torch.tensor(k * theta)) for k in (1, 2, 3)]])
    torch.testing.assert_close(pe, want, atol=1e-6, rtol=0)
    # and the label still matters within a period
    with torch.no_grad():
        assert (per(x, t, labels + torch.tensor([3.0, 0.0])) - per(x, t, labels)).abs().max() > 1e-4


def test_label_encoding_choice_is_checked_and_left_out_of_run_ids():
    from compdiff import store

    with pytest.raises(ValueError, match=r"UNetConfig.label_encoding = 'fourier' is not allowed; "
                                         r"allowed: 'sinusoidal', 'periodic'"):
        replace(PRESETS["micro"], label_encoding="fourier")
    with pytest.raises(ValueError, match="label_scale .* must be 1.0 with label_encoding = 'periodic'"):
        replace(PERIODIC16, label_scale=2.0)
    # the default is left out of the config (and so of every run id stored before the field)
    assert "label_encoding" not in store.canonical_json(PRESETS["tiny"])
    assert "label_encoding" not in PRESETS["tiny"].to_dict()
    assert store.run_id(replace(PRESETS["tiny"], label_encoding="sinusoidal")) == store.run_id(PRESETS["tiny"])
    assert store.run_id(replace(PRESETS["tiny"], label_encoding="periodic")) != store.run_id(PRESETS["tiny"])
    assert UNetConfig.from_dict(PERIODIC16.to_dict()) == PERIODIC16


def test_periodic_encoding_batches_under_vmap():
    """The K > 1 trainer vmaps the model: the periodic encoding has a batching rule (no fallback)."""
    import copy
    import warnings

    from torch.func import functional_call, stack_module_state, vmap

    from compdiff.unet import SelfAttention

    models = [ConditionalUNet(PERIODIC16) for _ in range(2)]
    base = copy.deepcopy(models[0]).to("meta")
    for m in base.modules():
        if isinstance(m, SelfAttention):
            m.fused = False
    params, buffers = stack_module_state(models)
    x, t, labels = _inputs(PERIODIC16)
    xs, ts, ls = (torch.stack([a] * 2) for a in (x, t, labels))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = vmap(lambda p, b, *a: functional_call(base, (p, b), a))(params, buffers, xs, ts, ls)
    with torch.no_grad():
        for k, m in enumerate(models):
            assert torch.allclose(out[k], m(x, t, labels), atol=1e-5, rtol=0)
