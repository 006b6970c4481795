"""Drive the demo blog with the official Python SDK over streamable HTTP, with bearer tokens.

Usage: python python_blog_client.py http://127.0.0.1:PORT/mcp ALICE_TOKEN BOB_TOKEN
Run by tests/interop/blog.sh (from .ci/run) against `blog --user alice:... --user bob:...`;
exits non-zero on any mismatch.

In both protocol eras it calls every tool of `tools/list` that can be called safely: every
generated model tool of every model (`*_list` with and without `fields`, with `include` of
each relation, `*_get`, `*_count`, `*_aggregate` per `group_by`, create/patch/update/delete
on alice's own rows), the `query` tool with pipelines, and the hand-written tools. Every
`structuredContent` is checked twice: by the SDK itself (it raises "Invalid structured
content") and explicitly with `jsonschema` (Draft 2020-12) against the tool's `outputSchema`.
All failures are collected and printed, each naming the tool, the arguments and the error.
"""

import asyncio
import json
import sys
from typing import Any

from jsonschema import Draft202012Validator
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

ERAS = ("legacy", "2026-07-28")


def connect(url: str, token: str | None, mode: str) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    return Client(transport, mode=mode)


def path_of(error: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


class Checker:
    """Calls tools of one connection and checks every result; failures are collected."""

    def __init__(self, client: Client, tools: dict[str, types.Tool], mode: str, who: str, failures: list[str]):
        self.client = client
        self.tools = tools
        self.mode = mode
        self.who = who
        self.failures = failures
        self.validators: dict[str, Draft202012Validator] = {}
        self.called: dict[str, int] = {}

    def fail(self, name: str, args: dict[str, Any], why: str) -> None:
        self.failures.append(f"[{self.mode}, {self.who}] {name} {json.dumps(args, sort_keys=True)}: {why}")

    def validator(self, name: str) -> Draft202012Validator | None:
        schema = self.tools[name].output_schema
        if schema is None:
            return None
        if name not in self.validators:
            Draft202012Validator.check_schema(schema)
            self.validators[name] = Draft202012Validator(schema)
        return self.validators[name]

    def check_structured(self, name: str, args: dict[str, Any], structured: Any) -> None:
        """Validate `structured` against the tool's outputSchema with jsonschema (Draft 2020-12)."""
        try:
            validator = self.validator(name)
        except Exception as e:  # noqa: BLE001 - an invalid schema is the finding
            self.fail(name, args, f"its outputSchema is not a valid Draft 2020-12 schema: {e}")
            return
        if validator is None:
            return
        if structured is None:
            self.fail(name, args, "the tool declares an outputSchema but returned no structuredContent")
            return
        errors = sorted(validator.iter_errors(structured), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            shown = "; ".join(f"{path_of(e)}: {e.message}" for e in errors[:6])
            more = f" (and {len(errors) - 6} more)" if len(errors) > 6 else ""
            self.fail(name, args, f"structuredContent does not match the outputSchema: {shown}{more}")

    async def raw_call(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        """tools/call without the SDK's own output check, to name every schema error."""
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=args))
        return await self.client.session.send_request(request, types.CallToolResult)

    async def call(self, name: str, args: dict[str, Any], expect_error: bool = False) -> Any:
        """Call `name`; returns its structuredContent (None on an error result)."""
        if name not in self.tools:
            self.fail(name, args, "the tool is not in tools/list")
            return None
        self.called[name] = self.called.get(name, 0) + 1
        try:
            result = await self.client.call_tool(name, args)
        except Exception as e:  # noqa: BLE001 - the SDK refusing a result is the finding
            first_line = str(e).splitlines()[0] if str(e) else ""
            self.fail(name, args, f"the Python SDK rejected the call: {type(e).__name__}: {first_line}")
            annotations = self.tools[name].annotations
            if annotations is not None and annotations.read_only_hint:
                try:
                    raw = await self.raw_call(name, args)
                except Exception:  # noqa: BLE001 - already reported above
                    return None
                if not raw.is_error:
                    self.check_structured(name, args, raw.structured_content)
                    return raw.structured_content
            return None
        if result.is_error:
            if not expect_error:
                text = " ".join(getattr(c, "text", "") for c in result.content)
                self.fail(name, args, f"isError: {text}")
            return None
        if expect_error:
            self.fail(name, args, f"expected an error result, got {result.structured_content!r}")
        self.check_structured(name, args, result.structured_content)
        return result.structured_content


def props(tool: types.Tool) -> dict[str, Any]:
    return tool.input_schema.get("properties", {})


def enum_of(tool: types.Tool, prop: str) -> list[Any]:
    schema = props(tool).get(prop, {})
    return schema.get("enum") or schema.get("items", {}).get("enum") or []


def chunks(values: list[Any], size: int) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def generated_arguments(tool: types.Tool, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """Arguments for a read-only tool: its required `<model>_id` integers from rows read
    before; None when a required argument cannot be generated safely."""
    args: dict[str, Any] = {}
    for name in tool.input_schema.get("required", []):
        schema = props(tool).get(name, {})
        model = name.removesuffix("_id")
        found = rows.get(f"{model}s") or rows.get(model)
        if schema.get("type") != "integer" or not name.endswith("_id") or not found:
            return None
        args[name] = found[0]["id"]
    return args


async def model_reads(c: Checker, model: str) -> list[dict[str, Any]]:
    """Every read tool of one model; returns the rows of its first page."""
    list_tool = c.tools[f"{model}_list"]
    page = await c.call(f"{model}_list", {})
    rows = (page or {}).get("items", [])
    fields = enum_of(list_tool, "fields")
    relations = enum_of(list_tool, "include")
    p = props(list_tool)
    for field in fields:
        await c.call(f"{model}_list", {"fields": [field], "limit": 3})
    if len(fields) >= 2:
        await c.call(f"{model}_list", {"fields": fields[:2], "limit": 3})
    for relation in relations:
        await c.call(f"{model}_list", {"include": [relation], "limit": 3})
        if fields:
            await c.call(f"{model}_list", {"include": [relation], "fields": [fields[0]], "limit": 3})
    if relations:
        await c.call(f"{model}_list", {"include": relations, "limit": 3})
    order = enum_of(list_tool, "order_by")
    first = await c.call(f"{model}_list", {"limit": 1, "order_by": order[-1:], "include_total": True})
    if first and first.get("next_cursor"):
        await c.call(f"{model}_list", {"limit": 1, "order_by": order[-1:], "cursor": first["next_cursor"]})
    await c.call(f"{model}_list", {"filter": {"id__gte": 1}, "offset": 1, "limit": 2})
    if "search" in p:
        await c.call(f"{model}_list", {"search": "e", "limit": 2})

    if rows and f"{model}_get" in c.tools:
        get_tool = c.tools[f"{model}_get"]
        row_id = rows[0]["id"]
        await c.call(f"{model}_get", {"id": row_id})
        for relation in enum_of(get_tool, "include"):
            await c.call(f"{model}_get", {"id": row_id, "include": [relation]})
        get_fields = enum_of(get_tool, "fields")
        if get_fields:
            await c.call(f"{model}_get", {"id": row_id, "fields": get_fields[:1]})
            if enum_of(get_tool, "include"):
                await c.call(f"{model}_get", {"id": row_id, "fields": get_fields[:1], "include": enum_of(get_tool, "include")})
        await c.call(f"{model}_get", {"id": 2_000_000_000}, expect_error=True)

    if f"{model}_count" in c.tools:
        await c.call(f"{model}_count", {})
        await c.call(f"{model}_count", {"filter": {"id__gte": 1}})
        if "search" in props(c.tools[f"{model}_count"]):
            await c.call(f"{model}_count", {"search": "e"})

    if f"{model}_aggregate" in c.tools:
        agg = c.tools[f"{model}_aggregate"]
        metrics = enum_of(agg, "metrics")
        most = props(agg).get("metrics", {}).get("maxItems", 5)
        await c.call(f"{model}_aggregate", {})
        for group in [None, *enum_of(agg, "group_by")]:
            for chunk in chunks(metrics, most):
                args: dict[str, Any] = {"metrics": chunk} if chunk else {}
                if group is not None:
                    args["group_by"] = group
                await c.call(f"{model}_aggregate", args)
    return rows


async def model_writes(c: Checker, model: str) -> int | None:
    """create, patch, update, delete on the caller's own rows; returns a draft kept for later."""
    create = c.tools.get(f"{model}_create")
    if create is None:
        return None
    text = [k for k, v in props(create).items() if v.get("type") == "string"]
    required = create.input_schema.get("required", [])
    if any(r not in text for r in required):
        print(f"  {model}_create: not called (a required argument is not text: {required})")
        return None
    values = {k: f"Interop {k} ({c.mode})" for k in text}
    kept = await c.call(f"{model}_create", values)
    doomed = await c.call(f"{model}_create", {k: f"{v}, to delete" for k, v in values.items()})
    if not kept or not doomed:
        return None
    first = text[0]
    if f"{model}_patch" in c.tools:
        await c.call(f"{model}_patch", {"id": kept["id"], first: f"Patched {first} ({c.mode})"})
    if f"{model}_update" in c.tools:
        await c.call(f"{model}_update", {"id": kept["id"], **{k: f"Updated {k} ({c.mode})" for k in text}})
    if f"{model}_delete" in c.tools:
        await c.call(f"{model}_delete", {"id": doomed["id"]})
        await c.call(f"{model}_get", {"id": doomed["id"]}, expect_error=True)
    return kept["id"]


async def query_pipelines(c: Checker) -> None:
    tool = c.tools.get("query")
    if tool is None:
        return
    for collection in enum_of(tool, "collection"):
        for pipeline in (
            [],
            [{"$match": {"id__gte": 1}}, {"$sort": {"id": -1}}, {"$skip": 1}, {"$limit": 3}, {"$project": {"id": 1}}],
            [{"$count": "rows"}],
        ):
            await c.call("query", {"collection": collection, "pipeline": pipeline})
        if f"{collection}_aggregate" in c.tools:  # `$group` where the model allows aggregates
            await c.call("query", {"collection": collection, "pipeline": [{"$group": {"_id": None, "n": {"$sum": 1}}}]})
    if "posts" in enum_of(tool, "collection"):
        lookup = {"from": "authors", "localField": "author_id", "foreignField": "id", "as": "author"}
        await c.call(
            "query",
            {
                "collection": "posts",
                "pipeline": [
                    {"$lookup": lookup},
                    {"$match": {"published": True}},
                    {"$sort": {"views": -1}},
                    {"$limit": 3},
                    {"$project": {"title": 1, "writer": "$author.name"}},
                ],
            },
        )
        await c.call(
            "query",
            {"collection": "posts", "pipeline": [{"$group": {"_id": "$author_id", "views": {"$sum": "$views"}}}]},
        )


async def exercise(url: str, alice: str, bob: str, mode: str, failures: list[str]) -> None:
    async with connect(url, alice, mode) as client:
        tools: dict[str, types.Tool] = {}
        cursor = None
        while True:
            listed = await client.list_tools(cursor=cursor)
            tools.update({t.name: t for t in listed.tools})
            cursor = listed.next_cursor
            if not cursor:
                break
        names = list(tools)
        assert "posts_list" in names and "publish_post" in names, names
        c = Checker(client, tools, mode, "alice", failures)
        models = [n.removesuffix("_list") for n in names if n.endswith("_list") and n.removesuffix("_list") + "_count" in tools]
        rows: dict[str, list[dict[str, Any]]] = {}
        for model in models:
            rows[model] = await model_reads(c, model)
        draft = await model_writes(c, "posts")
        await query_pipelines(c)

        # The blog's hand-written tools and its JSON API's handlers.
        await c.call("posts_per_author", {})
        await c.call("posts_per_author", {"top": 1})
        commented = next((r["post_id"] for r in rows.get("comments", []) if "post_id" in r), None)
        if commented is not None:
            await c.call("post_comments", {"post_id": commented})
            await c.call("post_comments", {"post_id": commented, "limit": 1})
        await c.call("word_count", {})
        await c.call("get_api_posts", {})
        await c.call("get_api_posts", {"limit": 2, "offset": 1})
        published = (rows.get("posts") or [{}])[0].get("id")
        if published is not None:
            await c.call("get_api_posts_id", {"id": published})
        api_draft = await c.call("create_draft", {"title": f"API draft ({mode})", "body": "through the JSON API"})
        if api_draft and "id" in api_draft:
            await c.call("patch_api_posts_id", {"id": api_draft["id"], "title": f"API draft, patched ({mode})"})

        # The original checks: alice's draft is hers until she publishes it.
        created = await c.call("posts_create", {"title": f"Python draft ({mode})", "body": "from the SDK"})
        if created is not None and created.get("published") is not False:
            c.fail("posts_create", {}, f"a new post must be a draft: {created}")
        page = await c.call("posts_list", {"filter": {"title__icontains": "python draft"}, "limit": 5})
        if page is not None and page.get("returned", 0) < 1:
            c.fail("posts_list", {"filter": {"title__icontains": "python draft"}}, f"alice's draft not listed: {page}")

        # Any other tool that only reads: called with generated arguments (none, or the id
        # of a row it names: `post_id` takes a post's id).
        for name, tool in tools.items():
            ro = tool.annotations is not None and tool.annotations.read_only_hint
            if name in c.called or not ro:
                continue
            args = generated_arguments(tool, rows)
            if args is not None:
                await c.call(name, args)
        if draft is not None:
            await c.call("publish_post", {"id": draft})
            await c.call("publish_post", {"id": 2_000_000_000}, expect_error=True)
        skipped = [n for n in names if n not in c.called]

    async with connect(url, bob, mode) as client:
        listed = await client.list_tools()
        b = Checker(client, {t.name: t for t in listed.tools}, mode, "bob", failures)
        if created is not None:
            await b.call("posts_get", {"id": created["id"]}, expect_error=True)  # alice's draft is private
            await b.call("posts_patch", {"id": created["id"], "title": "bob was here"}, expect_error=True)
            await b.call("posts_delete", {"id": created["id"]}, expect_error=True)
        await b.call("posts_aggregate", {"group_by": "published"})
        await b.call("posts_list", {"fields": ["id", "title"], "include": ["author"], "limit": 3})

    calls = sum(c.called.values()) + sum(b.called.values())
    print(
        f"python SDK ({mode}): {len(names)} tools listed, {len(c.called)} called ({calls} calls, every "
        f"structuredContent checked against its outputSchema)"
        + (f"; not called (no safe arguments): {', '.join(skipped)}" if skipped else "")
    )


async def refused(url: str) -> None:
    try:
        async with connect(url, None, "2026-07-28") as client:
            await client.list_tools()
    except BaseException as e:  # noqa: BLE001 - any failure is the expected outcome
        print(f"python SDK without a token: refused ({type(e).__name__})")
        return
    raise AssertionError("a client without a token was served")


async def main(url: str, alice: str, bob: str) -> int:
    failures: list[str] = []
    for mode in ERAS:
        await exercise(url, alice, bob, mode, failures)
    await refused(url)
    if failures:
        print(f"\n{len(failures)} failed calls:", file=sys.stderr)
        for f in failures:
            print(f"  FAIL {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3])))
