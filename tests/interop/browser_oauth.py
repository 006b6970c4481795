"""The demo blog's sign-in and consent pages in a real browser: headless Chromium over WebDriver.

Usage: python browser_oauth.py http://127.0.0.1:PORT/mcp USER PASSWORD SCREENSHOT_DIR
Run by .ci/run against `blog --user alice:...`, with Debian's `chromium` and `chromium-driver`
(override their paths with CHROMIUM and CHROMEDRIVER) and `pip install selenium`.

What a person does, in the browser: a public client registered by DCR with a loopback redirect
URI sends the browser to /authorize (PKCE S256, state, resource). On the sign-in page a wrong
password is refused with a message, then the right one is accepted; the consent page lists the
scopes with their descriptions; Allow lands on the loopback callback with `code`, `state` and
`iss`. The code is exchanged at /token and the access token calls the MCP endpoint as that user.
What a browser can see of the pages' security is checked too: every page is served with
`Content-Security-Policy: ... frame-ancestors 'none'`, has no script and logs no CSP violation;
a page framing the consent page does not get it rendered; Deny lands on the callback with
`error=access_denied`. A screenshot of each page is saved in SCREENSHOT_DIR. Exits non-zero
with the failed step named on any mismatch.
"""

import base64
import hashlib
import html
import json
import os
import queue
import secrets
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlparse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CLIENT_NAME = "Browser test app"
# The blog's scopes and the descriptions its consent page must show for them.
SCOPES = {
    "posts:read": "Read posts, drafts included",
    "posts:write": "Write, change and publish your posts",
}
WAIT = 10  # seconds for any page or redirect


class Failed(Exception):
    """A step of the test went wrong; the message names the step and what was seen."""


def check(ok: object, message: str) -> None:
    if not ok:
        raise Failed(message)


# --- HTTP, the client's side (no browser) -------------------------------------------------


