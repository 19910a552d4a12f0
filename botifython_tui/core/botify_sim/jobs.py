"""Export jobs (`POST /v1/jobs`, polling) and their downloads, with the download faults."""

from __future__ import annotations

import atexit
import contextlib
import csv
import gzip
import hashlib
import io
import itertools
import json
import os
import random
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from botifython_tui.core.botify_sim.bql import Plan, compile_query, iter_export_rows
from botifython_tui.core.botify_sim.catalogue import SimProject, iso
from botifython_tui.core.botify_sim.faults import ApiError
from botifython_tui.core.botify_sim.http import RecordedRequest, Response, json_response

_EXPORT_LOCK = threading.Lock()
EXPORT_CACHE: dict[str, Future] = {}
_EXPORT_DIR: str | None = None


def _export_dir() -> str:
    global _EXPORT_DIR
    with _EXPORT_LOCK:
        if _EXPORT_DIR is None:
            _EXPORT_DIR = tempfile.mkdtemp(prefix="fakebotify-exports-")
            atexit.register(shutil.rmtree, _EXPORT_DIR, True)
        return _EXPORT_DIR


_PER_DOWNLOAD_FAULTS = ("truncated", "drop", "forbidden", "not_found")


def _byte_range(header: str | None) -> tuple[int, int | None] | None:
    """`bytes=N-` or `bytes=N-M` (one range only); anything else is ignored, as S3 does."""
    match = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", header or "")
    if not match:
        return None
    start, end = int(match.group(1)), match.group(2)
    if end and int(end) < start:
        return None
    return start, int(end) if end else None


_S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message>"
    "<RequestId>FAKE{rid:016X}</RequestId><HostId>fakebotify</HostId></Error>"
)


