"""`status --priority` (issue 20): the decisive runs' progress and the core-hours left, estimated from
measurements (stored runs, benchmarks/recipe.json), on planted priority lists, stores and records;
`status --seeds/--recipe`; and README's generated training-cost table, current on the committed store."""

import json

import pytest

from compdiff import cli, experiments, gpu_slot, paths, query, readme_costs, store
from compdiff.experiments import ConfigError


def _metrics(accuracy, *, images, ips, bf16=False, stop=None):
    m = {"accuracy": accuracy, "n_eval_labels": 1,
         "train": {"images": images, "images_per_second": ips, "train_seconds": images / ips, "device": "cpu",
                   "bf16": bf16},
         "curve": [{"images": images, "accuracy": accuracy, "eval_seconds": 30.0}]}
    if stop:
        m["stop"] = {"stopped": stop, "images": images}
    return {"metrics": m}


def _prio(tmp_path, text):
    p = tmp_path / "prio.txt"
    p.write_text(text)
    return p


def _plant_basic():
    """basic cpu v-stop: seed 0 stopped at the bar (192k), seed 1 at its cap (512k), seed 2 missing;
    basic cpu wsd-eps (no stop rule) seed 0 below the convergence bar. All fp32 on a CPU."""
    v = [experiments.basic_config("cpu", seed=s, recipe="v-stop") for s in range(3)]
    store.write("basic", v[0], _metrics(0.99, images=192_000, ips=50.0, stop="bar"))
    store.write("basic", v[1], _metrics(0.90, images=v[1].train.images, ips=70.0, stop="cap"))
    store.write("basic", experiments.basic_config("cpu", seed=0, recipe="wsd-eps"), _metrics(0.5, images=512_000, ips=60.0))
    return v


PRIO = ("basic    cpu 0-2 recipe=v-stop   # planted: at the bar, at the cap, missing\n"
        "basic    cpu 0 recipe=wsd-eps    # stored, below 90%\n"
        "periodic cpu 0,1 recipe=v-stop   # nothing stored\n")


def test_priority_rows_count_converged_capped_and_missing_runs(tmp_store, tmp_path):
    v = _plant_basic()
    rows, total = query.priority_rows(_prio(tmp_path, PRIO), recipe_records=tmp_path / "none.json", cpu_bf16=False)
    counts = [{k: r[k] for k in ("runs", "stored", "converged", "unconverged", "missing")} for r in rows]
    assert counts == [{"runs": 3, "stored": 2, "converged": 1, "unconverged": 1, "missing": 1},
                      {"runs": 1, "stored": 1, "converged": 0, "unconverged": 1, "missing": 0},
                      {"runs": 2, "stored": 0, "converged": 0, "unconverged": 0, "missing": 2}]
    assert (total["runs"], total["missing"], total["unconverged"]) == (6, 3, 2)
    (miss,) = [s for s in rows[0]["states"] if s.state == "missing"]
    assert miss.job.config == v[2]
    # images: the mean of the point's stored stop-rule runs (at the bar, at the cap); speed: the
    # median of the stored fp32 runs of this model and batch size (50, 60, 70 images/s)
    assert miss.images == (192_000 + v[1].train.images) / 2 and "this point (2)" in miss.images_source
    assert miss.ips == 60.0 and "3 stored runs of this model at fp32" in miss.ips_source
    assert rows[0]["seconds"] == pytest.approx(miss.images / 60.0)
    # the periodic runs: no stop-rule run of their recipe stored under periodic/, no recipe records
    per = rows[2]["states"]
    assert all(s.images == s.job.config.train.images and "its cap" in s.images_source for s in per)
    assert total["seconds"] == pytest.approx(rows[0]["seconds"] + rows[2]["seconds"])


