"""What a stream API process writes to its log: no token, and no ERROR for a refused upgrade."""

from __future__ import annotations

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from runwire.web.auth import issue_token
from tests.stream_api.conftest import SECRET, APIProcess
from tests.support.eventually import eventually
from tests.support.stream_clients import sse, ws


def ws_url(base: str, project: str, token: str) -> str:
    return base.replace("http://", "ws://") + f"/v1/projects/{project}/events/ws?access_token={token}"


async def logged(api: APIProcess, text: str) -> str:
    """The process's log once it contains `text`."""

    async def probe() -> str | None:
        log = api.log_text()
        return log if text in log else None

    return await eventually(probe, timeout=10)


async def test_accepted_websocket_logs_its_path_without_the_token(
    stream_api_process: APIProcess, project: str
) -> None:
    token = issue_token(SECRET, "t", [project])
    async with ws(stream_api_process.base, project, token):
        log = await logged(stream_api_process, "[accepted]")
    assert "access_token=[redacted]" in log
    assert token not in log


async def test_sse_with_a_query_token_leaves_no_token_in_the_log(
    stream_api_process: APIProcess, project: str
) -> None:
    token = issue_token(SECRET, "t", [project])
    async with sse(stream_api_process.base, project, token) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
    async with ws(stream_api_process.base, project, token):
        log = await logged(stream_api_process, "[accepted]")
    assert token not in log


async def test_refused_websocket_upgrade_is_not_logged_as_an_error(
    stream_api_process: APIProcess, project: str
) -> None:
    forged = issue_token("another-secret-0123456789abcdef-xyz", "t", [project])
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(ws_url(stream_api_process.base, project, forged), open_timeout=10)
    assert refused.value.response.status_code == 401
    log = await logged(stream_api_process, '" 401')
    assert " ERROR " not in log
    assert forged not in log
