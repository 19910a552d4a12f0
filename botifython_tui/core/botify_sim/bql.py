"""The BQL the product sends, evaluated on a synthetic graph.

What the export and its counts send (`core/linkgraph.py`), and nothing more:

- collections `crawl.<analysis>` (+ `search_console` with `periods`);
- dimensions: field slugs (`url`, `crawl.<a>.<field>`), or none (one aggregate row);
- metrics: field slugs or `{"field": ...}` (summed), `{"function": "sum" | "count", "args": [f]}`;
- filters: one `{"field", "predicate", "value"}` with `lte` or `eq` (the default).

Anything else (sort, and/or/not, other predicates and functions, grouping by a dimension other
than the URL) is answered 400 with a message saying it is not simulated, so a product change
that starts sending it fails loudly in the tests instead of being half-simulated.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botifython_tui.core.botify_sim.catalogue import SimProject
from botifython_tui.core.botify_sim.faults import ApiError
from botifython_tui.core.botify_sim.graph import SyntheticGraph

_LABEL_OVERRIDES = {
    "url": "Full URL",
    "depth": "Depth",
    "http_code": "HTTP Status Code",
    "metadata.title.content": "Title",
    "outlinks_internal.nb.total": "No. of Internal Outlinks",
    "inlinks_internal.nb.total": "No. of Internal Inlinks",
    "outlinks_internal.nb.unique": "No. of Unique Internal Outlinks",
    "inlinks_internal.nb.unique": "No. of Unique Internal Inlinks",
    "canonical.to.url": "Canonical To",
    "internal_page_rank.value": "Internal PageRank",
    "internal_page_rank.position": "Internal PageRank Position",
    "internal_page_rank.raw": "Internal PageRank (raw)",
    "segments.pagetype.value": "Pagetype",
    "segments.pagetype.depth_1": "Pagetype (depth 1)",
    "compliant.is_compliant": "Is Compliant",
    "sitemaps.present": "Present in Sitemaps",
    "count_urls_crawl": "No. of URLs Crawled",
    "count_impressions": "Impressions",
    "count_clicks": "Clicks",
}
_WORD_OVERRIDES = {"url": "URL", "urls": "URLs", "http": "HTTP", "nb": "No.", "gsc": "GSC"}


def _derive_label(short: str) -> str:
    """Human label from a slug, e.g. ``outlinks_internal.graph.url`` -> ``Outlinks Internal Graph URL``."""
    if short in _LABEL_OVERRIDES:
        return _LABEL_OVERRIDES[short]
    words = [w for w in re.split(r"[._]+", short) if w]
    return " ".join(_WORD_OVERRIDES.get(w.lower(), w[:1].upper() + w[1:]) for w in words)


def _g_depth(g: SyntheticGraph, i: int) -> int:
    return g.depth(i)


# slug suffix -> (kind, getter(graph, id)); kind: int | bool | str | list | count
_CRAWL_FIELDS: dict[str, tuple[str, Callable[[SyntheticGraph, int], Any]]] = {
    "url": ("str", SyntheticGraph.url),
    "depth": ("int", _g_depth),
    "http_code": ("int", SyntheticGraph.http_code),
    "metadata.title.content": ("str", SyntheticGraph.title),
    "outlinks_internal.nb.total": ("int", SyntheticGraph.out_degree_of),
    "outlinks_internal.graph.url": ("list", SyntheticGraph.outlink_urls),
    "outlinks_internal.nb.unique": ("int", SyntheticGraph.out_degree_of),
    "inlinks_internal.nb.total": ("int", SyntheticGraph.inlink_count),
    "inlinks_internal.nb.unique": ("int", SyntheticGraph.unique_inlinks),
    "canonical.to.url": ("str", SyntheticGraph.canonical_url),
    "internal_page_rank.value": ("float", SyntheticGraph.pagerank_value),
    "internal_page_rank.position": ("int", SyntheticGraph.pagerank_position),
    "internal_page_rank.raw": ("float", SyntheticGraph.pagerank_raw),
    "segments.pagetype.value": ("str", SyntheticGraph.pagetype),
    "segments.pagetype.depth_1": ("str", SyntheticGraph.pagetype),
    "compliant.is_compliant": ("bool", SyntheticGraph.is_compliant),
    "canonical.to.equal": ("bool", SyntheticGraph.canonical_equal),
    "sitemaps.present": ("bool", SyntheticGraph.in_sitemap),
    "count_urls_crawl": ("count", lambda g, i: 1),
}
_GLOBAL_FIELDS = {
    "segments.pagetype.value": ("str", SyntheticGraph.pagetype),
    "segments.pagetype.depth_1": ("str", SyntheticGraph.pagetype),
}
_GSC_FIELDS = {
    "count_impressions": SyntheticGraph.gsc_impressions,
    "count_clicks": SyntheticGraph.gsc_clicks,
}


def _late_bound(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A SyntheticGraph method looked up on the graph itself, so subclasses (the demo) apply."""
    name = getattr(fn, "__name__", "")
    if getattr(SyntheticGraph, name, None) is not fn:
        return fn
    return lambda g, *args: getattr(g, name)(*args)