def test_priority_lines_show_rows_total_and_sources(tmp_store, tmp_path):
    _plant_basic()
    lines = query.priority_lines(_prio(tmp_path, PRIO), recipe_records=tmp_path / "none.json", cpu_bf16=False)
    assert lines[0].split()[:5] == ["line", "source", "profile", "seeds", "filter"]
    assert lines[1].split()[:9] == ["1", "basic", "cpu", "0-2", "recipe=v-stop", "3", "2", "1", "1"]
    assert lines[3].split()[:4] == ["3", "periodic", "cpu", "0,1"]
    total = next(ln for ln in lines if "total (distinct runs)" in ln)
    assert total.split()[3:8] == ["6", "3", "1", "2", "3"]
    text = "\n".join(lines)
    assert "line 1: 1 run × 352,000 images (i1) at 60 images/s (s1)" in text
    assert "i1: stored stop-rule runs of this point (2)" in text and "its cap (no measurement" in text
    assert "line 2:" not in text  # nothing missing there
    one = query.priority_lines(_prio(tmp_path, "basic cpu 1 recipe=wsd-eps\n"), recipe_records=tmp_path / "none.json", cpu_bf16=False)
    assert one[1].split()[5:10] == ["1", "0", "0", "0", "1"]  # the counts follow the seeds
    assert "its budget (no stop rule)" in "\n".join(one)  # wsd-eps trains its whole budget


def _study(tmp_path, records):
    """A planted benchmarks/recipe.json whose records name recipe-study files beside it."""
    bench = tmp_path / "bench" / "benchmarks"
    (bench / "recipe_runs").mkdir(parents=True)
    out = []
    for name, cfg, stopped, images, ips in records:
        (bench / "recipe_runs" / f"{name}.json").write_text(json.dumps(
            {"recipe": name, "bar": 0.95, "every": 16_000, "cap": cfg.train.images,
             "config": {"diffusion": cfg.diffusion.to_dict(), "train": cfg.train.to_dict(), "unet_preset": "tiny"}}))
        out.append({"recipe": name, "seed": 0, "images_to_95": None, "images_per_s": ips, "stopped": stopped,
                    "images_trained": images, "cpu": {"model": "planted", "flags": []},
                    "source": f"benchmarks/recipe_runs/{name}.json (DDIM-25, 256 labels, every 16k)"})
    (bench / "recipe.json").write_text(json.dumps(out))
    return bench / "recipe.json"


def test_estimates_fall_back_to_recipe_records_then_a_measured_precision_ratio(tmp_store, tmp_path):
    from dataclasses import replace

    v = experiments.basic_config("cpu", seed=0, recipe="v-stop")
    study = replace(v, train=replace(v.train, images=256_000), stop=None)  # the study's config: capped at 256k
    other = replace(study, train=replace(study.train, lr=4e-3))  # another recipe: not counted
    rj = _study(tmp_path, [("v-s0", study, "bar", 192_000, 40.0), ("v-s2", study, "cap", 256_000, 60.0),
                           ("lr-s0", other, "bar", 16_000, 50.0)])
    ev = query.evidence(rj, cpu_bf16=False)
    images, src = query.images_estimate("basic", v, ev)
    assert images == (192_000 + v.train.images) / 2  # the capped record counts at this run's cap
    assert "recipe.json (2 records of this recipe: 1 stopped at the bar, 1 at the study's cap" in src
    ips, src = query.speed_estimate(v, ev, cpu_bf16=False)
    # 40, 60 and the other recipe's 50: a speed is the model's, whatever its recipe
    assert ips == 50.0 and src == "3 recipe.json records of this model at fp32"
    # a frame size measured only in bf16 elsewhere: that speed times the fp32/bf16 ratio measured on
    # the same model at another frame size (here 50 / 250)
    store.write("basic", experiments.basic_config("cpu", seed=5, recipe="wsd-eps"), _metrics(1.0, images=512_000, ips=250.0, bf16=True))
    (e,) = gpu_slot.read_priority(_prio(tmp_path, "efficiency cpu 0 fig05 recipe=v-stop\n"))
    n16 = next(j.config for j in gpu_slot.resolve([e]) if j.config.unet.image_size == 16)
    store.write("compose", replace(n16, stop=None), _metrics(1.0, images=384_000, ips=1000.0, bf16=True))
    ev = query.evidence(rj, cpu_bf16=False)
    ips, src = query.speed_estimate(n16, ev, cpu_bf16=False)
    assert ips == pytest.approx(1000.0 * 0.2) and "× 0.20" in src and "another frame size" in src
    assert query.speed_estimate(experiments.basic_config("paper"), ev, cpu_bf16=False)[0] is None


def test_a_share_of_a_stored_curve_is_estimated_from_that_curve(tmp_store, tmp_path):
    """A missing cell of a Fig 6e column is estimated from the column's stored stop-rule runs at
    other shares (σ = 0.25 trains far longer than σ = 1) before the recipe's mean over its store."""
    sweep = experiments.efficiency_sweep("cpu", recipe="v-stop")
    store.write("compose", sweep["fig06_s0.25_l1"], _metrics(1.0, images=608_000, ips=130.0, stop="bar"))
    store.write("compose", sweep["fig06_s1_l1"], _metrics(1.0, images=96_000, ips=130.0, stop="bar"))
    ev = query.evidence(tmp_path / "none.json", cpu_bf16=False)
    images, src = query.images_estimate("compose", sweep["fig06_s0.25_l0.2"], ev)
    assert images == 608_000 and src == "stored stop-rule runs of this curve at other shares (1)"
    images, src = query.images_estimate("compose", sweep["fig06n16_s0.25_l0.2"], ev)  # another lattice: not that curve
    assert images == (608_000 + 96_000) / 2 and "of this recipe in compose/ (2)" in src
    stripes = experiments.compose_sweep("cpu", recipe="v-stop")["fig04_stripes"]  # other data: the recipe's mean
    assert query.images_estimate("compose", stripes, ev)[0] == (608_000 + 96_000) / 2


def test_status_says_when_a_held_figure_can_switch(tmp_store, monkeypatch):
    """A figure held on an older recipe (experiments.CPU_RECIPE_HELD) gets a line counting the default
    recipe's runs it shows at seed 0, and says it is ready only once every one is stored."""
    monkeypatch.setattr(experiments, "CPU_RECIPE_HELD", {"fig05": "wsd-eps"})
    want = {r.run_id: r.config for r in query.records("fig05", "cpu", recipe="v-stop")}
    line = query.status_lines(["fig05", "fig07"], "cpu")[-1]
    assert line.startswith(f"fig05 reads wsd-eps until its v-stop runs at seed 0 are stored: 0 of {len(want)} stored, "
                           f"{len(want)} to train (≈ ")
    assert not any("fig07 reads" in x for x in query.status_lines(["fig05", "fig07"], "cpu"))
    rows = query.status_lines(["fig05", "fig07"], "cpu")[1:3]  # the held figure's row says which runs it counts
    assert rows[0].endswith("(wsd-eps runs, read until the switch below)") and "wsd-eps" not in rows[1]
    for cfg in want.values():
        store.write("compose", cfg, _metrics(1.0, images=96_000, ips=130.0, stop="bar"))
    line = query.status_lines(["fig05"], "cpu")[-1]
    assert f"{len(want)} of {len(want)} stored" in line and "ready" in line
    assert not any("reads wsd-eps" in x for x in query.status_lines(["fig05"], "cpu", recipe="wsd-eps"))


def test_figure_status_and_dry_run_use_the_priority_estimate(tmp_store, tmp_path):
    """`status` and `figure --dry-run` estimate a missing run as `status --priority` does (the
    images of stored stop-rule runs of its curve, not its cap), so the three never disagree."""
    sweep = experiments.efficiency_sweep("cpu", recipe="v-stop")
    store.write("compose", sweep["fig06_s1_l1"], _metrics(1.0, images=96_000, ips=120.0, stop="bar"))
    ev = query.evidence(tmp_path / "none.json", cpu_bf16=False)
    e = query.estimate("compose", sweep["fig06_s1_l0.4"], ev, cpu_bf16=False)
    assert e.images == 96_000 and e.ips == 120.0 and e.seconds == 800.0  # the cap is 768k
    recs = [r for r in query.records("fig06", "cpu", recipe="v-stop") if not r.stored]
    s = query.summary("fig06", "cpu", recipe="v-stop", ev=ev)
    want = [query.estimate(r.experiment, r.config, ev).seconds for r in {r.run_id: r for r in recs}.values()]
    assert s["missing"] == len(want) and s["missing_seconds"] == pytest.approx(sum(w for w in want if w is not None))
    assert s["missing_unknown"] == sum(w is None for w in want)


