"""Graph delta paging across two folders, with a scripted Graph (the paging is pure logic; the
real thing is tested against the fake Microsoft in tests/integration/test_receiving_microsoft.py).
"""

from __future__ import annotations

from typing import Any

from sendvia.adapters.graph_reader import GraphReader


class ScriptedGraph:
    """Answers each folder's delta with `per_folder` messages, then its delta link."""

    def __init__(self, per_folder: int) -> None:
        self.per_folder = per_folder
        self.asked: list[str] = []

    def read(self, key: str, credentials: Any, url: str, params: Any = None, **_: Any) -> Any:
        self.asked.append(url)
        folder = "inbox" if "inbox" in url else "sentitems"
        if "delta-link" in url:
            return {"value": [], "@odata.deltaLink": f"https://graph/{folder}/delta-link"}
        return {
            "value": [{"id": f"{folder}-{n}"} for n in range(self.per_folder)],
            "@odata.deltaLink": f"https://graph/{folder}/delta-link",
        }

    def rotated(self, credentials: Any) -> None:
        return None


def test_a_folder_whose_turn_a_full_page_took_stays_unstarted_and_starts_next_time() -> None:
    """Found by bench/sync.py: the first sync of a mailbox with many new messages left Sent
    Items with an empty cursor, and the next sync failed on it."""
    graph = ScriptedGraph(per_folder=150)
    reader = GraphReader(graph, "key", credentials=None)  # type: ignore[arg-type]
    first = reader.changes(None, limit=100)
    assert first.more
    assert "sent" not in first.cursor["folders"]  # not started: nothing to resume from
    second = reader.changes(first.cursor, limit=1000)
    assert {i.folder for i in second.items} == {"sent"}
    assert set(second.cursor["folders"]) == {"inbox", "sent"}
    assert all(s.get("delta") for s in second.cursor["folders"].values())
