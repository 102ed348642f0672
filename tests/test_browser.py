"""The real-browser check: JupyterLab on 127.0.0.1, each notebook opened in headless Chromium (Playwright) and
used as a person would (Run All, clicks, drags), with what the page shows asserted; screenshots go to
result/browser/. Deterministic on a busy machine: each notebook's kernel is started through the server's REST API
and is idle before the page opens (no "Select Kernel" dialog), and every wait is on page state, never on time.

Skipped where Chromium or Playwright is missing, unless MORPHLIB_REQUIRE_BROWSER=1 (CI sets it)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from conftest import REPO

CHROMIUM = "/usr/bin/chromium"
SMALL = {
    "learn.ipynb": {"PICTURE": 2, "EPOCHS": 100000, "SNAPSHOT_EVERY": 2},  # W-100/2.npz: a shipped net
    "transition.ipynb": {"SIZE": "48", "SEQUENCE": "1>2:4, 2>3:4", "PREVIEW": 64, "MP4": False},
    "two_images.ipynb": {"SIZE": 64, "STEPS": 10, "PREVIEW": 48, "M_PRECISE": 0.3},
}
WAIT_MS = 240_000  # the longest any page state may take on a loaded 2-core machine
OUTPUT = ".jp-OutputArea-output"

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
    """(url, root): a JupyterLab server, with settings of its own, over a copy of the project whose notebooks
    carry small parameters."""
    root = tmp_path_factory.mktemp("lab")
    for d in ("img", "W-100"):
        shutil.copytree(REPO / d, root / d)
    for name, params in SMALL.items():
        nb = nbformat.read(REPO / name, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
        nbformat.write(nb, root / name)
    settings = root.parent / f"{root.name}-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"autoStartDefaultKernel": True}))  # never the "Select Kernel" dialog
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(settings / "workspaces")}
    port = _free_port()  # never a server left over from another run
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
           "--allow-root", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _api(url, "status"), "JupyterLab to answer", server, root / "lab.log")
        yield url, root
    finally:
        _stop(server)
        log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(server):
    """Stop the server and its kernels by the server's pid (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _api(url, path, body=None):
    """The server's REST answer (JSON) for GET, or POST when `body` is given; None while it does not answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/api/{path}", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")
    except OSError:
        return None


def _until(ready, what, server=None, log=None, timeout=WAIT_MS / 1000):
    """Poll `ready()` until it is truthy (a bounded wait on the server's state, not a sleep)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server is not None and server.poll() is not None:
            pytest.fail(f"JupyterLab exited: {log.read_text()[-2000:]}")
        value = ready()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"waited {timeout:.0f} s for {what}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def notebook(lab, browser, request):
    """A page with the test's notebook open on its kernel, idle; a screenshot after. The session is made through
    the REST API first and the lab's settings start the preferred kernel, so the page never asks for one."""
    url, root = lab
    name = request.param
    assert _api(url, "sessions", {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    stem = name.removesuffix(".ipynb")
    out = REPO / "result" / "browser"
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/lab/workspaces/{stem}/tree/{name}")
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    code = sum(c.cell_type == "code" for c in nbformat.read(root / name, as_version=4).cells)
    page.wait_for_function("n => document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt').length >= n",
                           arg=code)  # every cell drawn: Run All's progress is read off their prompts
    yield page, root
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    page.screenshot(path=str(out / f"{'FAILED-' if failed else ''}{stem}.png"), full_page=True)
    if failed:  # the server's side of it too
        shutil.copy(root / "lab.log", out / f"FAILED-{stem}-lab.log")
    page.close()


def _run_all(page, tries=3):
    """Run > Run All Cells, then wait until every code cell shows a new execution count and none raised. A click
    that reaches a kernel still connecting runs nothing (no cell shows [*]): it is clicked again."""
    counts = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => (p.textContent.match(/\\[(\\d+|\\*)\\]/) || [])[1] || null)"""
    before = page.evaluate(counts)
    for _ in range(tries):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(f"(before) => ({counts})().some((c, i) => c !== null && c !== before[i])",
                                   arg=before, timeout=30_000)
            break
        except PlaywrightTimeout:
            continue
    page.wait_for_function(f"""(before) => {{ const now = ({counts})();
        return now.length && now.every((c, i) => c !== null && c !== '*' && c !== before[i]); }}""", arg=before)
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, "a cell wrote to stderr"


def _src(images, i=0):
    return images.nth(i).get_attribute("src")


def _drag(page, slider, dx):
    """Drag a slider's handle by dx pixels, as a mouse would."""
    slider.scroll_into_view_if_needed()
    box = slider.locator(".noUi-handle").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()


def _slider(page, label):
    return page.locator(".widget-slider", has=page.locator(f"label:text-is('{label}')")).first


def _wait_for_change(page, selector, i, before):
    page.wait_for_function("([sel, i, src]) => document.querySelectorAll(sel)[i].getAttribute('src') !== src",
                           arg=[selector, i, before])


def _until_epoch(page, n):
    """Until the training monitor's status says epoch n or later."""
    page.wait_for_function("""(n) => [...document.querySelectorAll('.widget-html')]
        .some(h => +((h.textContent.match(/^epoch (\\d+): PSNR/) || [])[1] || 0) >= n)""", arg=n)


@pytest.mark.parametrize("notebook", ["learn.ipynb"], indirect=True)
def test_learn_run_twice_stop_keep_the_better_net_scrub_epochs(notebook):
    page, root = notebook
    shipped = (root / "W-100" / "2.npz").read_bytes()
    _run_all(page)
    _until_epoch(page, 3)  # training runs in the background
    _run_all(page)  # Run All again while it trains: the earlier run is stopped, and the page says so
    page.locator(OUTPUT, has_text="An earlier run of picture 2 was still training").wait_for()
    _until_epoch(page, 5)
    page.locator(".widget-button", has_text="Stop").click()
    kept = page.locator(".widget-html").filter(has_text=re.compile(r"^stopped: best PSNR .* kept W-100/2\.npz"))
    kept.wait_for()  # the shipped net is better than a few epochs' one
    assert (root / "W-100" / "2.npz").read_bytes() == shipped
    assert "(best)" in page.locator(".widget-slider .widget-readout").first.inner_text()
    assert page.locator("svg polyline").count() == 1  # the live PSNR curve
    images = page.locator(f"{OUTPUT} .widget-image")
    before = _src(images)
    _drag(page, _slider(page, "epoch"), -200)  # back to an early snapshot
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, before)
    page.locator(".widget-html", has_text="showing epoch").wait_for()
    assert kept.count() == 1  # scrubbing left the save message alone


@pytest.mark.parametrize("notebook", ["transition.ipynb"], indirect=True)
def test_transition_plays_the_gif_without_storing_it_and_scrubs(notebook):
    page, root = notebook
    _run_all(page)
    page.locator(OUTPUT, has_text="GIF: result/transition.gif").wait_for()
    assert page.locator(OUTPUT, has_text="7 frames").count() == 1
    page.locator(f"{OUTPUT} .widget-image >> nth=3").wait_for()  # the scrubber's, the point editor's two, the GIF
    images = page.locator(f"{OUTPUT} .widget-image")
    before = _src(images)
    _drag(page, _slider(page, "t"), 120)
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, before)
    clicks = [(images.nth(side), (0.25, 0.5) if side == 1 else (0.75, 0.25)) for side in (1, 2)]
    for image, (x, y) in clicks:  # a point on A, then its partner on B
        box = image.bounding_box()
        image.click(position={"x": x * box["width"], "y": y * box["height"]})
    saved = _until(lambda: _read_json(root / "W-100" / "points" / "1-2.json"), "the clicked pair to be saved")
    assert saved[0] == pytest.approx([0.25, 0.5, 0.75, 0.25], abs=0.02)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Save Notebook").first.click()
    _until(lambda: _has_run(root / "transition.ipynb"), "the notebook to be saved")
    saved = (root / "transition.ipynb").read_text()
    assert "image/gif" not in saved and len(saved) < 100_000  # no GIF in the file
    images.nth(3).scroll_into_view_if_needed()  # the screenshot shows the GIF playing


