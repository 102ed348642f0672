"""The real-browser check: JupyterLab on 127.0.0.1, each notebook opened in headless Chromium (Playwright) and
used as a person would (Run All, clicks, drags), with what the page shows asserted; screenshots go to
result/browser/. Deterministic on a busy machine: each notebook's kernel is started through the server's REST API
and is idle before the page opens (no "Select Kernel" dialog), a Run All that a kernel swap drops is run again,
and every wait is on page state, never on time.

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
from morphlib.weights import read_meta

CHROMIUM = "/usr/bin/chromium"
SMALL = {
    "learn.ipynb": {"PICTURE": 2, "EPOCHS": 100000, "SNAPSHOT_EVERY": 2},  # W-100/2.npz: a shipped net
    "transition.ipynb": {"SIZE": "64x36", "SEQUENCE": "1>2:4, 2>3:4", "PREVIEW": 64, "MOVIES": ("gif",)},
    "two_images.ipynb": {"SIZE": 64, "STEPS": 10, "PREVIEW": 48, "M_PRECISE": 0.3},
}
WAIT_MS = 240_000  # the longest any page state may take on a loaded 2-core machine
OUTPUT = ".jp-OutputArea-output"


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


def _api(url, path, body=None, method=None):
    """The server's REST answer (JSON) for GET, or POST when `body` is given (or `method`); None while it does
    not answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/api/{path}", data=data, headers={"Content-Type": "application/json"},
                                 method=method)
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
    the REST API first and the lab's settings start the preferred kernel, so the page never asks for one. The
    kernel connections the page opens are counted (_SOCKETS): Run All watches them."""
    url, root = lab
    name = request.param
    assert _api(url, "sessions", {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _SOCKETS[page] = []
    page.on("websocket", lambda ws: _SOCKETS[page].append(ws.url) if "/api/kernels/" in ws.url else None)
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
    del _SOCKETS[page]


_SOCKETS = {}  # page -> the kernel connections it opened, in order


def _run_all(page, tries=4):
    """Run > Run All Cells, then wait until every code cell shows a new execution count and none raised. A click
    that reaches a kernel still connecting runs nothing (no cell shows [*] within 30 s), and a kernel that the
    page swaps for another as it settles (JupyterLab at times does, just after opening) drops the run: either way
    Run All is clicked again once the page is idle on its kernel."""
    counts = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => (p.textContent.match(/\\[(\\d+|\\*)\\]/) || [])[1] || null)"""
    done = f"""(before) => {{ const now = ({counts})();
        return now.length && now.every((c, i) => c !== null && c !== '*' && c !== before[i]); }}"""
    started = f"(before) => ({counts})().some((c, i) => c !== null && c !== before[i])"
    before = page.evaluate(counts)
    for _ in range(tries):
        sockets, clicked = len(_SOCKETS[page]), time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        while time.monotonic() - clicked < WAIT_MS / 1000 and len(_SOCKETS[page]) == sockets:
            if page.evaluate(done, before):
                assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, \
                    "a cell wrote to stderr"
                return
            if time.monotonic() - clicked > 30 and not page.evaluate(started, before):
                break
            page.wait_for_timeout(200)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    pytest.fail(f"Run All did not finish after {tries} tries")


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


def _watch(page, name, script):
    """Record, from now on, whether `script` (a JS expression on the page) was ever true: window.seen[name]."""
    page.evaluate(f"""() => {{ window.seen = window.seen || {{}}; window.seen['{name}'] = false;
        new MutationObserver(() => {{ window.seen['{name}'] ||= Boolean({script}); }})
            .observe(document.body, {{subtree: true, attributes: true, childList: true, characterData: true}}); }}""")


def _text_seen(pattern):
    """A JS expression: some widget's text matches the regular expression `pattern`."""
    return f"[...document.querySelectorAll('.widget-html')].some(h => /{pattern}/.test(h.textContent))"


def _epoch_now(page) -> int:
    return int(re.search(r"^epoch (\d+): PSNR", page.locator(".widget-html", has_text=re.compile(
        r"^epoch \d+: PSNR")).first.inner_text()).group(1))


