"""Architecture rules: core/ imports no front end, cli/ never imports the TUI, neither imports
Textual; start-up never imports heavy libraries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.unit.package_source import PACKAGE, imports, is_within, source_files

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


# The one import from cli/ into tui/: `botifython` with no subcommand starts the terminal UI.
# It sits inside run_tui, so every headless command runs without Textual.
CLI_STARTS_THE_TUI = ("botifython_tui.cli.main", "botifython_tui.tui.app")


def forbidden_imports(package: str, forbidden: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """(module, line, target) for every import statement anywhere in `package` of a `forbidden` one."""
    statements: dict[tuple[str, int], str] = {}
    for name, path in source_files().items():
        if is_within(name, package):
            for found in imports(path):
                if any(is_within(found.target, f) for f in forbidden):
                    statements.setdefault((found.module, found.line), found.target)
    return sorted((module, line, target) for (module, line), target in statements.items())


def test_core_never_imports_a_front_end_or_textual():
    front_ends = ("botifython_tui.tui", "botifython_tui.cli", "textual")
    assert forbidden_imports("botifython_tui.core", front_ends) == []


def test_cli_never_imports_the_tui_or_textual_except_to_start_it():
    found = forbidden_imports("botifython_tui.cli", ("botifython_tui.tui", "textual"))
    assert [(module, target) for module, _, target in found] == [CLI_STARTS_THE_TUI]
    (start,) = [
        f
        for f in imports(source_files()[CLI_STARTS_THE_TUI[0]])
        if f.target == CLI_STARTS_THE_TUI[1]
    ]
    assert not start.top_level, "the TUI must load only when it starts, not with the CLI"


def test_the_scan_sees_deferred_and_type_checking_imports():
    """The rules above would pass vacuously if nested imports were missed."""
    cli_main = {(f.target, f.top_level) for f in imports(source_files()["botifython_tui.cli.main"])}
    assert (CLI_STARTS_THE_TUI[1], False) in cli_main  # inside run_tui
    chat_command = {
        (f.target, f.top_level) for f in imports(source_files()["botifython_tui.cli.chat_command"])
    }
    assert ("botifython_tui.core.store", False) in chat_command  # under TYPE_CHECKING
    assert forbidden_imports("botifython_tui.tui", ("textual",))  # the TUI does use Textual


def test_import_linter_contracts_hold():
    """The same rules as declared in pyproject.toml ([tool.importlinter]), run by `lint-imports`."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache", "--no-logo", str(PACKAGE.parent / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_import_linter_catches_a_core_module_importing_textual(tmp_path):
    """A copy of the package with one deferred `import textual` in core breaks the contract."""
    shutil.copytree(PACKAGE, tmp_path / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / PACKAGE.name / "core" / "sneaky.py").write_text(
        "def later():\n    from textual.app import App\n\n    return App\n"
    )
    shutil.copy(PACKAGE.parent / "pyproject.toml", tmp_path)
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache", "--no-logo", "pyproject.toml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "botifython_tui.core.sneaky -> textual" in out.stdout


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