def test_convergence_is_the_stop_rule_and_reads_2d_and_1d_training_labels_together(tmp_store):
    """A stop-rule run is converged when it stopped at its bar, unconverged at its cap, whatever its
    final scoring reads; a run with stripes is read on its 2D and 1D training labels together."""
    from compdiff import claims

    sweep = experiments.efficiency_sweep("cpu", recipe="v-stop")
    art = _metrics(0.06, images=144_000, ips=500.0, stop="bar")
    art["metrics"].update(regions={"overall": 0.06, "id": 2 / 3, "ood": 0.05}, region_sizes={"id": 3, "ood": 253},
                          train_1d_accuracy=1.0, train_1d_labels=192)
    run = store.write("compose", sweep["fig05_mixed_n16_p0.01"], art)
    assert query.training_accuracy(run) == pytest.approx((2 + 192) / 195)
    assert query.converged(run) is True and query.stop_outcome(run) == "bar"
    capped = _metrics(0.97, images=768_000, ips=500.0, stop="cap")
    run = store.write("compose", sweep["fig06_s1_l1"], capped)
    assert query.converged(run) is False and query.training_accuracy(run) == 0.97
    rec = next(r for r in query.records("fig06", "cpu", recipe="v-stop") if r.name == "fig06_s1_l1")
    assert claims.unconverged([rec]) == ["fig06_s1_l1 (seed 0: stopped at its cap of 768,000 images below its bar "
                                         "of 95%; 97.0% on all its training labels)"]
    # a capped run with stripes: its stop rule read its few bumps, while its stripes lift the whole
    # set's accuracy; the reason names the rule's last reading
    art = _metrics(0.02, images=384_000, ips=150.0, stop="cap")
    art["metrics"]["stop"]["history"] = [{"images": 368_000, "accuracy": 0.7, "labels": 10},
                                         {"images": 384_000, "accuracy": 0.3, "labels": 10}]
    art["metrics"].update(regions={"overall": 0.02, "id": 0.3}, region_sizes={"id": 10},
                          train_1d_accuracy=1.0, train_1d_labels=384)
    store.write("compose", sweep["fig05_mixed_n32_p0.01"], art)
    rec = next(r for r in query.records("fig05", "cpu", recipe="v-stop") if r.name == "fig05_mixed_n32_p0.01")
    assert claims.unconverged([rec]) == [
        "fig05_mixed_n32_p0.01 (seed 0: stopped at its cap of 384,000 images below its bar of 95%, last read at "
        f"30% of the 10 training labels its rule reads; {100 * (3 + 384) / 394:.1f}% on all its training labels)"]
    plain = store.write("compose", experiments.efficiency_sweep("cpu", recipe="wsd-eps")["fig06_s1_l1"], _metrics(0.89, images=384_000, ips=500.0))
    assert query.stop_outcome(plain) is None and query.converged(plain) is False


def test_a_paused_run_counts_only_the_images_left(tmp_store, tmp_path):
    from compdiff import monitor

    assert query.STOP_HISTORY == monitor.HISTORY
    v = _plant_basic()
    scratch = paths.runs_dir() / "basic" / store.run_id(v[2])
    scratch.mkdir(parents=True)
    (scratch / query.STOP_HISTORY).write_text(json.dumps({"history": [{"images": 64_000}, {"images": 80_000}]}))
    rows, _ = query.priority_rows(_prio(tmp_path, "basic cpu 2 recipe=v-stop\n"), cpu_bf16=False)
    (s,) = rows[0]["states"]
    assert s.done == 80_000 and s.images == 352_000 - 80_000 and rows[0]["in_progress"] == 1
    assert "1 paused in runs/ with 80,000 images trained" in "\n".join(
        query.priority_lines(_prio(tmp_path, "basic cpu 2 recipe=v-stop\n"), cpu_bf16=False))


def test_committed_priority_list_adds_up():
    rows, total = query.priority_rows()
    assert [r["entry"].line for r in rows] == [e.line for e in gpu_slot.read_priority()]
    for t in rows + [total]:
        assert t["runs"] == t["stored"] + t["missing"] and t["stored"] == t["converged"] + t["unconverged"]
    assert total["runs"] == len(gpu_slot.resolve(gpu_slot.read_priority()))


