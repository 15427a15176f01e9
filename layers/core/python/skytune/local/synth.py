"""Synthesise the CDK app with the project's own CDK CLI (npm, pinned by package-lock.json)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from skytune.local.errors import LocalRuntimeError


def find_project_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    package_root = Path(__file__).resolve().parents[5]
    for folder in [here, *here.parents, package_root]:
        if (folder / "cdk.json").is_file() and (folder / "infra").is_dir():
            return folder
    raise LocalRuntimeError("no skytune checkout found (cdk.json + infra/): run from the project folder")


def synthesise(project_root: Path, out_dir: Path, stage: str) -> Path:
    cdk = project_root / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise LocalRuntimeError("the CDK CLI is not installed: run `npm ci` in the skytune checkout (or `make install`)")
    if shutil.which("node") is None:
        raise LocalRuntimeError("node not found: the CDK CLI needs Node.js 20+ on PATH")
    env = dict(os.environ)
    # cdk.json runs `python3 -m infra.app`: make that the interpreter running skytune (the venv's).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "--no-version-reporting", "-o", str(out_dir), "-c", f"stage={stage}"],
        cwd=project_root, env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        last = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise LocalRuntimeError(f"cdk synth failed: {last[-1] if last else 'no output'}")
    return out_dir
