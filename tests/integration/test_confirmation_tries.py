"""Five tries at a confirmation code, however many arrive at once (security review M8): each try
is counted in a transaction before the code is compared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.api import call
from tests.integration.clinic import Clinic
from tests.integration.helpers import code_from, run_test, save, settings_body, sink_for


def test_racing_guesses_each_spend_one_of_the_five_tries(clinic: Clinic):
    call("PATCH", "settings", bearer=clinic.admin, body={"integrations": {"smtp_imap": True}})
    assert save(clinic, settings_body()).status_code == 200
    assert run_test(clinic)["confirmation"] == "sent"
    code = code_from(sink_for(clinic.admin_email, "SMTP Test Connection")[-1])
    wrong = "000000" if code != "000000" else "111111"

    def guess(_: int) -> str:
        answer = call(
            "POST",
            "test_connection",
            "/confirm",
            bearer=clinic.admin,
            body={"mailbox": "tenant", "code": wrong},
        )
        assert answer.status_code == 400, answer.text
        return str(answer.json()["error"]["code"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert answers.count("invalid_code") <= 5, answers
    assert answers.count("too_many_attempts") >= 15
    right = call(
        "POST",
        "test_connection",
        "/confirm",
        bearer=clinic.admin,
        body={"mailbox": "tenant", "code": code},
    )
    assert (right.status_code, right.json()["error"]["code"]) == (400, "too_many_attempts")