def http(method: str, url: str, form: dict | None = None, body: dict | None = None, headers: dict | None = None):
    """One request; returns (status, headers, text). Never raises on an HTTP error status."""
    data, hdrs = None, dict(headers or {})
    if form is not None:
        data, hdrs["content-type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
    elif body is not None:
        data, hdrs["content-type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def json_of(status: int, text: str, expected: int, what: str) -> dict:
    check(status == expected, f"{what}: HTTP {status} (expected {expected}): {text}")
    try:
        return json.loads(text)
    except ValueError:
        raise Failed(f"{what}: the answer is not JSON: {text!r}") from None


def pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(metadata: dict, name: str, redirect_uri: str) -> str:
    """Dynamic client registration of a public client; returns its client_id."""
    status, _, text = http(
        "POST",
        metadata["registration_endpoint"],
        body={"client_name": name, "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"},
    )
    reg = json_of(status, text, 201, "client registration")
    check(reg.get("token_endpoint_auth_method") == "none", f"registered as a public client: {reg}")
    return reg["client_id"]


def mcp(url: str, token: str, method: str, params: dict) -> dict:
    """One stateless (2026-07-28) MCP request with a bearer token; returns its `result`."""
    version = "2026-07-28"
    meta = {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}
    headers = {
        "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": version,
        "mcp-method": method,
    }
    if "name" in params:
        headers["mcp-name"] = params["name"]
    status, hdrs, text = http(
        "POST",
        url,
        body={"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}},
        headers=headers,
    )
    check(status == 200, f"MCP {method}: HTTP {status}: {text}")
    if hdrs.get("content-type", "").startswith("text/event-stream"):
        text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
    answer = json.loads(text)
    check("result" in answer, f"MCP {method}: no result: {answer}")
    return answer["result"]


# --- the loopback callback (and a page that frames another) --------------------------------


class Callback:
    """A tiny HTTP server on 127.0.0.1: `/callback` records each query it receives; `/frame?src=URL`
    answers a page that embeds URL in an iframe."""

    def __init__(self) -> None:
        received: queue.Queue = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path == "/callback":
                    received.put(query)
                    page = "<h1>Back at the app</h1><p>The authorization response arrived.</p>"
                elif url.path == "/frame" and "src" in query:
                    src = html.escape(query["src"][0])
                    frame = f'<iframe id="framed" src="{src}" width="600" height="400"></iframe>'
                    page = f"<h1>A page framing the consent page</h1>{frame}"
                else:
                    self.send_error(404)
                    return
                body = f"<!doctype html><title>test app</title>{page}".encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = f"{self.origin}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_query(self) -> dict[str, str]:
        try:
            query = self.received.get(timeout=WAIT)
        except queue.Empty:
            raise Failed(f"nothing arrived at {self.redirect_uri} within {WAIT} s") from None
        check(all(len(v) == 1 for v in query.values()), f"a parameter repeated in the callback: {query}")
        check(self.received.empty(), "the callback was called more than once")
        return {k: v[0] for k, v in query.items()}

    def close(self) -> None:
        self.server.shutdown()


# --- the browser ---------------------------------------------------------------------------


class Browser:
    """Headless Chromium through chromedriver, keeping its console and network logs."""

    def __init__(self, screenshots: Path) -> None:
        self.screenshots = screenshots
        self.profile = tempfile.TemporaryDirectory(prefix="browser-oauth-")
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for arg in (
            "--headless=new",
            "--no-sandbox",  # root in a container has no usable sandbox
            "--disable-dev-shm-usage",
            "--window-size=900,700",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile.name}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.wait = WebDriverWait(self.driver, WAIT)
        self.console: list[dict] = []
        self.documents: list[dict] = []

    def quit(self) -> None:
        self.driver.quit()
        self.profile.cleanup()

    def drain_logs(self) -> None:
        """Move new console messages and document responses into `console` and `documents`."""
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.responseReceived" and message["params"].get("type") == "Document":
                self.documents.append(message["params"]["response"])

    def csp_violations(self) -> list[str]:
        self.drain_logs()
        return [m["message"] for m in self.console if "Content Security Policy" in m["message"]]

    def document_response(self) -> dict:
        """The response the browser received for the page it shows."""
        self.drain_logs()
        here = self.driver.current_url.split("#", 1)[0]
        for response in reversed(self.documents):
            if response["url"] == here:
                return response
        raise Failed(f"the browser logged no document response for {here}")

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def screenshot(self, name: str) -> None:
        path = self.screenshots / f"{name}.png"
        check(self.driver.save_screenshot(str(path)), f"could not save {path}")
        print(f"  screenshot: {path}")

    def submit(self, selector: str) -> None:
        """Click a submit button and wait until the browser has left the page."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, selector).click()
        self.wait.until(ec.staleness_of(old))

    def fill(self, field_id: str, value: str) -> None:
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def check_page_security(browser: Browser, path: str) -> None:
    """What a browser can see of a page's protection: headers, no script, styles that load,
    and no Content-Security-Policy violation in the console."""
    headers = {k.lower(): v for k, v in browser.document_response()["headers"].items()}
    csp = headers.get("content-security-policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    check(
        directives.get("frame-ancestors") == "frame-ancestors 'none'",
        f"{path}: Content-Security-Policy without frame-ancestors 'none': {csp!r}",
    )
    check(
        "script-src" not in directives and directives.get("default-src") == "default-src 'none'", f"{path}: CSP {csp!r}"
    )
    check(
        headers.get("x-frame-options", "").upper() == "DENY",
        f"{path}: X-Frame-Options {headers.get('x-frame-options')!r}",
    )
    check(
        headers.get("referrer-policy") == "no-referrer",
        f"{path}: Referrer-Policy {headers.get('referrer-policy')!r}",
    )
    scripts = browser.driver.find_elements(By.XPATH, "//script | //*[@*[starts-with(name(), 'on')]]")
    check(not scripts, f"{path}: the page carries script: {[s.get_attribute('outerHTML')[:80] for s in scripts]}")
    # The stylesheet (style-src 'self') applied: the page background is the stylesheet's.
    background = browser.driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
    check(
        background in ("rgb(244, 244, 245)", "rgba(244, 244, 245, 1)"),
        f"{path}: the stylesheet did not apply ({background})",
    )
    violations = browser.csp_violations()
    check(not violations, f"{path}: Content-Security-Policy violations in the console: {violations}")


def check_browser_cookie(browser: Browser) -> None:
    """The cookie binding the authorization to this browser is out of the page's reach."""
    cookies = [c for c in browser.driver.get_cookies() if c["name"] in ("mcp-oauth", "__Host-mcp-oauth")]
    check(len(cookies) == 1, f"the browser-binding cookie: {browser.driver.get_cookies()}")
    cookie = cookies[0]
    check(cookie.get("httpOnly") and cookie.get("sameSite") == "Lax", f"the browser-binding cookie: {cookie}")
    check(cookie["value"] not in browser.driver.execute_script("return document.cookie"), "document.cookie shows it")


@contextmanager
def step(name: str, browser: Browser | None = None):
    print(f"- {name}")
    try:
        yield
    except Failed as e:
        raise Failed(f"{name}: {e}") from None
    except (WebDriverException, OSError, AssertionError, KeyError, IndexError, ValueError) as e:
        where = ""
        if browser is not None:
            with suppress(WebDriverException):
                where = f"\n  at {browser.driver.current_url}\n  page text: {browser.text()[:500]!r}"
        raise Failed(f"{name}: {type(e).__name__}: {str(e).strip() or repr(e)}{where}") from None


# --- the flows -----------------------------------------------------------------------------


class Flow:
    """One authorization: a client, PKCE, state, and the URL that starts it."""

    def __init__(self, metadata: dict, resource: str, callback: Callback, client_name: str) -> None:
        self.metadata = metadata
        self.callback = callback
        self.client_id = register(metadata, client_name, callback.redirect_uri)
        self.verifier, challenge = pkce()
        self.state = secrets.token_urlsafe(16)
        self.url = (
            metadata["authorization_endpoint"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": self.client_id,
                    "redirect_uri": callback.redirect_uri,
                    "state": self.state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "resource": resource,
                    "scope": " ".join(SCOPES),
                }
            )
        )

    def response(self, browser: Browser) -> dict[str, str]:
        """The authorization response at the loopback callback, checked for state and iss."""
        query = self.callback.next_query()
        browser.wait.until(ec.url_contains(self.callback.redirect_uri))
        check(query.get("state") == self.state, f"state {query.get('state')!r}, sent {self.state!r}")
        check(
            query.get("iss") == self.metadata["issuer"], f"iss {query.get('iss')!r}, issuer {self.metadata['issuer']!r}"
        )
        return query


def sign_in(browser: Browser, flow: Flow, user: str, password: str, screenshots: bool) -> None:
    with step("the sign-in page names the client and where the browser goes back to", browser):
        browser.driver.get(flow.url)
        browser.wait.until(ec.presence_of_element_located((By.ID, "password")))
        text = browser.text()
        check(CLIENT_NAME in text, f"the client's name {CLIENT_NAME!r} is not shown: {text!r}")
        host = urlparse(flow.callback.redirect_uri).netloc
        check(host in text, f"the redirect host {host} is not shown: {text!r}")
        check_page_security(browser, "/authorize")
        check_browser_cookie(browser)
        if screenshots:
            browser.screenshot("sign-in")
    if screenshots:
        with step("a wrong password is refused on the page", browser):
            browser.fill("username", user)
            browser.fill("password", password + "-wrong")
            browser.submit("button[type=submit]")
            error = browser.driver.find_element(By.CSS_SELECTOR, "[role=alert]")
            check(error.is_displayed() and "Wrong username or password" in error.text, f"error shown: {error.text!r}")
            check(browser.document_response()["status"] == 401, "a wrong password answers 401")
            check_page_security(browser, "/authorize/sign-in")
            check(browser.driver.find_element(By.ID, "username").get_attribute("value") == user, "the username is kept")
            browser.screenshot("sign-in-error")
    with step("signing in with the right password leads to the consent page", browser):
        browser.fill("username", user)
        browser.fill("password", password)
        browser.submit("button[type=submit]")
        browser.wait.until(ec.url_contains("/authorize/consent"))


def check_consent_page(browser: Browser, flow: Flow, user: str) -> None:
    text = browser.text()
    check(f"Allow {CLIENT_NAME}" in text, f"the consent page does not name the client: {text!r}")
    host = urlparse(flow.callback.redirect_uri).netloc
    check(f"sent back to {host}" in text, f"the consent page does not show the redirect host {host}: {text!r}")
    check(f"Signed in as {user}" in text, f"the consent page does not say who is signed in: {text!r}")
    listed = {}
    for li in browser.driver.find_elements(By.CSS_SELECTOR, "ul.scopes li"):
        name = li.find_element(By.TAG_NAME, "code").text
        listed[name] = li.text.replace(name, "").strip()
    check(listed == SCOPES, f"scopes listed {listed}, expected {SCOPES}")
    check_page_security(browser, "/authorize/consent")


def approve(browser: Browser, flow: Flow, user: str, password: str) -> str:
    sign_in(browser, flow, user, password, screenshots=True)
    with step("the consent page lists the scopes with their descriptions", browser):
        check_consent_page(browser, flow, user)
        browser.screenshot("consent")
    with step("Allow lands on the loopback callback with code, state and iss", browser):
        browser.submit("button[value=approve]")
        query = flow.response(browser)
        check(query.get("code") and "error" not in query, f"no code: {query}")
        check("Back at the app" in browser.text(), "the browser did not show the callback's page")
    return query["code"]


def refused_in_a_frame(browser: Browser, flow: Flow, consent_url: str) -> None:
    with step("a page framing the consent page does not get it rendered", browser):
        browser.csp_violations()  # drain what came before
        browser.console.clear()
        browser.driver.get(f"{flow.callback.origin}/frame?src={quote(consent_url, safe='')}")
        # The page (and its iframe) has loaded when get() returns.
        frame = browser.driver.find_element(By.ID, "framed")
        browser.driver.switch_to.frame(frame)
        try:
            framed = browser.driver.find_elements(By.CSS_SELECTOR, "form, button, input")
            check(not framed, f"the consent page rendered inside another site's frame: {browser.text()!r}")
        finally:
            browser.driver.switch_to.default_content()
        try:
            browser.wait.until(lambda _: any("frame-ancestors" in v for v in browser.csp_violations()))
        except TimeoutException:
            raise Failed(
                "the console does not show the frame refused for `frame-ancestors 'none'`; it shows: "
                f"{[m['message'] for m in browser.console]}"
            ) from None
        browser.screenshot("framed-refused")
        browser.console.clear()


def deny(browser: Browser, flow: Flow, user: str, password: str) -> None:
    sign_in(browser, flow, user, password, screenshots=False)
    with step("the second client's consent page", browser):
        check_consent_page(browser, flow, user)
    consent_url = browser.driver.current_url
    refused_in_a_frame(browser, flow, consent_url)
    with step("Deny lands on the loopback callback with error=access_denied", browser):
        browser.driver.get(consent_url)  # back at the page, with a fresh form
        browser.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "button[value=deny]")))
        check_consent_page(browser, flow, user)
        browser.submit("button[value=deny]")
        query = flow.response(browser)
        check(query.get("error") == "access_denied" and "code" not in query, f"after Deny: {query}")


