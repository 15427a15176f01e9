"""Lambda packaging without Docker.

Function code is shipped as-is from `lambdas/<name>/`; the domain core (`layers/core/python/skytune`)
is one layer; third-party runtime dependencies are a second layer built with pip for the Lambda
platform (manylinux wheels only, so nothing compiles and no Docker engine is needed).
The deps layer is rebuilt only when its inputs change (a hash stamp), so repeated synths are quick.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.constants import BUILD_DIR, PROJECT_ROOT

LAMBDA_PYTHON_VERSION = "3.14"
# Lambda's Python 3.14 runtime runs on Amazon Linux 2023 (glibc 2.34): any of these wheel tags load.
_PLATFORM_TAGS = ("manylinux2014_{arch}", "manylinux_2_28_{arch}", "manylinux_2_34_{arch}")
# The Lambda runtime already provides the AWS SDK; shipping a second copy only adds ~25 MB.
_PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".pytest_cache"]


def runtime_requirements() -> list[str]:
    """The `runtime` extra of pyproject.toml: the one list of what Lambda functions need."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    return list(pyproject["project"]["optional-dependencies"]["runtime"])

def _pip_arch(architecture: str) -> str:
    return {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]

def deps_layer_dir(architecture: str) -> Path:
    """Build (if needed) and return the deps layer folder (it holds `python/`)."""
    requirements = runtime_requirements()
    fingerprint = hashlib.sha256(
        json.dumps([requirements, LAMBDA_PYTHON_VERSION, architecture, _PROVIDED_BY_RUNTIME]).encode()
    ).hexdigest()[:16]
    layer_dir = BUILD_DIR / "layers" / f"deps-{architecture}"
    stamp = layer_dir / ".fingerprint"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return layer_dir

    shutil.rmtree(layer_dir, ignore_errors=True)
    target = layer_dir / "python"
    target.mkdir(parents=True)
    arch = _pip_arch(architecture)
    platform_args = [arg for tag in _PLATFORM_TAGS for arg in ("--platform", tag.format(arch=arch))]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), "--implementation", "cp",
         "--python-version", LAMBDA_PYTHON_VERSION, "--only-binary=:all:",
         *platform_args, *requirements],
        check=True,
    )
    for name in _PROVIDED_BY_RUNTIME:
        for path in target.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    stamp.write_text(fingerprint)
    return layer_dir

def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)

def record_bundle_sizes(functions: dict[str, list[Path]]) -> dict[str, dict[str, float]]:
    """Write build/bundle-sizes.json: unzipped MB of each function's code + layers (Lambda's limit is 250 MB)."""
    report = {}
    for name, folders in functions.items():
        parts = {str(folder.relative_to(PROJECT_ROOT)): round(folder_size(folder) / 1e6, 2) for folder in folders}
        report[name] = {"parts_mb": parts, "total_mb": round(sum(parts.values()), 2)}
    BUILD_DIR.mkdir(exist_ok=True)
    (BUILD_DIR / "bundle-sizes.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
