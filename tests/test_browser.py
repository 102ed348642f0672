"""The real-browser check: JupyterLab on 127.0.0.1, each notebook opened in headless Chromium (Playwright),
all cells run, a slider moved, the picture checked to have changed, a screenshot saved to result/browser/.

Skipped where Chromium or Playwright is missing, unless MORPHLIB_REQUIRE_BROWSER=1 (CI sets it)."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from conftest import REPO

CHROMIUM = "/usr/bin/chromium"
PORT = 18931
SMALL = {
    "learn.ipynb": {"PICTURE": 2, "HIDDEN": 16, "EPOCHS": 40, "SNAPSHOT_EVERY": 5},
    "transition.ipynb": {"SIZE": "48", "SEQUENCE": "1>2:4, 2>3:4", "PREVIEW": 64, "MP4": False},
    "two_images.ipynb": {"SIZE": 64, "STEPS": 10, "PREVIEW": 48},
}
# the slider each notebook's check drags, and the picture that must change with it
SLIDER = {"learn.ipynb": "snapshot", "transition.ipynb": "t", "two_images.ipynb": "m_precise"}


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the test is skipped then
    PlaywrightTimeout = TimeoutError


def _browser_ready():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM)


pytestmark = pytest.mark.skipif(not _browser_ready() and os.environ.get("MORPHLIB_REQUIRE_BROWSER") != "1",
                                reason="needs Chromium at /usr/bin/chromium and playwright")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a copy of the project whose notebooks carry small parameters."""
    root = tmp_path_factory.mktemp("lab")
    for d in ("img", "W-100"):
        shutil.copytree(REPO / d, root / d)
    for name, params in SMALL.items():
        nb = nbformat.read(REPO / name, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
        nbformat.write(nb, root / name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={PORT}",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
           "--allow-root", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{PORT}/api/status", server, root / "lab.log")
        yield f"http://127.0.0.1:{PORT}"
    finally:
        _stop(server)
        log.close()


def _stop(server):
    """Stop the server and its kernels by the server's pid (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _wait_for(url, server, log, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not start in {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def _image_src(page, index):
    return page.locator(".jp-OutputArea-output .widget-image").nth(index).get_attribute("src")



@pytest.mark.parametrize("name", list(SMALL))
def test_notebook_in_chromium(lab, browser, name):
    out = REPO / "result" / "browser"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"FAILED-{name.removesuffix('.ipynb')}.png").unlink(missing_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(180_000)  # kernels start slowly on a busy 2-core machine
    try:
        _run_all_and_drag(page, f"{lab}/lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}", name)
    except Exception:
        page.screenshot(path=str(out / f"FAILED-{name.removesuffix('.ipynb')}.png"), full_page=True)
        raise
    page.screenshot(path=str(out / f"{name.removesuffix('.ipynb')}.png"), full_page=True)
    page.close()


def _run_all(page, tries=4):
    """Run > Run All Cells; a click that lands before the kernel is really connected runs nothing: try again."""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    for _ in range(tries):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail("Run All Cells started no cell")


def _run_all_and_drag(page, url, name):
    page.goto(url)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    news = page.locator(".jp-toast-button", has_text="No")
    if news.count():
        news.first.click()
    _run_all(page)
    page.wait_for_function("""() => {  // every code cell has run once each shows an execution count
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
        return prompts.length && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
    }""")
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr'] .ansi-red-fg").count() == 0, "a cell raised"
    if name == "learn.ipynb":  # training runs in the background: wait for its end, then scrub back
        page.locator(".widget-html", has_text="saved").wait_for()
        slider = page.locator(".widget-slider").first
    else:
        slider = page.locator(".widget-slider", has=page.locator(f"label:text-is('{SLIDER[name]}')"))
    before = _image_src(page, 0)
    slider.scroll_into_view_if_needed()
    box = slider.locator(".noUi-handle").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + (-60 if name == "learn.ipynb" else 40), y, steps=5)
    page.mouse.up()
    page.wait_for_function("([i, src]) => document.querySelectorAll('.jp-OutputArea-output .widget-image')[i]"
                           ".getAttribute('src') !== src", arg=[0, before])
    page.locator(".jp-OutputArea-output .widget-image").first.scroll_into_view_if_needed()
