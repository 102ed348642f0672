"""Property tests: the sequence parser, the weight loader, the command line and the Python API's public functions
answer any input with a result or a MorphError."""
import importlib
import json
import math
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import REPO, nets_dir
from morphlib import hybrid, images, movie, parallel, samples, transition, weights
from morphlib.cli import main
from morphlib.errors import MorphError
from morphlib.learn import Job, learn
from morphlib.net import init_net
from morphlib.transition import Link, frame_plan, parse_sequence, write_transition
from morphlib.weights import load_net, save_net, weights_file

names = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=4)
links = st.lists(st.tuples(names, names, st.integers(2, 500)), min_size=1, max_size=6)
space = st.text(" \t", max_size=2)


@given(links, space)
def test_formatted_sequences_parse_back(chain, pad):
    text = ",".join(f"{pad}{a}{pad}>{pad}{b}{pad}:{pad}{n}{pad}" for a, b, n in chain)
    assert parse_sequence(text) == [Link(a, b, n) for a, b, n in chain]


@given(st.text(max_size=40))
def test_any_text_parses_or_says_why(text):
    try:
        parsed = parse_sequence(text)
    except MorphError as e:
        assert "sequence" in str(e)
    else:
        assert parsed and all(link.steps >= 2 for link in parsed)


@given(links)
def test_plan_length_counts_each_seam_once(chain):
    parsed = [Link(a, b, n) for a, b, n in chain]
    seams = sum(x.dst == y.src for x, y in zip(parsed, parsed[1:]))
    assert len(frame_plan(parsed)) == sum(n for *_, n in chain) - seams


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.integers(0, 5000).map(lambda i: ("cut", i)) |
       st.tuples(st.integers(0, 5000), st.integers(0, 255)).map(lambda t: ("flip", *t)))
def test_weight_loader_never_crashes(tmp_path, damage):
    path = tmp_path / "w.npz"
    if isinstance(damage, bytes):
        data = damage
    else:
        data = bytearray(save_net(init_net(4, seed=1), path).read_bytes())
        if damage[0] == "cut":
            data = data[:damage[1]]
        elif damage[1] < len(data):
            data[damage[1]] = damage[2]
    path.write_bytes(bytes(data))
    try:
        net, meta = load_net(path)
    except MorphError as e:
        assert str(path) in str(e)
    else:
        assert net.hidden == 4 and meta["format"] == 1


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["format", "encoding", "activation", "psnr", "epochs", "image_size", "hidden", "source",
                        None]), JSON)
def test_any_metadata_loads_or_says_why(tmp_path_factory, key, value):
    """A weights file's metadata, any key set to any JSON value (None: the whole of it): loading, morphing,
    replacing and listing the net answer with a result or a MorphError."""
    root = nets_dir(tmp_path_factory.mktemp("meta"), 4)
    path = weights_file(2, 4, root)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps(value if key is None else {**meta, key: value}))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    for call in (lambda: load_net(path), lambda: write_transition("1>2:2", hidden=4, size=8, out=root / "r", root=root),
                 lambda: weights.store(init_net(4, seed=3), path, psnr=21.0),
                 lambda: [weights.entry(e.path) for e in weights.history(2, 4, root)]):
        try:
            call()
        except MorphError:
            pass


# Every CLI command's numeric options through finite, non-finite, zero, negative and huge values: exit code 0, or
# exit code 2 with one error naming the option; never a traceback, never a file outside result/ and W-<H>/ touched.
NUMBERS = st.sampled_from(["0", "-0.0", "-1", "-7", "nan", "inf", "-inf", "1e308", "1000000000",
                           str(2**63)]) | st.integers(1, 12).map(str) | st.floats(0.01, 20.0).map("{:.3g}".format)