def _read_json(path):
    """The JSON in `path`, None while it is not there (or not whole)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _has_run(path):
    """Whether the notebook file at `path` was saved after its cells ran (the server writes it in place: a file
    read half-written is not saved yet)."""
    try:
        cells = nbformat.read(path, as_version=4).cells
    except ValueError:
        return False
    return all(c.get("execution_count") for c in cells if c.cell_type == "code")


@pytest.mark.parametrize("notebook", ["two_images.ipynb"], indirect=True)
def test_two_images_shows_the_weights_it_uses_and_saves_once_with_progress(notebook):
    page, root = notebook
    _run_all(page)
    readout = _slider(page, "m_precise").locator(".widget-readout")
    assert readout.inner_text() == "0.300"  # M_PRECISE = 0.3, shown as it is used
    images = page.locator(f"{OUTPUT} .widget-image")
    before = _src(images)
    _drag(page, _slider(page, "m_precise"), 60)
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, before)
    page.locator(".widget-html", has_text="preview: loss per pixel").wait_for()
    shown = float(readout.inner_text())
    assert shown != 0.3
    button = page.locator(".widget-button", has_text="Save full size")
    page.evaluate("""(button) => { window.seen = {disabled: false, progress: false};
        new MutationObserver(() => {
            window.seen.disabled ||= button.disabled;
            window.seen.progress ||= [...document.querySelectorAll('.widget-inline-hbox .progress')]
                .some(p => p.closest('.widget-inline-hbox').style.visibility !== 'hidden');
        }).observe(document.body, {subtree: true, attributes: true, childList: true}); }""", button.element_handle())
    (root / "result" / "hybrid.png").unlink()  # the notebook's own save made it
    button.click()
    button.click(force=True)  # a second, impatient click while it works
    saved = page.locator(".widget-html", has_text=f"saved result/hybrid.png (64x64, m_precise {shown:g},")
    saved.wait_for()
    assert page.evaluate("window.seen") == {"disabled": True, "progress": True}
    assert (root / "result" / "hybrid.png").is_file()
