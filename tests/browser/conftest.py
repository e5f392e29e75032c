"""Options and fixtures of the browser test: a local server for the built book, headless Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOOK = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Not pages of the book: Sphinx's generated index and search pages, static files, downloads.
SKIP_PARTS = {"_static", "_sources", "_images", "_downloads", "_sphinx_design_static", "screenshots"}
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


def pytest_addoption(parser):
    parser.addoption(
        "--book",
        default=None,
        help=f"the built book's HTML folder (default {DEFAULT_BOOK.relative_to(ROOT)}; "
        "given explicitly, a missing book is an error instead of a skip)",
    )


def book_dir(config) -> Path | None:
    given = config.getoption("--book")
    if given is None:
        return DEFAULT_BOOK if (DEFAULT_BOOK / "index.html").exists() else None
    path = Path(given).resolve()
    if not (path / "index.html").exists():
        raise pytest.UsageError(f"--book {given}: no index.html there; build the book first (make book)")
    return path


def book_pages(book: Path) -> list[str]:
    pages = []
    for path in sorted(book.rglob("*.html")):
        rel = path.relative_to(book)
        if SKIP_PARTS & set(rel.parts) or rel.name in SKIP_PAGES:
            continue
        pages.append(rel.as_posix())
    return pages


def pytest_generate_tests(metafunc):
    if "page_path" in metafunc.fixturenames:
        book = book_dir(metafunc.config)
        pages = book_pages(book) if book else []
        metafunc.parametrize("page_path", pages, ids=pages)


@pytest.fixture(scope="session")
def book(pytestconfig) -> Path:
    path = book_dir(pytestconfig)
    if path is None:
        pytest.skip(f"the book is not built ({DEFAULT_BOOK.relative_to(ROOT)} is missing): run make book")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports failures itself
        pass


@pytest.fixture(scope="session")
def server(book):
    handler = functools.partial(_QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM=/path/to/chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()
