"""The shape of the house: imports point one way, TensorFlow stays out of learning, samples are drawn here."""
import ast

import numpy as np
import pytest

from conftest import REPO

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
    seen, todo = set(), ["mlp"]
    while todo:
        m = todo.pop()
        seen.add(m)
        todo += [d for d in _imports(m)[0] if d not in seen]
    assert "images" not in seen and "PIL" not in (REPO / "morphlib" / "mlp.py").read_text()


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
