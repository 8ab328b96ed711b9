"""The `runwire` command through its installed entry point, against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from runwire.web.auth import verify_token
from tests.stream_api.conftest import SECRET, StreamAPI, event
from tests.support.eventually import eventually

RUNWIRE = str(Path(sys.executable).parent / "runwire")


async def run(
    api: StreamAPI | None, *args: str, stdin: bytes = b"", token: str | None = None
) -> tuple[int, bytes, str]:
    env = {**os.environ, "RUNWIRE_AUTH_SECRET": SECRET}
    if api is not None:
        env |= {"RUNWIRE_URL": api.base, "RUNWIRE_TOKEN": token or api.token()}
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 30)
    assert process.returncode is not None
    return process.returncode, out, err.decode()


async def test_tail_jsonl_limit(api: StreamAPI, project: str) -> None:
    published = [event(project, "run.step", "r1", n=i) for i in range(3)]
    await api.publish(project, published)
    code, out, err = await run(api, "tail", project, "--from", "earliest", "--jsonl", "--limit", "2")
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == published[:2]


async def test_tail_pretty_follows_live(api: StreamAPI, project: str) -> None:
    tail = asyncio.ensure_future(run(api, "tail", project, "--types", "run.>", "--limit", "1"))
    await eventually(lambda: len(api.runtime.clients) == 1)
    await api.publish(project, [event(project, "job.other"), event(project, "run.done", "r7", ok=True)])
    code, out, err = await tail
    assert code == 0, err
    (line,) = out.decode().splitlines()
    assert "run.done" in line and "r7" in line and '{"ok":true}' in line


async def test_publish_from_a_file_and_from_stdin(api: StreamAPI, project: str, tmp_path: Path) -> None:
    array = tmp_path / "events.json"
    array.write_text(json.dumps([event(project, n=1), event(project, n=2)]))
    code, out, err = await run(api, "publish", project, str(array))
    assert code == 0, err
    assert len(out.splitlines()) == 2
    lines = "\n".join(json.dumps(event(project, n=i)) for i in range(3)).encode()
    code, out, err = await run(api, "publish", project, "-", stdin=lines)
    assert code == 0, err
    cursors = [line.split()[0] for line in out.decode().splitlines()]
    assert len(cursors) == 3 and all(c.isdigit() for c in cursors)
    single = json.dumps({"source": "/cli", "type": "t.one", "subject": "a1"}).encode()
    code, out, err = await run(api, "publish", project, stdin=single)
    assert code == 0 and len(out.splitlines()) == 1, err


async def test_export_to_a_file(api: StreamAPI, project: str, tmp_path: Path) -> None:
    published = [event(project, n=i) for i in range(4)]
    cursors = await api.publish(project, published)
    target = tmp_path / "run.jsonl"
    code, _, err = await run(api, "export", project, "--to", cursors[2], "-o", str(target))
    assert code == 0, err
    assert [json.loads(line) for line in target.read_text().splitlines()] == published[:3]
    code, out, err = await run(api, "export", project, "--last-event-id", cursors[2])
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == published[3:], err


async def test_token_verifies_with_the_server_secret() -> None:
    code, out, err = await run(None, "token", "--projects", "p1,p2", "--ttl", "2h")
    assert code == 0, err
    principal = verify_token(SECRET, out.decode().strip())
    assert principal.projects == frozenset({"p1", "p2"}) and principal.sub == "runwire-cli"
    code, out, _ = await run(None, "token", "--projects", "*")
    assert verify_token(SECRET, out.decode().strip()).projects == "*"


async def test_stats_and_clear_errors(api: StreamAPI, project: str) -> None:
    code, out, err = await run(api, "stats")
    assert code == 0, err
    assert "connections" in json.loads(out)
    code, _, err = await run(api, "export", project, token=api.token(["other"]))
    assert code == 1 and "403" in err and project in err
    code, _, err = await run(api, "export", project, token="nonsense")
    assert code == 1 and "401" in err and "RUNWIRE_TOKEN" in err
    code, _, err = await run(api, "export", project, "--to", "yesterday")
    assert code == 1 and "to:" in err
