"""dreamlab.live: the three modes call the pages' own backend functions; streams stay within the
server's means (a cap, the job gate's seats and turns, stale streams ended, errors in one line)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dreamlab.activations import layer_maps
from dreamlab.convolution import convolve, preset_kernel, to_display, to_gray
from dreamlab.live import (
    ArrivalClock,
    ConvolutionSettings,
    DreamSettings,
    LiveStats,
    LiveStream,
    MapsSettings,
    StreamRegistry,
    default_stream_cap,
    fit_side,
    make_processor,
)
from dreamlab.models import UnknownLayerError
from dreamlab.runtime.jobs import JobGate
from dreamlab.runtime.threads import ThreadGovernor, adapting


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def frame(chelsea: np.ndarray) -> np.ndarray:
    return fit_side(chelsea)  # (213, 320, 3), as the page processes a camera frame


def _conv_stream(registry: StreamRegistry, gate: JobGate, **kw) -> LiveStream:
    stream = LiveStream(registry, gate, **kw)
    settings = ConvolutionSettings.of(preset_kernel("horizontal_edge"))
    stream.configure(settings, lambda: make_processor(settings))
    return stream


# ---------------------------------------------------------------- the modes


def test_fit_side_downsizes_to_320_and_never_enlarges(chelsea: np.ndarray) -> None:
    assert max(fit_side(chelsea).shape[:2]) == 320
    small = chelsea[:100, :120]
    assert fit_side(small) is small


def test_convolution_is_the_pages_convolve_beside_the_input(frame: np.ndarray) -> None:
    kernel = preset_kernel("sobel_x")
    out = make_processor(ConvolutionSettings.of(kernel, view="signed"))(frame)
    h, w = frame.shape[:2]
    expected = to_display(
        convolve(to_gray(frame), kernel, padding="same", boundary="replicate"), "signed"
    )
    assert out.shape == (h, 2 * w + 4, 3)
    assert np.array_equal(out[:, :w], frame)  # the camera on the left
    assert np.array_equal(out[:, w + 4 :], expected)  # the same function as the page, on the right


def test_a_strided_output_is_shown_at_the_inputs_height(frame: np.ndarray) -> None:
    kernel = preset_kernel("horizontal_edge")
    out = make_processor(ConvolutionSettings.of(kernel, stride=3, color="rgb"))(frame)
    assert out.shape[0] == frame.shape[0]
    assert out.dtype == np.uint8


def test_feature_maps_show_the_layers_own_maps(lite0, frame: np.ndarray) -> None:
    layer = lite0.layers[4]
    proc = make_processor(MapsSettings(layer=layer, count=4, cols=2, tile=64), lite0)
    out = proc(frame)
    maps = layer_maps(lite0, frame, layer)  # (C, h, w)
    assert out.ndim == 3 and out.shape[2] == 3
    # two rows and two columns of 64-px tiles (longer side), 4-px gaps
    th = round(64 * maps.shape[1] / max(maps.shape[1:]))
    assert out.shape[:2] == (2 * th + 3 * 4, 2 * 64 + 3 * 4)
    assert np.array_equal(proc(frame), out)  # the same frame again: the same tiles in place


def test_the_dream_carries_its_detail_from_frame_to_frame(lite0, frame: np.ndarray) -> None:
    proc = make_processor(DreamSettings(layer="_blocks.5", steps=2, carry=0.9), lite0)
    first = proc(frame).astype(np.float32)
    second = proc(frame).astype(np.float32)
    assert first.shape == frame.shape
    change_1 = np.abs(first - frame).mean()
    change_2 = np.abs(second - frame).mean()
    assert change_1 > 0.5  # the dream changed the picture
    assert change_2 > 1.2 * change_1  # and the second frame went on from the first's detail


def test_no_carry_dreams_each_frame_afresh(lite0, frame: np.ndarray) -> None:
    proc = make_processor(DreamSettings(layer="_blocks.5", steps=2, carry=0.0), lite0)
    proc(frame)
    again = proc(frame).astype(np.float32)
    fresh = make_processor(DreamSettings(layer="_blocks.5", steps=2, carry=0.0), lite0)
    fresh(frame)  # the same frame count (the jitter's seed) on a new processor
    assert np.abs(fresh(frame).astype(np.float32) - again).max() == 0


def test_an_unknown_layer_is_one_line_listing_the_valid_ones(lite0) -> None:
    with pytest.raises(UnknownLayerError, match="_blocks.9"):
        make_processor(MapsSettings(layer="nope"), lite0)
    with pytest.raises(UnknownLayerError):
        make_processor(DreamSettings(layer="nope"), lite0)


def test_model_modes_need_a_model() -> None:
    with pytest.raises(ValueError, match="need a model"):
        make_processor(MapsSettings(layer="_blocks.1"))


# ---------------------------------------------------------------- measures


def test_stats_count_frames_per_second_and_the_median_latency() -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=3.0, clock=clock)
    assert stats.fps() == 0.0 and stats.latency() is None
    for k in range(11):  # 11 frames over one second
        clock.now = 100.0 + k / 10
        stats.record(0.02 if k % 2 else 0.05)
    assert stats.fps() == pytest.approx(10.0)
    assert stats.latency() == pytest.approx(0.05)
    clock.now += 10  # nothing for a while: the window empties
    assert stats.fps() == 0.0 and stats.latency() is None
    assert stats.total == 11


def test_arrival_clock_measures_from_the_least_delayed_frame() -> None:
    clock = ArrivalClock()
    assert clock.arrival(0.0, 50.0) == 50.0
    assert clock.arrival(1.0, 51.5) == 51.0  # this frame waited 0.5 s more than the first
    assert clock.arrival(2.0, 51.9) == pytest.approx(51.9)  # a faster one sets a new offset


def test_the_cap_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMLAB_LIVE_STREAMS", "3")
    assert default_stream_cap() == 3
    monkeypatch.setenv("DREAMLAB_LIVE_STREAMS", "zero")
    assert default_stream_cap() == 2


# ---------------------------------------------------------------- streams


def test_a_full_server_refuses_a_stream_and_admits_it_when_one_ends(frame: np.ndarray) -> None:
    registry, gate = StreamRegistry(cap=1), JobGate(capacity=4)
    a, b = _conv_stream(registry, gate), _conv_stream(registry, gate)
    assert a.process(frame).shape[1] > frame.shape[1]  # processed: input and output
    assert a.status.state == "running"
    assert b.process(frame) is frame  # refused: the camera passes through untouched
    assert b.status.state == "full"
    assert gate.running == 1  # the refused stream took no seat at the gate
    a.end()
    assert registry.active() == 0 and gate.running == 0
    assert b.process(frame).shape[1] > frame.shape[1]
    assert b.status.state == "running" and registry.active() == 1


def test_a_stream_that_stops_sending_is_ended_and_frees_its_seats(frame: np.ndarray) -> None:
    clock = FakeClock()
    registry, gate = StreamRegistry(cap=1, stale_s=5.0, clock=clock), JobGate(capacity=4)
    a = _conv_stream(registry, gate)
    a.process(frame)
    assert registry.active() == 1 and gate.running == 1
    clock.now += 6  # a closed tab: no frame for longer than stale_s
    assert registry.active() == 0
    assert gate.running == 0  # its gate seat went with it
    b = _conv_stream(registry, gate)
    b.process(frame)
    assert b.status.state == "running"


def test_a_stream_waits_for_a_gate_seat_without_blocking(frame: np.ndarray) -> None:
    registry, gate = StreamRegistry(cap=2), JobGate(capacity=1)
    other = gate.enter()
    assert gate.wait_turn(other, timeout=0)  # a dream holds the only seat
    stream = _conv_stream(registry, gate)
    assert stream.process(frame) is frame
    assert stream.status.state == "waiting"
    gate.leave(other)
    assert stream.process(frame) is not frame
    assert stream.status.state == "running"
    stream.end()
    assert gate.running == 0


def test_a_frame_without_a_turn_in_time_is_dropped_not_queued(frame: np.ndarray) -> None:
    registry, gate = StreamRegistry(cap=2), JobGate(capacity=2, turns=1)
    stream = _conv_stream(registry, gate, turn_timeout_s=0.05)
    first = stream.process(frame)
    other = gate.enter()
    assert gate.wait_turn(other, timeout=0)
    assert gate.begin_turn(other, timeout=5)  # another job's step holds the only turn
    try:
        assert stream.process(frame[::-1].copy()) is first  # the last output, shown again
    finally:
        gate.end_turn(other)
        gate.leave(other)
    assert stream.stats.total == 1  # the dropped frame was never processed
    stream.end()


def test_a_failing_mode_shows_its_error_and_waits_for_new_settings(frame: np.ndarray) -> None:
    registry, gate = StreamRegistry(cap=2), JobGate(capacity=2)
    stream = LiveStream(registry, gate)
    calls = []

    class Broken:
        governed_inside = False

        def __call__(self, image: np.ndarray) -> np.ndarray:
            calls.append(1)
            raise ValueError("the kernel is too large for this frame")

    stream.configure("broken", Broken)
    assert stream.process(frame) is frame
    assert stream.status.state == "error"
    assert "too large" in str(stream.status.error)
    stream.process(frame)
    assert len(calls) == 1  # not retried frame after frame
    settings = ConvolutionSettings.of(preset_kernel("laplacian"))
    stream.configure(settings, lambda: make_processor(settings))
    assert stream.process(frame) is not frame
    assert stream.status.error is None and stream.status.state == "running"
    stream.end()


def test_same_settings_keep_the_processor(frame: np.ndarray) -> None:
    stream = LiveStream(StreamRegistry(cap=1), JobGate())
    built = []

    def build():
        built.append(1)
        return make_processor(ConvolutionSettings.of(preset_kernel("laplacian")))

    key = ConvolutionSettings.of(preset_kernel("laplacian"))
    stream.configure(key, build)
    stream.configure(ConvolutionSettings.of(preset_kernel("laplacian")), build)  # equal settings
    assert len(built) == 1
    stream.configure(ConvolutionSettings.of(preset_kernel("laplacian"), stride=2), build)
    assert len(built) == 2


def test_convolution_frames_run_under_the_thread_governor(frame: np.ndarray) -> None:
    if not adapting():
        pytest.skip("DREAMLAB_TORCH_THREADS or DREAMLAB_ADAPT_THREADS=0 turns the governor off")
    stream = _conv_stream(StreamRegistry(cap=1), JobGate())
    stream.process(frame)
    assert isinstance(stream._frames, ThreadGovernor)
    assert len(stream._frames.choices) == 1  # one governed step per frame
    stream.end()


def test_end_from_another_thread_while_processing_is_safe(frame: np.ndarray) -> None:
    registry, gate = StreamRegistry(cap=1), JobGate()
    stream = _conv_stream(registry, gate)
    worker = threading.Thread(target=lambda: [stream.process(frame) for _ in range(20)])
    worker.start()
    stream.end()
    worker.join(timeout=60)
    stream.end()
    assert not worker.is_alive()
    assert registry.active() <= 1
