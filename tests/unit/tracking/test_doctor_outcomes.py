"""`skytune doctor` always prints every check's outcome: an unforeseen error in one check is that
check's FAIL, and an unreachable API at cleanup does not swallow the table."""
from __future__ import annotations

from skytune.client.doctor import Doctor, _outcome
from skytune.client.http import Client


def test_an_unforeseen_error_is_the_checks_failure_not_a_crash():
    def broken():
        return {}["Status"]

    outcome = _outcome("one-trial tuning job", broken)
    assert outcome.status == "FAIL" and outcome.reason == "unexpected KeyError: 'Status'"


def test_outcomes_survive_a_cleanup_that_cannot_reach_the_api():
    def transport(method, url, headers, body, timeout):
        raise ConnectionRefusedError("refused")

    client = Client("http://127.0.0.1:9", auth="none", transport=transport, connect_retry_seconds=0,
                    sleep=lambda _s: None)
    doctor = Doctor(client)
    doctor.run_id = "run-left-behind"  # a scratch run the checks created before the API went away
    doctor.checks = lambda: [("health", lambda: "ok")]
    outcomes = doctor.run()
    assert [(o.name, o.status) for o in outcomes] == [("health", "pass")]
