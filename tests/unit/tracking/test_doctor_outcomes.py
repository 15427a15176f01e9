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


def test_the_tuning_check_waits_for_a_claimed_trials_hyperparameters(monkeypatch):
    """A trial is listed InProgress from its claim, before its hyperparameters are suggested; the
    doctor (acting as the external worker) read `x` from it and failed with KeyError: 'x' under load."""
    import json

    monkeypatch.setattr("skytune.client.doctor.time.sleep", lambda _s: None)
    listings = iter([[{"TrainingJobName": "t-1", "TunedHyperParameters": {}}],  # claimed, not yet suggested
                     [{"TrainingJobName": "t-1", "TunedHyperParameters": {"x": "0.5"}}]])
    completed = []

    def transport(method, url, headers, body, timeout):
        path = url.split("127.0.0.1:9", 1)[1].split("?")[0]
        if method == "POST" and path.endswith("/complete"):
            completed.append(json.loads(body))
            answer = {}
        elif method == "POST":
            answer = {}
        elif path.endswith("/trials"):
            answer = {"TrainingJobSummaries": next(listings)}
        else:
            answer = {"HyperParameterTuningJobStatus": "Completed" if completed else "InProgress",
                      "BestTrainingJob": {"FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.04}}}
        return (201 if method == "POST" else 200), {"content-type": "application/json"}, json.dumps(answer).encode()

    doctor = Doctor(Client("http://127.0.0.1:9", auth="none", transport=transport, sleep=lambda _s: None))
    assert doctor.tuning_job().endswith("best objective 0.04")
    assert completed == [{"status": "Completed", "metrics": [{"name": "loss", "value": (0.5 - 0.3) ** 2, "step": 0}]}]