@pytest.mark.parametrize("notebook", ["learn.ipynb"], indirect=True)
def test_learn_run_twice_scrub_while_training_stop_keep_the_better_net_restore(notebook):
    page, root = notebook
    shipped = (root / "W-100" / "2.npz").read_bytes()
    _run_all(page)
    page.locator(OUTPUT, has_text=re.compile(r"W-100/2\.npz holds a net of [\d.]+ dB: this run's net replaces it "
                                             r"only if it measures better \(REPLACE = True")).first.wait_for()
    _until_epoch(page, 3)  # training runs in the background
    _run_all(page)  # Run All again while it trains: the earlier run is stopped, and the page says so
    page.locator(OUTPUT, has_text="An earlier run of picture 2 was still training").wait_for()
    _until_epoch(page, 5)
    images, slider = page.locator(f"{OUTPUT} .widget-image"), _slider(page, "epoch")
    _drag(page, slider, -400)  # back to an early snapshot while it trains: the live view waits
    waits = page.locator(".widget-html", has_text=re.compile(r"^showing epoch \d+: .* the live view waits at epoch"))
    waits.wait_for()
    page.wait_for_function("""() => { const shown = [...document.querySelectorAll('.widget-html')]
            .map(h => (h.textContent.match(/^showing epoch (\\d+):/) || [])[1]).find(e => e);
        const readout = document.querySelector('.widget-slider .widget-readout').textContent;
        return shown && readout.split(' ')[0] === shown; }""")  # the drag's last move is the one shown
    looked_at, epoch = _src(images), _epoch_now(page)
    _until_epoch(page, epoch + 3)
    assert _src(images) == looked_at and "the live view waits" in waits.inner_text()
    _drag(page, slider, 1000)  # back at the end: it follows training again
    page.locator(".widget-html", has_text="following training").wait_for()
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, looked_at)
    page.locator(".widget-button", has_text="Stop").click()
    kept = page.locator(".widget-html").filter(has_text=re.compile(r"^stopped: best PSNR .* kept W-100/2\.npz"))
    kept.wait_for()  # the shipped net is better than a few epochs' one
    assert "Restore" in kept.inner_text() and "python -m morphlib" not in kept.inner_text()
    assert (root / "W-100" / "2.npz").read_bytes() == shipped
    assert "(best)" in page.locator(".widget-slider .widget-readout").first.inner_text()
    best = re.search(r"best PSNR ([\d.]+) dB", kept.inner_text()).group(1)
    assert f"best {best} dB" in page.locator(".widget-html svg").first.inner_html()  # one measure everywhere
    assert page.locator("svg polyline").count() == 1  # the live PSNR curve
    history = page.locator(".widget-select select").first
    newest = history.locator("option").first.inner_text().replace("\xa0", " ")  # a select's spaces are nbsp
    assert newest.startswith(f"0: {best} dB")  # this run's net, kept apart
    page.locator(".widget-button", has_text="Restore").click()
    page.locator(".widget-html", has_text="restored entry 0").wait_for()
    assert (root / "W-100" / "2.npz").read_bytes() != shipped  # this run's net is the current one now
    epochs = read_meta(REPO / "W-100" / "2.npz")["epochs"]  # the shipped net is in the history:
    page.wait_for_function("() => [...document.querySelectorAll('.widget-select option')]"
                           f".some(o => /\\s{epochs}\\sepochs/.test(o.textContent))")
    before = _src(images)
    _drag(page, slider, -200)  # back to an early snapshot
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, before)
    page.locator(".widget-html", has_text="showing epoch").wait_for()
    assert kept.count() == 1  # scrubbing left the save message alone


