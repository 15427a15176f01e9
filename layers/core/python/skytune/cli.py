"""The `skytune` command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skytune import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skytune", description="skytune: experiment tracking and tuning on AWS")
    parser.add_argument("--version", action="version", version=f"skytune {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the whole stack on this machine (DynamoDB Local)")
    local.add_argument("--port", type=int, default=8080, help="HTTP API port (0: a free one; default 8080)")
    local.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; anything else is reachable from other machines)")
    local.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also accept requests whose Host header names NAME (repeatable)")
    local.add_argument("--no-token", action="store_true",
                       help="TESTS ONLY: serve without the API token (any local process or page can call it)")
    local.add_argument("--allow-command", action="append", default=[], metavar="COMMAND",
                       help="a program local-runner trials may run besides those under this directory, "
                            "e.g. python (repeatable)")
    local.add_argument("--data-dir", type=Path, default=Path(".skytune"), help="DynamoDB Local data (default .skytune/)")
    local.add_argument("--in-memory", action="store_true", help="keep no data after exit")
    local.add_argument("--dynamodb-port", type=int, default=0, help="DynamoDB Local port (default: a free one)")
    local.add_argument("--stage", default="dev")
    local.add_argument("--cdk-out", type=Path, help="use this synthesised cloud assembly instead of synthesising")
    local.add_argument("--log-level", default="WARNING", help="handlers' log level (powertools)")

    ship = commands.add_parser("ship-logs", help="run a command, delivering its output to `skytune local` as CloudWatch Logs")
    ship.add_argument("--url", default="http://127.0.0.1:8080", help="the local stack (default http://127.0.0.1:8080)")
    ship.add_argument("--log-group", default="/skytune/dev/trials")
    ship.add_argument("--log-stream", required=True)
    ship.add_argument("--run", help="register the log stream on this run first (needs --metric-definitions)")
    ship.add_argument("--metric-definitions", type=Path, help='JSON file: [{"Name": ..., "Regex": ...}]')
    ship.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and its arguments")

    reindex = commands.add_parser("reindex", help="rebuild experiment search indexes from the tracking table")
    reindex.add_argument("--experiment", action="append", help="this experiment only (repeatable; default: all)")
    reindex.add_argument("--api", default=__import__("os").environ.get("SKYTUNE_API_URL", "http://127.0.0.1:8080"),
                         help="API base URL (default $SKYTUNE_API_URL, else the local stack)")

    from skytune.tuning import cli as tuning_cli

    tuning_cli.add_parser(commands)
    from skytune.client import doctor

    doctor.add_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "local":
        return _local(args)
    if args.command == "reindex":
        return _reindex(args)
    if args.command == "tuning":
        return tuning_cli.run(args)
    if args.command == "doctor":
        return doctor.main(args)
    if args.command == "ship-logs":
        from skytune.local.ship_logs import ship as ship_logs

        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not command:
            parser.error("ship-logs needs a command after --")
        definitions = __import__("json").loads(args.metric_definitions.read_text()) if args.metric_definitions else None
        return ship_logs(args.url, args.log_group, args.log_stream, command, args.run, definitions)
    return 2


def _reindex(args) -> int:
    from skytune.client.http import ApiError, Client

    try:
        result = Client(args.api).request("POST", "/v1/index/rebuild", {"experiments": args.experiment})
    except ApiError as error:
        print(f"skytune reindex: error: {error}", file=sys.stderr)
        return 1
    for entry in result["rebuilt"]:
        print(f"{entry['experiment']}: {entry['runs']} runs indexed")
    return 0


def _local(args) -> int:
    from skytune.local.errors import LocalRuntimeError

    from skytune.local.runtime import LocalStack, run
    from skytune.local.synth import find_project_root, synthesise
    from skytune.local.template import stack_name

    from skytune.local.datadir import ensure_token
    from skytune.local.dynamodb_local import check_data_dir
    from skytune.local.policy import CommandPolicy

    try:
        token = None
        if args.no_token:
            print("skytune local: WARNING: --no-token: the API accepts requests without a token; any process "
                  "on this machine can create tuning jobs that run commands as you. Use it for tests only.",
                  file=sys.stderr, flush=True)
        else:
            check_data_dir(args.data_dir)  # a file there is a one-line error, not a traceback
            token = ensure_token(args.data_dir)  # also with --in-memory: the SDK and CLI read it there
        if args.cdk_out:
            assembly = args.cdk_out
        else:
            print("skytune local: synthesising the CDK app ...", flush=True)
            project_root = find_project_root()
            assembly = synthesise(project_root, project_root / "cdk.out", args.stage)
        stack = LocalStack(
            assembly_dir=assembly,
            stack_name=stack_name(args.stage),
            data_dir=None if args.in_memory else args.data_dir,
            dynamodb_port=args.dynamodb_port,
            log_level=args.log_level,
            command_policy=CommandPolicy.of(Path.cwd(), args.allow_command),
        )
        run(stack, args.host, args.port, token=token, extra_hosts=tuple(args.allow_host))
    except LocalRuntimeError as error:
        print(f"skytune local: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
