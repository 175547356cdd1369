"""The DeepDream page's video source in a real browser: upload a short clip, dream it, get the MP4."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamlab.media import probe_video
from tests.dream.clips import make_clip
from tests.e2e.conftest import act_and_wait, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _slider_to(page, label: str, key: str) -> None:
    """Move the slider labelled ``label`` to its start (Home) or end (End)."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    slider.get_by_role("slider").focus()
    page.keyboard.press(key)


def test_upload_dream_and_download_the_mp4(page, app_url: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "walk.mp4", seconds=1.0, fps=12, w=160, h=96)
    open_page(page, app_url, "deepdream")
    act_and_wait(page, lambda: page.get_by_role("radio", name="Video", exact=True).click())
    act_and_wait(page, lambda: page.get_by_text("Upload a clip", exact=True).click())
    page.locator('.st-key-dv_upload input[type="file"]').set_input_files(str(clip))
    page.get_by_text("walk.mp4").first.wait_for()
    wait_idle(page)
    for label in ("Octaves", "Iterations per octave", "Frames per second"):
        act_and_wait(page, lambda label=label: _slider_to(page, label, "Home"))
    act_and_wait(page, lambda: _slider_to(page, "Frame size", "Home"))  # 128 px
    assert page.get_by_text("optical flow", exact=False).count() >= 1  # the lesson line

    page.get_by_role("button", name="Dream", exact=True).click()
    download = page.get_by_role("button", name="Download MP4")
    download.wait_for(timeout=240_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stVideo"]').count() == 1  # the result plays on the page
    screenshot(page, "video-result")

    with page.expect_download() as info:
        download.click()
    got = Path(info.value.path())
    video = probe_video(got.rename(tmp_path / "dreamed.mp4"))
    assert video.frames == 4 and video.has_audio  # 1 s at 4 frames per second, the tone kept
    assert (video.width, video.height) == (128, 76)


def test_a_text_file_named_mp4_is_one_line(page, app_url: str, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a film\n")
    open_page(page, app_url, "deepdream")
    act_and_wait(page, lambda: page.get_by_role("radio", name="Video", exact=True).click())
    act_and_wait(page, lambda: page.get_by_text("Upload a clip", exact=True).click())
    page.locator('.st-key-dv_upload input[type="file"]').set_input_files(str(fake))
    page.get_by_text("notes.mp4").first.wait_for()
    wait_idle(page)
    act_and_wait(page, lambda: page.get_by_role("button", name="Dream", exact=True).click())
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="not a video")
    alert.wait_for()
    text = alert.inner_text().replace("⚠️", "").strip()
    assert text == "notes.mp4: not a video (or a format DreamLab cannot read)"
    assert page.locator('[data-testid="stException"]').count() == 0


# frames finished, as the live progress line says (0 before it shows)
_FRAMES_DONE_JS = """() => {
    const m = document.body.innerText.match(/Optical flow: frame (\\d+) of/);
    return m ? Number(m[1]) : 0;
}"""


def test_stop_keeps_the_frames_dreamed(page, app_url: str, tmp_path: Path) -> None:
    open_page(page, app_url, "deepdream")
    act_and_wait(page, lambda: page.get_by_role("radio", name="Video", exact=True).click())
    act_and_wait(page, lambda: _slider_to(page, "Frame size", "Home"))  # 128 px, built-in clip
    # 36 frames of many steps each: the dream is still running when Stop is clicked
    act_and_wait(page, lambda: _slider_to(page, "Iterations per octave", "End"))
    page.get_by_role("button", name="Dream", exact=True).click()
    page.wait_for_function(f"() => ({_FRAMES_DONE_JS})() >= 2", timeout=240_000)
    assert page.get_by_text("Raw frame", exact=False).count() >= 1  # the raw frame beside it
    screenshot(page, "video-live")
    done = page.evaluate(_FRAMES_DONE_JS)  # frames written by now (the MP4 holds these at least)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped: the frames dreamed so far are kept.").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    download = page.get_by_role("button", name="Download MP4")
    # the button's component loads lazily in the browser: it can show just after the run ends
    download.wait_for(timeout=60_000)
    assert download.count() == 1
    assert page.locator('[data-testid="stVideo"]').count() == 1  # it plays on the page
    with page.expect_download() as info:
        download.click()
    video = probe_video(Path(info.value.path()).rename(tmp_path / "stopped.mp4"))
    assert video.frames >= done >= 2  # a playable MP4 of the frames done
    assert video.frames < 36  # stopped early
