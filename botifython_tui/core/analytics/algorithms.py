"""Graph algorithms on int32 edge arrays and scipy CSR matrices: PageRank, BFS depth, HITS, SCC.

Each matches networkx's definition (checked against it in the tests) without building a
networkx graph. numpy and scipy are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DAMPING = 0.85
TOLERANCE = 1e-8  # L1 change between two iterations
MAX_ITERATIONS = 1000


@dataclass
class PageRankResult:
    scores: np.ndarray
    iterations: int
    converged: bool


def out_degrees(source: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    return np.bincount(source, minlength=n).astype(np.int64)


def in_degrees(target: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    return np.bincount(target, minlength=n).astype(np.int64)


def pagerank(
    source: np.ndarray,
    target: np.ndarray,
    n: int,
    *,
    damping: float = DAMPING,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
) -> PageRankResult:
    """PageRank with uniform teleport; a dangling page's rank is spread over every page."""
    import numpy as np
    from scipy import sparse

    if n == 0:
        return PageRankResult(np.zeros(0), 0, True)
    out = out_degrees(source, n).astype(np.float64)
    # Rows are targets: one product gathers, for every page, what its inlinks pass on.
    incoming = sparse.csr_matrix(
        (np.ones(len(source)), (target, source)), shape=(n, n), dtype=np.float64
    )
    dangling = out == 0
    inverse_out = np.zeros(n)
    inverse_out[~dangling] = 1.0 / out[~dangling]
    scores = np.full(n, 1.0 / n)
    for iteration in range(1, max_iter + 1):
        passed = incoming @ (scores * inverse_out)
        dangling_share = scores[dangling].sum() / n
        new = damping * (passed + dangling_share) + (1.0 - damping) / n
        change = np.abs(new - scores).sum()
        scores = new
        if change < tol:
            return PageRankResult(scores / scores.sum(), iteration, True)
    return PageRankResult(scores / scores.sum(), max_iter, False)


def bfs_depth(
    indptr: np.ndarray, indices: np.ndarray, starts: list[int] | np.ndarray
) -> np.ndarray:
    """Clicks from the nearest start page along out-links (CSR rows = sources); -1 unreachable."""
    import numpy as np

    n = len(indptr) - 1
    depth = np.full(n, -1, dtype=np.int32)
    frontier = np.unique(np.asarray(starts, dtype=np.int64))
    if n == 0 or len(frontier) == 0:
        return depth
    depth[frontier] = 0
    level = 0
    while len(frontier):
        begin = indptr[frontier]
        count = indptr[frontier + 1] - begin
        total = int(count.sum())
        if total == 0:
            break
        # Every neighbour of the frontier in one gather: offsets within each row, plus its start.
        offsets = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        neighbours = indices[np.repeat(begin, count) + offsets]
        fresh = neighbours[depth[neighbours] < 0]
        if len(fresh) == 0:
            break
        level += 1
        frontier = np.unique(fresh)
        depth[frontier] = level
    return depth


def hits(
    adjacency: Any, *, tol: float = 1e-10, max_iter: int = 1000
) -> tuple[np.ndarray, np.ndarray, int]:
    """Hub and authority scores (each summing to 1) by power iteration, and the iterations.

    The fixed point is the leading singular vector pair of A, as networkx's `hits`; stops when
    the hub vector moves less than `tol` (L1).
    """
    import numpy as np

    n = adjacency.shape[0]
    if n == 0:
        return np.zeros(0), np.zeros(0), 0
    if adjacency.nnz == 0:
        return np.full(n, 1.0 / n), np.full(n, 1.0 / n), 0
    transposed = adjacency.T.tocsr()
    hubs = np.full(n, 1.0 / n)
    authorities = hubs
    for iteration in range(1, max_iter + 1):
        authorities = transposed @ hubs
        authorities /= authorities.sum()
        new = adjacency @ authorities
        new /= new.sum()
        change = np.abs(new - hubs).sum()
        hubs = new
        if change < tol:
            return hubs, authorities, iteration
    return hubs, authorities, max_iter


def largest_scc(adjacency: Any) -> tuple[int, int]:
    """(pages in the largest strongly connected component, number of components)."""
    import numpy as np
    from scipy.sparse.csgraph import connected_components

    n = adjacency.shape[0]
    if n == 0:
        return 0, 0
    count, labels = connected_components(adjacency, directed=True, connection="strong")
    return int(np.bincount(labels).max()), int(count)


def rankdata(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions (as scipy.stats)."""
    import numpy as np

    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    ordered = values[order]
    distinct = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    dense = np.cumsum(distinct)[inverse]
    bounds = np.concatenate((np.flatnonzero(distinct), [len(distinct)]))
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation; None when either side is constant or too short."""
    import numpy as np

    if len(a) < 3:
        return None
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    if denominator == 0:
        return None
    return float((ra * rb).sum() / denominator)


def log_bins(values: np.ndarray) -> list[tuple[str, int]]:
    """Counts of 0, 1, 2–3, 4–7, … (powers of two), for an inlink or outlink histogram."""
    import numpy as np

    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return []
    bits = np.zeros(len(values), dtype=np.int64)
    positive = values > 0
    bits[positive] = np.floor(np.log2(values[positive])).astype(np.int64) + 1
    counts = np.bincount(bits)
    rows: list[tuple[str, int]] = []
    for bit, count in enumerate(counts):
        if count == 0:
            continue
        if bit == 0:
            rows.append(("0", int(count)))
            continue
        low, high = 1 << (bit - 1), (1 << bit) - 1
        rows.append((str(low) if low == high else f"{low}–{high}", int(count)))
    return rows
