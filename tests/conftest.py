"""Fixtures shared by every test folder."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Speed is measured in benchmarks/, not by hypothesis' per-example deadline: on a loaded machine a
# slow example fails the deadline at random (seen twice in round 4), which says nothing about the code.
settings.register_profile("skytune", deadline=None)
settings.load_profile("skytune")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `tests.support` and `infra` import from the checkout
# The Lambda function packages are imported as their handlers are in Lambda (code dir on sys.path).
for function_dir in sorted((ROOT / "lambdas").iterdir()):
    if function_dir.is_dir() and str(function_dir) not in sys.path:
        sys.path.insert(0, str(function_dir))

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def cdk_context(**overrides) -> dict:
    """cdk.json's context with overrides, as `cdk synth -c key=value` would see it."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, **overrides}


# An in-process synth copies every asset (~100 MB of layers) into its outdir unless staging is off;
# tests read templates, never the copies, and two dozen copies once filled CI's disk.
NO_ASSET_COPIES = {"aws:cdk:disable-asset-staging": True}


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory) -> Path:
    """The app synthesised once per session by the project's own CDK CLI (as `skytune local` does)."""
    from skytune.local.synth import synthesise

    return synthesise(ROOT, tmp_path_factory.mktemp("cdk.out"), stage="test")


@pytest.fixture(scope="session")
def local_stack(cloud_assembly):
    """The local stack in this process, one per session: its handlers keep their DynamoDB clients
    (as Lambda containers do), so every in-process test shares one DynamoDB Local."""
    from skytune.local.runtime import LocalStack
    from skytune.local.template import stack_name

    stack = LocalStack(assembly_dir=cloud_assembly, stack_name=stack_name("test"), data_dir=None).start()
    yield stack
    stack.stop()
