"""The link-graph export: choose a depth, export edges and node attributes, write CSVs atomically.

`LinkGraphExport.run()` is an async generator of small progress events; the TUI, the CLI and the
tests all drive the same job and only differ in how they render the events.

- `plan`: the request, the plan shown before credits are spent, file names, `ExportFailed`
- `events`: the progress events and the result
- `job`: `LinkGraphExport`, the steps of one export
- `download`: one download of a finished Botify job, resumed from the same link when it breaks
"""

from botifython_tui.core.linkgraph.events import (
    BytesDownloaded,
    DepthChecked,
    DepthChosen,
    Event,
    ExportFinished,
    FileWritten,
    JobCreated,
    JobPolled,
    LinkGraphResult,
    Notice,
    PlanReady,
    StepStarted,
)
from botifython_tui.core.linkgraph.job import LinkGraphExport
from botifython_tui.core.linkgraph.plan import (
    DEFAULT_MAX_EDGES,
    ExportFailed,
    ExportPlan,
    LinkGraphRequest,
    PollPolicy,
    export_paths,
)

__all__ = [
    "DEFAULT_MAX_EDGES",
    "BytesDownloaded",
    "DepthChecked",
    "DepthChosen",
    "Event",
    "ExportFailed",
    "ExportFinished",
    "ExportPlan",
    "FileWritten",
    "JobCreated",
    "JobPolled",
    "LinkGraphExport",
    "LinkGraphRequest",
    "LinkGraphResult",
    "Notice",
    "PlanReady",
    "PollPolicy",
    "StepStarted",
    "export_paths",
]
