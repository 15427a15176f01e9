from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from tests.conftest import NO_ASSET_COPIES, cdk_context


def synth_stack(tmp_path, **context):
    from infra.app import build

    app = App(context={**cdk_context(**context), **NO_ASSET_COPIES}, outdir=str(tmp_path))
    stack = build(app)
    app.synth()
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    return synth_stack(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)
