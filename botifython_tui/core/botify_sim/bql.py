"""The BQL the product sends, evaluated on a synthetic graph: fields, filters, aggregates, plans."""

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
_AGG_FUNCS = {
    "sum",
    "count",
    "count_distinct",
    "count_distinct_approx",
    "avg",
    "min",
    "max",
    "count_true",
    "count_false",
    "count_null",
}


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
    const: Any = None
    is_const: bool = False

    def value(self, i: int) -> Any:
        if self.is_const:
            return self.const
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
    sort: list[tuple[int, int, bool]]  # (0 = dimensions / 1 = metrics, index, descending)
    signature: str

    @property
    def unique(self) -> bool:
        return any(d.spec is not None and d.spec.unique for d in self.dims)


def _field_error(slug: Any) -> ApiError:
    return ApiError(400, 1029, "Field does not exist", {"field": slug})


def _bad_query(message: str, **detail: Any) -> ApiError:
    return ApiError(400, 1022, "Badly formatted queries", {"reason": message, **detail})


def _coerce(value: Any, sample: Any) -> Any:
    """Leniently coerce a filter value to the field's type (e.g. "true" -> True)."""
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


def _make_test(pred: str, value: Any, has_value: bool) -> Callable[[Any], bool]:
    def cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any], bool]:
        def test(v: Any) -> bool:
            if v is None:
                return False
            try:
                return bool(op(v, _coerce(value, v)))
            except TypeError:
                return False

        return test

    if pred == "eq":
        return lambda v: v == _coerce(value, v)
    if pred == "ne":
        return lambda v: v != _coerce(value, v)
    if pred == "gt":
        return cmp(lambda a, b: a > b)
    if pred == "gte":
        return cmp(lambda a, b: a >= b)
    if pred == "lt":
        return cmp(lambda a, b: a < b)
    if pred == "lte":
        return cmp(lambda a, b: a <= b)
    if pred == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _bad_query("between needs a [low, high] value")
        lo, hi = value

        def between(v: Any) -> bool:
            if v is None:
                return False
            try:
                return _coerce(lo, v) <= v <= _coerce(hi, v)
            except TypeError:
                return False

        return between
    if pred == "in":
        if not isinstance(value, list | tuple):
            raise _bad_query("in needs a list value")
        return lambda v: v in value
    if pred in ("contains", "starts", "ends", "re"):
        if not isinstance(value, str):
            raise _bad_query(f"{pred} needs a string value")
        if pred == "contains":
            return lambda v: v is not None and value in str(v)
        if pred == "starts":
            return lambda v: v is not None and str(v).startswith(value)
        if pred == "ends":
            return lambda v: v is not None and str(v).endswith(value)
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise _bad_query(f"invalid regular expression: {exc}") from None
        return lambda v: v is not None and rx.search(str(v)) is not None
    if pred in ("exists", "not_exists"):
        want = True if not has_value or value is None else bool(value)
        if pred == "not_exists":
            want = not want
        return lambda v: (v is not None and v != []) == want
    raise _bad_query(f"unknown predicate {pred!r}")


def _sortable(v: Any) -> tuple:
    if v is None:
        return (1, 0)
    return (0, v)


def _sort_rows(rows: list, sort: list[tuple[int, int, bool]]) -> None:
    for pos, idx, desc in reversed(sort):
        try:
            rows.sort(key=lambda r, p=pos, k=idx: _sortable(r[p][k]), reverse=desc)
        except TypeError:
            rows.sort(key=lambda r, p=pos, k=idx: _sortable(str(r[p][k])), reverse=desc)


def aggregate(item: _Item, ids: Any) -> Any:
    spec, func = item.spec, item.func
    if spec is None:  # count() with no argument
        return len(ids)
    get = spec.get
    if spec.kind == "count" and func in ("sum", "count"):
        return len(ids)
    if func == "count":
        return sum(1 for i in ids if get(i) is not None)
    if func == "count_null":
        return sum(1 for i in ids if get(i) is None)
    if func == "count_true":
        return sum(1 for i in ids if get(i) is True)
    if func == "count_false":
        return sum(1 for i in ids if get(i) is False)
    if func in ("count_distinct", "count_distinct_approx"):
        seen: set = set()
        for i in ids:
            v = get(i)
            if isinstance(v, list):
                seen.update(v)
            elif v is not None:
                seen.add(v)
        return len(seen)
    values = [v for v in map(get, ids) if v is not None]
    if func == "sum":
        return sum(values)
    if func == "avg":
        return sum(values) / len(values) if values else None
    if func == "min":
        return min(values) if values else None
    if func == "max":
        return max(values) if values else None
    raise _bad_query(f"unsupported function {func!r}")  # pragma: no cover


