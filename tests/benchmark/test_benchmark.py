"""``dreamlab benchmark --quick``: a smoke run (the numbers themselves are never asserted)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from dreamlab.benchmark.cases import BenchCase
from dreamlab.benchmark.contention import busy_neighbour
from dreamlab.benchmark.reference import reference_copy, seed_dream
from dreamlab.cli import main
from dreamlab.dream import dream


def test_quick_benchmark_writes_every_number(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert (
        main(["benchmark", "--quick", "--only", "engine", "--device", "cpu", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["quick"] and result["machine"]["device"] == "cpu"
    assert result["matmul_peak_gflops"]["fp32"] > 0
    models = [c["case"]["model"] for c in result["cases"]]
    assert models == ["efficientnet_lite0", "vgg19"]
    for case in result["cases"]:
        for loop in ("engine", "seed_loop"):
            numbers = case[loop]
            assert numbers["steps_per_s"] > 0 and numbers["gflops_per_s"] > 0
            assert numbers["peak_mem_mb"] >= 0 and numbers["fraction_of_peak"] > 0
        assert case["speedup"] > 0 and case["gflop_per_dream"] > 0
    assert result["cases"][0]["folded_batchnorms"] == 30
    assert "speedup_met" in result["targets"]
    assert "x" in capsys.readouterr().out


def test_the_seed_loop_is_the_same_algorithm(lite0, chelsea) -> None:
    """Without jitter, the engine and the seed's loop dream (nearly) the same image."""
    from dreamlab.images import resize_max_side

    image = resize_max_side(chelsea, 96)
    case = BenchCase("efficientnet_lite0", "_blocks.9", 96, 2, 3, octave_scale=1.4, lr=0.02)
    seed = seed_dream(lite0, reference_copy(lite0, "_blocks.9"), image, case)  # normalized
    mean = np.array(lite0.spec.mean).reshape(1, 3, 1, 1)
    std = np.array(lite0.spec.std).reshape(1, 3, 1, 1)
    seed_img = np.clip(seed * std + mean, 0, 1)[0].transpose(1, 2, 0) * 255
    frames = list(dream(image, lite0, max_side=96, num_octaves=2, iterations=3, lr=0.02, jitter=0))
    ours = frames[-1].image.astype(float)
    change = np.abs(ours - image).mean()
    # The two dreams agree: measured 0.10 of the change (folded BatchNorm, channels-last and uint8
    # frames round differently); a 25 % different learning rate alone gives 0.67.
    assert np.abs(ours - seed_img).mean() < 0.2 * change


def test_bench_case_steps() -> None:
    assert BenchCase("m", "l", 64, 4, 10).steps == 40
    with pytest.raises(AttributeError):
        BenchCase("m", "l", 64, 4, 10).steps = 3  # frozen


def _usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


@pytest.mark.skipif(len(_usable_cpus()) < 2, reason="the contention case needs 2 usable cores")
def test_quick_contention_case(tmp_path) -> None:
    out = tmp_path / "contention.json"
    assert (
        main(
            ["benchmark", "--quick", "--only", "contention", "--device", "cpu", "--json", str(out)]
        )
        == 0
    )
    result = json.loads(out.read_text())
    c = result["contention"]
    assert result["cases"] == [] and c["neighbour_core"] in _usable_cpus()
    for key in ("quiet_s", "quiet_fixed_s", "contended_s", "contended_fixed_s"):
        assert c[key] > 0
    assert c["slowdown"] == pytest.approx(c["contended_s"] / c["quiet_s"])
    assert set(c["paths"]) == {"reproducible", "adapting", "fixed"}
    assert c["paths"]["reproducible"]["quiet_s"] == c["quiet_s"]
    assert c["same_bytes"] is True  # the seeded dream beside a busy core: the quiet run's bytes
    assert c["quiet_vs_adapting"] > 0 and c["busy_vs_adapting"] > 0
    assert result["targets"]["contention_slowdown"] == c["slowdown"]
    assert "contention_slowdown_met" in result["targets"]


@pytest.mark.skipif(not _usable_cpus(), reason="needs sched_getaffinity (Linux)")
def test_busy_neighbour_is_pinned_and_always_stopped() -> None:
    psutil = pytest.importorskip("psutil")
    core = _usable_cpus()[-1]
    with pytest.raises(RuntimeError, match="boom"), busy_neighbour(core) as pid:
        assert psutil.Process(pid).cpu_affinity() == [core]
        raise RuntimeError("boom")  # an error in the timed work must not leave it spinning
    assert not psutil.pid_exists(pid)
