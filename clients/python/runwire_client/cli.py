"""The `runwire` command: tail, publish, export, token, stats against a stream API.

`RUNWIRE_URL` and `RUNWIRE_TOKEN` come from the environment unless `--url` / `--token` are given;
`token` signs with `RUNWIRE_AUTH_SECRET`. A refused request prints the server's problem detail
and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import httpx
import msgspec

from runwire_client.client import Runwire
from runwire_client.errors import RunwireError
from runwire_client.events import Reset, StreamEvent
from runwire_client.token import mint_token, parse_ttl

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runwire", description="Tail, publish and export runwire events.")
    parser.add_argument(
        "--url", default=os.environ.get("RUNWIRE_URL", DEFAULT_URL), help="stream API base URL"
    )
    parser.add_argument("--token", default=os.environ.get("RUNWIRE_TOKEN"), help="bearer token")
    commands = parser.add_subparsers(dest="command", required=True)

    def filters(sub: argparse.ArgumentParser, default_from: str) -> None:
        sub.add_argument("project")
        sub.add_argument("--types", help="comma list of type patterns (workflow.>, agent.step.*)")
        sub.add_argument("--aggregates", help="comma list of aggregate (run/job) ids")
        sub.add_argument(
            "--from", dest="from_", default=default_from, help=f"earliest|latest|snapshot ({default_from})"
        )
        sub.add_argument("--since", help="start at this RFC 3339 time")
        sub.add_argument("--last-event-id", help="start after this cursor")

    tail = commands.add_parser("tail", help="follow a project's events live")
    filters(tail, "latest")
    tail.add_argument("--jsonl", action="store_true", help="one CloudEvent JSON per line")
    tail.add_argument("--limit", type=int, help="exit after this many events")

    publish = commands.add_parser("publish", help="publish a JSON event, an array or JSON Lines")
    publish.add_argument("project")
    publish.add_argument("file", nargs="?", default="-", help="a file, or - for stdin (default)")

    export = commands.add_parser("export", help="the stored events as JSON Lines on stdout")
    filters(export, "earliest")
    export.add_argument("--to", help="end at this cursor (included) or RFC 3339 time (excluded)")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")

    token = commands.add_parser("token", help="mint a token with RUNWIRE_AUTH_SECRET")
    token.add_argument("--projects", required=True, help='comma list of projects, or "*"')
    token.add_argument("--ttl", default="1h", help="lifetime: 90s, 30m, 1h, 7d (default 1h)")
    token.add_argument("--sub", default="runwire-cli", help="the token's subject")

    commands.add_parser("stats", help="the stream API instance's live figures")
    return parser


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _pretty(item: StreamEvent, width: int | None) -> str:
    event = item.event
    when = event.time.strftime("%H:%M:%S.%f")[:-3] if event.time else "-"
    data = msgspec.json.encode(event.data).decode() if event.data is not None else ""
    line = f"{item.cursor:>8}  {when}  {event.type}  {event.subject or '_'}  {data}"
    return line[: width - 1] + "…" if width and len(line) > width else line


def _tail(client: Runwire, args: argparse.Namespace) -> int:
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    out = sys.stdout.buffer
    seen = 0
    stream = client.stream(
        args.project,
        types=_csv(args.types),
        aggregates=_csv(args.aggregates),
        from_=args.from_,
        since=args.since,
        last_event_id=args.last_event_id,
    )
    for item in stream:
        if isinstance(item, Reset):
            print(
                f"runwire: events after {item.requested} were removed by retention; "
                f"going on from {item.earliest}",
                file=sys.stderr,
            )
            continue
        if args.jsonl:
            out.write(item.raw + b"\n")
        else:
            out.write((_pretty(item, width) + "\n").encode())
        out.flush()
        seen += 1
        if args.limit is not None and seen >= args.limit:
            break
    return 0


def read_events(source: BinaryIO) -> list[Any]:
    """The events of a file: one JSON event, a JSON array of events, or JSON Lines."""
    text = source.read()
    try:
        whole = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return [msgspec.json.decode(line) for line in text.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def _publish(client: Runwire, args: argparse.Namespace) -> int:
    if args.file == "-":
        events = read_events(sys.stdin.buffer)
    else:
        with open(args.file, "rb") as source:
            events = read_events(source)
    if not events or not all(isinstance(e, dict) for e in events):
        print("runwire: expected JSON objects (CloudEvents)", file=sys.stderr)
        return EXIT_USAGE
    for accepted in client.publish_batch(args.project, events):
        note = "  (duplicate)" if accepted.duplicate else ""
        print(f"{accepted.cursor}  {accepted.id}{note}")
    return 0


def _export(client: Runwire, args: argparse.Namespace) -> int:
    lines = client.export(
        args.project,
        types=_csv(args.types),
        aggregates=_csv(args.aggregates),
        from_=args.from_,
        since=args.since,
        last_event_id=args.last_event_id,
        to=args.to,
    )
    if args.output:
        with open(args.output, "wb") as out:
            count = _write(lines, out)
        print(f"runwire: {count} events written to {args.output}", file=sys.stderr)
    else:
        _write(lines, sys.stdout.buffer)
    return 0


def _write(lines: Iterator[bytes], out: BinaryIO) -> int:
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    out.flush()
    return count


def _token(args: argparse.Namespace) -> int:
    secret = os.environ.get("RUNWIRE_AUTH_SECRET")
    if not secret:
        print("runwire: RUNWIRE_AUTH_SECRET is not set (make run: .runwire/dev-auth-secret)", file=sys.stderr)
        return EXIT_USAGE
    try:
        ttl = parse_ttl(args.ttl)
    except ValueError as exc:
        print(f"runwire: --ttl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    projects: str | list[str] = "*" if args.projects.strip() == "*" else (_csv(args.projects) or [])
    if not projects:
        print("runwire: --projects names no project", file=sys.stderr)
        return EXIT_USAGE
    print(mint_token(secret, projects, sub=args.sub, ttl_seconds=ttl))
    return 0


def _stats(client: Runwire) -> int:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(client.stats())).decode() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        return _token(args)
    try:
        with Runwire(args.url, args.token) as client:
            if args.command == "tail":
                return _tail(client, args)
            if args.command == "publish":
                return _publish(client, args)
            if args.command == "export":
                return _export(client, args)
            return _stats(client)
    except RunwireError as exc:
        hint = " (set RUNWIRE_TOKEN or --token)" if exc.status == 401 else ""
        print(f"runwire: {exc.status}: {exc.detail}{hint}", file=sys.stderr)
        return EXIT_REFUSED
    except httpx.HTTPError as exc:
        print(f"runwire: cannot reach {args.url}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except msgspec.DecodeError as exc:
        print(f"runwire: not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"runwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
