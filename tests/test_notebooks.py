"""Each notebook runs top to bottom on a fresh kernel with small parameters, and is stored without outputs."""

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, nets_dir

NOTEBOOKS = sorted(p.name for p in REPO.glob("*.ipynb"))


def run_notebook(name, params: dict, cwd):
    nb = nbformat.read(REPO / name, as_version=4)
    idx = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items())))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs_and_with_one_parameters_cell(name):
    nb = nbformat.read(REPO / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


def test_learn_notebook(workspace):
    nb = run_notebook("learn.ipynb", {"PICTURE": 2, "HIDDEN": 8, "EPOCHS": 3, "WAIT": True, "MANY": "1 3-4",
                                      "JOBS": 1, "ROOT": str(workspace)}, REPO)
    assert all((workspace / "W-8" / f"{n}.npz").is_file() for n in (1, 2, 3, 4))
    assert not any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_tell_their_story_and_are_listed(name):
    """Each notebook is listed in README, opens with a story (markdown first, 2-4 markdown cells in all, the
    parameters cell right after the first) and ends with what to try."""
    nb = nbformat.read(REPO / name, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert f"`{name}`" in (REPO / "README.md").read_text()
    assert kinds[0] == "markdown" and "parameters" in nb.cells[1].metadata.get("tags", [])
    assert 2 <= kinds.count("markdown") <= 4 and "What to try" in nb.cells[-1].source
    assert set(NOTEBOOKS) == {"learn.ipynb", "transition.ipynb", "two_images.ipynb"}


def test_transition_notebook(tmp_path):

    nets_dir(tmp_path, 6, ("plain",) * 3)
    params = {"HIDDEN": 6, "SIZE": "32x24", "SEQUENCE": "1>2:3, 2>3:3", "PREVIEW": 16, "FRAMES": True,
              "ROOT": str(tmp_path), "OUT": str(tmp_path / "result")}
    nb = run_notebook("transition.ipynb", params, REPO)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not any("image/gif" in o.get("data", {}) for o in outputs)  # the GIF is played, not stored
    assert len(nbformat.writes(nbformat.v4.new_notebook(cells=nb.cells))) < 50_000
    assert len(list((tmp_path / "result" / "transition").glob("*.png"))) == 5  # FRAMES = True
    assert (tmp_path / "result" / "transition.gif").is_file() and (tmp_path / "result" / "transition.mp4").is_file()


def test_two_images_notebook(tmp_path):
    run_notebook("two_images.ipynb", {"SIZE": 48, "STEPS": 5, "PREVIEW": 24, "OUT": str(tmp_path / "h.png")}, REPO)
    assert (tmp_path / "h.png").is_file()
