"""The tuning construct: state machine shape, per-step least privilege, queue, wiring into the API."""
from __future__ import annotations

import json

from aws_cdk.assertions import Match

from skytune.tuning import limits
from skytune.tuning.names import TRIAL_FUNCTION_PREFIX


def _definition(template) -> dict:
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))


def _policy_statements(template, path_fragment: str) -> list[dict]:
    statements = []
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        if path_fragment in logical_id:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_state_machine_is_a_standard_workflow_with_tracing_and_logs(template):
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": Match.object_like({"Level": "ERROR"}),
        "StateMachineName": "skytune-dev-tuning",
    })


def test_workers_loop_claim_suggest_run_record_in_a_map(template):
    definition = _definition(template)
    assert definition["StartAt"] == "Start"
    workers = definition["States"]["Workers"]
    assert workers["Type"] == "Map" and workers["ItemsPath"] == "$.plan.workers"
    assert workers["MaxConcurrency"] == limits.MAX_PARALLEL_TRAINING_JOBS
    assert workers["Catch"][0]["Next"] == "FinishAfterFailure"
    states = workers["ItemProcessor"]["States"]
    assert workers["ItemProcessor"]["StartAt"] == "Claim"
    assert states["Claim"]["Next"] == "HasSlot" and states["NextIteration"]["Next"] == "Claim"
    assert {c["Next"] for c in states["RunnerChoice"]["Choices"]} == {"RunOnSageMaker", "RunOnLambda"}
    assert states["RunnerChoice"]["Default"] == "RunOnWorker"
    # every runner records a failure and carries on
    for run in ("RunOnSageMaker", "RunOnLambda", "RunOnWorker"):
        assert states[run]["Next"] == "Record" and states[run]["Catch"][0]["Next"] == "Record"
    # transient errors of each Lambda step are retried
    for step in ("Claim", "Suggest", "Record"):
        assert "TransientStepError" in states[step]["Retry"][0]["ErrorEquals"]


def test_runners_use_the_documented_integrations(template):
    states = _definition(template)["States"]["Workers"]["ItemProcessor"]["States"]
    assert states["RunOnSageMaker"]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert states["RunOnWorker"]["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert states["RunOnWorker"]["HeartbeatSecondsPath"] == "$.trial.heartbeat_seconds"
    assert states["RunOnWorker"]["TimeoutSecondsPath"] == "$.trial.timeout_seconds"
    assert states["RunOnLambda"]["Parameters"]["FunctionName.$"] == "$.trial.function_name"


def test_continue_as_new_restarts_the_same_state_machine(template):
    states = _definition(template)["States"]
    assert states["ContinueAsNew"]["Resource"] == "arn:aws:states:::states:startExecution"
    assert states["ContinueAsNew"]["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"


def test_only_the_dispatch_step_may_publish_trials(template):
    for step in ("Start", "Claim", "Suggest", "Record", "Finish", "Dispatch"):
        actions = {a for s in _policy_statements(template, f"Tuning{step}Step") for a in
                   ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert ("sqs:SendMessage" in actions) == (step == "Dispatch"), step
        assert not any(a.startswith("states:") or a.startswith("sagemaker:") for a in actions), step
        assert "dynamodb:PutItem" in actions


def test_state_machine_role_is_scoped(template):
    statements = {s.get("Sid"): s for s in _policy_statements(template, "TuningStateMachineRole")}
    assert statements["LambdaRunner"]["Resource"]["Fn::Join"][1][-1].endswith(f":function:{TRIAL_FUNCTION_PREFIX}*")
    assert statements["SageMakerPassRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert statements["ContinueAsNew"]["Action"] == "states:StartExecution"


def test_trial_queue_is_encrypted_with_a_dead_letter_queue(template):
    template.has_resource_properties("AWS::SQS::Queue", {
        "SqsManagedSseEnabled": True, "RedrivePolicy": Match.object_like({"maxReceiveCount": 5})})


def test_api_can_start_executions_and_answer_task_tokens(template):
    actions = {a for s in _policy_statements(template, "ApiHandler") for a in
               ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"states:StartExecution", "states:SendTaskSuccess", "states:SendTaskHeartbeat",
            "sagemaker:StopTrainingJob"} <= actions
    template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"TUNING_STATE_MACHINE_ARN": Match.any_value()})}})