_CRAWL_FIELDS = {k: (kind, _late_bound(fn)) for k, (kind, fn) in _CRAWL_FIELDS.items()}
_GLOBAL_FIELDS = {k: (kind, _late_bound(fn)) for k, (kind, fn) in _GLOBAL_FIELDS.items()}
_GSC_FIELDS = {k: _late_bound(fn) for k, fn in _GSC_FIELDS.items()}
_AGG_FUNCS = ("sum", "count")
_PREDICATES = ("eq", "lte")


@dataclass
class _FieldSpec:
    slug: str
    short: str
    label: str
    get: Callable[[int], Any]
    kind: str
    unique: bool = False

    @property
    def multi(self) -> bool:
        return self.kind == "list"


@dataclass
class _Item:
    slug: str
    short: str
    label: str
    spec: _FieldSpec | None = None
    func: str | None = None  # aggregate (metrics only)

    def value(self, i: int) -> Any:
        return self.spec.get(i)


@dataclass
class _Ctx:
    project: SimProject
    collections: list[str]
    crawl: dict[str, SyntheticGraph]
    periods: list
    base: SyntheticGraph


@dataclass
class Plan:
    ctx: _Ctx
    dims: list[_Item]
    metrics: list[_Item]
    filt: Callable[[int], bool] | None
    signature: str

    @property
    def multi(self) -> bool:
        """A dimension holds a list (outlinks): exports give one row per element."""
        return any(d.spec is not None and d.spec.multi for d in self.dims)


def _field_error(slug: Any) -> ApiError:
    return ApiError(400, 1029, "Field does not exist", {"field": slug})


def _bad_query(message: str, **detail: Any) -> ApiError:
    return ApiError(400, 1022, "Badly formatted queries", {"reason": message, **detail})


def _not_simulated(what: str, **detail: Any) -> ApiError:
    return ApiError(
        400, 1044, "Query can not be executed", {"reason": f"{what} is not simulated", **detail}
    )


def _coerce(value: Any, sample: Any) -> Any:
    """Leniently coerce a filter value to the field's type (e.g. "true" -> True, "3" -> 3)."""
    if isinstance(sample, bool) and isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    if isinstance(sample, int) and not isinstance(sample, bool) and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _make_test(pred: str, value: Any) -> Callable[[Any], bool]:
    if pred == "eq":
        return lambda v: v == _coerce(value, v)

    def lte(v: Any) -> bool:
        if v is None:
            return False
        try:
            return bool(v <= _coerce(value, v))
        except TypeError:
            return False

    return lte


def aggregate(item: _Item, ids: Any) -> Any:
    spec = item.spec
    if spec is None or spec.kind == "count":  # count(), or count_urls_crawl
        return len(ids)
    get = spec.get
    if item.func == "count":
        return sum(1 for i in ids if get(i) is not None)
    return sum(v for v in map(get, ids) if v is not None)


class QueryResult:
    """Rows of one /query evaluation (computed page by page for one-row-per-URL queries)."""

    def __init__(
        self,
        count: int,
        rows: list | None = None,
        ids: Any = None,
        row_fn: Callable[[int], tuple] | None = None,
    ):
        self.count = count
        self._rows = rows
        self._ids = ids
        self._row_fn = row_fn

    def page(self, start: int, stop: int) -> list[tuple]:
        if self._rows is not None:
            return self._rows[start:stop]
        return [self._row_fn(i) for i in self._ids[start:stop]]