def exchange_and_call(metadata: dict, flow: Flow, code: str, mcp_url: str, user: str) -> None:
    with step("the code is exchanged at the token endpoint with the PKCE verifier"):
        status, _, text = http(
            "POST",
            metadata["token_endpoint"],
            form={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": flow.callback.redirect_uri,
                "client_id": flow.client_id,
                "code_verifier": flow.verifier,
                "resource": mcp_url,
            },
        )
        tokens = json_of(status, text, 200, "token endpoint")
        check(tokens.get("token_type", "").lower() == "bearer" and tokens.get("access_token"), f"tokens: {tokens}")
        check(set(tokens.get("scope", "").split()) == set(SCOPES), f"granted scopes: {tokens.get('scope')!r}")
    with step(f"the MCP endpoint answers the access token as {user}"):
        access = tokens["access_token"]
        names = [t["name"] for t in mcp(mcp_url, access, "tools/list", {})["tools"]]
        check("posts_create" in names, f"tools: {names}")
        me = mcp(mcp_url, access, "tools/call", {"name": "authors_list", "arguments": {"filter": {"name": user}}})
        my_id = me["structuredContent"]["items"][0]["id"]
        draft = mcp(
            mcp_url,
            access,
            "tools/call",
            {"name": "posts_create", "arguments": {"title": "From the browser", "body": "Signed in with Chromium."}},
        )
        check(
            not draft.get("isError") and draft["structuredContent"]["author_id"] == my_id,
            f"the draft is not {user}'s: {draft}",
        )
        print(f"  {len(names)} tools; a draft written as {user} (author {my_id})")


