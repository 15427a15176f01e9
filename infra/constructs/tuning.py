"""Tuning jobs: the Step Functions loop, its Lambda steps, and the queue external workers read.

One execution per tuning job (continued as a new execution every TRIALS_PER_EXECUTION trials):

    Start -> Workers (Map, one iteration per parallel slot) -> Finish -> [ContinueAsNew]
    each worker:  Claim -> Suggest -> RunnerChoice -> Run* -> Record -> NextIteration -> Claim ...

Workers loop asynchronously (no lock-step batches): a worker whose trial ends claims the next
slot at once. Each Lambda step has its own role with only what it needs.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack, aws_iam as iam, aws_sqs as sqs, aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.function import SharedLayers, SkytuneFunction, log_group
from infra.constructs.storage import Storage
from skytune.tuning import limits
from skytune.tuning.names import ENV_STATE_MACHINE_ARN, ENV_TRIAL_QUEUE, TRIAL_FUNCTION_PREFIX, state_machine_name

# Errors worth retrying: Lambda's own transient failures and our steps' storage trouble.
TRANSIENT_ERRORS = [
    "TransientStepError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
STEPS = ("start", "claim", "suggest", "record", "finish", "dispatch")


class Tuning(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, layers: SharedLayers, storage: Storage,
                 api: Api) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.dead_letters = sqs.Queue(
            self, "TrialDeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14))
        self.trial_queue = sqs.Queue(
            self, "TrialQueue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            visibility_timeout=Duration.minutes(15),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letters))

        environment = {
            constants.ENV_TRACKING_TABLE: storage.tracking.table_name,
            constants.ENV_METRICS_TABLE: storage.metrics.table_name,
            constants.ENV_IDEMPOTENCY_TABLE: storage.idempotency.table_name,
        }
        self.steps = {
            name: SkytuneFunction(
                self, f"{name.capitalize()}Step", source_folder="tuning", handler=f"skytune_tuning.steps.{name}",
                layers=layers, config=config, description=f"skytune tuning step: {name}",
                environment={**environment, **({ENV_TRIAL_QUEUE: self.trial_queue.queue_url} if name == "dispatch" else {})},
                memory_mb=1024 if name == "suggest" else 512,  # the GP fit is CPU-bound: more memory = more CPU
                timeout=Duration.seconds(60 if name == "suggest" else 29),
            )
            for name in STEPS
        }
        for function in self.steps.values():
            storage.tracking.grant_read_write_data(function.function)
        # suggest and record mirror each trial as a tracked run (params, status; metrics live apart)
        storage.metrics.grant_read_write_data(self.steps["suggest"].function)
        storage.metrics.grant_read_write_data(self.steps["record"].function)
        self.trial_queue.grant_send_messages(self.steps["dispatch"].function)

        name = state_machine_name(stack.stack_name)
        self.state_machine_arn = stack.format_arn(service="states", resource="stateMachine", resource_name=name,
                                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.logs = log_group(self, "StateMachineLogs", config)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.logs, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="skytune tuning job: parallel workers claim, suggest, run and record trials",
        )
        self._grant_runners(stack)

        api_function = api.handler.function
        api_function.add_environment(ENV_STATE_MACHINE_ARN, self.state_machine_arn)
        self.state_machine.grant_start_execution(api_function)
        self.state_machine.grant_task_response(api_function)
        api_function.add_to_role_policy(iam.PolicyStatement(
            actions=["sagemaker:StopTrainingJob"],
            resources=[stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")]))
        self._acknowledge(stack, api)

    @property
    def functions(self) -> list[SkytuneFunction]:
        return list(self.steps.values())

    # -- the state machine -----------------------------------------------------------------------
    def _invoke(self, id: str, step: str, payload: dict, result_path: str) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self, id, lambda_function=self.steps[step].function, payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True, result_path=result_path, retry_on_service_exceptions=False)
        task.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(1), max_attempts=6, backoff_rate=2.0,
                       jitter_strategy=sfn.JitterType.FULL)
        return task

    def _definition(self) -> sfn.IChainable:
        job = {"job_name.$": "$.job_name", "generation.$": "$.generation"}
        worker = {**job, "execution.$": "$.execution", "worker.$": "$.worker"}

        claim = self._invoke("Claim", "claim", {**worker, "iteration.$": "$.iteration"}, "$.claim")
        suggest = self._invoke("Suggest", "suggest", {**worker, "trial_number.$": "$.claim.trial_number"}, "$.trial")
        record = self._invoke("Record", "record", {
            "job_name.$": "$.job_name", "trial_number.$": "$.claim.trial_number", "runner.$": "$.trial.runner",
            "run.$": "$.run", "iteration.$": "$.iteration"}, "$.record")
        next_iteration = sfn.Pass(self, "NextIteration", parameters={
            **worker, "iteration.$": "$.record.next_iteration", "run": {}})
        worker_done = sfn.Pass(self, "WorkerDone", parameters={"worker.$": "$.worker", "claim.$": "$.claim"})

        run_worker = tasks.LambdaInvoke(
            self, "RunOnWorker", lambda_function=self.steps["dispatch"].function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object({"task_token": sfn.JsonPath.task_token, "trial.$": "$.trial"}),
            result_path="$.run", retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.at("$.trial.timeout_seconds"),
            heartbeat_timeout=sfn.Timeout.at("$.trial.heartbeat_seconds"))
        run_worker.add_retry(errors=TRANSIENT_ERRORS[1:], interval=Duration.seconds(1), max_attempts=4, backoff_rate=2.0)
        run_lambda = sfn.CustomState(self, "RunOnLambda", state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName.$": "$.trial.function_name", "Payload": {
                "hyperparameters.$": "$.trial.hyperparameters", "job_name.$": "$.trial.job_name",
                "trial_name.$": "$.trial.trial_name", "run_id.$": "$.trial.run_id"}},
            "ResultSelector": {"Payload.$": "$.Payload"},
            "ResultPath": "$.run",
            "TimeoutSecondsPath": "$.trial.timeout_seconds",
            "Retry": [{"ErrorEquals": TRANSIENT_ERRORS[1:], "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 2.0}],
        })
        run_sagemaker = sfn.CustomState(self, "RunOnSageMaker", state_json={
            "Type": "Task",
            # JSONata passes the whole CreateTrainingJob request built by the suggest step, optional
            # fields included, which JSONPath Parameters cannot do without naming every field.
            "QueryLanguage": "JSONata",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Arguments": "{% $states.input.trial.training_job %}",
            "Output": "{% $merge([$states.input, {'run': $states.result}]) %}",
            "TimeoutSeconds": limits.MAX_TRIAL_RUNTIME_SECONDS + 3600,
            "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException", "ThrottlingException"],
                       "IntervalSeconds": 5, "MaxAttempts": 4, "BackoffRate": 2.0}],
        })
        # A failed run is recorded with its reason and the job carries on (as in AMT).
        for run in (run_worker, run_lambda):
            run.add_catch(record, errors=["States.ALL"], result_path="$.run")
        run_sagemaker.add_catch(record, errors=["States.ALL"], outputs="{% $merge([$states.input, {'run': $states.errorOutput}]) %}")
        for run in (run_worker, run_lambda, run_sagemaker):
            run.next(record)

        runner_choice = (
            sfn.Choice(self, "RunnerChoice")
            .when(sfn.Condition.string_equals("$.trial.runner", "sagemaker"), run_sagemaker)
            .when(sfn.Condition.string_equals("$.trial.runner", "lambda"), run_lambda)
            .otherwise(run_worker)
        )
        runnable = (
            sfn.Choice(self, "Runnable")
            .when(sfn.Condition.string_equals("$.trial.action", "run"), runner_choice)
            .otherwise(record)
        )
        record.next(next_iteration)
        next_iteration.next(claim)
        has_slot = (
            sfn.Choice(self, "HasSlot")
            .when(sfn.Condition.string_equals("$.claim.action", "run"), suggest)
            .otherwise(worker_done)
        )
        claim.next(has_slot)
        suggest.next(runnable)

        start = self._invoke("Start", "start", job, "$.plan")
        workers = sfn.Map(
            self, "Workers", items_path="$.plan.workers", max_concurrency=limits.MAX_PARALLEL_TRAINING_JOBS,
            item_selector={**job, "execution.$": "$$.Execution.Name", "worker.$": "$$.Map.Item.Value",
                           "iteration": 0, "run": {}},
            result_path="$.workers",
        )
        workers.item_processor(claim)
        finish = self._invoke("Finish", "finish", {**job, "workers.$": "$.workers"}, "$.finish")
        finish_failed = self._invoke("FinishAfterFailure", "finish", {**job, "error.$": "$.error"}, "$.finish")
        workers.add_catch(finish_failed, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "Done")
        finish_failed.next(done)
        continue_as_new = sfn.CustomState(self, "ContinueAsNew", state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "Name.$": "$.finish.execution_name",
                           "Input": {"job_name.$": "$.job_name", "generation.$": "$.finish.generation"}},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0}],
        })
        continue_as_new.next(done)
        return (
            start.next(workers).next(finish).next(
                sfn.Choice(self, "ContinueAsNewChoice")
                .when(sfn.Condition.string_equals("$.finish.action", "continue"), continue_as_new)
                .otherwise(done))
        )

    def _grant_runners(self, stack: Stack) -> None:
        role = self.state_machine.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="LambdaRunner", actions=["lambda:InvokeFunction"],
            resources=[stack.format_arn(service="lambda", resource="function",
                                        resource_name=f"{TRIAL_FUNCTION_PREFIX}*", arn_format=ArnFormat.COLON_RESOURCE_NAME)]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerRunner",
            actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                     "sagemaker:AddTags"],
            resources=[stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")]))
        # .sync waits on the SageMaker job through this managed EventBridge rule.
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerSyncRule", actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[stack.format_arn(service="events", resource="rule",
                                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerPassRole", actions=["iam:PassRole"],
            resources=[stack.format_arn(service="iam", region="", resource="role", resource_name="*")],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ContinueAsNew", actions=["states:StartExecution"], resources=[self.state_machine_arn]))

    def _acknowledge(self, stack: Stack, api: Api) -> None:
        NagSuppressions.add_resource_suppressions(self.dead_letters, [NagPackSuppression(
            id="AwsSolutions-SQS3", reason="This queue is the dead-letter queue of the trial queue.")])
        account_arn = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
        reasons = {
            account_arn.format(service="sagemaker", resource="training-job/*"):
                "SageMaker trials are training jobs named per trial at run time; the role may create, "
                "describe and stop training jobs only.",
            account_arn.format(service="lambda", resource=f"function:{TRIAL_FUNCTION_PREFIX}*"):
                f"Lambda-runner trials may invoke only functions named {TRIAL_FUNCTION_PREFIX}* (the "
                "naming convention is the permission boundary).",
            "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*":
                "The SageMaker execution role is the user's (TrainingJobDefinition.RoleArn); PassRole is "
                "limited to passing roles to sagemaker.amazonaws.com.",
            "*": "X-Ray and CloudWatch Logs vended-log delivery APIs do not support resource-level permissions.",
        }
        suppressions = [NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=[f"Resource::{resource}"])
                        for resource, reason in reasons.items()]
        suppressions.append(NagPackSuppression(
            id="AwsSolutions-IAM5", reason="Invoking the steps' own functions in any version or alias (<fn>:*).",
            applies_to=[f"Resource::<{stack.get_logical_id(f.function.node.default_child)}.Arn>:*"
                        for f in self.steps.values()]))
        NagSuppressions.add_resource_suppressions(self.state_machine.role, suppressions, apply_to_children=True)
        NagSuppressions.add_resource_suppressions(api.handler.role, [NagPackSuppression(
            id="AwsSolutions-IAM5", reason="The API stops a tuning job's SageMaker trials, whose names are only "
            "known at run time (training-job/*).",
            applies_to=["Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"])],
            apply_to_children=True)

