"""Tuning jobs: the Step Functions loop, its Lambda steps, and the queue external workers read.

One execution per tuning job (continued as a new execution every TRIALS_PER_EXECUTION trials):

    Start -> Workers (Map, one iteration per parallel slot) -> Finish -> [ContinueAsNew]
    each worker:  Claim -> Suggest -> RunnerChoice -> Run* -> Record -> NextIteration -> Claim ...

Workers loop asynchronously (no lock-step batches): a worker whose trial ends claims the next
slot at once. Each Lambda step has its own role with only what it needs.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Fn, Stack, aws_iam as iam, aws_sqs as sqs, aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.function import SharedLayers, SkytuneFunction, log_group
from infra.constructs.storage import Storage, grant_data
from skytune.settings import (
    ENV_TRAINING_ROLE_ARNS,
    ENV_TRIAL_INSTANCE_TYPES,
    ENV_TRIAL_MAX_INSTANCE_COUNT,
    ENV_TRIAL_MAX_RUNTIME_SECONDS,
)
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
# Tags skytune puts on every training job it creates (skytune.tuning.engine.sagemaker_training_job);
# IAM lets skytune's roles create, describe and stop only jobs that carry them.
SKYTUNE_TRAINING_JOB_TAGS = ("skytune:tuning-job", "skytune:trial")
SAGEMAKER_TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _skytune_job_condition() -> dict:
    return {"Null": {"aws:ResourceTag/skytune:tuning-job": "false"}}


def stop_skytune_training_jobs(stack: Stack) -> iam.PolicyStatement:
    """StopTrainingJob on skytune's own trials only (the API's stop, the log-ingestion early stopping)."""
    return iam.PolicyStatement(
        actions=["sagemaker:StopTrainingJob"],
        resources=[stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")],
        conditions=_skytune_job_condition())


def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


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
            grant_data(storage.tracking, function.function)
        # suggest and record mirror each trial as a tracked run (params, status; metrics live apart)
        grant_data(storage.metrics, self.steps["suggest"].function)
        grant_data(storage.metrics, self.steps["record"].function)
        self.trial_queue.grant_send_messages(self.steps["dispatch"].function)

        name = state_machine_name(stack.stack_name)
        self.state_machine_arn = stack.format_arn(service="states", resource="stateMachine", resource_name=name,
                                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.logs = log_group(self, "StateMachineLogs", config)
        # ERROR without execution data by default: inputs and outputs carry task tokens and trials'
        # environments (docs/security.md, "What is never logged").
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.logs, level=sfn.LogLevel[config.state_machine_log_level],
                                include_execution_data=config.state_machine_log_execution_data),
            comment="skytune tuning job: parallel workers claim, suggest, run and record trials",
        )
        self.training_role = self._training_role(stack, config) if not config.training_role_arns else None
        self.training_role_arns = config.training_role_arns or [self.training_role.role_arn]
        self._grant_runners(stack, config)

        api_function = api.handler.function
        api_function.add_environment(ENV_STATE_MACHINE_ARN, self.state_machine_arn)
        # What a caller may ask trials to run as; skytune.tuning.policy refuses anything else with a 400.
        api_function.add_environment(ENV_TRAINING_ROLE_ARNS, Fn.join(",", self.training_role_arns))
        api_function.add_environment(ENV_TRIAL_INSTANCE_TYPES, ",".join(config.trial_instance_types))
        api_function.add_environment(ENV_TRIAL_MAX_INSTANCE_COUNT, str(config.trial_max_instance_count))
        api_function.add_environment(ENV_TRIAL_MAX_RUNTIME_SECONDS, str(config.trial_max_runtime_seconds))
        self.state_machine.grant_start_execution(api_function)
        self.state_machine.grant_task_response(api_function)
        api_function.add_to_role_policy(stop_skytune_training_jobs(stack))
        self._acknowledge(stack, api, config)
        if config.state_machine_log_level != "ALL":
            NagSuppressions.add_resource_suppressions(self.state_machine, [NagPackSuppression(
                id="AwsSolutions-SF1",
                reason="Logging ALL events with execution data would write task tokens, trial environments and "
                       "hyperparameters to CloudWatch Logs; errors are logged, and -c stateMachineLogLevel=ALL "
                       "turns full logging on while debugging (docs/security.md).")])

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

    def _training_role(self, stack: Stack, config: StageConfig) -> iam.Role:
        """The one execution role trials run as by default: read the configured training data, write the
        configured output, pull images, write the training job's logs and metrics. Nothing else."""
        role = iam.Role(self, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="skytune: execution role of SageMaker trials (docs/security.md)")
        group = stack.format_arn(service="logs", resource="log-group", resource_name=SAGEMAKER_TRAINING_LOG_GROUP,
                                 arn_format=ArnFormat.COLON_RESOURCE_NAME)
        role.add_to_policy(iam.PolicyStatement(
            sid="TrainingLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[group, f"{group}:log-stream:*"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="TrainingMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": SAGEMAKER_TRAINING_LOG_GROUP}}))
        role.add_to_policy(iam.PolicyStatement(sid="ImageRegistryLogin", actions=["ecr:GetAuthorizationToken"],
                                               resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="ImagePull",
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=config.training_image_repository_arns or [
                stack.format_arn(service="ecr", resource="repository", resource_name="*")]))
        if config.training_data_s3_uri:
            bucket, prefix = _s3_location(config.training_data_s3_uri)
            role.add_to_policy(iam.PolicyStatement(sid="TrainingDataRead", actions=["s3:GetObject"],
                                                   resources=[f"arn:{stack.partition}:s3:::{bucket}/{prefix}*"]))
            role.add_to_policy(iam.PolicyStatement(
                sid="TrainingDataList", actions=["s3:ListBucket"], resources=[f"arn:{stack.partition}:s3:::{bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))
        if config.training_output_s3_uri:
            bucket, prefix = _s3_location(config.training_output_s3_uri)
            role.add_to_policy(iam.PolicyStatement(
                sid="TrainingOutputWrite", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"arn:{stack.partition}:s3:::{bucket}/{prefix}*"]))
        return role

    def _grant_runners(self, stack: Stack, config: StageConfig) -> None:
        role = self.state_machine.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="LambdaRunner", actions=["lambda:InvokeFunction"],
            resources=[stack.format_arn(service="lambda", resource="function",
                                        resource_name=f"{TRIAL_FUNCTION_PREFIX}*", arn_format=ArnFormat.COLON_RESOURCE_NAME)]))
        training_jobs = stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        # Create only jobs tagged as skytune trials, within the deployment's caps (IAM checks them a second
        # time after skytune.tuning.policy); tagging is allowed only as part of that create call.
        create_conditions = {
            "Null": {f"aws:RequestTag/{tag}": "false" for tag in SKYTUNE_TRAINING_JOB_TAGS},
            "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": config.trial_max_runtime_seconds},
        }
        if config.trial_instance_types:
            create_conditions["ForAllValues:StringEquals"] = {"sagemaker:InstanceTypes": config.trial_instance_types}
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerRunnerCreate", actions=["sagemaker:CreateTrainingJob"], resources=[training_jobs],
            conditions=create_conditions))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerRunnerTagOnCreate", actions=["sagemaker:AddTags"], resources=[training_jobs],
            conditions={"StringEquals": {"sagemaker:TaggingAction": "CreateTrainingJob"},
                        "Null": {f"aws:RequestTag/{tag}": "false" for tag in SKYTUNE_TRAINING_JOB_TAGS}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerRunnerWatch", actions=["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
            resources=[training_jobs], conditions=_skytune_job_condition()))
        # .sync waits on the SageMaker job through this managed EventBridge rule.
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerSyncRule", actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[stack.format_arn(service="events", resource="rule",
                                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerPassRole", actions=["iam:PassRole"], resources=self.training_role_arns,
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ContinueAsNew", actions=["states:StartExecution"], resources=[self.state_machine_arn]))

    def _acknowledge(self, stack: Stack, api: Api, config: StageConfig) -> None:
        NagSuppressions.add_resource_suppressions(self.dead_letters, [NagPackSuppression(
            id="AwsSolutions-SQS3", reason="This queue is the dead-letter queue of the trial queue.")])
        account_arn = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
        reasons = {
            account_arn.format(service="sagemaker", resource="training-job/*"):
                "SageMaker trials are training jobs named per trial at run time; create requires the skytune:* "
                "request tags, describe/stop require the skytune:tuning-job resource tag.",
            account_arn.format(service="lambda", resource=f"function:{TRIAL_FUNCTION_PREFIX}*"):
                f"Lambda-runner trials may invoke only functions named {TRIAL_FUNCTION_PREFIX}* (the "
                "naming convention is the permission boundary; the API refuses other names with a 400).",
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
            "known at run time (training-job/*), and only jobs carrying the skytune:tuning-job tag.",
            applies_to=["Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"])],
            apply_to_children=True)
        if self.training_role is not None:
            s3_prefixes = sorted({"Resource::arn:<AWS::Partition>:s3:::{}/{}*".format(*_s3_location(uri))
                                  for uri in (config.training_data_s3_uri, config.training_output_s3_uri) if uri})
            NagSuppressions.add_resource_suppressions(self.training_role, [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="SageMaker names a training job's log streams itself, inside the one log group "
                           f"{SAGEMAKER_TRAINING_LOG_GROUP}.",
                    applies_to=[f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                                f"{SAGEMAKER_TRAINING_LOG_GROUP}:log-stream:*"]),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level "
                           "permissions (PutMetricData is limited to the SageMaker training namespace).",
                    applies_to=["Resource::*"]),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Trial images come from this account's ECR repositories unless the stage config "
                           "names them (trainingImageRepositoryArns); pull actions only.",
                    applies_to=["Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*"]),
                *([NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Reads and writes are limited to the configured S3 prefixes (trainingDataS3Uri, "
                           "trainingOutputS3Uri); the objects under them are named by the user's job.",
                    applies_to=s3_prefixes)] if s3_prefixes else []),
            ], apply_to_children=True)

