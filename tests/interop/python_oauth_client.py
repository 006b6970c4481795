"""The official Python SDK's OAuth client against the demo blog's built-in authorization server.

Usage: python python_oauth_client.py http://127.0.0.1:PORT/mcp USER PASSWORD
Run by .ci/run against `blog --user alice:...`. `mcp.client.auth.OAuthClientProvider` does
discovery, dynamic registration, PKCE, the code exchange and refresh; a small driver does the
browser's part over HTTP (reads the sign-in form, posts it, approves the consent) and hands the
loopback redirect's code, state and iss back. Then tools are listed and called as that user in
both protocol eras, the access token is made to expire, and the next connection refreshes
(rotation) without a second sign-in. Exits non-zero on any mismatch.
"""

import asyncio
import html
import re
import sys
import time
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:38123/callback"


class Memory:
    """TokenStorage in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no `{name}` field in the page:\n{page}"
    return html.unescape(m.group(1))


class Browser:
    """The user's part: sign in, approve, land on the loopback redirect."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.result: AuthorizationCodeResult | None = None
        self.sign_ins = 0

    async def redirect(self, authorization_url: str) -> None:
        self.sign_ins += 1
        async with httpx2.AsyncClient(follow_redirects=False) as http:
            page = await http.get(authorization_url)
            assert page.status_code == 200, (page.status_code, page.text)
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            tx, csrf = hidden(page.text, "tx"), hidden(page.text, "csrf")
            signed_in = await http.post(
                urljoin(authorization_url, "/authorize/sign-in"),
                data={"tx": tx, "csrf": csrf, "username": self.user, "password": self.password},
            )
            assert signed_in.status_code == 303, (signed_in.status_code, signed_in.text)
            consent = await http.get(urljoin(authorization_url, signed_in.headers["location"]))
            assert consent.status_code == 200, (consent.status_code, consent.text)
            approved = await http.post(
                urljoin(authorization_url, "/authorize/consent"),
                data={"tx": tx, "csrf": hidden(consent.text, "csrf"), "decision": "approve"},
            )
            assert approved.status_code == 303, (approved.status_code, approved.text)
            location = approved.headers["location"]
            assert location.startswith(REDIRECT + "?"), location
            q = parse_qs(urlparse(location).query)
            self.result = AuthorizationCodeResult(code=q["code"][0], state=q["state"][0], iss=q["iss"][0])

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        result, self.result = self.result, None
        return result


def connect(url: str, provider: OAuthClientProvider, mode: str) -> Client:
    transport = streamable_http_client(url, http_client=create_mcp_http_client(auth=provider))
    return Client(transport, mode=mode)


async def exercise(url: str, provider: OAuthClientProvider, user: str, mode: str) -> None:
    async with connect(url, provider, mode) as client:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert "posts_create" in names, names
        me = await client.call_tool("authors_list", {"filter": {"name": user}})
        assert not me.is_error, me
        my_id = me.structured_content["items"][0]["id"]
        created = await client.call_tool("posts_create", {"title": f"OAuth draft ({mode})", "body": "via the SDK"})
        assert not created.is_error, created
        assert created.structured_content["author_id"] == my_id, (created.structured_content, my_id)
    print(f"python SDK OAuth ({mode}): {len(names)} tools, a draft written as {user} (author {my_id})")


async def main(url: str, user: str, password: str) -> None:
    storage = Memory()
    browser = Browser(user, password)
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-oauth-test",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    await exercise(url, provider, user, "2026-07-28")
    await exercise(url, provider, user, "legacy")
    assert browser.sign_ins == 1, f"signed in {browser.sign_ins} times"
    assert storage.client is not None and storage.client.token_endpoint_auth_method == "none", storage.client
    first = storage.tokens
    assert first is not None and first.refresh_token, first
    # Let the access token expire: the next connection refreshes (rotation), no new sign-in.
    provider.context.token_expiry_time = time.time() - 1
    await exercise(url, provider, user, "2026-07-28")
    second = storage.tokens
    assert second is not None and second.refresh_token and second.refresh_token != first.refresh_token, second
    assert second.access_token != first.access_token
    assert browser.sign_ins == 1, f"the refresh failed: signed in {browser.sign_ins} times"
    print("python SDK OAuth: discovery, registration, PKCE, code exchange and refresh rotation passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
