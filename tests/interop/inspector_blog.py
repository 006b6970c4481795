"""Drive the demo blog with MCP Inspector's CLI over streamable HTTP, with alice's bearer token.

Usage: python inspector_blog.py NODE INSPECTOR_DIR http://127.0.0.1:PORT/mcp ALICE_TOKEN
(INSPECTOR_DIR is the installed `@modelcontextprotocol/inspector` package.)
Run by tests/interop/blog.sh (from .ci/run) against `blog --user alice:...`; exits non-zero
on any failure, naming the tool, the arguments and Inspector's error.

Inspector's CLI checks every tools/call result against the tool's `outputSchema` itself (its
client validates `structuredContent` with Ajv and turns a mismatch into an error, exit 1),
exits 5 on an `isError` result and 3 when the server asks for authentication. This runs
tools/list (also with `--strict`: exit 6 on an error-severity schema portability problem)
and a representative tools/call set, `fields` and `include` among them, in both eras.
Needs only the standard library.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

TOOL_ERROR = 5
AUTH_REQUIRED = 3


class Inspector:
    def __init__(self, node: str, package: str, url: str, token: str | None, home: str):
        self.cmd = [node, os.path.join(package, "clients", "launcher", "build", "index.js"), "--cli", url]
        self.cmd += ["--transport", "http", "--format", "json", "--stored-auth-only"]
        if token:
            self.cmd += ["--header", f"Authorization: Bearer {token}"]
        # The CLI keeps a catalog and client settings under ~/.mcp-inspector: keep them here.
        self.env = {**os.environ, "HOME": home, "MCP_CATALOG_PATH": os.path.join(home, "mcp.json")}
        self.failures: list[str] = []
        self.calls = 0
        self.lock = threading.Lock()

    def run(self, era: str, *args: str) -> tuple[int, Any, str]:
        """Exit code, the parsed stdout (or None), and the error Inspector printed on stderr."""
        try:
            done = subprocess.run(
                [*self.cmd, "--protocol-era", era, *args], env=self.env, capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired:
            return -1, None, "Inspector's CLI did not finish within 120 s (killed)"
        try:
            out = json.loads(done.stdout) if done.stdout.strip() else None
        except json.JSONDecodeError:
            out = None
        err = done.stderr.strip()
        try:
            err = json.loads(err.splitlines()[-1])["error"]["message"]
        except (IndexError, KeyError, TypeError, json.JSONDecodeError):
            pass
        return done.returncode, out, err

    def tools(self, era: str) -> dict[str, Any]:
        code, out, err = self.run(era, "--method", "tools/list")
        if code != 0 or not out:
            self.failures.append(f"[{era}] tools/list: exit {code}: {err}")
            return {}
        return {t["name"]: t for t in out["result"]["tools"]}

    def strict(self, era: str) -> None:
        code, _, err = self.run(era, "--method", "tools/list", "--strict")
        if code != 0:
            self.failures.append(f"[{era}] tools/list --strict: exit {code} (6: a schema is not portable): {err}")

    def call(self, era: str, tool: str, args: dict[str, Any], expect: int = 0) -> Any:
        """tools/call; returns the structuredContent of a successful call."""
        with self.lock:
            self.calls += 1
        line = json.dumps(args, sort_keys=True)
        code, out, err = self.run(era, "--method", "tools/call", "--tool-name", tool, "--tool-args-json", line)
        if code != expect:
            if out and out.get("result", {}).get("isError"):
                err = " ".join(c.get("text", "") for c in out["result"].get("content", []))
            self.failures.append(f"[{era}] {tool} {line}: exit {code}, expected {expect}: {err}")
            return None
        return (out or {}).get("result", {}).get("structuredContent")


def enum_of(tool: dict[str, Any], prop: str) -> list[Any]:
    schema = tool["inputSchema"].get("properties", {}).get(prop, {})
    return schema.get("enum") or schema.get("items", {}).get("enum") or []


def exercise(i: Inspector, era: str, pool: ThreadPoolExecutor) -> int:
    tools = i.tools(era)
    if "posts_list" not in tools:
        i.failures.append(f"[{era}] tools/list has no posts_list: {sorted(tools)}")
        return len(tools)
    models = [n.removesuffix("_list") for n in tools if n.endswith("_list") and f"{n.removesuffix('_list')}_get" in tools]

    def read_model(model: str) -> None:
        fields = enum_of(tools[f"{model}_list"], "fields")
        relations = enum_of(tools[f"{model}_list"], "include")
        page = i.call(era, f"{model}_list", {"limit": 2, **({"include": relations} if relations else {})})
        if fields:
            i.call(era, f"{model}_list", {"fields": fields[:2], "limit": 2})
        if fields and relations:
            i.call(era, f"{model}_list", {"fields": fields[:1], "include": relations[:1], "limit": 2})
        if page and page.get("items"):
            row = page["items"][0]
            get_include = enum_of(tools[f"{model}_get"], "include")
            i.call(era, f"{model}_get", {"id": row["id"], **({"include": get_include} if get_include else {})})
            if model == "comments":
                i.call(era, "post_comments", {"post_id": row["post_id"], "limit": 2})
        if f"{model}_aggregate" in tools:
            if f"{model}_count" in tools:
                i.call(era, f"{model}_count", {"filter": {"id__gte": 1}})
            group_by = enum_of(tools[f"{model}_aggregate"], "group_by")
            i.call(era, f"{model}_aggregate", {"group_by": group_by[0]} if group_by else {})

    def hand_written() -> None:
        i.call(era, "posts_get", {"id": 2_000_000_000}, expect=TOOL_ERROR)
        pipeline = [{"$match": {"published": True}}, {"$sort": {"views": -1}}, {"$limit": 2}]
        i.call(era, "query", {"collection": "posts", "pipeline": pipeline})
        i.call(era, "posts_per_author", {"top": 3})
        i.call(era, "word_count", {})
        i.call(era, "get_api_posts", {"limit": 2})

    def draft() -> None:
        post = i.call(era, "posts_create", {"title": f"Inspector draft ({era})", "body": "from MCP Inspector's CLI"})
        if post:
            i.call(era, "posts_patch", {"id": post["id"], "title": f"Inspector draft, patched ({era})"})
            i.call(era, "publish_post", {"id": post["id"]})

    def deleted() -> None:
        post = i.call(era, "posts_create", {"title": f"Inspector draft to delete ({era})", "body": "gone soon"})
        if post:
            i.call(era, "posts_delete", {"id": post["id"]})

    def api_draft() -> None:
        post = i.call(era, "create_draft", {"title": f"Inspector API draft ({era})", "body": "through the JSON API"})
        if post and "id" in post:
            i.call(era, "patch_api_posts_id", {"id": post["id"], "title": f"Inspector API draft, patched ({era})"})

    jobs = [lambda m=m: read_model(m) for m in models] + [hand_written, draft, deleted, api_draft]
    for _ in pool.map(lambda job: job(), jobs):
        pass
    return len(tools)


def main(node: str, package: str, url: str, token: str) -> int:
    with open(os.path.join(package, "package.json")) as f:
        print(f"MCP Inspector {json.load(f)['version']}, CLI on Node {subprocess.check_output([node, '--version'], text=True).strip()}")
    with tempfile.TemporaryDirectory(prefix="inspector-home-") as home:
        i = Inspector(node, package, url, token, home)
        i.strict("legacy")
        for era in ("legacy", "modern"):
            before = (i.calls, len(i.failures))
            with ThreadPoolExecutor(max_workers=3) as pool:
                listed = exercise(i, era, pool)
            print(
                f"MCP Inspector CLI ({era}): {listed} tools listed, {i.calls - before[0]} tools/call, "
                f"{len(i.failures) - before[1]} failed"
            )
        code, _, err = Inspector(node, package, url, None, home).run("modern", "--method", "tools/list")
        if code != AUTH_REQUIRED:
            i.failures.append(f"without a token: exit {code}, expected {AUTH_REQUIRED} (auth_required): {err}")
        else:
            print("MCP Inspector CLI without a token: refused (auth_required)")
    if i.failures:
        print(f"\n{len(i.failures)} failed Inspector runs:", file=sys.stderr)
        for f in i.failures:
            print(f"  FAIL {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
