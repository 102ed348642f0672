"""The shape of the house: imports point one way, TensorFlow stays out of learning, samples are drawn here."""
import ast

import numpy as np
import pytest

from conftest import REPO, gradient_picture, nets_dir

MODULES = sorted(p.stem for p in (REPO / "morphlib").glob("*.py"))


def _imports(module):
    """(morphlib modules imported at the top level, those imported inside functions)."""
    tree = ast.parse((REPO / "morphlib" / f"{module}.py").read_text())
    top, inner = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            (top if node in tree.body else inner).update(n.split(".")[0] for n in names)
    return top, inner


def test_no_import_cycles_and_no_imports_dodging_one():
    graph = {m: _imports(m)[0] for m in MODULES}
    inner = {m: _imports(m)[1] for m in MODULES if m != "__main__"}  # __main__ imports in a try: Ctrl-C at start
    assert not any(inner.values()), inner
    done, visiting = set(), []

    def visit(m):
        assert m not in visiting, f"import cycle: {' -> '.join(visiting[visiting.index(m):] + [m])}"
        if m not in done:
            visiting.append(m)
            for dep in graph.get(m, ()):
                visit(dep)
            visiting.pop()
            done.add(m)

    for m in MODULES:
        visit(m)


def test_the_maths_core_does_not_import_the_pictures_module():
    core = ["net", "optim", "train", "render"]
    seen, todo = set(), list(core)
    while todo:
        m = todo.pop()
        seen.add(m)
        todo += [d for d in _imports(m)[0] if d not in seen]
    assert "images" not in seen and not any("PIL" in (REPO / "morphlib" / f"{m}.py").read_text() for m in core)


