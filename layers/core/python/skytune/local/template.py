"""Read the synthesised CloudFormation template: the only description of the stack local mode uses.

Tables, functions (handler, code asset, environment), HTTP routes and state machines are all taken
from `cdk.out`, so local mode can never drift from what `cdk deploy` creates.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skytune.local.errors import LocalRuntimeError

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "000000000000"


def stack_name(stage: str) -> str:
    """The CloudFormation stack of a stage (infra/ names its stack with this too)."""
    return f"skytune-{stage}"


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    definition: dict  # CreateTable arguments


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str  # module.path.function
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


@dataclass(frozen=True)
class RouteSpec:
    method: str  # GET, POST, ... or ANY
    path: str  # /v1/{proxy+}, or "$default"
    function: str  # logical id
    route_key: str


@dataclass
class StackTemplate:
    stack_name: str
    resources: dict[str, dict]
    assembly_dir: Path
    physical_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, assembly_dir: Path, stack_name: str) -> "StackTemplate":
        path = assembly_dir / f"{stack_name}.template.json"
        if not path.is_file():
            found = sorted(p.name for p in assembly_dir.glob("*.template.json"))
            raise LocalRuntimeError(f"{path} not found (templates there: {found or 'none'}): synthesise with `npx cdk synth`")
        template = json.loads(path.read_text())
        stack = cls(stack_name=stack_name, resources=template["Resources"], assembly_dir=assembly_dir)
        stack.physical_names = {logical_id: stack._physical_name(logical_id, r) for logical_id, r in stack.resources.items()}
        return stack

    def _physical_name(self, logical_id: str, resource: dict) -> str:
        props = resource.get("Properties", {})
        for key in ("TableName", "FunctionName", "StateMachineName", "QueueName", "LogGroupName", "Name"):
            if isinstance(props.get(key), str):
                return props[key]
        # CloudFormation would generate "<stack>-<logicalId>-<random>"; locally the random part is not needed.
        return f"{self.stack_name}-{logical_id}"

    # -- intrinsic functions ------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        (fn, arg), = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._get_att(logical_id, attribute)
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(str(self.resolve(p)) for p in parts)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(variables.get(m.group(1)) or self._sub_var(m.group(1))), text)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(index)]
        if fn == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_var(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self._get_att(logical_id, attribute)
        return self._ref(name)

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name not in self.resources:
            raise LocalRuntimeError(f"template refers to unknown resource {name}")
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::StepFunctions::StateMachine":
            return self.arn(name)
        return self.physical_names[name]

    def arn(self, logical_id: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        name = self.physical_names[logical_id]
        service, kind = {
            "AWS::Lambda::Function": ("lambda", "function:"),
            "AWS::DynamoDB::Table": ("dynamodb", "table/"),
            "AWS::DynamoDB::GlobalTable": ("dynamodb", "table/"),
            "AWS::StepFunctions::StateMachine": ("states", "stateMachine:"),
            "AWS::SQS::Queue": ("sqs", ""),
            "AWS::SNS::Topic": ("sns", ""),
            "AWS::IAM::Role": ("iam", "role/"),
            "AWS::Logs::LogGroup": ("logs", "log-group:"),
            "AWS::Events::EventBus": ("events", "event-bus/"),
        }.get(resource_type, (resource_type.split("::")[1].lower(), f"{logical_id}/"))
        region = "" if service == "iam" else LOCAL_REGION
        return f"arn:aws:{service}:{region}:{LOCAL_ACCOUNT}:{kind}{name}"

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute in ("Arn", "StreamArn"):
            return self.arn(logical_id)
        if attribute == "Name":
            return self.physical_names[logical_id]
        return f"{self.physical_names[logical_id]}.{attribute}"

    def logical_id_of_arn(self, arn: str) -> str | None:
        return next((logical_id for logical_id in self.resources if self.arn(logical_id) == arn), None)

    # -- resources ----------------------------------------------------------------------------
    def of_type(self, *types: str) -> dict[str, dict]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] in types}

    def tables(self) -> list[TableSpec]:
        specs = []
        for logical_id, resource in self.of_type("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable").items():
            props = resource["Properties"]
            definition = {
                "TableName": self.physical_names[logical_id],
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                definition["GlobalSecondaryIndexes"] = [
                    {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                    for g in props["GlobalSecondaryIndexes"]
                ]
            if props.get("LocalSecondaryIndexes"):
                definition["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
            ttl = props.get("TimeToLiveSpecification")
            specs.append(TableSpec(logical_id, self.physical_names[logical_id], definition | ({"_ttl": ttl} if ttl else {})))
        return specs

    def functions(self) -> dict[str, FunctionSpec]:
        specs = {}
        for logical_id, resource in self.of_type("AWS::Lambda::Function").items():
            props = resource["Properties"]
            asset = resource.get("Metadata", {}).get("aws:asset:path")
            if not asset or "Handler" not in props:
                continue  # inline CDK helper functions (custom resources) do not run locally
            environment = self.resolve(props.get("Environment", {}).get("Variables", {}))
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=self.physical_names[logical_id],
                code_dir=self.assembly_dir / asset,
                handler=props["Handler"],
                environment={k: str(v) for k, v in environment.items()},
                timeout_s=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
            )
        return specs

    def routes(self) -> list[RouteSpec]:
        integrations = self.of_type("AWS::ApiGatewayV2::Integration")
        routes = []
        for resource in self.of_type("AWS::ApiGatewayV2::Route").values():
            props = resource["Properties"]
            target = self.resolve(props["Target"])  # "integrations/<integration name>"
            integration_id = target.split("/", 1)[1]
            integration = next(r for lid, r in integrations.items() if self.physical_names[lid] == integration_id)
            function_arn = self.resolve(integration["Properties"]["IntegrationUri"])
            function = self.logical_id_of_arn(function_arn)
            route_key = props["RouteKey"]
            method, _, path = route_key.partition(" ") if route_key != "$default" else ("ANY", "", "$default")
            routes.append(RouteSpec(method=method, path=path, function=function, route_key=route_key))
        return routes

    def log_subscriptions(self) -> dict[str, str]:
        """log group name -> logical id of the function its subscription filter delivers to."""
        subscriptions = {}
        for resource in self.of_type("AWS::Logs::SubscriptionFilter").values():
            props = resource["Properties"]
            function = self.logical_id_of_arn(self.resolve(props["DestinationArn"]))
            if function is not None:
                subscriptions[self.resolve(props["LogGroupName"])] = function
        return subscriptions

    def state_machines(self) -> dict[str, dict]:
        machines = {}
        for logical_id, resource in self.of_type("AWS::StepFunctions::StateMachine").items():
            props = resource["Properties"]
            definition = self.resolve(props.get("DefinitionString"))
            if isinstance(definition, dict):
                definition = json.dumps(definition)
            machines[logical_id] = {"name": self.physical_names[logical_id], "definition": definition, "arn": self.arn(logical_id)}
        return machines
