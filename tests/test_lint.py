import importlib.util
import subprocess
import sys

from conftest import REPO


def test_ruff_is_clean_over_code_and_notebooks():
    assert importlib.util.find_spec("ruff"), "ruff is missing: pip install -r requirements-dev.txt"
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    command = readme.split("Run the tests:", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert (REPO / ".ci" / "run").read_text().strip().splitlines()[-1] == command