def _resolve_field(ctx: _Ctx, slug: Any) -> _FieldSpec:
    if not isinstance(slug, str):
        raise _field_error(slug)
    base = ctx.base
    if slug == "url":
        return _FieldSpec("url", "url", "Full URL", base.url, "str", unique=True)
    if slug in _GLOBAL_FIELDS:
        kind, fn = _GLOBAL_FIELDS[slug]
        return _FieldSpec(slug, slug, _derive_label(slug), lambda i: fn(base, i), kind)
    m = re.fullmatch(r"crawl\.([^.]+)\.(.+)", slug)
    if m:
        a_slug, rest = m.groups()
        graph = ctx.crawl.get(a_slug)
        if graph is None or rest not in _CRAWL_FIELDS:
            raise _field_error(slug)
        kind, fn = _CRAWL_FIELDS[rest]
        if graph is base:

            def get(i: int, fn: Callable = fn, g: SyntheticGraph = graph) -> Any:
                return fn(g, i)
        else:

            def get(i: int, fn: Callable = fn, g: SyntheticGraph = graph) -> Any:
                j = g.index_of(base.url(i))
                return None if j is None else fn(g, j)

        unique = rest == "url" and graph is base
        return _FieldSpec(slug, rest, _derive_label(rest), get, kind, unique=unique)
    m = re.fullmatch(r"search_console\.period_(\d+)\.(.+)", slug)
    if m:
        period, rest = int(m.group(1)), m.group(2)
        if (
            "search_console" not in ctx.collections
            or period >= len(ctx.periods)
            or rest not in _GSC_FIELDS
        ):
            raise _field_error(slug)
        fn = _GSC_FIELDS[rest]
        short = f"period_{period}.{rest}"
        return _FieldSpec(slug, short, _derive_label(rest), lambda i: fn(base, i, period), "int")
    raise _field_error(slug)


def _compile_item(ctx: _Ctx, raw: Any, role: str) -> _Item:
    if isinstance(raw, str):
        slug = raw
    elif isinstance(raw, dict) and set(raw) == {"field"}:
        slug = raw["field"]
    elif isinstance(raw, dict) and "function" in raw and role == "metric":
        return _compile_function(ctx, raw)
    elif isinstance(raw, dict):
        raise _not_simulated(f"this {role}", item=raw)
    else:
        raise _bad_query("unrecognised item", item=raw)
    spec = _resolve_field(ctx, slug)
    if role == "dimension":
        if spec.kind == "count":
            raise ApiError(
                400, 1044, "Query can not be executed", {"reason": f"{slug} is a metric"}
            )
        return _Item(spec.slug, spec.short, spec.label, spec)
    func = "sum" if spec.kind in ("int", "float", "count") else "count"
    return _Item(spec.slug, spec.short, spec.label, spec, func=func)


def _compile_function(ctx: _Ctx, raw: dict[str, Any]) -> _Item:
    func, args = raw["function"], raw.get("args") or []
    if not isinstance(args, list):
        args = [args]
    if not isinstance(func, str) or func not in _AGG_FUNCS:
        raise _not_simulated(f"the function {func!r}", item=raw)
    if len(args) > 1:
        raise _bad_query(f"{func} takes one argument", item=raw)
    if not args:
        if func != "count":
            raise _bad_query(f"{func} needs an argument", item=raw)
        return _Item("count()", "count()", "Count", None, func="count")
    arg = args[0]
    spec = _resolve_field(ctx, arg.get("field") if isinstance(arg, dict) else arg)
    if func == "sum" and spec.kind not in ("int", "float", "count"):
        raise ApiError(400, 1044, "Query can not be executed", {"reason": f"sum on {spec.slug}"})
    label = f"{func.capitalize()} of {spec.label}"
    return _Item(f"{func}({spec.slug})", f"{func}({spec.short})", label, spec, func=func)


def _compile_filter(ctx: _Ctx, f: Any) -> Callable[[int], bool] | None:
    if f is None or f == {}:
        return None
    if not isinstance(f, dict):
        raise _bad_query("a filter must be an object", filter=f)
    if "field" not in f:
        raise _not_simulated("this filter", filter=f)
    spec = _resolve_field(ctx, f["field"])
    if spec.kind == "count" or spec.multi:
        raise ApiError(
            400, 1044, "Query can not be executed", {"reason": f"cannot filter on {spec.slug}"}
        )
    pred = f.get("predicate") or "eq"
    if pred not in _PREDICATES:
        raise _not_simulated(f"the predicate {pred!r}", filter=f)
    test, get = _make_test(pred, f.get("value")), spec.get
    return lambda i: test(get(i))


