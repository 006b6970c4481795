"""Drive an MCP server over streamable HTTP with the official Python SDK, in both eras.

Usage: python python_client.py http://127.0.0.1:PORT/mcp
Run by .ci/run against examples/conformance; exits non-zero on any mismatch.
"""

import asyncio
import sys

from mcp import Client


async def exercise(url: str, mode: str) -> None:
    async with Client(url, mode=mode) as client:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert "test_simple_text" in names, names
        assert all(t.description for t in tools.tools), "every tool has a description"

        result = await client.call_tool("test_simple_text", {})
        assert not result.is_error, result
        assert result.content[0].text == "This is a simple text response for testing.", result

        failing = await client.call_tool("test_error_handling", {})
        assert failing.is_error, failing

        resource = await client.read_resource("test://template/123/data")
        assert "123" in resource.contents[0].text, resource

        prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "one", "arg2": "two"})
        assert "one" in prompt.messages[0].content.text and "two" in prompt.messages[0].content.text, prompt

        print(f"python SDK ({mode}, protocol {client.protocol_version}): {len(names)} tools listed, calls ok")


async def main(url: str) -> None:
    await exercise(url, "legacy")
    await exercise(url, "2026-07-28")
    await exercise(url, "auto")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
