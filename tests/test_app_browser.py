"""Real-browser test: Debian's chromium (headless) driven by playwright opens the app and uses it.

It opens the page and waits for the neuron lab's plots, moves the order-k slider and checks that the kernel plot
gained a tap, sets the lab to its largest size and checks that it draws in seconds, that a bad setting keeps the
plots; switches to the event explorer, uploads a recording from ``assets/``, checks the summary and that the
frame, point-cloud and rate plots rendered, moves the frame slider and types a bin count and checks the frame,
runs the models, checks that a failed load and a new recording clear every model result of the previous one, then
races (categorical T axis, spread, the fastest serial LIF as baseline) and visits the model zoo (scatter, a
card's confusion matrix, tap exponents and training curves). Screenshots go to
``$MFPSN_SCREENSHOTS`` when set (else a temporary folder).
Skipped, with the reason, when playwright or ``/usr/bin/chromium`` is missing.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and shutil.which("chromium") is None,
                       reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does it)"),
]


@pytest.fixture(scope="module")
def url():
    from mfpsn.tools.loadtest import launch_app

    demo = launch_app()
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(url):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                                    headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        outside: list[str] = []
        pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:",
                                                                                    "blob:")) else None)
        pg.goto(url)
        yield pg
        browser.close()
    assert not outside, f"the page requested resources outside loopback (fonts?): {outside[:5]}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("MFPSN_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def plot_data(page, selector: str) -> list | None:
    """Types and names of the plotly traces drawn inside ``selector``."""
    return page.evaluate(f"() => {{ const el = document.querySelector('{selector} .js-plotly-plot');"
                         " return el && el.data ? el.data.map(t => ({type: t.type, name: t.name || null})) : null; }")


def drawn_points(selector: str, trace: int) -> str:
    """A JS expression: the number of marker points the browser drew for scatter trace ``trace``."""
    return (f"(() => {{ const tr = document.querySelectorAll('{selector} .scatterlayer .trace');"
            f" return tr.length > {trace} ? tr[{trace}].querySelectorAll('.point').length : -1; }})()")


def test_lab_renders_and_follows_the_slider(page, shots):
    page.wait_for_function("document.querySelectorAll('#lab-plots .js-plotly-plot').length >= 6")
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('k = 3')")
    assert page.evaluate(drawn_points("#lab-kernel", 1)) == 3       # three taps drawn
    assert page.evaluate(drawn_points("#lab-membranes", 2)) > 0     # MFPSN spikes drawn on its membrane
    page.screenshot(path=str(shots / "1_neuron_lab.png"), full_page=True)
    slider = page.locator("#lab-order input[type=range]")
    slider.focus()
    slider.press("ArrowRight")                                      # k: 3 → 4
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('k = 4')")
    page.wait_for_function(drawn_points("#lab-kernel", 1) + " === 4")
    page.screenshot(path=str(shots / "2_neuron_lab_k4.png"), full_page=True)


def test_lab_at_its_limits_keeps_the_page_responsive(page, shots):
    """Issue 13.4: T = 4096 with 16 channels froze the page for 14–32 s; thinned traces draw in seconds."""
    import time

    page.evaluate("() => { window.labBusy = false; new MutationObserver(() => { if (document.querySelector("
                  "'#lab-plots .progress-text')) window.labBusy = true; }).observe(document.body,"
                  " {subtree: true, childList: true, attributes: true}); }")
    for elem, value in (("#lab-channels", "16"), ("#lab-T", "4096")):
        box = page.locator(f"{elem} input[type=number]")
        box.fill(value)
        box.press("Enter")
    start = time.monotonic()
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('T = 4096')")
    page.wait_for_function("document.querySelector('#lab-membranes .js-plotly-plot').layout.title.text"
                           ".includes('thinned')")
    assert time.monotonic() - start < 10
    assert page.evaluate("window.labBusy")                           # a busy indicator showed meanwhile
    points = page.evaluate("() => { const len = a => !a ? 0 : a.bdata ? atob(a.bdata).length / +a.dtype.slice(1)"
                           " : a.length; return [...document.querySelectorAll('#lab-plots .js-plotly-plot')]"
                           ".reduce((n, el) => n + el.data.reduce((m, t) => m + len(t.x), 0), 0); }")
    assert points < 40_000
    page.screenshot(path=str(shots / "2b_neuron_lab_T4096_16ch.png"), full_page=True)
    for elem, value in (("#lab-view-from", "2000"), ("#lab-view-to", "2200")):  # one zoom for the time plots
        box = page.locator(f"{elem} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('steps 2000–2199 of 4096')")
    ranges = page.evaluate("() => [...document.querySelectorAll('#lab-plots .js-plotly-plot')].slice(0, 3)"
                           ".map(el => el._fullLayout.xaxis.range.map(Math.round))")
    assert ranges == [[2000, 2199], [2000, 2199], [2000, 2200]]
    page.screenshot(path=str(shots / "2d_neuron_lab_zoomed.png"), full_page=True)
    for elem in ("#lab-view-from", "#lab-view-to"):                             # back to the whole run
        box = page.locator(f"{elem} input[type=number]")
        box.fill("0")
        box.press("Enter")
    page.wait_for_function("!document.querySelector('#lab-summary').innerText.includes('steps 2000')")


def test_a_bad_setting_keeps_the_valid_plots(page, shots, tmp_path):
    """Issue 13.5: one bad input replaced every valid plot with a red 'Error' badge."""
    box = page.locator("#lab-T input[type=number]")
    box.fill("256")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('T = 256')")
    bad = page.locator("#lab-upload input[type=file]")
    path = tmp_path / "bad_sequence.csv"
    path.write_text("1,2\n3\n")
    bad.set_input_files(str(path))
    page.wait_for_selector(".toast-body:has-text('expected the same number of columns')")
    assert "T = 256" in page.locator("#lab-summary").inner_text()
    assert page.locator("#lab-plots .js-plotly-plot").count() >= 6
    assert page.locator("#lab-plots :text-is('Error')").count() == 0
    page.screenshot(path=str(shots / "2c_neuron_lab_bad_setting.png"), full_page=True)
    page.locator("#lab-upload button[aria-label='Clear']").first.click()
    page.wait_for_function("document.querySelector('#lab-summary').innerText.includes('T = 256')")


def test_controls_that_do_not_apply_are_greyed_out(page):
    """Issue 13.5: inactive controls kept their values and looked active."""
    enabled = "document.querySelector('{} input[type=number]').disabled === {}"
    page.wait_for_function(enabled.format("#lab-layer", "true"))          # manual dilation: no sawtooth layer
    page.get_by_role("radio", name="sawtooth layer").check()
    page.wait_for_function(enabled.format("#lab-dilation", "true"))
    page.wait_for_function(enabled.format("#lab-layer", "false"))
    page.get_by_role("radio", name="manual", exact=True).check()
    page.wait_for_function(enabled.format("#lab-dilation", "false"))


def test_event_explorer_upload_and_frame_slider(page, shots):
    from mfpsn.app.events_view import ASSETS_DIR

    page.get_by_role("tab", name="Event explorer").click()
    page.locator("#events-upload input[type=file]").set_input_files(str(ASSETS_DIR / "nmnist_digit3.bin"))
    page.wait_for_function("document.querySelector('#events-summary').innerText.includes('15,595')")
    page.wait_for_function("document.querySelector('#events-frame .heatmaplayer image') !== null")
    page.wait_for_function("document.querySelector('#events-cloud .gl-container canvas') !== null")
    page.wait_for_function("document.querySelectorAll('#events-rate .scatterlayer .js-line').length === 2")
    assert [t["type"] for t in plot_data(page, "#events-cloud")] == ["scatter3d", "scatter3d"]
    title0 = page.evaluate("document.querySelector('#events-frame .js-plotly-plot').layout.title.text")
    assert title0.startswith("bin 1 of 20")
    page.screenshot(path=str(shots / "3_event_explorer.png"), full_page=True)
    slider = page.locator("#events-frame-slider input[type=range]")
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    page.wait_for_function("document.querySelector('#events-frame .js-plotly-plot').layout.title.text"
                           ".startsWith('bin 6 of 20')")
    page.screenshot(path=str(shots / "4_event_explorer_bin6.png"), full_page=True)
    box = page.locator("#events-bins input[type=number]")          # a typed bin count takes effect (issue 13.5)
    box.fill("5")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#events-frame .js-plotly-plot').layout.title.text"
                           ".startsWith('bin 1 of 5')")
    assert page.locator("#events-frame-slider input[type=number]").input_value() == "1"


def test_event_explorer_runs_the_shipped_models(page, shots):
    from mfpsn.app.models_view import compatible_checkpoints
    from mfpsn.app.events_view import ASSETS_DIR, read_recording

    names, left, right = compatible_checkpoints(read_recording(str(ASSETS_DIR / "nmnist_digit3.bin")))
    if not names:
        pytest.skip("no camera checkpoint is shipped in checkpoints/")
    page.get_by_role("button", name="Run the models").click()
    page.wait_for_function(f"document.querySelector('#models-summary').innerText.includes('{left}')")
    page.wait_for_function(f"document.querySelectorAll('#models-probs .barlayer .trace').length === "
                           f"{len({left, right})}")
    page.wait_for_function("document.querySelectorAll('#models-membranes .scatterlayer .trace').length > 0")
    page.wait_for_function("document.querySelectorAll('#models-input .heatmaplayer image').length >= 2")  # ON, OFF
    page.screenshot(path=str(shots / "4b_event_explorer_models.png"), full_page=True)


def models_shown(page) -> dict:
    """What the model-result outputs show: the summary text and the bars and lines drawn."""
    return page.evaluate("() => ({summary: document.querySelector('#models-summary').innerText,"
                         " bars: document.querySelectorAll('#models-probs .barlayer .trace').length,"
                         " inputs: document.querySelectorAll('#models-input .heatmaplayer image').length,"
                         " lines: document.querySelectorAll('#models-membranes .scatterlayer .trace').length})")


def test_a_failed_load_clears_the_previous_recording_and_its_results(page, shots, tmp_path):
    """Issue 13.1: the camera results of the test before must not stay on screen under another file."""
    from mfpsn.app.models_view import NO_RESULTS

    junk = tmp_path / "not_a_recording.bin"
    junk.write_bytes(b"\x01\x02 not events " * 10)
    page.get_by_role("tab", name="Event explorer").click()
    clear = page.locator("#events-upload button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator("#events-upload input[type=file]").set_input_files(str(junk))
    page.wait_for_function("document.querySelector('#events-summary').innerText.includes('Upload a file')")
    page.wait_for_function(f"document.querySelector('#models-summary').innerText.includes({NO_RESULTS[:20]!r})")
    shown = models_shown(page)
    assert shown["bars"] == 0 and shown["lines"] == 0 and shown["inputs"] == 0 and "predicts" not in shown["summary"]
    assert page.evaluate("document.querySelector('#events-frame .heatmaplayer image')") is None
    page.screenshot(path=str(shots / "4b2_failed_load_cleared.png"), full_page=True)


def test_spike_train_upload_and_models(page, shots):
    from mfpsn.app.events_view import ASSETS_DIR, read_recording
    from mfpsn.app.models_view import compatible_checkpoints

    path = ASSETS_DIR / "spoken_digits_sample.h5"
    page.get_by_role("tab", name="Event explorer").click()
    clear = page.locator("#events-upload button[aria-label='Clear']")
    if clear.count():
        clear.first.click()                                         # the file box holds the earlier upload
    page.locator("#events-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function("document.querySelector('#events-summary').innerText.includes('spike train')")
    page.wait_for_function("document.querySelector('#events-cloud .js-plotly-plot').layout.title.text"
                           ".includes('700-channel spike raster')")
    shown = models_shown(page)                                      # nothing computed for another file
    assert shown["bars"] == 0 and shown["inputs"] == 0 and "predicts" not in shown["summary"]
    names, left, right = compatible_checkpoints(read_recording(str(path)))
    if not names:
        page.screenshot(path=str(shots / "4c_spike_train.png"), full_page=True)
        pytest.skip("no spike-train checkpoint is shipped in checkpoints/")
    page.wait_for_function(f"document.querySelector('#models-a input').value === '{left}'")
    page.get_by_role("button", name="Run the models").click()
    page.wait_for_function(f"document.querySelector('#models-summary').innerText.includes('{left}')")
    assert "Results for spoken_digits_sample.h5, sample 0" in models_shown(page)["summary"]
    page.wait_for_function("document.querySelectorAll('#models-evidence .scatterlayer .trace').length >= 4")
    page.screenshot(path=str(shots / "4c_spike_train_models.png"), full_page=True)


def test_speed_race_and_model_zoo_tabs(page, shots):
    page.get_by_role("tab", name="Speed race").click()
    page.locator("#race-T textarea, #race-T input").first.fill("8, 32")
    page.get_by_role("button", name="Start the race").click()
    page.wait_for_function("document.querySelectorAll('#race-time .scatterlayer .trace').length >= 2")
    page.wait_for_function("document.querySelector('#race-table').innerText.includes('T = 32')")
    ticks = page.evaluate("() => [...document.querySelectorAll('#race-time .xtick text')].map(t => t.textContent)")
    assert ticks == ["8", "32"]                                     # categorical: the T values raced, nothing else
    assert page.evaluate("document.querySelectorAll('#race-time .errorbar').length") > 0
    assert "the fastest serial LIF raced" in page.locator("#race-table").inner_text()
    page.wait_for_function("document.querySelectorAll('#race-scaling .scatterlayer .trace').length >= 2")  # log-log
    page.wait_for_function("document.querySelectorAll('#race-recorded-scaling .scatterlayer .trace').length >= 2")
    page.screenshot(path=str(shots / "5_speed_race.png"), full_page=True)
    page.get_by_role("tab", name="Model zoo").click()
    page.wait_for_function("document.querySelector('#zoo-table').innerText.length > 10")
    page.wait_for_function("document.querySelectorAll('#zoo-scatter .scatterlayer .trace').length >= 2")
    page.locator("#zoo-pick input").click()
    page.get_by_role("option", name="fsdd_mfpsn", exact=True).click()
    page.wait_for_function("document.querySelector('#zoo-confusion .heatmaplayer') !== null")
    page.wait_for_function("document.querySelectorAll('#zoo-taps .barlayer .trace').length == 2")  # 2 MFPSN layers
    page.wait_for_function("document.querySelectorAll('#zoo-curves .scatterlayer .trace').length == 3")
    assert "fsdd_mfpsn" in page.locator("#zoo-card").inner_text()
    page.screenshot(path=str(shots / "6_model_zoo.png"), full_page=True)


def test_titles_fit_their_plots_in_an_800_pixel_window(page, shots):
    """Issue 13.5: the 800 px layout clipped plot titles; the plots now go under the controls there."""
    narrow = page.context.browser.new_page(viewport={"width": 800, "height": 1000})
    try:
        narrow.set_default_timeout(60_000)
        narrow.goto(page.url)
        narrow.wait_for_function("document.querySelectorAll('#lab-plots .js-plotly-plot').length >= 6")
        narrow.wait_for_timeout(1000)
        clipped = narrow.evaluate("""() => [...document.querySelectorAll('#lab-plots .js-plotly-plot')]
            .flatMap(el => { const box = el.closest('.block').getBoundingClientRect();
                const svg = el.querySelector('svg').getBoundingClientRect();
                const parts = [...el.querySelectorAll('.gtitle, .annotation-text')];
                return (svg.right > box.right + 1 ? ['the plot itself'] : []).concat(parts
                    .filter(t => { const r = t.getBoundingClientRect();
                                   return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1); })
                    .map(t => t.textContent)); })""")
        assert clipped == []
        narrow.screenshot(path=str(shots / "7_neuron_lab_800px.png"), full_page=True)
    finally:
        narrow.close()
