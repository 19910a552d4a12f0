"""The project and analysis chosen in each profile, remembered in the key-value store."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from botifython_tui.core.settings import SELECTION
from botifython_tui.core.store import Store


@dataclass(frozen=True)
class Selection:
    org: str
    project: str
    analysis: str | None = None

    @property
    def project_label(self) -> str:
        return f"{self.org}/{self.project}"

    @property
    def key(self) -> tuple[str, str, str | None]:
        """(org, project, analysis): how exports are matched to the choice."""
        return (self.org, self.project, self.analysis)


def _key(profile_id: int) -> str:
    return f"{SELECTION}.{profile_id}"


def load_selection(store: Store, profile_id: int) -> Selection | None:
    raw = store.kv.get(_key(profile_id))
    if not isinstance(raw, dict) or not raw.get("org") or not raw.get("project"):
        return None
    return Selection(str(raw["org"]), str(raw["project"]), raw.get("analysis") or None)


def save_selection(store: Store, profile_id: int, selection: Selection) -> None:
    store.kv[_key(profile_id)] = asdict(selection)