@pytest.mark.parametrize("argv, message", [
    (["status", "--seeds", "0-x"], "--seeds = '0-x' must be comma-separated non-negative integers"),
    (["status", "--seeds", "2-0"], "--seeds = '2-0': the range '2-0' runs backwards"),
    (["status", "--seed", "1", "--seeds", "0-2"], "--seed or --seeds, not both"),
    (["status", "--recipe", "fast"], "recipe = 'fast' is not allowed; allowed: 'wsd-eps', 'v-stop'"),
    (["status", "--recipe", "v-stop", "--profile", "paper"], "cpu profile only"),
    (["status", "--priority", "--seeds", "0-2"], "it takes no --seeds"),
    (["status", "fig06", "--priority"], "it takes no figure keys"),
    (["status", "--priority", "--profile", "huge"], "unknown profile 'huge'"),
])
def test_bad_status_input_names_the_field(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_priority_file_names_its_line(tmp_path, capsys):
    p = _prio(tmp_path, "basic cpu 0\nbasic cpu 0 recipe=fast\n")
    assert cli.main(["status", "--priority", str(p)]) == 2
    err = capsys.readouterr().err
    assert "prio.txt line 2" in err and "allowed: 'wsd-eps', 'v-stop'" in err
    assert cli.main(["status", "--priority", str(tmp_path / "nope.txt")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_figure_status_over_seeds_and_a_recipe(tmp_store):
    for s in (0, 2):
        store.write("basic", experiments.basic_config("cpu", seed=s), _metrics(1.0, images=200_000, ips=60.0, stop="bar"))
    store.write("basic", experiments.basic_config("cpu", seed=0, recipe="wsd-eps"),
                _metrics(0.5, images=512_000, ips=60.0))
    plain = query.status_lines(["fig07"], "cpu")
    assert query.status_lines(["fig07"], "cpu", seeds=(0,)) == plain and "seeds" not in plain[0]
    three = query.status_lines(["fig07"], "cpu", seeds=query.parse_seeds("0-2"), verbose=True)
    assert "seeds 0-2" in three[0] and three[1].split()[:5] == ["fig07", "3", "2", "1", "0"]
    assert "missing: basic (seed 1)" in three[2]
    v = query.status_lines(["fig07"], "cpu", recipe="wsd-eps")
    assert "recipe wsd-eps" in v[0] and v[1].split()[:5] == ["fig07", "1", "1", "0", "1"]
    assert query.parse_seeds("0-2,5,1") == (0, 1, 2, 5) and query.seed_text((0, 1, 2, 5, 7, 8)) == "0-2,5,7,8"


# ---------------------------------------------------------------------------------------------
# README's training-cost table


def test_readme_cost_table_is_current():
    """README.md's generated table equals what the committed store gives (regenerate:
    python -m compdiff readme-costs --write, or make html)."""
    assert readme_costs.current() == readme_costs.block(), \
        "README.md's training-cost table is stale: run `python -m compdiff readme-costs --write`"


def test_readme_cost_table_reads_the_metrics(tmp_store, tmp_path, monkeypatch, capsys):
    for s in (0, 1):
        store.write("basic", experiments.basic_config("cpu", seed=s), _metrics(1.0, images=512_000, ips=100.0 * (s + 1)))
    body, total = readme_costs.rows()
    fig7 = next(r for r in body if r[0] == "Fig 7")
    # 2 runs, 1 per seed, seeds 0 and 1: 5120 s + 2560 s of training, 30 s of scoring each
    assert fig7 == ["Fig 7", "v-stop", "2", "1", "0,1", "2.1 h", "1.1 h", "1 min", "1.0M", "cpu, fp32 (CPU model not recorded)"]
    assert next(r for r in body if r[0] == "Fig 2")[1:5] == ["v-stop", "0", "1", "—"]
    assert next(r for r in body if r[0] == "Fig 4")[1] == experiments.figure_recipe("fig04")
    assert total[:3] == ["all figures (distinct runs)", "—", "2"]
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nno markers\n")
    monkeypatch.setattr(readme_costs, "README", readme)
    with pytest.raises(ConfigError, match="training-costs:start"):
        readme_costs.current()
    readme.write_text(f"# x\n{readme_costs.START}\nold\n{readme_costs.END}\ntail\n")
    assert cli.main(["readme-costs"]) == 1 and "stale" in capsys.readouterr().err
    assert readme_costs.write() is True and readme_costs.write() is False
    text = readme.read_text()
    assert text.startswith(f"# x\n{readme_costs.START}\nMeasured training cost") and text.endswith(f"{readme_costs.END}\ntail\n")
    assert cli.main(["readme-costs"]) == 0


def test_a_run_resumed_at_its_end_reads_its_mean_speed():
    """A stop-rule run is trained, then resumed at its end to be scored: that last process trains
    nothing (0 images/s), so its speed is the mean over its recorded training time."""
    assert query.train_speed({"images_per_second": 250.0, "images": 1_000, "train_seconds": 10.0}) == 250.0
    assert query.train_speed({"images_per_second": 0.0, "images": 192_000, "train_seconds": 640.0}) == 300.0
    assert query.train_speed({"images_per_second": 0.0}) is None and query.train_speed({}) is None


def test_a_speed_holds_across_label_encodings():
    """The periodic label encoding has the sinusoidal one's widths: a speed measured on one is the
    other's estimate (its runs are not 'untimed'); another width is another model."""
    from dataclasses import replace

    a = experiments.periodic_config("cpu")
    b = experiments.periodic_config("cpu", label_encoding="periodic")
    key = lambda c: query._speed_of(json.loads(store.canonical_json(c)))  # noqa: E731
    assert key(a) == key(b)
    assert key(replace(a, unet=replace(a.unet, base_channels=32))) != key(a)


def test_a_speed_is_the_median_of_the_newest_stored_runs():
    """Stored runs outrank recipe-study records, and only the NEWEST_SPEEDS newest of them count:
    machines that report the same CPU model differ, and the newest runs were made on this one."""
    k = ("model", False)
    old = [(50.0, "stored run", f"2026-11-0{i}T00:00:00Z") for i in range(1, 6)]
    new = [(130.0 + i, "stored run", f"2026-12-0{i}T00:00:00Z") for i in range(1, 9)]
    recs = [(40.0, "recipe.json record", "")] * 3
    ev = query._Evidence([], [], {k: recs + new[:4] + old + new[4:]})
    assert sorted(ev.latest(k)) == sorted(new) and query.NEWEST_SPEEDS == len(new)
    assert query._Evidence([], [], {k: recs}).latest(k) == recs  # no stored run: the records
    assert query._Evidence([], [], {k: recs + old[:2]}).latest(k) == old[:2]


def test_a_speed_prefers_the_runs_of_this_cpu():
    """Where some stored runs record this machine's CPU (model name and native bf16, as
    devices.hardware_name writes it), the estimate reads the newest of those, older or not; where
    none do, the newest of all. This machine is named as its runs name it."""
    k = ("model", False)
    here, there = "Intel Xeon (no native bf16)", "AMD EPYC (no native bf16)"
    mine = [(230.0 + i, "stored run", f"2026-11-0{i}T00:00:00Z", here) for i in range(1, 4)]
    theirs = [(120.0 + i, "stored run", f"2026-12-0{i}T00:00:00Z", there) for i in range(1, 9)]
    ev = query._Evidence([], [], {k: theirs + mine}, here)
    assert sorted(ev.latest(k)) == sorted(mine) and ev.on_this_cpu(k)
    elsewhere = query._Evidence([], [], {k: theirs + mine}, "Another CPU (native bf16)")
    assert sorted(elsewhere.latest(k)) == sorted(theirs) and not elsewhere.on_this_cpu(k)
    assert query._Evidence([], [], {k: theirs}, here).latest(k) == theirs
    from compdiff import devices

    assert query.evidence().here == devices.hardware_name("cpu")


def test_a_speed_timed_only_elsewhere_is_scaled_by_the_cpus_measured_ratio():
    """A model timed only on another CPU is estimated at that CPU's speed times this CPU's speed
    over that CPU's, measured on the models stored runs timed on both; with no model timed on both,
    the other CPU's speed as it is."""
    here, there = "Intel Xeon (no native bf16)", "AMD EPYC (no native bf16)"
    both, only = ("both", False), ("only there", False)

    def runs(ips, cpu, n=3):
        return [(ips + 0.0 * i, "stored run", f"2026-11-0{i + 1}T00:00:00Z", cpu) for i in range(n)]

    ev = query._Evidence([], [], {both: runs(200.0, here) + runs(100.0, there), only: runs(450.0, there)}, here)
    assert ev.cpu_ratio(there) == (2.0, 1) and ev.cpu_ratio(here) == (None, 0)
    cfg = experiments.periodic_config("cpu")
    key = query._speed_of(json.loads(store.canonical_json(cfg)))
    ev.speeds[(key, False)] = ev.speeds.pop(only)
    ips, src = query.speed_estimate(cfg, ev, cpu_bf16=False)
    assert ips == pytest.approx(900.0) and "× 2.00" in src and there in src and "1 model timed on both" in src
    # nothing timed on both CPUs: the other CPU's speed, unscaled
    lone = query._Evidence([], [], {(key, False): runs(450.0, there)}, here)
    ips, src = query.speed_estimate(cfg, lone, cpu_bf16=False)
    assert ips == pytest.approx(450.0) and "×" not in src