def main(mcp_url: str, user: str, password: str, screenshots: Path) -> None:
    screenshots.mkdir(parents=True, exist_ok=True)
    origin = "{0.scheme}://{0.netloc}".format(urlparse(mcp_url))
    with step("authorization server metadata"):
        status, _, text = http("GET", f"{origin}/.well-known/oauth-authorization-server")
        metadata = json_of(status, text, 200, "metadata")
        check(
            set(SCOPES) <= set(metadata.get("scopes_supported", [])),
            f"scopes_supported: {metadata.get('scopes_supported')}",
        )
    callback = Callback()
    with step(
        "headless Chromium starts (Debian: apt-get install chromium chromium-driver; or set CHROMIUM, CHROMEDRIVER)"
    ):
        browser = Browser(screenshots)
    try:
        try:
            with step("dynamic registration of a public client with a loopback redirect URI"):
                flow = Flow(metadata, mcp_url, callback, CLIENT_NAME)
            code = approve(browser, flow, user, password)
            exchange_and_call(metadata, flow, code, mcp_url, user)
            # A second client: consent is remembered per client, so its consent page shows.
            with step("dynamic registration of a second client"):
                second = Flow(metadata, mcp_url, callback, CLIENT_NAME)
            deny(browser, second, user, password)
        except Failed:
            with suppress(Failed, WebDriverException):
                browser.screenshot("failure")
            raise
    finally:
        browser.quit()
        callback.close()
    print("browser OAuth: sign-in (a wrong password refused), consent, callback, token, MCP call as the user,")
    print("  framing refused, deny: passed")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    except Failed as e:
        sys.exit(f"browser OAuth test FAILED at: {e}")