@pytest.mark.parametrize("notebook", ["transition.ipynb"], indirect=True)
def test_transition_previews_the_frame_plays_the_gif_from_its_file_and_survives_a_reload(notebook):
    page, root = notebook
    _run_all(page)
    page.locator(OUTPUT, has_text="GIF: result/transition.gif").wait_for()
    assert page.locator(OUTPUT, has_text="7 frames").count() == 1
    page.locator(f"{OUTPUT} .widget-image >> nth=2").wait_for()  # the scrubber's and the point editor's two
    images = page.locator(f"{OUTPUT} .widget-image")
    size = "(i) => [i.naturalWidth, i.naturalHeight]"
    images.first.wait_for()
    page.wait_for_function("() => document.querySelector('.jp-OutputArea-output .widget-image').naturalWidth > 0")
    assert images.first.evaluate(size) == [64, 36]  # SIZE 64x36 at PREVIEW 64: the frame's shape
    assert page.locator(".widget-html", has_text="a 64x36 frame (crop), previewed at 64x36").count() == 1
    before = _src(images)
    _drag(page, _slider(page, "t"), 120)
    _wait_for_change(page, f"{OUTPUT} .widget-image", 0, before)
    gif = page.locator(f"{OUTPUT} img[src*='transition.gif']")
    gif.wait_for()
    page.wait_for_function("(g) => g.complete && g.naturalWidth > 0", arg=gif.element_handle())
    assert gif.evaluate(size) == [64, 36]  # the GIF plays from its file
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
    url = page.url.split("/lab/")[0]
    for session in _api(url, "sessions"):  # reopened later: its kernel and widgets are gone
        _api(url, f"sessions/{session['id']}", method="DELETE")
    page.reload()
    page.locator(OUTPUT, has_text="GIF: result/transition.gif").wait_for()  # what was written, still listed
    page.locator(OUTPUT, has_text="frames: 7 of 7 done").wait_for()
    gif.wait_for()
    page.wait_for_function("(g) => g.complete && g.naturalWidth > 0", arg=gif.element_handle())
    assert page.locator(OUTPUT, has_text="Error displaying widget").count() <= 2  # the scrubber, the point editor
    gif.scroll_into_view_if_needed()  # the screenshot shows the GIF playing


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
def test_two_images_answers_a_drag_at_once_and_saves_once_with_progress(notebook):
    page, root = notebook
    _watch(page, "run_all_progress", _text_seen(r"^saving: iteration \d+ of at most 10"))
    _run_all(page)
    assert page.evaluate("window.seen.run_all_progress")  # the save cell of Run All shows its progress
    readout = _slider(page, "m_precise").locator(".widget-readout")
    assert readout.inner_text() == "0.300"  # M_PRECISE = 0.3, shown as it is used
    _watch(page, "busy", "document.querySelector('.morphlib-busy') && " + _text_seen("^updating the preview"))
    _drag(page, _slider(page, "m_precise"), 60)
    page.wait_for_function(f"(r) => {_text_seen('^preview: loss per pixel')} && "
                           "[...document.querySelectorAll('.widget-html')].some(h => h.textContent.includes("
                           "'m_precise ' + r.textContent))", arg=readout.element_handle())  # the newest value's
    assert page.evaluate("window.seen.busy")  # the move faded the preview and said so at once
    assert page.locator(".morphlib-busy").count() == 0
    shown = float(readout.inner_text())
    assert shown != 0.3
    button = page.locator(".widget-button", has_text="Save full size").first
    _watch(page, "disabled", "[...document.querySelectorAll('.widget-button')].some(b => b.disabled)")
    _watch(page, "progress", "[...document.querySelectorAll('.widget-inline-hbox .progress')]"
                             ".some(p => p.closest('.widget-inline-hbox').style.visibility !== 'hidden')")
    _watch(page, "left", _text_seen(r"^saving: iteration \d+ of at most 200: .* s left"))
    (root / "result" / "hybrid.png").unlink()  # the notebook's own save made it
    button.click()
    button.click(force=True)  # a second, impatient click while it works
    saved = page.locator(".widget-html", has_text=f"saved result/hybrid.png (64x64, m_precise {shown:g},")
    saved.first.wait_for()
    assert page.evaluate("window.seen") == {"run_all_progress": True, "busy": True, "disabled": True,
                                            "progress": True, "left": True}
    assert (root / "result" / "hybrid.png").is_file()
    assert page.locator(".widget-button", has_text="Save full size").first.bounding_box()["width"] >= 120
