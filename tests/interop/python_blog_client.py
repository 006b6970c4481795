"""Drive the demo blog with the official Python SDK over streamable HTTP, with bearer tokens.

Usage: python python_blog_client.py http://127.0.0.1:PORT/mcp ALICE_TOKEN BOB_TOKEN
Run by .ci/run against `blog --user alice:... --user bob:...`; exits non-zero on any mismatch.
"""

import asyncio
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def connect(url: str, token: str | None, mode: str) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    return Client(transport, mode=mode)


async def exercise(url: str, alice: str, bob: str, mode: str) -> None:
    async with connect(url, alice, mode) as client:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert "posts_list" in names and "publish_post" in names, names
        created = await client.call_tool("posts_create", {"title": f"Python draft ({mode})", "body": "from the SDK"})
        assert not created.is_error, created
        draft = created.structured_content
        assert draft["published"] is False, draft
        page = await client.call_tool("posts_list", {"filter": {"title__icontains": "python draft"}, "limit": 5})
        assert not page.is_error and page.structured_content["returned"] >= 1, page

    async with connect(url, bob, mode) as client:
        hidden = await client.call_tool("posts_get", {"id": draft["id"]})
        assert hidden.is_error, f"bob must not see alice's draft: {hidden}"
        report = await client.call_tool("posts_aggregate", {"group_by": "published"})
        assert not report.is_error, report

    print(f"python SDK ({mode}): {len(names)} tools, alice's draft {draft['id']} private from bob")


async def refused(url: str) -> None:
    try:
        async with connect(url, None, "2026-07-28") as client:
            await client.list_tools()
    except BaseException as e:  # noqa: BLE001 - any failure is the expected outcome
        print(f"python SDK without a token: refused ({type(e).__name__})")
        return
    raise AssertionError("a client without a token was served")


async def main(url: str, alice: str, bob: str) -> None:
    await exercise(url, alice, bob, "legacy")
    await exercise(url, alice, bob, "2026-07-28")
    await refused(url)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
