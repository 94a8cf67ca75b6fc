"""Tests of the training loop: exact resume, checkpoint safety, a smoke run (spec §1.4)."""

import json
from dataclasses import replace

import pytest
import torch

from compdiff.devices import autocast, resolve_bf16, resolve_device
from compdiff.diffusion import DiffusionConfig
from compdiff.train import (
    CheckpointError,
    RunSpec,
    TrainConfig,
    load_checkpoint,
    load_model,
    lr_at,
    train,
    train_many,
)
from compdiff.unet import PRESETS, ConditionalUNet

MICRO16 = replace(PRESETS["micro"], image_size=16)


def bumps(m=64, n=16, sigma=1.0, seed=0):
    """Tiny stand-in for the data module: one Gaussian bump per image, in [−1, 1]."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.rand(m, 2, generator=g) * (n - 1)
    i = torch.arange(n, dtype=torch.float32)
    img = torch.exp(-((i[None, :, None] - labels[:, 0, None, None]) ** 2
                      + (i[None, None, :] - labels[:, 1, None, None]) ** 2) / (2 * sigma**2))
    return img * 2 - 1, labels  # (M, N, N): train() adds the channel


def spec(**train_kw):
    kw = dict(lr=2e-3, batch_size=16, images=16 * 8, log_every_images=32, ema_decay=0.9,
              bf16=False, checkpoint_every_images=64, resume_every_images=None, seed=3)
    kw.update(train_kw)
    return RunSpec(MICRO16, DiffusionConfig(), TrainConfig(**kw))


def _same_state(a: torch.nn.Module, b: torch.nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("stop", [48, 64])  # mid-interval of the loss log, and on a log point
def test_resume_equals_uninterrupted(tmp_path, stop):
    x, y = bumps()
    s = spec()
    full = train(s, x, y, tmp_path / "full", device="cpu", progress=False)
    part = train(s, x, y, tmp_path / "split", device="cpu", progress=False,
                 stop_after_images=stop)
    assert part.images_seen == stop and not part.completed
    rest = train(s, x, y, tmp_path / "split", device="cpu", progress=False)
    assert rest.resumed_from_images == stop and rest.completed
    assert rest.images_seen == full.images_seen == 128
    _same_state(full.raw_model, rest.raw_model)
    _same_state(full.ema_model, rest.ema_model)
    assert rest.loss_curve == full.loss_curve
    assert [i for i, _ in full.loss_curve] == [32, 64, 96, 128]
    a = load_checkpoint(tmp_path / "full" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert torch.equal(a["rng_state"], b["rng_state"]) and a["rng_state"].dtype == torch.uint8
    # EMA and raw weights differ and are named as such
    assert any(not torch.equal(p, q) for p, q in zip(full.raw_model.parameters(),
                                                     full.ema_model.parameters()))


def test_files_and_reload(tmp_path):
    x, y = bumps()
    s = spec()
    res = train(s, x, y, tmp_path, device="cpu", progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt_128.pt", "ckpt_64.pt", "last.pt", "loss_curve.json", "run_spec.json"]
    curve = json.loads((tmp_path / "loss_curve.json").read_text())
    assert list(zip(curve["images"], curve["loss"])) == res.loss_curve
    assert json.loads((tmp_path / "run_spec.json").read_text())["spec_hash"] == s.spec_hash()
    # weights_only loading of every file, which="raw"/"ema", from the dir or a snapshot
    for which, ref in (("raw", res.raw_model), ("ema", res.ema_model)):
        m = load_model(tmp_path, which=which, device="cpu")
        assert isinstance(m, ConditionalUNet) and not m.training
        _same_state(m, ref)
    snap = load_model(tmp_path / "ckpt_64.pt", which="raw", device="cpu")
    assert any(not torch.equal(p, q) for p, q in zip(snap.parameters(),
                                                     res.raw_model.parameters()))
    assert "optimizer" not in load_checkpoint(tmp_path / "ckpt_64.pt")  # lean snapshot
    # a finished run is reloaded, not retrained
    again = train(s, x, y, tmp_path, device="cpu", progress=False)
    assert again.resumed_from_images == 128 and again.images_per_second == 0.0
    _same_state(again.raw_model, res.raw_model)
    assert again.loss_curve == res.loss_curve


def test_no_ema(tmp_path):
    x, y = bumps()
    res = train(spec(ema_decay=None, images=32, checkpoint_every_images=None), x, y, tmp_path,
                device="cpu", progress=False)
    assert res.ema_model is None
    with pytest.raises(ValueError, match="which='raw'"):
        load_model(tmp_path, which="ema", device="cpu")
    with pytest.raises(ValueError, match="which='raw'"):
        res.model("ema")
    assert res.model("raw") is res.raw_model


def test_corrupt_checkpoint_is_refused(tmp_path):
    x, y = bumps()
    s = spec()
    train(s, x, y, tmp_path, device="cpu", progress=False, stop_after_images=32)
    last = tmp_path / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="last.pt"):
        train(s, x, y, tmp_path, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="last.pt"):
        load_model(tmp_path, which="raw", device="cpu")
    last.write_bytes(b"")
    with pytest.raises(CheckpointError, match="last.pt"):
        load_checkpoint(last)


def test_other_spec_or_data_is_refused(tmp_path):
    x, y = bumps()
    train(spec(), x, y, tmp_path, device="cpu", progress=False, stop_after_images=32)
    with pytest.raises(CheckpointError, match="run_spec.json"):
        train(spec(lr=1e-3), x, y, tmp_path, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="run_spec.json"):
        train(spec(), x * 0.99, y, tmp_path, device="cpu", progress=False)
    # without run_spec.json, last.pt itself carries the spec hash
    (tmp_path / "run_spec.json").unlink()
    with pytest.raises(CheckpointError, match="last.pt"):
        train(spec(lr=1e-3), x, y, tmp_path, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="last.pt"):
        train(spec(), x, y * 0.5, tmp_path, device="cpu", progress=False)


def test_smoke_training_loss_falls(tmp_path):
    x, y = bumps(m=128)
    s = spec(batch_size=16, images=16 * 100, log_every_images=16 * 20, ema_decay=0.99,
             checkpoint_every_images=None)
    res = train(s, x, y, tmp_path, device="cpu", progress=False)
    losses = [v for _, v in res.loss_curve]
    assert len(losses) == 5
    assert losses[-1] < 0.5 * losses[0], losses
    assert res.images_per_second > 0 and res.device == "cpu" and res.bf16 is False


def test_bf16_training_runs_on_cpu(tmp_path):
    x, y = bumps()
    res = train(spec(bf16=True, images=32, checkpoint_every_images=None), x, y, tmp_path,
                device="cpu", progress=False)
    assert res.bf16 is True and all(torch.isfinite(torch.tensor(v)) for _, v in res.loss_curve)
    assert all(p.dtype == torch.float32 for p in res.raw_model.parameters())


def test_train_many(tmp_path):
    x, y = bumps()
    jobs = [(spec(images=32, seed=s, checkpoint_every_images=None), x, y, tmp_path / f"s{s}")
            for s in (0, 1)]
    out = train_many(jobs, device="cpu", progress=False)
    assert [r.images_seen for r in out] == [32, 32]
    assert not torch.equal(next(out[0].raw_model.parameters()),
                           next(out[1].raw_model.parameters()))


def test_data_checks(tmp_path):
    x, y = bumps()
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train(spec(), (x + 1) * 2, y, tmp_path, device="cpu", progress=False)
    with pytest.raises(ValueError, match="labels"):
        train(spec(), x, y[:, :1], tmp_path, device="cpu", progress=False)
    with pytest.raises(ValueError, match="images must have shape"):
        train(spec(), x[:, :8, :8], y, tmp_path, device="cpu", progress=False)
    with pytest.raises(ValueError, match="stop_after_images"):
        train(spec(), x, y, tmp_path, device="cpu", progress=False, stop_after_images=20)


@pytest.mark.parametrize("field,value", [
    ("lr", 0.0), ("batch_size", 0), ("images", 100), ("weight_decay", -1.0),
    ("betas", (0.9, 1.0)), ("lr_schedule", "linear"), ("warmup_images", -16),
    ("grad_clip", 0.0), ("ema_decay", 1.0), ("bf16", "yes"), ("seed", -1),
    ("checkpoint_every_images", 40), ("checkpoint_every_images", (64, 1024)),
    ("log_every_images", 24), ("resume_every_images", 8),
])
def test_bad_train_config_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        kw = dict(batch_size=16, images=128, log_every_images=32, resume_every_images=64)
        kw[field] = value
        TrainConfig(**kw)


def test_lr_schedule():
    c = TrainConfig(lr=1e-3, batch_size=10, images=1000, warmup_images=100,
                    lr_schedule="cosine", log_every_images=10, resume_every_images=None)
    assert lr_at(c, 0) == pytest.approx(1e-4)
    assert lr_at(c, 90) == pytest.approx(1e-3)
    assert lr_at(c, 100) == pytest.approx(1e-3)
    assert lr_at(c, 550) == pytest.approx(0.5e-3)
    assert lr_at(c, 990) < 1e-5
    assert lr_at(replace(c, lr_schedule="constant", warmup_images=0), 990) == 1e-3


def test_spec_roundtrip_and_hash():
    s = spec(checkpoint_every_images=(32, 64))
    assert RunSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.spec_hash() != spec(checkpoint_every_images=(32, 96)).spec_hash()


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    assert resolve_bf16(False, "cpu") is False and resolve_bf16(True, "cpu") is True
    assert resolve_bf16("auto", "cpu") in (True, False)
    with pytest.raises(ValueError, match="bf16"):
        resolve_bf16("yes", "cpu")
    with autocast("cpu", True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_wsd_schedule_and_its_checks():
    from compdiff.train import TrainConfig, lr_at

    c = TrainConfig(lr=1e-3, batch_size=10, images=1000, lr_schedule="wsd", decay_images=400, warmup_images=100)
    assert lr_at(c, 0) == pytest.approx(1e-4)  # warmup
    assert lr_at(c, 100) == lr_at(c, 590) == 1e-3  # stable
    assert lr_at(c, 600) == pytest.approx(1e-3) and lr_at(c, 800) == pytest.approx(5e-4)  # linear decay
    assert lr_at(c, 990) == pytest.approx(2.5e-5)
    assert "decay_images" in c.to_dict()
    with pytest.raises(ValueError, match="decay_images"):
        TrainConfig(images=1000, batch_size=10, lr_schedule="wsd")
    with pytest.raises(ValueError, match="decay_images"):
        TrainConfig(images=1000, batch_size=10, decay_images=100)  # constant schedule
    with pytest.raises(ValueError, match="decay_images"):
        TrainConfig(images=1000, batch_size=10, lr_schedule="wsd", decay_images=2000)
    with pytest.raises(ValueError, match="'wsd'"):
        TrainConfig(lr_schedule="step")


def test_a_field_at_its_default_leaves_run_ids_alone():
    """decay_images was added after runs were stored: at its default it is not in the config JSON."""
    from compdiff import store
    from compdiff.train import TrainConfig

    assert "decay_images" not in TrainConfig().to_dict()
    assert "decay_images" not in store.canonical_json(TrainConfig())
    wsd = TrainConfig(images=1000, batch_size=10, lr_schedule="wsd", decay_images=100)
    assert '"decay_images":100' in store.canonical_json(wsd)


def test_cond_lr_mult_groups_and_resume(tmp_path):
    """cond_lr_mult puts the conditioning path (embedding MLP, injection Linears) in a second AdamW
    group at mult × lr; it changes training, resumes exactly, and at 1 leaves run ids alone."""
    from compdiff import store
    from compdiff.train import _param_groups, is_conditioning_param

    model = ConditionalUNet(MICRO16)
    names = [n for n, _ in model.named_parameters()]
    cond = [n for n in names if is_conditioning_param(n)]
    assert cond and any(n.startswith("cond_mlp.") for n in cond)
    assert all(n.startswith("cond_mlp.") or ".cond.linear." in n for n in cond)
    assert not any(is_conditioning_param(n) for n in names if "conv" in n or "attn" in n)
    groups = _param_groups(names, list(model.parameters()), 5.0)
    assert [g["lr_mult"] for g in groups] == [1.0, 5.0] and len(groups[1]["params"]) == len(cond)
    assert len(_param_groups(names, list(model.parameters()), 1.0)) == 1
    assert "cond_lr_mult" not in TrainConfig().to_dict()
    assert '"cond_lr_mult":5' in store.canonical_json(TrainConfig(cond_lr_mult=5.0))
    with pytest.raises(ValueError, match="cond_lr_mult"):
        TrainConfig(cond_lr_mult=0.0)

    x, y = bumps()
    s = spec(cond_lr_mult=5.0)
    full = train(s, x, y, tmp_path / "full", device="cpu", progress=False)
    train(s, x, y, tmp_path / "split", device="cpu", progress=False, stop_after_images=48)
    rest = train(s, x, y, tmp_path / "split", device="cpu", progress=False)
    _same_state(full.raw_model, rest.raw_model)
    assert rest.loss_curve == full.loss_curve
    plain = train(spec(), x, y, tmp_path / "plain", device="cpu", progress=False)
    sd_f, sd_p = full.raw_model.state_dict(), plain.raw_model.state_dict()
    assert not torch.equal(sd_f["cond_mlp.0.weight"], sd_p["cond_mlp.0.weight"])


def test_the_cap_does_not_enter_a_constant_lr_trajectory(tmp_path):
    """Under a constant lr a run's budget (train.images) is only where it stops: two runs that
    differ in it alone stand at the same weights, EMA and data position at every shared point (what
    benchmarks/recipe_study.py's `adopt` relies on). Under a decaying schedule they differ."""
    x, y = bumps()
    a = train(spec(images=128, lr_schedule="constant", warmup_images=32), x, y, tmp_path / "a",
              device="cpu", progress=False, stop_after_images=96)
    b = train(spec(images=256, lr_schedule="constant", warmup_images=32), x, y, tmp_path / "b",
              device="cpu", progress=False, stop_after_images=96)
    _same_state(a.raw_model, b.raw_model)
    _same_state(a.ema_model, b.ema_model)
    ca, cb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert torch.equal(ca["rng_state"], cb["rng_state"]) and torch.equal(ca["perm"], cb["perm"])
    c = train(spec(images=256, lr_schedule="cosine"), x, y, tmp_path / "c", device="cpu", progress=False,
              stop_after_images=96)
    d = train(spec(images=128, lr_schedule="cosine"), x, y, tmp_path / "d", device="cpu", progress=False,
              stop_after_images=96)
    assert not torch.equal(c.raw_model.state_dict()["cond_mlp.0.weight"], d.raw_model.state_dict()["cond_mlp.0.weight"])