def compile_query(project: SimProject, body: Any) -> Plan:
    if not isinstance(body, dict):
        raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON object expected"})
    if "query" not in body:
        raise ApiError(400, 1021, "Query not found on request")
    collections = body.get("collections")
    if (
        not isinstance(collections, list)
        or not collections
        or not all(isinstance(c, str) for c in collections)
    ):
        raise _bad_query("collections must be a non-empty list of collection ids")
    q = body["query"]
    if not isinstance(q, dict):
        raise _bad_query("query must be an object")
    for key in ("dimensions", "metrics"):
        if key not in q:
            raise _bad_query(f"{key} is required", missing=key)
        if not isinstance(q[key], list):
            raise _bad_query(f"{key} must be a list")
    if q.get("sort"):
        raise _not_simulated("sort")
    crawl: dict[str, SyntheticGraph] = {}
    for c in collections:
        if c.startswith("crawl."):
            a = project.analysis(c[len("crawl.") :])
            if a is None or a.status != "success":
                raise ApiError(404, 1004, "Analysis was not found", {"collection": c})
            crawl[a.slug] = a.graph
        elif c != "search_console" or not project.has_search_console:
            raise _bad_query("unknown collection", collection=c)
    periods = body.get("periods")
    if "search_console" in collections:
        ok = (
            isinstance(periods, list)
            and periods
            and all(
                isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in periods
            )
        )
        if not ok:
            raise _bad_query("periods ([[start, end], ...]) are required for search_console")
    if crawl:
        base = crawl[next(c[len("crawl.") :] for c in collections if c.startswith("crawl."))]
    else:
        success = project.successful()
        if success:
            base = success[0].graph
        elif project.analyses:
            base = project.analyses[0].graph
        else:
            base = SyntheticGraph([1], out_degree=0, host=f"https://{project.slug}")
    ctx = _Ctx(project, list(collections), crawl, list(periods or []), base)
    dims = [_compile_item(ctx, d, "dimension") for d in q["dimensions"]]
    metrics = [_compile_item(ctx, m, "metric") for m in q["metrics"]]
    if not dims and not metrics:
        raise _bad_query("dimensions and metrics cannot both be empty")
    if dims and not any(d.spec is not None and d.spec.unique for d in dims):
        raise _not_simulated("grouping by a dimension other than the URL")
    filt = _compile_filter(ctx, q.get("filters"))
    signature = json.dumps(
        {
            "body": {
                "collections": collections,
                "periods": periods,
                "query": {k: q.get(k) for k in ("dimensions", "metrics", "filters")},
            },
            "graphs": {a: g.signature for a, g in crawl.items()},
            "base": base.signature,
        },
        sort_keys=True,
        default=str,
    )
    return Plan(ctx, dims, metrics, filt, signature)


def filtered_ids(plan: Plan) -> Any:
    n = plan.ctx.base.n_urls
    if plan.filt is None:
        return range(n)
    f = plan.filt
    return [i for i in range(n) if f(i)]


def run_query(plan: Plan) -> QueryResult:
    """The rows of a /query: one aggregate row without dimensions, else one row per URL."""
    ids = filtered_ids(plan)
    if not plan.dims:
        return QueryResult(1, rows=[([], [aggregate(m, ids) for m in plan.metrics])])

    def row_fn(i: int) -> tuple[list, list]:
        return [d.value(i) for d in plan.dims], [aggregate(m, (i,)) for m in plan.metrics]

    return QueryResult(len(ids), ids=ids, row_fn=row_fn)


def iter_export_rows(plan: Plan) -> Iterator[list]:
    """The rows of an export: like /query, but a list dimension gives one row per element."""
    ids = filtered_ids(plan)
    if not plan.dims:
        yield [aggregate(m, ids) for m in plan.metrics]
        return
    dims = plan.dims
    for i in ids:
        mvals = [aggregate(m, (i,)) for m in plan.metrics]
        vals = [d.value(i) for d in dims]
        if not plan.multi:
            yield [*vals, *mvals]
            continue
        lists = [
            (v or []) if d.spec is not None and d.spec.multi else [v]
            for d, v in zip(dims, vals, strict=True)
        ]
        for tup in itertools.product(*lists):
            yield [*tup, *mvals]
