"""The runtime's adapters built on first use (cold starts load only what a request needs)."""

from __future__ import annotations

from sendvia.runtime import _LaterMapping, later


class Adapter:
    def name(self) -> str:
        return "built"


def test_an_adapter_is_built_once_when_first_used():
    made: list[Adapter] = []

    def make() -> Adapter:
        made.append(Adapter())
        return made[-1]

    adapter = later(make)
    assert made == []
    assert (adapter.name(), adapter.name()) == ("built", "built")
    assert len(made) == 1


def test_a_provider_is_built_on_lookup_not_on_a_membership_test():
    made: list[str] = []
    providers = _LaterMapping({"smtp": lambda: made.append("smtp") or "SMTP"})
    assert "smtp" in providers and "gmail" not in providers and list(providers) == ["smtp"]
    assert made == []
    assert (providers["smtp"], providers["smtp"]) == ("SMTP", "SMTP")
    assert made == ["smtp"]