TEXT = st.text(string.printable + "²٣é/\\.", max_size=8)
SIZES = NUMBERS | st.tuples(NUMBERS, NUMBERS).map("x".join) | st.just("40x20x7")
COMMANDS = {  # a quick base command; the option under test is appended and wins
    "learn": (["learn", "3", "-H", "4", "--epochs", "1", "--encoding", "fourier", "--features", "4",
                        "--max-side", "8", "--quiet"],
              {o: NUMBERS for o in ("--hidden", "--epochs", "--time", "--features", "--sigma", "--lr", "--batch",
                                    "--seed", "--max-side")}),
    "transition": (["transition", "1>2:2", "-H", "4", "--size", "8", "--quiet"],
                   {"--hidden": NUMBERS, "--size": SIZES, "--fps": NUMBERS, "--beyond": NUMBERS, "steps": NUMBERS,
                    "--gif-size": NUMBERS}),
    "demo": (["demo", "--size", "8"], {"--size": SIZES, "--fps": NUMBERS}),
    "learn options": (["learn", "3", "-H", "4", "--epochs", "1", "--encoding", "fourier", "--features", "4",
                        "--max-side", "8", "--quiet"],
                      {"switches": st.lists(st.sampled_from(["--seed-exact", "--resume", "--replace", "--init-from=1",
                                                             "--init-from=²", "--batch=64", "--encoding=plain",
                                                             "--activation=relu", "--init=uniform"]),
                                            max_size=3, unique=True)}),
    "transition options": (["transition", "1>2:2", "-H", "4", "--size", "8", "--quiet"],
                           {"switches": st.lists(st.sampled_from(["--gif", "--mp4", "--frames", "--no-frames", "--loop",
                                                                  "--pingpong", "--align", "--fit=pad", "--size=4x9",
                                                                  "--gif-size=3", "--schedule=ease", "--beyond=0.5"]),
                                                 max_size=4, unique=True),
                            "--name": TEXT, "--out": TEXT.map("result/{}".format), "--fit": TEXT,
                            "--schedule": TEXT, "sequence": TEXT | st.lists(st.sampled_from(["1>2:2", "2-1:3", ",",
                                                                                             ">", ":", "1", " "]),
                                                                             max_size=5).map("".join)}),
    "hybrid": (["hybrid", "img/1.png", "img/2.png", "--size", "8", "--steps", "2", "-o", "result/h.png"],
               {o: NUMBERS for o in ("--m-precise", "--m-blurred", "--sigma", "--kernel", "--steps", "--size",
                                     "--lr")}),
}
CONTRADICTIONS = [({"--resume"}, {"--init-from=1", "--init-from=²"}),  # succeeding with both: one was ignored
                  ({"--seed-exact"}, {"--batch=64", "--encoding=plain", "--activation=relu"})]
NAMES = {"--kernel": "kernel", "--time": "time", "steps": "steps"}


