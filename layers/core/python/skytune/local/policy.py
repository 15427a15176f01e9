"""What the local runner may run: commands under the project directory (where `skytune local`
started) or on an explicit allow-list (`--allow-command python`), and no environment variable that
changes what the dynamic loader or an interpreter loads. Checked twice: when a tuning job with the
``local`` runner is created (a 400 naming the field, before the job exists) and again by the runner
just before it starts a process (the trial then fails with the reason)."""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skytune.errors import InvalidInput

# Variables that make a process load code it did not ask for (the loader, interpreters' startup
# hooks, shells' startup files). PYTHONPATH is allowed when every entry is inside the project.
LOADER_PREFIXES = ("LD_", "DYLD_")
LOADER_VARIABLES = frozenset({
    "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR", "PYTHONINSPECT",
    "PYTHONBREAKPOINT", "BASH_ENV", "ENV", "SHELLOPTS", "PS4", "IFS", "NODE_OPTIONS", "NODE_PATH", "PERL5OPT",
    "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "CLASSPATH", "GCONV_PATH", "HOSTALIASES", "LOCPATH", "NLSPATH", "MALLOC_CHECK_", "GLIBC_TUNABLES",
})
PYTHON_NAMES = ("python", "python3")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class CommandPolicy:
    project_dir: Path
    allowed_commands: tuple[str, ...] = ()

    @classmethod
    def of(cls, project_dir: Path | None = None, allowed_commands=()) -> "CommandPolicy":
        return cls((project_dir or Path.cwd()).resolve(), tuple(allowed_commands))

    def _allowed_path(self, path: Path) -> bool:
        for allowed in self.allowed_commands:
            if "/" in allowed and (Path(allowed).absolute() == path.absolute() or Path(allowed).resolve() == path.resolve()):
                return True
        if path.name in ("", ".", ".."):
            return False
        # The folder is resolved (no `..` or symlinked folder leads out); the file itself may be a
        # symlink the user put in the project (e.g. a virtualenv's bin/python).
        return _inside(Path(os.path.realpath(path.parent)) / path.name, self.project_dir)

    def executable(self, command: list[str], working_dir: str | None, field: str = "trial.command") -> str:
        """The absolute path to run for ``command[0]``, or InvalidInput naming the field."""
        if not command or not command[0]:
            raise InvalidInput("the local runner needs a command", field=field)
        program = command[0]
        if "/" in program:
            base = Path(working_dir) if working_dir else self.project_dir
            path = Path(program) if Path(program).is_absolute() else base / program
            if not self._allowed_path(path):
                raise InvalidInput(
                    f"{program!r} is outside the project directory and not allowed: start skytune local "
                    f"with --allow-command {program}", field=f"{field}[0]")
            return str(path)
        if program not in self.allowed_commands:
            raise InvalidInput(
                f"{program!r} is not an allowed command: the local runner runs programs under the project "
                f"directory, or ones allowed with `skytune local --allow-command {program}`", field=f"{field}[0]")
        if program in PYTHON_NAMES:
            return sys.executable  # the interpreter skytune runs on (its virtualenv's packages)
        found = shutil.which(program)
        if found is None:
            raise InvalidInput(f"{program!r} is not on PATH", field=f"{field}[0]")
        return found

    def check_environment(self, environment: dict[str, Any], working_dir: str | None,
                          field: str = "trial.environment") -> None:
        for name in sorted(environment or {}):
            upper = name.upper()
            if upper.startswith(LOADER_PREFIXES) or upper in LOADER_VARIABLES:
                raise InvalidInput(f"{name} changes what the process loads; the local runner refuses it",
                                   field=f"{field}.{name}")
            if upper == "PYTHONPATH":
                base = Path(working_dir) if working_dir else self.project_dir
                for entry in str(environment[name]).split(os.pathsep):
                    if not _inside((base / entry).resolve(), self.project_dir):
                        raise InvalidInput(f"PYTHONPATH entry {entry!r} is outside the project directory",
                                           field=f"{field}.{name}")

    def check_trial(self, command: list[str], working_dir: str | None, environment: dict[str, Any],
                    prefix: str = "trial") -> str:
        self.check_environment(environment, working_dir, f"{prefix}.environment")
        return self.executable(command, working_dir, f"{prefix}.command")

    def check_request(self, method: str, path: str, body: bytes) -> None:
        """The API-side check (an HttpApiEmulator hook): a tuning job whose trials run locally."""
        if method != "POST" or path.rstrip("/") != "/v1/tuning-jobs" or not body:
            return
        from skytune.tuning.spec import parse_request

        try:
            spec = parse_request(json.loads(body))
        except Exception:  # noqa: BLE001 - an invalid body is the handler's to refuse, with its own 400
            return
        trial = spec.trial
        if trial.runner == "local":
            self.check_trial(list(trial.command), trial.working_dir, dict(trial.environment))
