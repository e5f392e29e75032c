"""The student edition: every notebook with the cells tagged ``solution`` removed.

The removal is nbstripout's ``--drop-tagged-cells`` (a well-kept tool, no notebook surgery by hand);
stubs (tag ``exercise``), prose and checks (tag ``check``) stay, so each check fails with
``ExerciseNotDone`` until the student completes the stub above it.

Three uses, one code path:

* ``python scripts/student_edition.py [--out student]`` (what ``make student`` and Binder's
  ``postBuild`` run) writes ``student/NN_name.ipynb``;
* ``python scripts/student_edition.py --zip PATH`` writes a self-contained zip (student notebooks,
  the minidl library and its ``pyproject.toml``);
* as a Sphinx extension (``_config.yml``: ``sphinx.local_extensions``) it writes that zip into
  ``_build/student-edition/`` before the book is read, and ``book/intro.md`` offers it for download.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"
ZIP_NAME = "minidl-student.zip"
ZIP_DIR = Path("_build") / "student-edition"  # relative to the book root; book/intro.md links there

START_HERE = """\
# minidl, student edition

The notebooks in notebooks/ are the course chapters with the solutions removed. Each exercise is a
stub that raises NotImplementedError, followed by a check cell: the check says "not done yet" until
you complete the stub, then prints a tick (or says which value is wrong).

Set up once (Python >= 3.10), from this folder:

    python -m venv .venv && . .venv/bin/activate
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    pip install -e ".[book]"
    jupyter lab notebooks/      # or: pip install jupyterlab first

Work through the chapters in order; run each notebook top to bottom and make every check pass.
The solutions are in the book, collapsed under each exercise.
"""


def notebooks(src: Path) -> list[Path]:
    """The notebooks of the course, in order."""
    return sorted(p for p in Path(src).glob("*.ipynb") if not p.name.startswith("."))


def write_student_edition(src: Path = ROOT / "notebooks", out: Path = ROOT / "student") -> list[Path]:
    """Copy every notebook of ``src`` to ``out`` and drop the cells tagged ``solution``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    written = []
    for path in notebooks(src):
        target = out / path.name
        shutil.copyfile(path, target)
        written.append(target)
    if written:
        subprocess.run(
            [sys.executable, "-m", "nbstripout", "--drop-tagged-cells", SOLUTION_TAG, "--keep-id", *map(str, written)],
            check=True,
        )
    return written


def write_zip(zip_path: Path, src: Path = ROOT / "notebooks", root: Path = ROOT) -> Path:
    """A self-contained zip: ``minidl-student/{notebooks/, minidl/, pyproject.toml, README.md, START_HERE.md}``."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        student = write_student_edition(src, Path(tmp) / "notebooks")
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            top = Path("minidl-student")
            zf.writestr(str(top / "START_HERE.md"), START_HERE)
            for path in student:
                zf.write(path, top / "notebooks" / path.name)
            for path in sorted((root / "minidl").glob("*.py")):
                zf.write(path, top / "minidl" / path.name)
            for name in ("pyproject.toml", "README.md"):
                if (root / name).exists():
                    zf.write(root / name, top / name)
    return zip_path


# -- Sphinx extension ---------------------------------------------------------------------------
def _write_zip_for_book(app) -> None:  # Sphinx "builder-inited" hook
    srcdir = Path(app.srcdir)
    write_zip(srcdir / ZIP_DIR / ZIP_NAME, src=srcdir / "notebooks", root=srcdir)


def binder_student_url(repository_url: str, branch: str = "main", hub: str = "https://mybinder.org") -> str | None:
    """The Binder URL that opens the student edition (``student/``, written by ``postBuild``)."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url or "")
    if match is None:
        return None
    owner, repo = match.groups()
    return f"{hub.rstrip('/')}/v2/gh/{owner}/{repo}/{branch}?urlpath=lab/tree/student"


def _binder_substitution(app, config) -> None:  # Sphinx "config-inited" hook
    # The link follows repository.url of _config.yml (as the launch buttons do): one setting to change.
    options = config.html_theme_options or {}
    hub = options.get("launch_buttons", {}).get("binderhub_url") or "https://mybinder.org"
    url = binder_student_url(options.get("repository_url", ""), options.get("repository_branch", "main"), hub)
    link = f"[open the student edition on Binder]({url})" if url else "Binder (set `repository.url` in `_config.yml`)"
    repository = (options.get("repository_url") or "").rstrip("/")
    install = f"`!pip install git+{repository}`" if repository else "`!pip install` the repository"
    config.myst_substitutions = {
        **(config.myst_substitutions or {}),
        "binder_student_link": link,
        "colab_install": install,
    }


def setup(app):
    app.connect("config-inited", _binder_substitution)
    app.connect("builder-inited", _write_zip_for_book)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "notebooks", help="folder of the full notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder to write (default student/)")
    parser.add_argument("--zip", type=Path, help="write a self-contained zip here instead of a folder")
    args = parser.parse_args(argv)
    if args.zip:
        print(f"wrote {write_zip(args.zip, args.src)}")
        return 0
    written = write_student_edition(args.src, args.out)
    if not written:
        print(f"no notebooks in {args.src}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} student notebooks to {args.out}/ (cells tagged '{SOLUTION_TAG}' removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
