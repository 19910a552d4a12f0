"""Persistent settings: a dict-like view of the `kv` table, values stored as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botifython_tui.core.store.connection import Connection

_MISSING = object()


class KeyValue:
    """Dict-like persistent settings with the semantics of the original `DictLikeDB`."""

    def __init__(self, store: Connection) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Any:
        rows = self._store.query("SELECT value FROM kv WHERE key = ?", [key])
        if not rows:
            raise KeyError(key)
        return json.loads(rows[0][0])

    def __setitem__(self, key: str, value: Any) -> None:
        encoded = json.dumps(value)
        with self._store.write() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, encoded],
            )

    def __delitem__(self, key: str) -> None:
        with self._store.write() as db:
            if db.execute("DELETE FROM kv WHERE key = ?", [key]).rowcount == 0:
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return bool(self._store.query("SELECT 1 FROM kv WHERE key = ?", [key]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return int(self._store.query("SELECT count(*) FROM kv")[0][0])

    def keys(self) -> list[str]:
        return [row[0] for row in self._store.query("SELECT key FROM kv ORDER BY key")]

    def values(self) -> list[Any]:
        return [value for _, value in self.items()]

    def items(self) -> list[tuple[str, Any]]:
        rows = self._store.query("SELECT key, value FROM kv ORDER BY key")
        return [(key, json.loads(value)) for key, value in rows]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        with self._store.write():
            try:
                value = self[key]
            except KeyError:
                if default is _MISSING:
                    raise
                return default
            del self[key]
            return value
