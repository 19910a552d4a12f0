"""`botifython docs …`: add, list, search, remove and re-index what the assistant remembers."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.cli.arguments import whole_number
from botifython_tui.cli.output import CommandError, add_json_option, emit_json, fail, note, say
from botifython_tui.config import Settings
from botifython_tui.core.paths import describe_os_error, may_write_dir
from botifython_tui.core.store import Profile, Store
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    from botifython_tui.core.memory import Event, IngestReport, Memory

log = get_logger("cli.docs")

SNIPPET_CHARS = 240
SKIPPED_SHOWN = 20


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    docs = commands.add_parser(
        "docs", help="add, list, search, remove and re-index documents the assistant knows"
    )
    actions = docs.add_subparsers(dest="action", metavar="ACTION", required=True)
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--profile", metavar="NAME", help="use this profile instead of the current one"
    )
    options.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="embedding model folder or cached name (default: env BOTIFYTHON_EMBEDDING_MODEL, "
        "else the packaged all-MiniLM-L6-v2)",
    )
    parents = [common, options]

    sub = actions.add_parser(
        "add", parents=parents, help="index files and folders (recursively); unchanged files "
        "are skipped, changed ones replaced, deleted ones dropped"
    )  # fmt: skip
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.add_argument("--force", action="store_true", help="re-read and re-embed unchanged files")
    sub.set_defaults(handler=docs_add)

    sub = actions.add_parser("list", parents=parents, help="list what the memory holds")
    sub.add_argument("--kind", choices=("document", "chat", "export"), help="only this kind")
    add_json_option(sub)
    sub.set_defaults(handler=docs_list)

    sub = actions.add_parser("search", parents=parents, help="ranked passages for a question")
    sub.add_argument("query")
    sub.add_argument(
        "-k",
        type=whole_number(1, 1000, "a number of results"),
        default=5,
        metavar="N",
        help="how many results (default 5)",
    )
    add_json_option(sub)
    sub.set_defaults(handler=docs_search)

    sub = actions.add_parser(
        "remove", parents=parents, help="forget a document, or every document under a folder"
    )
    sub.add_argument("paths", nargs="+", metavar="PATH")
    sub.set_defaults(handler=docs_remove)

    sub = actions.add_parser(
        "reindex", parents=parents, help="read every document again and re-embed everything"
    )
    sub.set_defaults(handler=docs_reindex)


# --- helpers -------------------------------------------------------------------------------------


def _profile(args: argparse.Namespace, store: Store) -> Profile:
    return store.profiles.find(args.profile) if args.profile else store.profiles.current()


def _memory(
    args: argparse.Namespace,
    settings: Settings,
    store: Store,
    *,
    all_cores: bool = False,
    writes: bool = False,
) -> Memory:
    from botifython_tui.core.memory import Memory, MemoryUnavailable, make_embedder

    try:
        embedder = make_embedder(args.model, all_cores=all_cores, kv=store.kv)
        memory = Memory(store, settings.data_dir, embedder)
    except (ValueError, MemoryUnavailable) as exc:
        raise CommandError(str(exc)) from None
    if writes and memory.folder.exists() and not may_write_dir(memory.folder):
        raise CommandError(
            f"The memory folder {memory.folder} is not writable (or not a folder), so nothing "
            "can be added or removed; Botifython does not change its permissions. Make it a "
            "writable folder, or choose another data folder with --data-dir."
        )
    return memory


def _run(job: Any, folder: Path) -> Any:
    """Run a memory job, turning model, index and file errors into one clear message."""
    from botifython_tui.core.memory import EmbeddingError, IndexCorrupt, MemoryStorageError

    try:
        return job()
    except (EmbeddingError, IndexCorrupt, MemoryStorageError) as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:  # the memory folder or an index file: full, read-only, in the way
        log.warning("memory job failed", exc_info=True)
        raise CommandError(
            describe_os_error(
                exc,
                "memory file",
                exc.filename or folder,
                f"The memory is kept in {folder}: it must be a writable folder with free space "
                "(or choose another data folder with --data-dir).",
            )
        ) from exc


def _bad_paths(paths: list[str]) -> str | None:
    """Why the paths cannot be used (an empty one would mean the current folder, or all)."""
    if any(not p.strip() for p in paths):
        return "A path is empty: name the files or folders (use . for the current folder)."
    if any("\x00" in p for p in paths):
        return "A path contains a NUL character."
    return None


def _shown(path: str) -> str:
    try:
        return single_line(str(Path(path).relative_to(Path.cwd())))
    except ValueError:
        return single_line(path)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _snippet(text: str) -> str:
    line = " ".join(single_line(text).split())
    return line if len(line) <= SNIPPET_CHARS else line[: SNIPPET_CHARS - 1].rstrip() + "…"


class PlainProgress:
    """One line per file that changed or was skipped; quiet about unchanged files."""

    def __init__(self) -> None:
        self._model_started = 0.0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __call__(self, event: Event) -> None:
        from botifython_tui.core.memory import (
            FileDone,
            ModelLoading,
            ModelReady,
            Notice,
            ScanFinished,
        )

        if isinstance(event, ScanFinished):
            note(f"Found {event.files:,} file{'s' if event.files != 1 else ''} to check.")
        elif isinstance(event, ModelLoading):
            note(f"Loading the embedding model {single_line(event.model)} …")
        elif isinstance(event, ModelReady):
            note(f"  model ready ({event.dim} dimensions, {event.seconds:.1f} s)")
        elif isinstance(event, Notice):
            note(f"note: {single_line(event.message)}")
        elif isinstance(event, FileDone) and event.outcome != "unchanged":
            detail = f": {single_line(event.reason)}" if event.reason else ""
            chunks = f" ({_count(event.chunks, 'chunk')})" if event.chunks else ""
            note(
                f"  [{event.index}/{event.total}] {event.outcome} {_shown(event.path)}{chunks}{detail}"
            )


class RichProgress:
    """A bar over the files, the file being embedded, and a line per change."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=sys.stderr, highlight=False)  # stdout is for results
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task("Looking for files", total=None)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.__exit__(*exc_info)

    def _print(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.progress.console.print(Text(text, style=style), soft_wrap=True)

    def __call__(self, event: Event) -> None:
        from botifython_tui.core.memory import (
            ChunksEmbedded,
            FileDone,
            ModelLoading,
            ModelReady,
            Notice,
            ScanFinished,
        )

        if isinstance(event, ScanFinished):
            self.progress.update(self.task, total=event.files, description="Reading files")
        elif isinstance(event, ModelLoading):
            self.progress.update(
                self.task, description="Loading the embedding model (a few seconds, once)"
            )
        elif isinstance(event, ModelReady):
            self._print(
                f"Embedding model ready ({event.dim} dimensions, {event.seconds:.1f} s)", "dim"
            )
        elif isinstance(event, ChunksEmbedded):
            name = Path(event.source).name if event.source else "chunks"
            self.progress.update(
                self.task, description=f"{single_line(name)}: embedding {event.done}/{event.total}"
            )
        elif isinstance(event, Notice):
            self._print(f"note: {single_line(event.message)}", "yellow")
        elif isinstance(event, FileDone):
            self.progress.update(self.task, completed=event.index, description="Reading files")
            if event.outcome != "unchanged":
                style = {"skipped": "yellow", "removed": "red"}.get(event.outcome, "green")
                detail = f": {single_line(event.reason)}" if event.reason else ""
                chunks = f" ({_count(event.chunks, 'chunk')})" if event.chunks else ""
                self._print(f"  {event.outcome} {_shown(event.path)}{chunks}{detail}", style)


def _renderer() -> PlainProgress | RichProgress:
    return RichProgress() if sys.stderr.isatty() else PlainProgress()


def _report(report: IngestReport) -> None:
    say(
        f"Added {len(report.added)}, updated {len(report.updated)}, unchanged "
        f"{len(report.unchanged)}, removed {len(report.removed)}, skipped {len(report.skipped)} "
        f"({_count(report.chunks_embedded, 'chunk')} embedded, {report.chunks_reused:,} reused) "
        f"in {report.seconds:.1f} s."
    )
    if report.cancelled:
        say("Stopped before the end; run the same command again to finish.")
    if report.skipped:
        say("Skipped:")
        for path, reason in report.skipped[:SKIPPED_SHOWN]:
            say(f"  {_shown(path)}: {single_line(reason)}")
        if len(report.skipped) > SKIPPED_SHOWN:
            say(f"  … and {len(report.skipped) - SKIPPED_SHOWN} more")


# --- commands ------------------------------------------------------------------------------------


def docs_add(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    problem = _bad_paths(args.paths)
    if problem:
        return fail(problem, code=2)
    profile = _profile(args, store)
    memory = _memory(args, settings, store, all_cores=True, writes=True)  # no UI to keep waiting
    with _renderer() as progress:
        report = _run(lambda: memory.add_paths(args.paths, profile.id, progress), memory.folder)
    _report(report)
    missing = [p for p, reason in report.skipped if reason == "no such file or folder"]
    if missing and not (report.added or report.updated or report.unchanged or report.removed):
        raise CommandError(
            "Nothing was added: " + ", ".join(_shown(p) for p in missing) + " not found."
        )
    return 0


def docs_list(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.memory.grounding import source_label

    profile = _profile(args, store)
    memory = _memory(args, settings, store)
    documents = memory.documents(profile.id, kind=args.kind)
    if args.json:
        emit_json(
            {
                "profile": profile.name,
                "documents": [
                    {"kind": d.kind, "source": d.source, "title": d.title, "chunks": d.chunks}
                    for d in documents
                ],
            }
        )
        return 0
    if not documents:
        say(f"The memory of profile {single_line(profile.name)} is empty.")
        return 0
    width = max(len(f"{d.chunks:,}") for d in documents)
    for doc in documents:
        label = (
            _shown(doc.source)
            if doc.kind == "document"
            else source_label(doc.kind, doc.source, doc.title)
        )
        title = f"  — {single_line(doc.title)}" if doc.title and doc.kind == "document" else ""
        say(f"{doc.kind:<8}  {doc.chunks:>{width},} chunks  {label}{title}")
    total = sum(d.chunks for d in documents)
    say(f"{len(documents)} source{'s' if len(documents) != 1 else ''}, {total:,} chunks.")
    return 0


def docs_search(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.memory.grounding import source_label

    if not args.query.strip():
        return fail("The search is empty: give a question or words to look for.", code=2)
    profile = _profile(args, store)
    memory = _memory(args, settings, store)
    if not memory.has_chunks(profile.id):
        if args.json:
            emit_json({"profile": profile.name, "query": args.query, "results": []})
            note(
                f"The memory of profile {single_line(profile.name)} is empty: add documents first."
            )
            return 0
        say(f"The memory of profile {single_line(profile.name)} is empty: add documents first.")
        return 0
    started = time.monotonic()
    hits = _run(lambda: memory.search(args.query, profile.id, args.k), memory.folder)
    for notice in memory.notices:
        note(f"note: {single_line(notice)}")
    if args.json:
        emit_json(
            {
                "profile": profile.name,
                "query": args.query,
                "results": [
                    {
                        "rank": rank,
                        "score": round(float(hit.score), 4),
                        "kind": hit.kind,
                        "source": hit.source,
                        "title": hit.title,
                        "text": hit.text,
                    }
                    for rank, hit in enumerate(hits, start=1)
                ],
            }
        )
        return 0
    for rank, hit in enumerate(hits, start=1):
        where = (
            _shown(hit.source)
            if hit.kind == "document"
            else source_label(hit.kind, hit.source, hit.title)
        )
        say(f"{rank}. {hit.score:.3f}  {where}")
        say(f"   {single_line(hit.title)}")
        say(f"   {_snippet(hit.text)}")
    if not hits:
        say("No results.")
    say(
        f"({len(hits)} result{'s' if len(hits) != 1 else ''} in {time.monotonic() - started:.2f} s)"
    )
    return 0


def docs_remove(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    problem = _bad_paths(args.paths)
    if problem:
        return fail(problem, code=2)
    profile = _profile(args, store)
    memory = _memory(args, settings, store, writes=True)
    removed: list[str] = []
    for path in args.paths:
        removed += _run(lambda p=path: memory.remove(p, profile.id), memory.folder)
    if not removed:
        raise CommandError(
            "No document matched "
            + ", ".join(single_line(p) for p in args.paths)
            + f" in profile {profile.name!r} (see botifython docs list)."
        )
    for source in removed:
        say(f"Removed {_shown(source)}")
    say(f"Removed {len(removed)} source{'s' if len(removed) != 1 else ''}.")
    return 0


def docs_reindex(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = _profile(args, store)
    memory = _memory(args, settings, store, all_cores=True, writes=True)  # no UI to keep waiting
    if not memory.has_chunks(profile.id):
        say(f"The memory of profile {single_line(profile.name)} is empty: nothing to re-index.")
        return 0
    with _renderer() as progress:
        report = _run(lambda: memory.reindex(profile.id, progress), memory.folder)
    _report(report)
    return 0
