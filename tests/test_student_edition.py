"""The exercises are real: in the student edition every check fails with "not done yet" and nothing
else fails; in the full notebooks every check passes.

The student edition is written by scripts/student_edition.py (nbstripout --drop-tagged-cells
solution), exactly as ``make student``, Binder's postBuild and the book's download do it, then
executed with nbclient. The full notebooks' checks are read from the copy the book build executed
(_build/jupyter_execute) when it is up to date, and executed here otherwise.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CHAPTERS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]
EXECUTED_DIR = ROOT / "_build" / "jupyter_execute" / "notebooks"
TIMEOUT = 600  # seconds per cell, as the book build

_spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
student_edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_edition)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _check_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and "check" in _tags(c)]


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def _execute(nb, allow_errors: bool):
    # The notebook's own folder as working directory, as in Jupyter and in the book build.
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    return nb


def _needs_exercises(path: Path):
    nb = nbformat.read(path, as_version=4)
    if not _check_cells(nb):
        pytest.skip(f"{path.name} has no exercises (no cell tagged 'check') yet")
    return nb


def _where(path: Path, index: int, cell) -> str:
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    return f"{path.name}, cell {index} ({first[:60]!r})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_edition_checks_fail_until_solved(path, tmp_path):
    full = _needs_exercises(path)
    (student_path,) = student_edition.write_student_edition(src=_single(path, tmp_path), out=tmp_path / "student")
    student = nbformat.read(student_path, as_version=4)

    # What was removed and what was kept.
    assert not [c for c in student.cells if "solution" in _tags(c)], "a cell tagged 'solution' survived"
    removed = sum("solution" in _tags(c) for c in full.cells)
    assert len(student.cells) == len(full.cells) - removed
    assert len(_check_cells(student)) == len(_check_cells(full))
    stubs = [c for c in student.cells if "exercise" in _tags(c)]
    assert len(stubs) >= len(_check_cells(full)) > 0, "every check needs a stub (tag 'exercise') above it"

    _execute(student, allow_errors=True)
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        where = _where(path, index, cell)
        if "check" in _tags(cell):
            assert errors, f"{where}: the check passes in the student edition, so it checks nothing"
            error = errors[0]
            assert error.ename == "ExerciseNotDone", f"{where}: expected ExerciseNotDone, got {error.ename}: {error.evalue}"
            assert "not done yet" in error.evalue, f"{where}: the message should say 'not done yet': {error.evalue}"
        else:
            assert not errors, (
                f"{where} fails in the student edition (does it use a solution's result?): "
                f"{errors[0].ename}: {errors[0].evalue}"
            )


def _single(path: Path, tmp_path: Path) -> Path:
    """A folder holding only this notebook, so that the student edition of one chapter is written."""
    src = tmp_path / "src"
    src.mkdir()
    (src / path.name).write_bytes(path.read_bytes())
    return src


def _executed_by_the_build(path: Path, nb):
    """The book build's executed copy of this notebook, if it ran exactly this code after the last library change."""
    executed = EXECUTED_DIR / path.name
    if not executed.exists():
        return None
    newest_input = max(p.stat().st_mtime for p in [path, *(ROOT / "minidl").glob("*.py")])
    if executed.stat().st_mtime < newest_input:
        return None
    copy = nbformat.read(executed, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    if [c.source for c in copy.cells if c.cell_type == "code"] != code:
        return None
    return copy


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_full_notebook_checks_pass(path):
    nb = _needs_exercises(path)
    executed = _executed_by_the_build(path, nb) or _execute(nb, allow_errors=False)
    for index, cell in enumerate(_check_cells(executed)):
        where = f"{path.name}, check {index + 1}"
        assert not _errors(cell), f"{where} fails in the full notebook: {_errors(cell)[0].evalue}"
        assert "✓" in _text(cell) and "correct" in _text(cell), f"{where} printed no tick: {_text(cell)!r}"


def test_the_chapters_have_exercises():
    if not CHAPTERS:
        pytest.skip("no chapter notebook yet")
    with_exercises = [p.name for p in CHAPTERS if _check_cells(nbformat.read(p, as_version=4))]
    assert with_exercises, "chapters exist but none has an exercise (a code cell tagged 'check')"


def test_make_student_writes_every_notebook(tmp_path):
    if not NOTEBOOKS:
        pytest.skip("no notebook yet")
    written = student_edition.write_student_edition(src=NOTEBOOK_DIR, out=tmp_path)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in written:
        assert not [c for c in nbformat.read(path, as_version=4).cells if "solution" in _tags(c)]


def test_the_book_zip_holds_the_student_edition_and_the_library(tmp_path):
    if not NOTEBOOKS:
        pytest.skip("no notebook yet")
    import zipfile

    archive = student_edition.write_zip(tmp_path / "student.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {f"minidl-student/notebooks/{p.name}" for p in NOTEBOOKS} <= names
    assert {"minidl-student/minidl/__init__.py", "minidl-student/pyproject.toml", "minidl-student/START_HERE.md"} <= names
    with zipfile.ZipFile(archive) as zf:
        for p in NOTEBOOKS:
            nb = nbformat.reads(zf.read(f"minidl-student/notebooks/{p.name}").decode(), as_version=4)
            assert not [c for c in nb.cells if "solution" in _tags(c)]
