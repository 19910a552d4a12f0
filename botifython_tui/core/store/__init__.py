"""SQLite store (through sqlite-utils): settings, profiles and each profile's todos, chats,
exports and audit log.

`Store` (database.py) is the one way in; the names below are what the rest of the app uses.
Repositories live one per module and import the connection and the records, never this package.
"""

from botifython_tui.core.store.database import Store
from botifython_tui.core.store.errors import (
    DatabaseUnusable,
    DiskFull,
    InvalidInput,
    NotFound,
    StoreError,
    database_error,
)
from botifython_tui.core.store.migrations import SCHEMA_VERSION
from botifython_tui.core.store.records import (
    AuditEntry,
    Conversation,
    DeletedProfile,
    ExportRecord,
    Message,
    Profile,
    Todo,
    utc_now,
)

__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "Conversation",
    "DatabaseUnusable",
    "DeletedProfile",
    "DiskFull",
    "ExportRecord",
    "InvalidInput",
    "Message",
    "NotFound",
    "Profile",
    "Store",
    "StoreError",
    "Todo",
    "database_error",
    "utc_now",
]