class QueryResult:
    """Rows of one /query evaluation (lazy for one-row-per-URL queries without sort)."""

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
    func: str | None = None
    args: list = []
    if isinstance(raw, str):
        slug = raw
    elif isinstance(raw, dict) and "field" in raw:
        slug = raw["field"]
    elif isinstance(raw, dict) and "literal" in raw:
        if role != "dimension":
            raise _bad_query("literal metrics are not supported", item=raw)
        v = raw["literal"]
        return _Item(str(v), str(v), str(v), const=v, is_const=True)
    elif isinstance(raw, dict) and "function" in raw:
        func = raw["function"]
        args = raw.get("args") or []
        if not isinstance(args, list):
            args = [args]
        slug = None
    elif isinstance(raw, dict) and len(raw) == 1:
        func, arg = next(iter(raw.items()))
        args = arg if isinstance(arg, list) else [arg]
        slug = None
    else:
        raise _bad_query("unrecognised item", item=raw)

    if func is None:
        spec = _resolve_field(ctx, slug)
        if role == "dimension":
            if spec.kind == "count":
                raise ApiError(
                    400, 1044, "Query can not be executed", {"reason": f"{slug} is a metric"}
                )
            return _Item(spec.slug, spec.short, spec.label, spec)
        default = {"int": "sum", "float": "sum", "count": "sum", "bool": "count_true"}.get(
            spec.kind, "count"
        )
        return _Item(spec.slug, spec.short, spec.label, spec, func=default)

    if not isinstance(func, str) or func not in _AGG_FUNCS or role != "metric":
        raise ApiError(
            400,
            1044,
            "Query can not be executed",
            {"reason": f"function {func!r} is not supported here ({role})"},
        )
    if len(args) > 1:
        raise _bad_query(f"{func} takes one argument", item=raw)
    if not args:
        if func != "count":
            raise _bad_query(f"{func} needs an argument", item=raw)
        return _Item("count()", "count()", "Count", None, func="count")
    arg = args[0]
    arg_slug = arg.get("field") if isinstance(arg, dict) else arg
    spec = _resolve_field(ctx, arg_slug)
    if func in ("sum", "avg") and spec.kind not in ("int", "float", "count", "bool"):
        raise ApiError(400, 1044, "Query can not be executed", {"reason": f"{func} on {spec.slug}"})
    if func in ("min", "max") and spec.kind == "list":
        raise ApiError(400, 1044, "Query can not be executed", {"reason": f"{func} on {spec.slug}"})
    label = f"{func.replace('_', ' ').capitalize()} of {spec.label}"
    return _Item(f"{func}({spec.slug})", f"{func}({spec.short})", label, spec, func=func)


def _compile_filter(ctx: _Ctx, f: Any) -> Callable[[int], bool] | None:
    if f is None or f == {}:
        return None
    if not isinstance(f, dict):
        raise _bad_query("a filter must be an object", filter=f)
    if "and" in f or "or" in f:
        op = "and" if "and" in f else "or"
        parts = f[op]
        if not isinstance(parts, list):
            raise _bad_query(f"{op} needs a list", filter=f)
        subs = [s for s in (_compile_filter(ctx, x) for x in parts) if s is not None]
        if not subs:
            return None
        if op == "and":
            return lambda i: all(s(i) for s in subs)
        return lambda i: any(s(i) for s in subs)
    if "not" in f:
        inner = f["not"]
        sub = _compile_filter(ctx, {"and": inner} if isinstance(inner, list) else inner)
        if sub is None:
            return lambda i: False
        return lambda i: not sub(i)
    if "field" not in f:
        raise _bad_query("unrecognised filter", filter=f)
    slug = f["field"]
    if isinstance(slug, dict):
        slug = slug.get("field")
    spec = _resolve_field(ctx, slug)
    if spec.kind == "count":
        raise ApiError(
            400, 1044, "Query can not be executed", {"reason": f"cannot filter on {slug}"}
        )
    pred = f.get("predicate") or "eq"
    if not isinstance(pred, str):
        raise _bad_query("predicate must be a string", filter=f)
    mode = "any"
    if pred.startswith("any."):
        pred = pred[4:]
    elif pred.startswith("all."):
        mode, pred = "all", pred[4:]
    test = _make_test(pred, f.get("value"), "value" in f)
    get = spec.get
    if spec.multi and pred not in ("exists", "not_exists"):
        if mode == "all":
            return lambda i: all(test(x) for x in (get(i) or []))
        return lambda i: any(test(x) for x in (get(i) or []))
    return lambda i: test(get(i))


