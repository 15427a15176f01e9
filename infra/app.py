"""CDK entry point (cdk.json): `npx cdk synth -c stage=NAME`."""
from __future__ import annotations

from aws_cdk import App, Aspects, Tags
from cdk_nag import AwsSolutionsChecks

from infra.config import StageConfig
from infra.nag import acknowledge_function_role
from infra.stack import SkytuneStack


def build(app: App) -> SkytuneStack:
    config = StageConfig.from_app(app)
    stack = SkytuneStack(app, config, description=f"skytune ({config.stage}): experiment tracking and tuning")
    Tags.of(stack).add("project", "skytune")
    Tags.of(stack).add("stage", config.stage)
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return stack


def main() -> None:
    app = App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