def _files(root) -> dict:
    """(size, mtime) of every file outside result/ and W-<H>/."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).parts[0].startswith(("result", "W-"))}


training, rendering = (importlib.import_module(f"morphlib.{m}") for m in ("train", "render"))  # not the functions


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    """img/, tiny plain nets in W-4/ and the shipped W-100/ for demo."""
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(REPO / "img", root / "img")
    shutil.copytree(REPO / "W-100", root / "W-100")
    return nets_dir(root, 4)


@pytest.fixture
def quick(monkeypatch):
    """At most 2 epochs or hybrid steps, whatever was asked (after the checks): huge counts stay quick."""
    learning = importlib.import_module("morphlib.learn")  # the module: the package's `learn` is the function
    train, run = learning.train, hybrid.Blender.run
    few = lambda n: 2 if isinstance(n, int) and n > 2 else n  # noqa: E731
    monkeypatch.setattr(learning, "train", lambda net, img, *, epochs, **kw: train(net, img, epochs=few(epochs),
                                                                                         **kw))
    monkeypatch.setattr(hybrid.Blender, "run", lambda self, steps=200, **kw: run(self, few(steps), **kw))


@pytest.mark.filterwarnings("ignore:The recursion limit")  # TensorFlow raises it on import
@pytest.mark.parametrize("command, examples", [("learn", 40), ("transition", 40), ("demo", 8), ("hybrid", 15),
                                               ("learn options", 25), ("transition options", 40)])
def test_cli_numbers_succeed_or_name_the_option(cli_dir, quick, monkeypatch, capsys, command, examples):
    base, options = COMMANDS[command]
    monkeypatch.chdir(cli_dir)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(options)).flatmap(lambda o: st.tuples(st.just(o), options[o])))
    def check(case):
        option, value = case
        argv = ([f"1>2:{value}" if a == "1>2:2" else a for a in base] if option == "steps" else
                [value if a == "1>2:2" else a for a in base] if option == "sequence" else
                [*base, *value] if option == "switches" else [*base, f"{option}={value}"])
        before = _files(cli_dir)
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: a value of the wrong type
            code = e.code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and _files(cli_dir) == before, (argv, err)
        if code == 2:
            first, *rest = err.strip().splitlines()
            name = NAMES.get(option, option.lstrip("-"))
            named = option in ("switches", "sequence") or name in first or name.replace("-", "_") in first
            assert first.startswith("error:") and named, (argv, err)
            assert not rest or option in ("steps", "sequence"), (argv, err)  # a bad sequence points at the spot
        else:  # learn's 1: no epoch beat the starting net, so nothing was saved
            assert code == 0 or (code == 1 and "nothing learned" in out), (argv, code, err)
            assert not any(a & set(argv) and b & set(argv) for a, b in CONTRADICTIONS), (argv, out)
            assert "transition" not in argv or any(f"{k}:" in out for k in ("frames", "GIF", "MP4")), (argv, out)

    check()


# The Python API's public functions, each argument in turn given any kind of value: a result, or a MorphError (or a
# TypeError naming the argument); never an error from deep inside numpy, pathlib or Dask, never a file written
# outside the folder the call runs in.
ODD = (st.sampled_from([None, True, False, -1, 0, 2**70, math.nan, math.inf, "", "x", "²", b"x", [1], (1, 2), {},
                        object(), np.zeros(3), np.zeros((2, 2, 3)), Path("nowhere"), 1.5, "2", "1>2:3"])
       | st.integers(-3, 40) | st.floats(allow_nan=True) | st.text(max_size=4))
PICTURE = np.linspace(0, 1, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
QUICK_JOB = dict(picture=1, hidden=4, epochs=1, features=4, max_side=8, encoding="plain")
API = {  # a quick call that succeeds, and the arguments to vary (some values are kept out: see SKIP)
    "Job": (lambda **k: learn(Job(**{**QUICK_JOB, **k})), ["picture", "hidden", "encoding", "features", "sigma",
                                                            "feature_seed", "activation", "epochs", "lr", "batch",
                                                            "optimizer", "backprop", "seed", "init", "seed_exact",
                                                            "resume", "replace", "init_from", "max_side", "device",
                                                            "root", "img_dir"]),
    "learn": (lambda **k: learn(**{"job": Job(**QUICK_JOB), **k}), ["job", "stop", "on_epoch", "time_limit",
                                                                     "target"]),
    "init_net": (lambda **k: init_net(**{"hidden": 4, **k}), ["hidden", "encoding", "activation", "biases", "seed",
                                                               "init"]),
    "render": (lambda **k: rendering.render(**{"net": init_net(4), "height": 4, **k}),
               ["net", "height", "width", "window", "chunk", "device", "uint8", "rounding"]),
    "train": (lambda **k: training.train(**{"net": init_net(4), "image": PICTURE, "epochs": 1, **k}),
              ["net", "image", "epochs", "batch", "lr", "optimizer", "backprop", "seed", "time_limit", "stop",
               "on_epoch", "device"]),
    "load_net": (lambda **k: load_net(**{"path": "W-4/1.npz", **k}), ["path", "hidden"]),
    "load_numbered": (lambda **k: weights.load_numbered(**{"n": 1, "hidden": 4, **k}), ["n", "hidden", "root"]),
    "save_net": (lambda **k: save_net(**{"net": init_net(4), "path": "W-9/x.npz", **k}), ["net", "path"]),
    "load_image": (lambda **k: images.load_image(**{"path": "img/1.png", **k}), ["path", "size"]),
    "save_image": (lambda **k: images.save_image(**{"path": "result/x.png", "rgb": PICTURE, **k}),
                   ["path", "rgb", "rounding"]),
    "write_transition": (lambda **k: transition.write_transition(**{"sequence": "1>2:2", "hidden": 4, "size": 8,
                                                                    **k}),
                         ["sequence", "hidden", "size", "out", "name", "schedule", "fps", "movies", "frames",
                          "gif_size", "fit", "loop", "pingpong", "beyond", "align", "warp", "blend", "points",
                          "device", "root", "client", "on_frame", "on_note"]),
    "parallel.client": (lambda **k: _client(**{"jobs": 1, **k}), ["jobs", "scheduler"]),
    "learn_all": (lambda **k: parallel.learn_all(**{"items": [1], "job": Job(**QUICK_JOB), **k}),
                  ["items", "job", "client", "time_limit", "on_picture"]),
    "frame_plan": (lambda **k: frame_plan(**{"links": "1>2:3", **k}), ["links", "schedule", "loop", "pingpong",
                                                                        "beyond"]),
    "restore": (lambda **k: weights.restore(**{"name": 1, "hidden": 4, "index": 0, **k}), ["name", "hidden", "index",
                                                                                            "root"]),
    "history": (lambda **k: weights.history(**{"name": 1, "hidden": 4, **k}), ["name", "hidden", "root"]),
    "hybrid_fft": (lambda **k: hybrid.hybrid_fft(**{"near": PICTURE, "far": PICTURE, **k}),
                   ["near", "far", "sigma", "with_loss"]),
    "pyramid": (lambda **k: hybrid.pyramid(**{"img": PICTURE, **k}), ["img", "levels", "gap"]),
    "write_movie": (lambda **k: movie.write_movie(**{"frames": [PICTURE], "fps": 5, "paths": {"gif": "result/m.gif"},
                                                     **k}),
                    ["frames", "fps", "paths", "folder", "digits", "gif_size"]),
    "write_samples": (lambda **k: samples.write_samples(**{"folder": "s", **k}), ["folder", "force"]),
    "load_legacy": (lambda **k: weights.load_legacy(**{"folder": "W-4", "n": 1, **k}), ["folder", "n", "hidden"]),
}


def _client(**options):
    with parallel.client(**options):
        pass


def _slow(argument, value) -> bool:
    """Values that are right but slow here: a cluster (jobs > 1, or None: one per core; a scheduler's address), a
    huge picture or a long training."""
    big = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 40
    return (argument == "jobs" and (value is None or (isinstance(value, (int, float)) and value > 1)) or
            argument == "scheduler" and isinstance(value, str) or
            argument in ("epochs", "height", "width", "size", "hidden", "features", "max_side", "gif_size", "gap",
                         "digits") and big)


@pytest.mark.parametrize("function", sorted(API))
def test_the_api_answers_any_argument_with_a_result_or_a_morph_error(tmp_path, monkeypatch, function):
    work = tmp_path / "work"
    shutil.copytree(REPO / "img", work / "img")
    monkeypatch.chdir(nets_dir(work, 4))
    call, arguments = API[function]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(arguments), ODD)
    def check(argument, value):
        assume(not _slow(argument, value))
        try:
            call(**{argument: value})
        except MorphError:
            pass
        except TypeError as e:
            assert argument in str(e), (argument, value, e)

    check()
    assert [p.name for p in tmp_path.iterdir()] == ["work"]
