"""The rendered book in a real browser, offline.

Serves the built book (_build/html) on 127.0.0.1 and opens every page in headless Chromium with every
request to another host blocked, then checks what a reader sees: no broken internal links or images,
math rendered by the book's own MathJax, each chapter's figures, collapsed solutions that open on
click, launch buttons, the API reference and the bibliography. A screenshot of each page is saved
under _build/screenshots/. Run with ``make browser`` (or ``pytest tests/browser --book _build/html``).
"""

from __future__ import annotations

import inspect
import json
import re
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import minidl

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Every page made from a notebook (the chapters and the appendix): figures, solutions, launch buttons.
CHAPTER = re.compile(r"^notebooks/(\w+)\.html$")
# Modules whose docstrings carry forward and backward equations: their API sections must show math.
MATH_MODULES = ["module", "linear", "activations", "dropout", "losses", "optim"]
WAIT_FOR_MATHJAX = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    return Boolean(window.MathJax && MathJax.version);
}"""


@dataclass
class Visit:
    page: object
    url: str
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser, server):
    contexts = []

    def _visit(path: str) -> Visit:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        visit = Visit(page=None, url=f"{server}/{path}")

        def route(route):
            url = route.request.url
            if urlsplit(url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:  # offline: nothing may come from a CDN
                visit.blocked.append(url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("requestfailed", lambda r: visit.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and visit.failed.append(f"{r.url} (HTTP {r.status})"))
        page.on("pageerror", lambda e: visit.errors.append(str(e)))
        page.goto(visit.url, wait_until="load")
        visit.page = page
        return visit

    yield _visit
    for context in contexts:
        context.close()


@cache
def _ids(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', path.read_text(errors="replace")))


def _link_problems(visit: Visit, book: Path, server: str) -> list[str]:
    problems = []
    hrefs = visit.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    for href in sorted(set(hrefs)):
        if not href.startswith(server + "/"):
            continue
        parts = urlsplit(href)
        target = book / unquote(parts.path).lstrip("/")
        if parts.path.endswith("/"):
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link: {href}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
            problems.append(f"broken anchor: {href}")
    return problems


def _image_problems(visit: Visit, book: Path, server: str) -> list[str]:
    images = visit.page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => ({src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth}))"
    )
    problems = []
    for image in images:
        src = image["src"]
        if src.startswith(server + "/") and not (book / unquote(urlsplit(src).path).lstrip("/")).exists():
            problems.append(f"missing image: {src}")
        elif image["complete"] and image["width"] == 0:
            problems.append(f"image does not load: {src}")
    return problems


def _math_problems(visit: Visit) -> list[str]:
    math = visit.page.evaluate(
        """() => {
        const elements = Array.from(document.querySelectorAll('.math'));
        const raw = elements.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80));
        const errors = Array.from(document.querySelectorAll('mjx-merror'))
            .map(e => e.getAttribute('data-mjx-error') || e.textContent);
        const main = (document.querySelector('main') || document.body).cloneNode(true);
        main.querySelectorAll('pre, code, script, style, .highlight, .cell_output').forEach(n => n.remove());
        return {count: elements.length, containers: document.querySelectorAll('mjx-container').length,
                raw, errors, dollars: main.textContent.includes('$$')};
    }"""
    )
    problems = [f"math not rendered by MathJax: {text!r}" for text in math["raw"]]
    problems += [f"MathJax error: {error}" for error in math["errors"]]
    if math["dollars"]:
        problems.append("raw $$ left in the text (math MyST did not parse)")
    if math["count"] and math["containers"] < math["count"]:
        problems.append(f"{math['count']} math elements but {math['containers']} rendered")
    return problems


def _expected_figures(book: Path, stem: str) -> int:
    """Image outputs of the executed notebook that the page shows (not in cells whose output is removed)."""
    executed = book.parent / "jupyter_execute" / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(executed.read_text())
    count = 0
    for cell in nb["cells"]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & {"remove-output", "remove-cell"}:
            continue
        count += sum("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in cell["outputs"])
    return count


def _chapter_problems(visit: Visit, book: Path, stem: str, shots: Path) -> list[str]:
    page, problems = visit.page, []
    expected = _expected_figures(book, stem)
    shown = page.locator(".cell_output img").count()
    if expected == 0:
        problems.append(f"{stem}: the chapter has no figure")
    if shown < expected:
        problems.append(f"{stem}: {expected} figures in the executed notebook, {shown} on the page")

    binder = page.locator(f'a[href^="https://mybinder.org/v2/gh/"][href*="notebooks/{stem}.ipynb"]').count()
    colab = page.locator(f'a[href^="https://colab.research.google.com/github/"][href$="notebooks/{stem}.ipynb"]').count()
    if not binder or not colab:
        problems.append(f"{stem}: launch buttons missing (Binder: {binder}, Colab: {colab})")

    # Solutions: every solution cell sits in a collapsed dropdown that opens on click.
    solutions = page.locator(".solution.dropdown")
    for index in range(solutions.count()):
        solution = solutions.nth(index)
        body = solution.locator(":scope > :not(.admonition-title)")
        if body.count() == 0:
            problems.append(f"{stem}: solution {index + 1} is empty")
            continue
        if any(body.nth(i).is_visible() for i in range(body.count())):
            problems.append(f"{stem}: solution {index + 1} is not collapsed by default")
            continue
        solution.locator(".toggle-button").first.click()  # the chevron sphinx-togglebutton adds to the title
        try:
            body.first.wait_for(state="visible", timeout=5000)
        except Exception:
            problems.append(f"{stem}: solution {index + 1} does not open on click")
            continue
        if index == 0:
            solution.screenshot(path=shots / f"{stem}--solution-open.png")
    outside = page.locator(".cell.tag_solution").count() - page.locator(".solution .cell.tag_solution").count()
    if outside:
        problems.append(f"{stem}: {outside} solution cells outside the solution dropdowns (visible to all)")
    return problems


def test_page(page_path, visit, book, server):
    """Every page: nothing from outside, no broken link or image, math rendered; chapters complete."""
    shots = book.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    visit = visit(page_path)
    page = visit.page
    if page_path == "index.html":  # Jupyter Book's redirect to the first page
        page.wait_for_url(re.compile(r"/book/intro\.html$"), timeout=10_000)
    assert page.evaluate(WAIT_FOR_MATHJAX) or not page.locator(".math").count(), "MathJax did not load"
    page.wait_for_load_state("networkidle")

    problems = [f"request to another host (blocked): {url}" for url in visit.blocked]
    problems += [f"failed request: {failure}" for failure in visit.failed]
    problems += [f"JavaScript error: {error}" for error in visit.errors]
    problems += _link_problems(visit, book, server)
    problems += _image_problems(visit, book, server)
    problems += _math_problems(visit)
    name = page_path.removesuffix(".html").replace("/", "--")
    page.screenshot(path=shots / f"{name}.png", full_page=True)
    if match := CHAPTER.match(page_path):
        problems += _chapter_problems(visit, book, match[1], shots)
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def _toc_files() -> list[str]:
    return re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())


def test_every_page_of_the_table_of_contents_is_built(book):
    missing = [f for f in ["book/intro", *_toc_files()] if not (book / f"{f}.html").exists()]
    assert not missing, f"pages of _toc.yml missing from the build: {missing}"


def test_chapters_are_numbered(visit):
    page = visit("book/intro.html").page
    entries = page.locator("nav.bd-docs-nav a.reference.internal").all_inner_texts()
    numbered = [e for e in entries if re.match(r"^\d+\.\s", e.strip())]
    chapters = [f for f in _toc_files() if re.fullmatch(r"notebooks/\d\d_\w+", f)]
    assert len(numbered) >= len(chapters), f"expected {len(chapters)} numbered chapters in the navigation: {entries}"


def test_api_reference_documents_every_public_name(visit):
    page = visit("book/api.html").page
    page.evaluate(WAIT_FOR_MATHJAX)
    ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
    missing = []
    for name in minidl.__all__:
        obj = getattr(minidl, name)
        target = f"module-{obj.__name__}" if inspect.ismodule(obj) else f"{obj.__module__}.{obj.__qualname__}"
        if target not in ids:
            missing.append(f"{name} ({target})")
    assert not missing, f"the API reference does not document {missing}"
    for module in MATH_MODULES:
        rendered = page.locator(f'section[id="module-minidl.{module}"] mjx-container').count()
        assert rendered, f"no rendered math in the API reference of minidl.{module}"


def test_bibliography_lists_every_reference(visit):
    page = visit("book/references.html").page
    entries = page.locator('[role="doc-biblioentry"]').all_inner_texts()
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", bib, re.M)
    assert len(entries) == len(keys), entries
    text = " ".join(entries).lower()
    for needle in ["Orgiazzi", "Dying ReLU", "Adam", "Dropout", "Exponential Linear Units", "Rectifier Nonlinearities",
                   "Understanding the difficulty", "Delving Deep into Rectifiers"]:
        assert needle.lower() in text, f"{needle!r} missing from the bibliography"


def test_intro_offers_the_student_edition(visit, tmp_path):
    page = visit("book/intro.html").page
    link = page.locator('a[href$="minidl-student.zip"]')
    assert link.count() == 1, "book/intro.md must link the student edition zip"
    response = page.request.get(link.first.evaluate("a => a.href"))
    assert response.ok
    archive = tmp_path / "minidl-student.zip"
    archive.write_bytes(response.body())
    names = zipfile.ZipFile(archive).namelist()
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(Path(n).name for n in names if n.startswith("minidl-student/notebooks/")) == notebooks
    assert page.locator('a[href^="https://mybinder.org/v2/gh/"][href$="urlpath=lab/tree/student"]').count() == 1
