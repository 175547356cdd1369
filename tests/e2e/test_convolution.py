"""The Convolution page in a real browser: picking another kernel redraws the output image."""

from __future__ import annotations

import contextlib

import pytest

from tests.e2e.conftest import act_and_wait, copied_link, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


# The Convolution page is the app's first page: "/" goes on to its own address "/convolution"
# (tests/e2e/test_class_faults.py checks both).
PATH = ""
_IMAGES_LOADED = """() => {
    const imgs = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return imgs.length >= 4 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def _open(page, app_url: str) -> None:
    open_page(page, app_url, PATH)
    page.wait_for_function(_IMAGES_LOADED)
    assert page.locator("h1").first.inner_text().strip() == "Convolution"


def _output_img(page):
    """The output picture: a clickable component, so an <img> inside its iframe."""
    img = page.frame_locator(".st-key-conv_output iframe").first.locator("img")
    img.wait_for(state="visible")
    return img


def _output_png(page, app_url: str) -> tuple[str, bytes]:
    """The output image's src and the bytes the browser would load from it."""
    src = _output_img(page).get_attribute("src")
    assert src
    url = src if src.startswith(("http", "data:")) else app_url + src
    if src.startswith("data:"):
        import base64

        return src, base64.b64decode(src.split(",", 1)[1])
    return src, page.request.get(url).body()


def _pick(page, key: str, option: str) -> None:
    """Open the selectbox with this key and choose an option by its label (opened again if a
    rerun of its part redrew it, and closed its list, as it opened)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        wait_idle(page)
        page.locator(f".st-key-{key} [role='combobox']").click()
        with contextlib.suppress(PlaywrightTimeout):
            choice.wait_for(timeout=10_000)
            break
    act_and_wait(page, lambda: choice.click())
    page.wait_for_function(_IMAGES_LOADED)


def test_changing_the_kernel_changes_the_output(page, app_url: str) -> None:
    _open(page, app_url)
    assert page.locator('[data-testid="stException"]').count() == 0
    # the seed's figure, 3x3 valid; sizes are width x height, as the CLI prints them
    assert page.get_by_text("Output, 449 x 298 px (width x height)").count() == 1
    src_before, png_before = _output_png(page, app_url)
    assert png_before[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")

    _pick(page, "conv_preset", "Gaussian blur")
    src_after, png_after = _output_png(page, app_url)
    assert src_after != src_before
    assert png_after != png_before
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlert"]').filter(has_text="⚠").count() == 0
    screenshot(page, "convolution")


def test_editing_a_weight_changes_the_output(page, app_url: str) -> None:
    _open(page, app_url)
    src_before, _ = _output_png(page, app_url)
    grid = page.locator("[class*='st-key-conv_editor'] [data-testid='stDataFrameResizable']").first
    box = grid.bounding_box()
    assert box
    row = box["height"] / 4  # a header and three rows of the 3x3 kernel
    # a double click on the centre weight (below the header and the first row) opens its editor
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + 2.5 * row)
    cell = page.locator("input.gdg-input")
    cell.wait_for(state="visible")
    assert cell.input_value() == "0"  # the middle row of the horizontal-edge kernel
    cell.fill("5")
    act_and_wait(page, lambda: cell.press("Enter"))
    page.wait_for_function(_IMAGES_LOADED)
    assert page.get_by_text("Sum of the weights: 5").count() == 1
    src_after, _ = _output_png(page, app_url)
    assert src_after != src_before
    # the edit survives a look at another preset
    _pick(page, "conv_preset", "Box blur")
    assert page.get_by_text("Sum of the weights: 1").count() == 1
    _pick(page, "conv_preset", "Horizontal edge (classic)")
    assert page.get_by_text("Sum of the weights: 5").count() == 1
    screenshot(page, "convolution-edited")


def test_signed_view_and_the_inspector(page, app_url: str) -> None:
    _open(page, app_url)
    act_and_wait(
        page,
        lambda: (
            page.get_by_role("radiogroup", name="Show the output as")
            .get_by_text("signed", exact=True)
            .click()
        ),
    )
    page.wait_for_function(_IMAGES_LOADED)
    assert page.get_by_text("Diverging colours centred on 0", exact=False).count() == 1
    page.get_by_role("tab", name="Pixel inspector").click()  # tabs switch in the browser only
    assert page.get_by_text("The convolution's output at (149, 224)", exact=False).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "convolution-signed-inspector")


def test_clicking_the_output_selects_the_pixel(page, app_url: str) -> None:
    _open(page, app_url)
    img = _output_img(page)
    box = img.bounding_box()
    assert box
    # a quarter across and three quarters down the 449 x 298 output
    act_and_wait(
        page, lambda: img.click(position={"x": box["width"] / 4, "y": box["height"] * 3 / 4})
    )
    page.get_by_role("tab", name="Pixel inspector").click()
    i = int(page.locator(".st-key-conv_i input").input_value())
    j = int(page.locator(".st-key-conv_j input").input_value())
    assert abs(i - 298 * 3 / 4) <= 3 and abs(j - 449 / 4) <= 3
    assert page.get_by_text(f"The convolution's output at ({i}, {j})", exact=False).count() == 1
    screenshot(page, "convolution-clicked")


def test_sliding_window_plays_to_the_end(page, app_url: str) -> None:
    _open(page, app_url)
    page.get_by_role("tab", name="Sliding window").click()
    assert page.get_by_text("Position 1 of 25", exact=False).count() == 1
    act_and_wait(page, lambda: page.get_by_role("button", name="Play").click())
    page.get_by_text("Position 25 of 25", exact=False).wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "convolution-sliding-window")


def test_a_change_reaches_the_output_the_address_the_link_and_a_closed_tab(
    page, app_url: str
) -> None:
    """A stride or kernel change reruns only the parts of the page it affects: the output, the
    address and **Copy link** still follow it, and a tab closed at the time catches up when it
    is opened."""
    _open(page, app_url)
    assert "Output, 449 x 298 px" in page.locator(".st-key-conv_output").inner_text()
    page.locator(".st-key-conv_stride input[type='range']").focus()
    act_and_wait(page, lambda: page.keyboard.press("ArrowRight"))  # stride 1 -> 2
    page.wait_for_function("() => location.search.includes('s=2')")
    assert "Output, 225 x 149 px" in page.locator(".st-key-conv_output").inner_text()
    assert "s=2" in copied_link(page)
    _pick(page, "conv_preset", "Sobel x")  # the multi-channel tab is open: it has its own kernels
    page.wait_for_function("() => location.search.includes('k=sobel_x')")
    assert "k=sobel_x" in copied_link(page)
    act_and_wait(page, lambda: page.get_by_role("tab", name="Pixel inspector").click())
    assert page.get_by_text("Output row i (0 to 148)", exact=True).count() == 1
    assert page.get_by_text("Output column j (0 to 224)", exact=True).count() == 1
    assert "tab=inspect" in page.evaluate("() => location.search")
    assert page.locator('[data-testid="stException"]').count() == 0
