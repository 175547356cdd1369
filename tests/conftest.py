"""Shared fixtures. The tests never touch the network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("DREAMLAB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]

# Under CI the property tests draw the same examples every run (a red CI is then reproducible);
# locally they explore new random examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
SAMPLES = ROOT / "dreamlab" / "assets" / "samples"


@pytest.fixture(autouse=True)
def _offline_torch_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the torch hub cache at an empty temp dir: no test sees or fills the user's cache."""
    import torch

    hub = tmp_path_factory.getbasetemp() / "torch-hub"
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub))
    monkeypatch.setenv("DREAMLAB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _private_dreamlab_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Trained models and data sets go to temp folders, never the user's cache."""
    os.environ["DREAMLAB_MODELS"] = str(tmp_path_factory.mktemp("dreamlab-models"))
    os.environ["DREAMLAB_DATA"] = str(tmp_path_factory.mktemp("dreamlab-data"))


@pytest.fixture(scope="session")
def lite0():
    """The embedded EfficientNet-Lite0 on the CPU (loaded once per test session)."""
    from dreamlab.models import load_model

    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    from dreamlab.images import load_sample

    return load_sample("chelsea")


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    from dreamlab.images import load_sample

    return load_sample("coffee")


@pytest.fixture
def own_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh models folder (``DREAMLAB_MODELS``) for one test; not created until saved into."""
    folder = tmp_path / "models"
    monkeypatch.setenv("DREAMLAB_MODELS", str(folder))
    return folder


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model registry as it is now, restored after the test: models a test saves and
    registers never reach later tests' ``list_models()``."""
    from dreamlab.models import registry

    registry.registered_names()  # the built-ins in first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture(scope="session")
def playwright_driver():
    """The session's one Playwright driver: its sync API allows one at a time in a thread, so
    every browser fixture (tests/e2e, tests/serve) launches its Chromium from this one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


# The quick lane, `pytest -m "not e2e and not slow"`, leaves out the browser tests and these: the
# slowest of the rest on two shared cores (`pytest -m "not e2e" --durations=50`). Keyed by the
# test file's name and the test's name (None: the whole file), so a file may move to another
# folder; a test may also carry `@pytest.mark.slow` itself.
SLOW: dict[str, frozenset[str] | None] = {
    "test_ray_serve": None,  # starts Ray and Serve (about 25 s before the first test)
    "test_benchmark": frozenset(
        {"test_quick_benchmark_writes_every_number", "test_quick_contention_case"}
    ),
    "test_video_benchmark": frozenset({"test_only_video_runs_every_case_and_checks_the_targets"}),
    "test_core": frozenset({"test_adam_step_maximizes"}),
    "test_class_faults": frozenset(
        {
            "test_a_capped_layer_says_its_real_map_size_once",
            "test_the_zoom_loops_slider_runs_over_its_frames",
        }
    ),
    "test_feature_vis_page": frozenset(
        {
            "test_compare_naive_and_regularized_side_by_side",
            "test_gallery_of_channels_and_facets",
            "test_visualize_shows_the_image_value_and_download",
        }
    ),
    "test_package": frozenset(
        {"test_backend_modules_never_import_streamlit", "test_no_work_at_import"}
    ),
    "test_deepdream_page": frozenset(
        {
            "test_bad_channel_is_one_line_and_keeps_the_last_dream",
            "test_dream_fills_results_and_downloads",
            "test_dream_from_noise_is_shown_next_to_the_photo",
            "test_extra_layers_with_weights_and_a_maps_switch",
            "test_guided_dream",
            "test_unavailable_model_keeps_the_form_and_the_results",
            "test_videos_and_json_download_data",
            "test_zoom_loop_plays_and_downloads_as_mp4_and_gif",
        }
    ),
    "test_page_settings": frozenset(
        {
            "test_a_layer_the_model_lacks_and_a_bad_kernel_are_named_in_one_line",
            "test_hostile_addresses_open_the_page_with_one_line",
            "test_switching_language_changes_words_only",
            "test_the_address_sets_the_widgets_and_the_widgets_the_address",
        }
    ),
    "test_fuzz_inputs": frozenset({"test_parse_kernel_random_text"}),
    "test_train_page": frozenset(
        {
            "test_a_short_training_is_kept_for_its_session_only",
            "test_french_training_run_is_clean",
            "test_save_for_everyone_refuses_a_bad_name_then_saves",
        }
    ),
    "test_video_page": frozenset(
        {
            "test_bad_uploads_are_one_line",
            "test_builtin_clip_dreams_offline",
            "test_upload_dream_and_download_mp4",
        }
    ),
    "test_service": frozenset({"test_dreamlab_works_without_ray"}),
    "test_convolution": frozenset({"test_import_does_no_work"}),
    "test_cli_basic": frozenset(
        {
            "test_classify_top",
            "test_python_m_dreamlab_bad_input_exit_2",
            "test_python_m_dreamlab_models",
        }
    ),
    "test_import_graph": frozenset({"test_the_graph_sees_function_level_imports"}),
    "test_registry": frozenset({"test_cached_torchvision_weights_are_found_and_load"}),
    "test_reproducible": frozenset(
        {"test_seeded_dream_is_identical_while_the_governor_changes_workers"}
    ),
    "test_classroom": frozenset({"test_the_teachers_own_photo_goes_to_the_class"}),
    "test_render": frozenset({"test_rendered_channel_beats_every_sample_photo"}),
    "test_settings": frozenset({"test_hostile_addresses_never_raise"}),
    "test_feature_maps_page": frozenset({"test_page_renders_maps_filters_and_predictions"}),
    "test_core_controls": frozenset(
        {"test_feature_vis_starts_from_the_config_defaults_and_renders_octaves"}
    ),
    "test_engines_over_the_core": frozenset({"test_deepdream_objectives_grow"}),
    "test_convolution_page": frozenset(
        {
            "test_controls_change_the_result_without_errors",
            "test_largest_settings_still_fit",
            "test_sized_presets_custom_kernel_and_presenter_mode",
        }
    ),
    "test_memory": frozenset({"test_release_memory_is_safe_to_call_repeatedly"}),
    "test_live_camera_page": frozenset({"test_snapshot_fallback_runs_each_mode"}),
    "test_lesson": frozenset({"test_the_app_walks_the_lesson_with_next_and_previous"}),
    "test_languages": frozenset(
        {"test_page_renders_translated", "test_presenter_mode_folds_advanced_controls"}
    ),
    "test_french_walk": frozenset({"test_french_pages_show_no_english"}),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests listed in :data:`SLOW` as ``slow``."""
    for item in items:
        stem = item.path.stem
        if stem not in SLOW:
            continue
        names = SLOW[stem]
        if names is None or getattr(item, "originalname", item.name) in names:
            item.add_marker(pytest.mark.slow)