def test_learn_stops_after_the_time_given(workspace, monkeypatch, capsys):
    from morphlib.cli import main

    monkeypatch.chdir(workspace)
    assert main(["learn", "1", "-H", "6", "--epochs", "1000000", "--time", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "after 1 epochs (time)" in out and (workspace / "W-6" / "1.npz").is_file()


def test_samples_are_drawn_here_the_same_each_time(tmp_path):
    from morphlib.images import load_image
    from morphlib.samples import SAMPLES, write_samples

    paths, kept = write_samples(tmp_path)
    assert kept == []
    assert [p.name for p in paths] == [f"{n}.png" for n in SAMPLES]
    for p in paths:
        img = load_image(p)
        np.testing.assert_array_equal(img, load_image(REPO / "img" / p.name))  # the shipped ones are these
        assert img.std() > 0.05  # a picture, not a flat colour


@pytest.mark.parametrize("command", ["learn", "transition", "demo", "hybrid", "samples"])
def test_every_command_has_help(command, capsys):
    from morphlib.cli import main

    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and "usage:" in capsys.readouterr().out


def test_an_activation_is_one_row_of_its_table(monkeypatch, tmp_path):
    """A new activation (softplus here) is one row: init, training, saving, rendering and the CLI take it."""
    from morphlib import net as nets
    from morphlib.cli import parser
    from morphlib.render import render
    from morphlib.train import train
    from morphlib.weights import load_net, save_net

    def softplus(z):
        return np.logaddexp(z, 0.0)

    row = nets.Activation(softplus, lambda a: 1.0 - np.exp(-a), 1.0, nets.unfolded(softplus))
    monkeypatch.setitem(nets.ACTIVATIONS, "softplus", row)
    picture = gradient_picture(8, 8)
    result = train(nets.init_net(8, activation="softplus", seed=1), picture, epochs=30, batch=16)
    assert result.psnr > 20 and result.net.activation == "softplus"
    again, _ = load_net(save_net(result.net, tmp_path / "s.npz"))
    np.testing.assert_allclose(render(again, 8, 8), nets.forward(again, _inputs(again, 8)).reshape(8, 8, 3),
                               atol=1e-5)
    assert parser().parse_args(["learn", "1", "--activation", "softplus"]).activation == "softplus"


def test_an_unknown_name_is_refused_in_one_place():
    from morphlib.encoding import make_encoding
    from morphlib.errors import MorphError
    from morphlib.movie import check_formats
    from morphlib.net import init_net
    from morphlib.train import train

    for call, name in ((lambda: init_net(4, activation="sine"), "activation"),
                       (lambda: make_encoding("hash"), "encoding"),
                       (lambda: check_formats(["avi"]), "movie format"),
                       (lambda: train(init_net(4), gradient_picture(4, 4), optimizer="lion"), "optimizer"),
                       (lambda: init_net(4, init="xavier"), "init")):
        with pytest.raises(MorphError, match=f"unknown {name} '.+': use one of "):
            call()


def _inputs(net, side):
    from morphlib.encoding import encode, grid

    return encode(grid(side, side, net.encoding), net.encoding)


def test_an_optimizer_is_one_row_of_its_table(monkeypatch):
    from morphlib import optim
    from morphlib.cli import parser
    from morphlib.net import init_net
    from morphlib.train import train

    class Momentum(optim.SGD):
        LR = 0.3

    monkeypatch.setitem(optim.OPTIMIZERS, "momentum", Momentum)
    assert optim.default_lr("momentum", "plain") == 0.3
    assert train(init_net(8, seed=1), gradient_picture(8, 8), epochs=5, batch=16, optimizer="momentum").epochs >= 1
    assert parser().parse_args(["learn", "1", "--optimizer", "momentum"]).optimizer == "momentum"


def test_a_backend_is_one_row_of_its_table(monkeypatch):
    import array_api_strict

    from morphlib import backend

    strict = backend.namespace(array_api_strict)
    row = backend.Backend(lambda: strict, lambda xp: xp is strict, "pip install array-api-strict", "cpu")
    monkeypatch.setitem(backend.BACKENDS, "strict", row)
    monkeypatch.setattr(backend, "DEVICES", (*backend.BACKENDS, "auto"))
    assert backend.namespace("strict") is strict and backend.kind(strict) == "cpu"


class _Frames:
    """A movie of this test's own format: the frames (every `npy_every`-th) in one .npy file."""

    def __init__(self, path, tmp, fps, *, npy_every):
        self.tmp, self.every, self.frames = tmp, npy_every, []

    def __enter__(self):
        return self

    def add(self, rgb):
        self.frames.append(rgb)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            with open(self.tmp, "wb") as f:
                np.save(f, np.stack(self.frames[::self.every]))


def test_a_movie_format_is_one_row_of_its_table(monkeypatch, tmp_path, capsys):
    """A new movie format (frames in a .npy here) is one row: write_transition, its own option, its size limit,
    the summary, the list of movies morphlib owns and the CLI's switch and option take it."""
    from morphlib import checks, movie
    from morphlib.cli import main, parser
    from morphlib.errors import MorphError
    from morphlib.transition import MOVIES, summary, write_transition

    every = movie.Option(1, "keep every N-th frame (default %(default)s)", lambda n, v: checks.whole(n, v, 1, 9))
    row = movie.Format(_Frames, ".npy", "NPY", "an", "also write <out>/<name>.npy", {"npy_every": every}, max_side=20,
                       limit="this test's")
    monkeypatch.setitem(movie.FORMATS, "npy", row)
    monkeypatch.chdir(nets_dir(tmp_path, 4))
    r = write_transition("1>2:5", hidden=4, size=8, movies=["npy", "gif"], npy_every=2)
    assert np.load(r["npy"]).shape == (3, 8, 8, 3) and summary(r)[1:] == [f"GIF: {r['gif']}", f"NPY: {r['npy']}"]
    assert sorted((tmp_path / "result" / MOVIES).read_text().split()) == ["transition.gif", "transition.npy"]
    with pytest.raises(MorphError, match="an NPY's frames may be at most 20 pixels wide and high .this test's."):
        write_transition("1>2:5", hidden=4, size=21, movies=["npy"])
    assert write_transition("1>2:2", hidden=4, size=8, movies=["gif"])["removed_movies"] == [r["npy"]]
    assert parser().parse_args(["transition", "1>2:2", "--npy", "--npy-every", "3"]).npy_every == 3
    assert main(["transition", "1>2:7", "-H", "4", "--size", "8", "--npy", "--npy-every", "3", "--quiet"]) == 0
    assert "NPY: result/transition.npy" in capsys.readouterr().out
    assert np.load(tmp_path / "result" / "transition.npy").shape == (3, 8, 8, 3)
