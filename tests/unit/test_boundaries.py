"""Architecture rules: the core never imports Textual; start-up never imports heavy libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import botifython_tui

PACKAGE = Path(botifython_tui.__file__).parent
HEAVY = (
    "torch",
    "sentence_transformers",
    "faiss",
    "transformers",
    "numpy",
    "scipy",
    "pandas",
    "onnxruntime",
    "tokenizers",
)
# Not heavy, but ~0.1 s each: loaded by the first network call or schema change, not at start-up.
DEFERRED = ("httpx", "sqlite_utils")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_textual():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if "textual" in m)
        for path in (PACKAGE / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_headless_commands_do_not_load_the_tui(tmp_path):
    code = (
        "import sys, json; from botifython_tui.cli.main import main; "
        f"main(['--data-dir', {str(tmp_path)!r}, 'todo', 'list']); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('textual', 'botifython_tui.tui')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_app_start_up_imports_no_heavy_library(tmp_path):
    """Start the app on an existing database and draw its first screen headless.

    torch & co must not be loaded, nor httpx or sqlite-utils (which pulls in numpy when it is
    installed): those load with the first network call or schema change.
    """
    data, downloads = tmp_path / "d", tmp_path / "o"
    subprocess.run(  # the first start creates the schema; an everyday start does not
        [sys.executable, "-m", "botifython_tui", "--data-dir", str(data), "profile", "list"],
        check=True,
        capture_output=True,
    )
    code = f"""
import asyncio, json, sys
from botifython_tui.config import Settings
from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
settings = Settings.resolve(data_dir={str(data)!r}, downloads_dir={str(downloads)!r})
settings.ensure_dirs()
app = make_app(settings, Store(settings.db_path))
async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY + DEFERRED!r})))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_analytics_modules_import_numpy_scipy_pandas_lazily(tmp_path):
    """The analytics package, the notebook module and every CLI command load no heavy library
    until an analysis actually runs."""
    subprocess.run(  # the first start creates the schema (sqlite-utils may load numpy then)
        [sys.executable, "-m", "botifython_tui", "--data-dir", str(tmp_path), "profile", "list"],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys, json\n"
        "import botifython_tui.core.analytics.loading, botifython_tui.core.analytics.files\n"
        "import botifython_tui.core.analytics.sections, botifython_tui.core.analytics.exports\n"
        "import botifython_tui.core.analytics.compare, botifython_tui.notebook\n"
        "from botifython_tui.cli.main import main\n"
        f"main(['--data-dir', {str(tmp_path)!r}, 'exports', '--json'])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'scipy', 'pandas', 'networkx'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []
