"""Property tests: the sequence parser and the weight loader answer any input with a result or a MorphError."""
import importlib
import shutil
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, nets_dir
from morphlib import hybrid
from morphlib.cli import main
from morphlib.errors import MorphError
from morphlib.net import init_net
from morphlib.transition import Link, frame_plan, parse_sequence
from morphlib.weights import load_net, save_net

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


# Every CLI command's numeric options through finite, non-finite, zero, negative and huge values: exit code 0, or
# exit code 2 with one error naming the option; never a traceback, never a file outside result/ and W-<H>/ touched.
NUMBERS = st.sampled_from(["0", "-0.0", "-1", "-7", "nan", "inf", "-inf", "1e308", "1000000000",
                           str(2**63)]) | st.integers(1, 12).map(str) | st.floats(0.01, 20.0).map("{:.3g}".format)
SIZES = NUMBERS | st.tuples(NUMBERS, NUMBERS).map("x".join) | st.just("40x20x7")
COMMANDS = {  # a quick base command; the option under test is appended and wins
    "learn": (["learn", "3", "-H", "4", "--epochs", "1", "--features", "4", "--max-side", "8", "--quiet"],
              {o: NUMBERS for o in ("--hidden", "--epochs", "--time", "--features", "--sigma", "--lr", "--batch",
                                    "--seed", "--max-side")}),
    "transition": (["transition", "1>2:2", "-H", "4", "--size", "8", "--quiet"],
                   {"--hidden": NUMBERS, "--size": SIZES, "--fps": NUMBERS, "--beyond": NUMBERS, "steps": NUMBERS,
                    "--gif-size": NUMBERS}),
    "demo": (["demo", "--size", "8"], {"--size": SIZES, "--fps": NUMBERS}),
    "hybrid": (["hybrid", "img/1.png", "img/2.png", "--size", "8", "--steps", "2", "-o", "result/h.png"],
               {o: NUMBERS for o in ("--m-precise", "--m-blurred", "--sigma", "--kernel", "--steps", "--size",
                                     "--lr")}),
}
NAMES = {"--kernel": "kernel", "--time": "time", "steps": "steps"}


def _files(root) -> dict:
    """(size, mtime) of every file outside result/ and W-<H>/."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).parts[0].startswith(("result", "W-"))}


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
@pytest.mark.parametrize("command, examples", [("learn", 40), ("transition", 40), ("demo", 8), ("hybrid", 15)])
def test_cli_numbers_succeed_or_name_the_option(cli_dir, quick, monkeypatch, capsys, command, examples):
    base, options = COMMANDS[command]
    monkeypatch.chdir(cli_dir)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(options)).flatmap(lambda o: st.tuples(st.just(o), options[o])))
    def check(case):
        option, value = case
        argv = [f"1>2:{value}" if a == "1>2:2" else a for a in base] if option == "steps" else [*base,
                                                                                                f"{option}={value}"]
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
            assert first.startswith("error:") and (name in first or name.replace("-", "_") in first), (argv, err)
            assert not rest or option == "steps", (argv, err)  # a bad sequence also points at the spot
        else:  # learn's 1: no epoch beat the starting net, so nothing was saved
            assert code == 0 or (code == 1 and "nothing learned" in out), (argv, code, err)

    check()