def _compile_sort(
    sort: Any, dims: list[_Item], metrics: list[_Item]
) -> list[tuple[int, int, bool]]:
    if sort is None:
        return []
    if not isinstance(sort, list):
        sort = [sort]
    out = []
    for s in sort:
        if isinstance(s, int) and not isinstance(s, bool):
            pos, idx, order = 0, s, "asc"
        elif isinstance(s, dict) and "field" in s:
            fslug = s["field"]
            order = s.get("order", "asc")
            found = None
            for p, items in ((0, dims), (1, metrics)):
                for k, it in enumerate(items):
                    if fslug in (it.slug, it.short) or (it.spec and fslug == it.spec.slug):
                        found = (p, k)
                        break
                if found:
                    break
            if found is None:
                raise _bad_query("sort field is neither a dimension nor a metric", sort=s)
            pos, idx = found
        elif isinstance(s, dict):
            typ = s.get("type", "dimensions")
            if typ not in ("dimensions", "dimension", "metrics", "metric"):
                raise _bad_query("bad sort type", sort=s)
            pos = 0 if typ.startswith("dimension") else 1
            idx = s.get("index", 0)
            order = s.get("order", "asc")
        else:
            raise _bad_query("bad sort item", sort=s)
        if not isinstance(idx, int) or not 0 <= idx < len(dims if pos == 0 else metrics):
            raise _bad_query("sort index out of range", sort=s)
        if order not in ("asc", "desc"):
            raise _bad_query("sort order must be asc or desc", sort=s)
        out.append((pos, idx, order == "desc"))
    return out


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
    crawl: dict[str, SyntheticGraph] = {}
    for c in collections:
        if c.startswith("crawl."):
            a = project.analysis(c[len("crawl.") :])
            if a is None or a.status != "success":
                raise ApiError(404, 1004, "Analysis was not found", {"collection": c})
            crawl[a.slug] = a.graph
        elif c == "search_console":
            if not project.has_search_console:
                raise _bad_query("unknown collection", collection=c)
        else:
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
    filt = _compile_filter(ctx, q.get("filters"))
    sort = _compile_sort(q.get("sort"), dims, metrics)
    signature = json.dumps(
        {
            "body": {
                "collections": collections,
                "periods": periods,
                "query": {k: q.get(k) for k in ("dimensions", "metrics", "filters", "sort")},
            },
            "graphs": {a: g.signature for a, g in crawl.items()},
            "base": base.signature,
        },
        sort_keys=True,
        default=str,
    )
    return Plan(ctx, dims, metrics, filt, sort, signature)


def filtered_ids(plan: Plan) -> Any:
    n = plan.ctx.base.n_urls
    if plan.filt is None:
        return range(n)
    f = plan.filt
    return [i for i in range(n) if f(i)]


def _dim_tuples(plan: Plan, i: int, expand: bool) -> list[tuple]:
    vals = [d.value(i) for d in plan.dims]
    if expand and any(d.spec is not None and d.spec.multi for d in plan.dims):
        lists = [
            (v or []) if d.spec is not None and d.spec.multi else [v]
            for d, v in zip(plan.dims, vals, strict=True)
        ]
        return list(itertools.product(*lists))
    return [tuple(vals)]


def materialize(plan: Plan, ids: Any, expand: bool) -> list[tuple[list, list]]:
    """All rows as (dimension values, metric values), grouped and sorted."""
    if not plan.dims:
        return [([], [aggregate(m, ids) for m in plan.metrics])]
    rows: list[tuple[list, list]] = []
    if plan.unique:
        for i in ids:
            mvals = [aggregate(m, (i,)) for m in plan.metrics]
            for tup in _dim_tuples(plan, i, expand):
                rows.append((list(tup), mvals))
    else:
        groups: dict[tuple, tuple[tuple, list[int]]] = {}
        for i in ids:
            for tup in _dim_tuples(plan, i, expand):
                key = tuple(tuple(v) if isinstance(v, list) else v for v in tup)
                entry = groups.get(key)
                if entry is None:
                    groups[key] = (tup, [i])
                else:
                    entry[1].append(i)
        for tup, gids in groups.values():
            rows.append((list(tup), [aggregate(m, gids) for m in plan.metrics]))
    if plan.sort:
        _sort_rows(rows, plan.sort)
    return rows


def iter_export_rows(plan: Plan) -> Iterator[list]:
    ids = filtered_ids(plan)
    if plan.dims and plan.unique and not plan.sort:
        has_multi = any(d.spec is not None and d.spec.multi for d in plan.dims)
        dims = plan.dims
        for i in ids:
            mvals = [aggregate(m, (i,)) for m in plan.metrics]
            if has_multi:
                for tup in _dim_tuples(plan, i, True):
                    yield [*tup, *mvals]
            else:
                yield [*(d.value(i) for d in dims), *mvals]
        return
    for dvals, mvals in materialize(plan, ids, expand=True):
        yield [*dvals, *mvals]
