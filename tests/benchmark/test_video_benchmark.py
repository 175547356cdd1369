"""`dreamlab benchmark --only video`: its result's shape (speeds belong in the benchmark, not here)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

import dreamlab.benchmark.video as vb
from dreamlab.benchmark.engine import summary_lines
from dreamlab.cli import main
from dreamlab.dream.config import DreamConfig


def test_only_video_runs_every_case_and_checks_the_targets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a tiny dream and a half-second clip: this checks the plumbing, not the speed
    monkeypatch.setattr(vb, "DreamConfig", partial(DreamConfig, num_octaves=1, iterations=1))
    real = vb.run_video_benchmark
    monkeypatch.setattr("dreamlab.benchmark.video.run_video_benchmark", partial(real, seconds=0.5))
    out = tmp_path / "video.json"
    assert main(["benchmark", "--only", "video", "--device", "cpu", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["video"]
    cases = {(r["max_side"], r["coherence"]) for r in result["runs"]}
    assert cases == {(256, "flow"), (512, "flow"), (256, "blend"), (256, "none")}
    for run in result["runs"]:
        assert run["frames"] == 6 and run["fps"] > 0 and run["flicker"] >= 0
        assert max(run["size"]) == run["max_side"]
    assert set(result["targets"]) >= {"fps_256_met", "flicker_flow_over_none", "flicker_met"}
    assert len(result["load_average_before"]) == 3
    printed = capsys.readouterr().out
    assert "256 px flow" in printed and "targets:" in printed
    assert summary_lines(json.loads(out.read_text()))[1].startswith("video (cpu")
