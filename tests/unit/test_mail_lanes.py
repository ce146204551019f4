"""One tenant's stalled mail server ties up that tenant's lane, not the instance (security
review M2): its stuck steps count against it alone, the platform's relay has threads of its own,
and another tenant's steps run as usual."""

from __future__ import annotations

import smtplib
import threading
import time

import pytest
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


# -- Steps on the request's own thread, cut by the watchdog at their limit ---------------------


class Dripping:
    """A connection whose far end sends a byte every 20 ms and never a whole reply: no read
    ever times out, so only the step's limit can end a read of it (a tar pit)."""

    def __init__(self) -> None:
        import socket

        self.near, self._far = socket.socketpair()
        self.near.settimeout(5.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self._far.send(b".")
            except OSError:
                return

    def read_a_reply(self) -> bytes:
        received = b""
        while not received.endswith(b"\r\n"):
            chunk = self.near.recv(1)
            if not chunk:
                raise ConnectionResetError("closed")
            received += chunk
        return received

    def close(self) -> None:
        self._stop.set()
        self.near.close()
        self._far.close()


def run_in_thread(steps: Steps, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=steps.run, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def test_a_step_stalled_on_its_own_thread_is_cut_at_its_limit(monkeypatch):
    from sendvia.adapters.mail_sockets import cut

    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    pit = Dripping()
    try:
        steps = Steps(lane=tenant_lane("dripping"))
        started = time.monotonic()
        ran = run_in_thread(
            steps, "send", pit.read_a_reply, limit_s=0.3, cancel=lambda: cut(pit.near)
        )
        ran.join(timeout=10)
        assert not ran.is_alive(), "the step was never cut"
        assert time.monotonic() - started < 0.3 + mail_steps._Watchdog.TICK_S + 1.0
        assert steps.results[-1]["cause"] == "timeout"
        assert "0.3 s" in steps.results[-1]["reply"]
    finally:
        pit.close()


def test_a_step_that_ends_in_time_is_never_cut(monkeypatch):
    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    cuts: list[str] = []
    steps = Steps(lane=tenant_lane("prompt"))
    assert (
        steps.run("send", lambda: "250 accepted", limit_s=0.05, cancel=lambda: cuts.append("x"))
        == "250 accepted"
    )
    time.sleep(0.05 + 2 * mail_steps._Watchdog.TICK_S)  # well past its deadline
    assert cuts == []
    assert steps.ok


def test_the_watchdog_sleeps_when_idle_and_wakes_for_the_next_stalled_step(monkeypatch):
    from sendvia.adapters.mail_sockets import cut

    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    monkeypatch.setattr(mail_steps._Watchdog, "IDLE_S", 0.1)
    watchdog = mail_steps._Watchdog()
    monkeypatch.setattr(mail_steps, "_WATCHDOG", watchdog)
    assert Steps().run("send", lambda: "ok", cancel=lambda: None) == "ok"
    time.sleep(0.1 + 3 * watchdog.TICK_S)
    assert watchdog._asleep
    pit = Dripping()
    try:
        steps = Steps(lane=tenant_lane("after-a-quiet-spell"))
        ran = run_in_thread(
            steps, "send", pit.read_a_reply, limit_s=0.2, cancel=lambda: cut(pit.near)
        )
        ran.join(timeout=10)
        assert not ran.is_alive()
        assert steps.results[-1]["cause"] == "timeout"
    finally:
        pit.close()


def test_a_tenants_steps_cut_at_their_limit_give_its_lane_back(monkeypatch):
    from sendvia.adapters.mail_sockets import cut

    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    lane = tenant_lane("cut-and-back")
    for _ in range(2):
        pits = [Dripping() for _ in range(LANE_THREADS)]
        try:
            runs = [
                run_in_thread(
                    Steps(lane=lane),
                    "send",
                    pit.read_a_reply,
                    limit_s=0.2,
                    cancel=lambda pit=pit: cut(pit.near),
                )
                for pit in pits
            ]
            for ran in runs:
                ran.join(timeout=10)
                assert not ran.is_alive()
        finally:
            for pit in pits:
                pit.close()
    assert Steps(lane=lane).run("send", lambda: "sent", limit_s=0.5) == "sent"


def test_a_steps_limit_counts_from_its_lanes_thread_not_from_the_wait_for_one(monkeypatch):
    """A burst of one account's emails waits for the lane; the step's own limit starts when
    it gets its thread, as it does on the pool."""
    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    lane = tenant_lane("waited")
    release = threading.Event()
    busy = Steps(lane=lane)
    for _ in range(LANE_THREADS):
        busy.results.clear()
        busy.run("send", lambda: release.wait(30), limit_s=0.05)  # holds a thread until released
    threading.Timer(0.4, release.set).start()
    cuts: list[str] = []
    steps = Steps(lane=lane)
    sent = steps.run(
        "send", lambda: time.sleep(0.4) or "250", limit_s=0.6, cancel=lambda: cuts.append("cut")
    )
    assert (sent, steps.ok, steps.cut, cuts) == ("250", True, False, [])


def cut_then(answer: object):
    """An action that ends only once it was cut, the way `answer` says."""
    cut = threading.Event()

    def action() -> object:
        assert cut.wait(10), "never cut"
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return action, cut.set


def test_an_answer_read_as_the_step_was_cut_stands_and_its_connection_is_spent(monkeypatch):
    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    action, cancel = cut_then("250 accepted")
    steps = Steps(lane=tenant_lane("just-in-time"))
    assert steps.run("send", action, limit_s=0.05, cancel=cancel) == "250 accepted"
    assert steps.ok and steps.cut  # the send stands; its connection is not kept


@pytest.mark.parametrize(
    ("raised", "cause"),
    [
        (
            smtplib.SMTPRecipientsRefused({"ann@example.com": (550, b"5.1.1 No such user")}),
            "rejected",
        ),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "timeout"),
        (OSError(107, "Transport endpoint is not connected"), "timeout"),
    ],
    ids=["a refusal read", "the dead socket", "an OS error"],
)
def test_a_step_cut_at_its_limit_is_a_timeout_unless_the_server_had_answered(
    monkeypatch, raised, cause
):
    monkeypatch.setattr(mail_steps, "GRACE_S", 0.0)
    action, cancel = cut_then(raised)
    steps = Steps(lane=tenant_lane("cut-answers"))
    assert steps.run("send", action, limit_s=0.05, cancel=cancel) is None
    assert (steps.results[-1]["cause"], steps.cut) == (cause, True)