class ExportJobs:
    """The simulator's export jobs: create, poll, write the file once, serve the download."""

    def _h_create_job(self, rec: RecordedRequest) -> Response:
        body = rec.json
        if not isinstance(body, dict):
            raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON object expected"})
        job_type = body.get("job_type")
        if not job_type:
            raise ApiError(
                400, 1020, "Badly formatted request", {"job_type": "This field is required."}
            )
        if job_type != "export":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"job_type": f"unsupported job type {job_type!r}"},
            )
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise ApiError(
                400, 1020, "Badly formatted request", {"payload": "This field is required."}
            )
        for key in ("username", "project", "query"):
            if not payload.get(key):
                raise ApiError(
                    400,
                    1020,
                    "Badly formatted request",
                    {f"payload.{key}": "This field is required."},
                )
        connector = payload.get("connector", "direct_download")
        if connector != "direct_download":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"connector": f"unknown connector {connector!r}"},
            )
        formatter = payload.get("formatter", "csv")
        if formatter != "csv":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"formatter": f"formatter {formatter!r} is not supported by the fake (csv only)"},
            )
        fc = payload.get("formatter_config") or {}
        ec = payload.get("extra_config") or {}
        if not isinstance(fc, dict) or not isinstance(ec, dict):
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"formatter_config/extra_config": "objects expected"},
            )
        if fc.get("header_format", "verbose") not in ("verbose", "slug", "collection_slug"):
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"header_format": "verbose|slug|collection_slug"},
            )
        if not isinstance(fc.get("delimiter", ","), str) or len(fc.get("delimiter", ",")) != 1:
            raise ApiError(400, 1020, "Badly formatted request", {"delimiter": "one character"})
        size = payload.get("export_size", self.max_export_size)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"export_size": "a positive integer is required"},
            )
        if size > self.max_export_size:
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {
                    "export_size": f"Ensure this value is less than or equal to {self.max_export_size}."
                },
            )
        project = self._get_project(str(payload["username"]), str(payload["project"]))
        plan = compile_query(project, payload["query"])
        now = datetime.now(UTC)
        with self._lock:
            job_id = self._next_job_id
            self._next_job_id += 1
            job = {
                "job_id": job_id,
                "job_type": job_type,
                "job_url": f"/v1/jobs/{job_id}",
                "payload": payload,
                "status": "CREATED",
                "polls": 0,
                "date_created": now,
                "user": self.username,
                "results": None,
                "error": None,
                "project": project,
                "_plan": plan,
            }
            self.jobs[job_id] = job
        # Warm the file in the background so that big exports are ready by the DONE poll.
        threading.Thread(
            target=self._prewarm, args=(job, self._job_format(job)), daemon=True
        ).start()
        return json_response(201, self._job_view(job))

    def _prewarm(self, job: dict[str, Any], fmt: str) -> None:
        # Errors are reported again (and visibly) when the file is needed.
        with contextlib.suppress(Exception):
            self._ensure_export(job, fmt, empty=False)

    def _job_view(self, job: dict[str, Any]) -> dict[str, Any]:
        view = {
            "job_id": job["job_id"],
            "job_type": job["job_type"],
            "job_url": job["job_url"],
            "job_status": job["status"],
            "payload": job["payload"],
            "results": job["results"],
            "date_created": iso(job["date_created"]),
            "user": job["user"],
            "metadata": None,
        }
        if job["status"] == "FAILED":
            view["error"] = job["error"]
        return view

    def _h_get_job(self, rec: RecordedRequest, job_id: str) -> Response:
        try:
            jid = int(job_id)
        except ValueError:
            jid = -1
        with self._lock:
            job = self.jobs.get(jid)
            if job is None:
                raise ApiError(404, 1006, "Job was not found", {"job_id": job_id})
            job["polls"] += 1
            finalize = False
            if job["status"] in ("CREATED", "PROCESSING"):
                if job["polls"] > int(self.polls_before_done):
                    finalize = True
                else:
                    job["status"] = "PROCESSING"
        if finalize:
            outcome = self.job_outcome
            if outcome == "failed":
                with self._lock:
                    job["status"] = "FAILED"
                    job["results"] = None
                    job["error"] = {"message": self.job_error_message, "error_code": "1060"}
            elif outcome == "done_without_results":
                with self._lock:
                    job["status"] = "DONE"
                    job["results"] = None
            else:
                fmt = self._job_format(job)
                fault = self.download_fault
                empty = fault == "empty"
                _, nb_lines, _ = self._ensure_export(job, fmt, empty=empty)
                limit = None
                if fault in ("short", "nb_lines_mismatch"):
                    limit = max(1, nb_lines // 10) if nb_lines else 0
                    self._ensure_export(job, fmt, empty=False, limit=limit)
                job["_cut"] = (empty, limit)
                p: SimProject = job["project"]
                day = job["date_created"].strftime("%Y-%m-%d")
                ext = {"gzip": ".csv.gz", "zip": ".zip", "plain": ".csv"}[fmt]
                name = quote(f"{p.slug}-{day}{ext}")
                with self._lock:
                    job["status"] = "DONE"
                    job["results"] = {
                        "download_url": f"{self.base_url}/downloads/{job['job_id']}/{name}",
                        "nb_lines": limit if fault == "short" else nb_lines,
                    }
                    if fault == "short":  # the client falls back on its own count
                        del job["results"]["nb_lines"]
        resp = json_response(200, self._job_view(job))
        resp.delay += float(self.poll_delay or 0.0)
        return resp

    def _job_format(self, job: dict[str, Any]) -> str:
        if self.download_format in ("gzip", "zip", "plain"):
            return self.download_format
        ec = job["payload"].get("extra_config") or {}
        wanted = str(ec.get("filetype") or ec.get("compression") or "").lower()
        return "zip" if wanted == "zip" else "gzip"

    def _ensure_export(
        self, job: dict[str, Any], fmt: str, empty: bool, limit: int | None = None
    ) -> tuple[str, int, int]:
        """(path, data rows, file size) of the job's export, generated once and cached on disk."""
        plan: Plan = job["_plan"]
        payload = job["payload"]
        fc = payload.get("formatter_config") or {}
        size = int(payload.get("export_size", self.max_export_size))
        inner = f"{job['project'].slug}-{job['date_created'].strftime('%Y-%m-%d')}.csv"
        key_material = json.dumps(
            {
                "plan": plan.signature,
                "fc": fc,
                "fmt": fmt,
                "size": size,
                "empty": empty,
                "limit": limit,
                "inner": inner if fmt == "zip" else None,
            },
            sort_keys=True,
            default=str,
        )
        key = hashlib.sha256(key_material.encode()).hexdigest()[:32]
        owner = False
        with _EXPORT_LOCK:
            fut = EXPORT_CACHE.get(key)
            if fut is None:
                fut = Future()
                EXPORT_CACHE[key] = fut
                owner = True
        if owner:
            ext = {"gzip": ".csv.gz", "zip": ".zip", "plain": ".csv"}[fmt]
            dest = f"{_export_dir()}/{key}{ext}"
            try:
                rows = self._write_export(
                    plan, fc, fmt, size if limit is None else min(size, limit), empty, inner, dest
                )
                fut.set_result((dest, rows, os.path.getsize(dest)))
            except BaseException as exc:
                with _EXPORT_LOCK:
                    EXPORT_CACHE.pop(key, None)
                fut.set_exception(exc)
        return fut.result()

    def _write_export(
        self,
        plan: Plan,
        fc: dict[str, Any],
        fmt: str,
        export_size: int,
        empty: bool,
        inner: str,
        dest: str,
    ) -> int:
        delimiter = fc.get("delimiter", ",")
        header_format = fc.get("header_format", "verbose")
        items = plan.dims + plan.metrics
        if header_format == "slug":
            header = [it.short for it in items]
        elif header_format == "collection_slug":
            header = [it.slug for it in items]
        else:
            header = [it.label for it in items]
        prepend = fc.get("prepend_columns") or []
        append = fc.get("append_columns") or []

        def col_name(c: dict[str, Any]) -> str:
            if header_format == "verbose":
                return str(c.get("name") or c.get("slug") or "")
            return str(c.get("slug") or c.get("name") or "")

        header = [col_name(c) for c in prepend] + header + [col_name(c) for c in append]
        pre_vals = [c.get("value") for c in prepend]
        post_vals = [c.get("value") for c in append]
        rows: Iterable[list] = (
            [] if empty else itertools.islice(iter_export_rows(plan), export_size)
        )
        if pre_vals or post_vals:
            rows = ([*pre_vals, *r, *post_vals] for r in rows)
        counter = [0]

        def counting(it: Iterable[list]) -> Iterator[list]:
            n = 0
            for r in it:
                n += 1
                yield r
            counter[0] = n

        tmp = dest + f".tmp{threading.get_ident()}"
        zf = raw = None
        if fmt == "gzip":
            raw = open(tmp, "wb")  # noqa: SIM115
            stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0)
        elif fmt == "zip":
            zf = zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
            stream = zf.open(inner, "w", force_zip64=True)
        else:
            stream = open(tmp, "wb")  # noqa: SIM115
        ok = False
        try:
            text = io.TextIOWrapper(
                io.BufferedWriter(stream, buffer_size=1 << 20), encoding="utf-8", newline=""
            )
            writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
            if fc.get("print_delimiter", True):
                text.write(f"sep={delimiter}\n")
            if fc.get("print_header", True):
                writer.writerow(header)
            writer.writerows(counting(rows))
            text.close()  # closes the buffer and the underlying stream
            ok = True
        finally:
            try:
                if zf is not None:
                    zf.close()
                if raw is not None:
                    raw.close()
            except (OSError, ValueError):
                if ok:
                    raise
            if not ok:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
        os.replace(tmp, dest)
        return counter[0]

    def _download(self, rec: RecordedRequest) -> Response:
        m = re.fullmatch(r"/downloads/(\d+)(?:/[^/]*)?", rec.path)
        job = self.jobs.get(int(m.group(1))) if m else None
        if (
            job is None
            or rec.method not in ("GET", "HEAD")
            or job["status"] != "DONE"
            or not job["results"]
        ):
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        fault = self.download_fault
        with self._lock:
            if fault in _PER_DOWNLOAD_FAULTS and self.download_fault_times is not None:
                if self.download_fault_times > 0:
                    self.download_fault_times -= 1
                else:
                    fault = None
        if fault == "forbidden":
            return self._s3_error(403, "AccessDenied", "Request has expired")
        if fault == "not_found":
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        fmt = self._job_format(job)
        empty, limit = job.get("_cut") or (False, None)
        empty = empty or self.download_fault == "empty"  # also when set after DONE
        path, _, size = self._ensure_export(job, fmt, empty=empty, limit=limit)
        length = size
        if fault == "truncated":
            length = max(1, size // 2)
        status, offset, extra = 200, 0, []
        wanted = _byte_range(rec.headers.get("range")) if self.accept_ranges else None
        if wanted is not None and rec.method == "GET":
            start, end = wanted
            if start >= length:
                return Response(416, b"", [("Content-Range", f"bytes */{length}")])
            end = length - 1 if end is None else min(end, length - 1)
            status, offset = 206, start
            extra = [("Content-Range", f"bytes {start}-{end}/{length}")]
            length = end - start + 1
        cut = max(1, length // 2) if fault == "drop" else None
        ctype = {"gzip": "application/gzip", "zip": "application/zip", "plain": "text/csv"}[fmt]
        filename = rec.path.rsplit("/", 1)[-1]
        headers = [
            ("Content-Type", ctype),
            ("Content-Disposition", f'attachment; filename="{unquote(filename)}"'),
            ("ETag", f'"{hashlib.md5(path.encode()).hexdigest()}"'),
            *extra,
        ]
        if self.accept_ranges:
            headers.append(("Accept-Ranges", "bytes"))
        pace = None
        if self.download_seconds and not self.download_rate:
            pace = max(16_384.0, size / float(self.download_seconds))
        return Response(
            status,
            headers=headers,
            file=path,
            length=length,
            rate_limited_stream=True,
            offset=offset,
            cut=cut,
            rate=pace,
        )

    @staticmethod
    def _s3_error(status: int, code: str, message: str) -> Response:
        body = _S3_ERROR.format(code=code, message=message, rid=random.getrandbits(64)).encode()
        return Response(status, body, [("Content-Type", "application/xml")])
