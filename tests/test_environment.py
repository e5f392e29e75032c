"""The set-up files agree with each other: pyproject.toml, Binder's environment.yml and postBuild,
_config.yml, _toc.yml, the Makefile and the README (whose example must run)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
# conda-forge name -> PyPI name, where they differ.
CONDA_TO_PYPI = {"pytorch": "torch"}
# In environment.yml for postBuild (it writes the student edition), not needed by the notebooks.
POSTBUILD_TOOLS = {"nbstripout"}


def _name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement ("torch>=2.1" -> "torch")."""
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _conda_specs() -> dict[str, tuple[str | None, str | None]]:
    """environment.yml's conda dependencies as {pypi name: (version, build)}, without python and pip."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = {}
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"environment.yml: unexpected entry {dep!r} (keep every dependency on conda-forge)"
        name, *rest = dep.split("=")
        if name in {"python", "pip"}:
            continue
        version = rest[0] if rest else None
        build = rest[1] if len(rest) > 1 else None
        specs[CONDA_TO_PYPI.get(name, name).lower()] = (version, build)
    return specs


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_environment_yml_names_the_runtime_dependencies(pyproject):
    project = pyproject["project"]
    runtime = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["notebooks"]}
    in_env = set(_conda_specs()) - POSTBUILD_TOOLS
    assert in_env == runtime, (
        f"environment.yml and pyproject.toml disagree: only in environment.yml {sorted(in_env - runtime)}, "
        f"only in pyproject.toml (dependencies + notebooks extra) {sorted(runtime - in_env)}"
    )


def test_environment_yml_pins_the_versions_the_tests_use():
    for name, (version, _) in _conda_specs().items():
        assert version, f"environment.yml: pin {name} to the tested version"
        installed = importlib.metadata.version(name).split("+")[0]  # torch's local tag: 2.13.0+cpu
        assert version == installed, f"environment.yml pins {name}={version}, the tests use {installed}"


def test_torch_is_the_cpu_build_everywhere():
    version, build = _conda_specs()["torch"]
    assert build is not None and build.startswith("cpu"), f"environment.yml: pytorch must be a CPU build, got {build!r}"
    assert version == "2.13.0"
    assert re.search(r"^TORCH := torch==2\.13\.0$", (ROOT / "Makefile").read_text(), re.M), "Makefile must pin torch"
    assert torch.version.cuda is None, f"the test environment has a CUDA torch ({torch.__version__})"


def test_environment_yml_uses_conda_forge_only():
    channels = yaml.safe_load((ROOT / "environment.yml").read_text())["channels"]
    assert channels[0] == "conda-forge" and "defaults" not in channels


def test_postbuild_installs_minidl_and_writes_the_student_edition():
    post = ROOT / "postBuild"
    assert os.access(post, os.X_OK), "postBuild must be executable"
    text = post.read_text()
    assert re.search(r"pip install --no-deps -e \.", text), "postBuild must install minidl without pulling deps"
    assert "scripts/student_edition.py --out student" in text


def test_book_executes_every_notebook_and_fails_on_errors(config):
    execute = config["execute"]
    assert execute["execute_notebooks"] == "force", "the jupyter-cache does not notice changes in minidl/"
    assert execute["raise_on_error"] is True
    assert config["only_build_toc_files"] is True
    for pattern in ("_build", ".venv", "student", "node_modules"):
        assert pattern in config["exclude_patterns"]


def test_launch_buttons_follow_the_one_repository_setting(config):
    url = config["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[^/]+/[^/]+", url)
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] and buttons["colab_url"]
    spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    owner_repo = url.removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    expected = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/student"
    assert module.binder_student_url(url, branch) == expected
    assert expected in (ROOT / "README.md").read_text(), "README's Binder link must match repository.url"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(\S+)", toc))
    notebooks = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks <= listed, f"notebooks missing from _toc.yml: {sorted(notebooks - listed)}"


def test_every_minidl_module_is_in_the_api_reference():
    api = (ROOT / "book" / "api.md").read_text()
    modules = sorted(p.stem for p in (ROOT / "minidl").glob("*.py") if not p.stem.startswith("_"))
    missing = [m for m in modules if f".. automodule:: minidl.{m}\n" not in api]
    assert not missing, f"book/api.md does not document {missing}"


def _readme_blocks() -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_opens_with_the_two_commands():
    language, code = _readme_blocks()[0]
    assert code.split("\n")[:2] == ["make book", "make test"] and not code.split("\n")[2].strip(), code


def test_readme_example_trains_the_reports_network():
    examples = [code for language, code in _readme_blocks() if language == "python" and "minidl.train(" in code]
    assert len(examples) == 1, "the README should have exactly one training example"
    code = examples[0]
    assert len(code.strip().splitlines()) <= 10, "the README promises a ten-line example"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"^test error: ([\d.]+)%$", result.stdout, re.M)
    assert match, result.stdout
    # The report's Tanh network: 4.43 % ± 1.x over 20 rounds; 10 % is several deviations away.
    assert float(match[1]) < 10, result.stdout
    # The README quotes what the example prints (a seed gives one result).
    quoted = re.search(r"It prints `test error: ([\d.]+)%`", (ROOT / "README.md").read_text())
    assert quoted and quoted[1] == match[1], f"the README says {quoted and quoted[1]}%, the example printed {match[1]}%"
