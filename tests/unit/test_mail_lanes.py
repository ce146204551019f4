"""One tenant's stalled mail server ties up that tenant's lane, not the instance (security
review M2): its stuck steps count against it alone, the platform's relay has threads of its own,
and another tenant's steps run as usual."""

from __future__ import annotations

import threading

from sendvia.adapters import mail_steps
from sendvia.adapters.mail_steps import LANE_THREADS, PLATFORM, Steps, tenant_lane


def test_a_tenants_stuck_steps_tie_up_its_own_lane_only(monkeypatch):
    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    release = threading.Event()
    try:
        stuck = Steps(lane=tenant_lane("tar-pit"))
        for _ in range(LANE_THREADS):
            stuck.results.clear()
            stuck.run("send", lambda: release.wait(30), limit_s=0.05)
            assert stuck.results[-1]["cause"] == "timeout"  # given up on; its thread still waits
        stuck.results.clear()
        stuck.run("send", lambda: "never runs", limit_s=0.05)
        # Waits its limit for a thread of the lane, then fails; it never holds one of the pool.
        assert stuck.results[-1]["cause"] == "server_busy"

        other = Steps(lane=tenant_lane("clinic"))
        assert other.run("send", lambda: "sent") == "sent"
        relay = Steps(lane=PLATFORM)
        assert relay.run("send", lambda: "sent") == "sent"
    finally:
        release.set()


def test_a_burst_waits_for_the_lane_instead_of_failing():
    """More of one account's steps at once than the lane has threads: each waits its turn."""
    lane = tenant_lane("burst")
    outcomes: list[object] = []

    def one() -> None:
        outcomes.append(Steps(lane=lane).run("send", lambda: threading.Event().wait(0.05), 5))

    threads = [threading.Thread(target=one) for _ in range(LANE_THREADS * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [False] * (LANE_THREADS * 3)  # every step ran (Event.wait's False)


def test_a_lane_gets_its_threads_back_when_its_steps_end():
    lane = Steps(lane=tenant_lane("recovers"))
    for _ in range(LANE_THREADS * 3):
        assert lane.run("send", lambda: "ok") == "ok"
