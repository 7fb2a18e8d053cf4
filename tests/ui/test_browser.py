"""The web UI in a real headless Chromium (Playwright), over traffic the official SDKs sent through a gateway.

Needs Debian's Chromium and the `playwright` package (`scripts/install-browser`); without them it skips, or fails
in CI (`tests/_needs.py`).
Screenshots are saved under the test's tmp dir and their paths printed (`pytest -s` shows them).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from tests._needs import missing
from tests.ui._server import ui_server

from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOOLS_SESSION = "browser-tools-1"
PROMPT = "Weather in Oslo? <img src=x onerror=alert(1)>"
ANSWER = "It is sunny. <script>alert(2)</script>"
TOKEN = "browser-s3cret"

if not Path(CHROMIUM).exists():
    missing("Chromium", "chromium is not installed (scripts/install-browser installs it)", allow_module_level=True)
try:
    import playwright.async_api as playwright_api
except ImportError:
    missing("Playwright", "the playwright package is not installed (scripts/install-browser)", allow_module_level=True)
expect = playwright_api.expect


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


async def screenshot(page: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def gateway_overrides(tmp_path: Path, ui: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_recording": {
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
        "ui": ui,
    }


async def drain(gateway: GatewayServer) -> None:
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()


def one(db: Path, sql: str, *params: Any) -> Any:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


async def send_traffic(upstream: FakeUpstream, gateway: GatewayServer) -> None:
    """A streamed answer with a tool call and its follow-up (one session), a plain answer, an upstream error."""
    call = ToolCall(name="get_weather", arguments='{"city": "Oslo"}', id="toolu_browser1")
    upstream.enqueue(
        Reply(
            answer=Answer(
                text="Let me check.",
                thinking="The user wants the weather.",
                thinking_signature="sig",
                tool_calls=(call,),
                usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=50),
            )
        ),
        Reply(answer=Answer(text=ANSWER, usage=Usage(input_tokens=160, output_tokens=12))),
        Reply(answer=Answer(text="A plain answer.", usage=Usage(input_tokens=11, output_tokens=4))),
        Reply(status=429, error_message="slow down"),
    )
    user_id = json.dumps({"device_id": "d1", "account_uuid": "", "session_id": TOOLS_SESSION})
    tools: list[Any] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        async with client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=200,
            tools=tools,
            metadata={"user_id": user_id},
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream:
            first = await stream.get_final_message()
        history: list[Any] = [
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}],
            },
        ]
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=200, tools=tools, metadata={"user_id": user_id}, messages=history
        )
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0) as oai:
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Say something plain"}])
        with pytest.raises(openai.RateLimitError):
            await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "fail please"}])
    await drain(gateway)


async def kpi(page: Any, name: str) -> str:
    value = await page.locator(f'[data-kpi="{name}"]').get_attribute("data-value")
    assert value is not None
    return str(value)


async def test_dashboard_sessions_and_detail_in_a_browser(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path, shots: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {"export_enabled": True, "delete_enabled": True}))
    await send_traffic(upstream, gateway)
    db = tmp_path / "sessions.db"
    dialogs: list[str] = []
    async with ui_server(gateway) as base:
        context = await browser.new_context(
            viewport={"width": 1360, "height": 900},
            accept_downloads=True,
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        async def on_dialog(dialog: Any) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            await (dialog.accept() if dialog.type == "confirm" else dialog.dismiss())

        page.on("dialog", on_dialog)

        # The dashboard shows what the database holds.
        await page.goto(f"{base}/")
        await expect(page.locator("#dashboard")).to_have_attribute("data-loaded", re.compile(r"\d+"))
        requests = one(db, "SELECT COUNT(*) FROM session_stats")
        kinds = (
            "input",
            "output",
            "thinking",
            "reasoning",
            "cache_read",
            "cache_creation",
            "audio_input",
            "audio_output",
        )
        tokens = one(db, f"SELECT SUM({' + '.join(f'COALESCE({k}_tokens, 0)' for k in kinds)}) FROM session_stats")
        failed = one(db, "SELECT COUNT(*) FROM sessions WHERE success = 0")
        sessions = one(db, "SELECT COUNT(*) FROM sessions")
        assert (requests, failed, sessions) == (4, 1, 3)  # the failed request counts as a request
        assert await kpi(page, "requests") == str(requests)
        assert await kpi(page, "tokens") == str(tokens)
        assert await kpi(page, "errors") == str(failed)
        assert await kpi(page, "sessions") == str(sessions)
        await expect(page.locator('[data-sub="sessions"]')).to_have_text("started · 3 active (any start)")
        await expect(page.locator('[data-kpi="requests"]')).to_have_text(f"{requests:,}")
        await expect(page.locator("#chart-models")).to_contain_text("claude-sonnet-4-6")
        await expect(page.locator("#chart-models")).to_contain_text("2 req")
        await expect(page.locator("#chart-providers")).to_contain_text("anthropic")
        await expect(page.locator("#chart-clients")).to_contain_text("AsyncOpenAI")
        await expect(page.locator('#chart-tools tr[data-tool="get_weather"]')).to_be_visible()
        await expect(page.locator('#chart-tokens li[data-kind="cache_read"]')).to_contain_text("50")
        await expect(page.locator("#chart-latency")).to_contain_text("claude-sonnet-4-6")
        await expect(page.locator("#chart-latency")).to_contain_text("p95")
        await expect(page.locator("#chart-errors")).to_contain_text("HTTP 429")
        await expect(page.locator('#chart-health tr[data-provider="anthropic"]')).to_contain_text("closed")
        await expect(page.locator("#chart-activity svg rect.bar")).not_to_have_count(0)
        await screenshot(page, shots, "dashboard")

        # It refreshes by itself while traffic flows.
        loads = int(await page.locator("#dashboard").get_attribute("data-loaded") or 0)
        upstream.enqueue(Reply(answer=Answer(text="later", usage=Usage(input_tokens=5, output_tokens=2))))
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0) as oai:
            await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "one more"}])
        await drain(gateway)
        await expect(page.locator('[data-kpi="requests"]')).to_have_attribute("data-value", "5", timeout=20_000)
        assert int(await page.locator("#dashboard").get_attribute("data-loaded") or 0) > loads

        # The session list filters through the API's filters.
        await page.goto(f"{base}/sessions")
        rows = page.locator("#session-table tbody tr")
        await expect(rows).to_have_count(4)
        await page.select_option('select[name="model"]', "gpt-4o")
        await expect(page).to_have_url(re.compile(r"/sessions\?model=gpt-4o$"))
        await expect(rows).to_have_count(3)
        await page.select_option('select[name="success"]', "false")
        await expect(page).to_have_url(re.compile(r"/sessions\?model=gpt-4o&success=false$"))
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("failed")
        await page.goto(f"{base}/sessions")
        await page.fill('input[name="q"]', "Oslo")
        await page.press('input[name="q"]', "Enter")
        await expect(page).to_have_url(re.compile(r"/sessions\?q=Oslo$"))
        await expect(rows).to_have_count(1)
        await expect(page.locator("a.sid")).to_have_attribute("title", TOOLS_SESSION)
        await screenshot(page, shots, "sessions")

        # The session: prompt, thinking, tool call, tool result and answer, all as text.
        await rows.first.click()
        await expect(page).to_have_url(f"{base}/sessions/{TOOLS_SESSION}")
        timeline = page.locator("ol.timeline > li.req")
        await expect(timeline).to_have_count(2)
        first, second = timeline.nth(0), timeline.nth(1)
        await expect(first.locator(".role-user .text")).to_have_text(PROMPT)
        await expect(first.locator(".tool-call")).to_contain_text("get_weather")
        await expect(first.locator(".tool-call .code")).to_contain_text('"city": "Oslo"')
        await expect(first.locator(".thinking summary")).to_contain_text("The user wants the weather.")
        await first.locator(".thinking summary").click()  # opened, the thinking is shown once, not twice
        await expect(first.locator(".thinking summary .preview")).to_be_hidden()
        await expect(first.locator(".thinking > .text")).to_have_text("The user wants the weather.")
        await expect(first.locator(".answer")).to_contain_text("Let me check.")
        await expect(first.locator(".badge", has_text="stream")).to_be_visible()
        await expect(second.locator(".tool-result")).to_contain_text("sunny, 21 C")
        await expect(second.locator(".tool-result")).to_contain_text("get_weather")
        await expect(second.locator(".answer .text")).to_have_text(ANSWER)
        assert await page.locator("main img, main script").count() == 0
        # Copy buttons copy the whole text, arguments and raw JSON.
        await first.locator(".tool-call button.copy").click()
        await expect(first.locator(".tool-call button.copy")).to_have_text("Copied")
        assert json.loads(await page.evaluate("navigator.clipboard.readText()")) == {"city": "Oslo"}
        await second.locator(".answer button.copy").click()
        assert await page.evaluate("navigator.clipboard.readText()") == ANSWER
        await first.locator("a.raw-link").click()
        await expect(first.locator(".raw pre").first).to_contain_text('"messages"')
        await expect(first.locator(".raw pre").nth(1)).to_contain_text('"tool_use"')
        await first.locator(".raw h3 button.copy").first.click()
        assert json.loads(await page.evaluate("navigator.clipboard.readText()"))["messages"][0]["content"] == PROMPT
        await screenshot(page, shots, "session")

        # Export downloads the recorded events.
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Export JSONL", exact=True).click()
        download = await info.value
        saved = tmp_path / "export.jsonl"
        await download.save_as(saved)
        lines = [json.loads(line) for line in saved.read_text().splitlines()]
        assert download.suggested_filename == f"{TOOLS_SESSION}.jsonl"
        assert {e["session_id"] for e in lines} == {TOOLS_SESSION}
        assert sum(e["type"] == "completed" for e in lines) == 2
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Export JSON", exact=True).click()
        exported = json.loads(Path(await (await info.value).path()).read_text())
        assert exported["session"]["summary"]["session_id"] == TOOLS_SESSION

        # Deleting asks first, then the session is gone.
        failed_id = one(db, "SELECT session_id FROM sessions WHERE success = 0")
        await page.goto(f"{base}/sessions/{failed_id}")
        await expect(page.locator(".error-text").first).to_contain_text("slow down")
        await page.click("#delete-session")
        await expect(page).to_have_url(re.compile(r"/sessions\?deleted="))
        await expect(page.locator(".notice")).to_contain_text("was deleted")
        assert one(db, "SELECT COUNT(*) FROM sessions WHERE session_id = ?", failed_id) == 0
        assert [d for d in dialogs if d.startswith("confirm")], dialogs
        assert not [d for d in dialogs if d.startswith("alert")], dialogs  # no recorded text ever ran as script
        assert not errors, errors
        await context.close()


async def test_sign_in_with_a_token_link(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path, shots: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {"auth_token": TOKEN}))
    upstream.enqueue(Reply(answer=Answer(text="hi", usage=Usage(input_tokens=3, output_tokens=1))))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0) as oai:
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    await drain(gateway)
    async with ui_server(gateway) as base:
        context = await browser.new_context(viewport={"width": 1200, "height": 800})
        page = await context.new_page()
        response = await page.goto(f"{base}/")
        assert response is not None
        assert response.status == 401
        await expect(page.locator("input[name=token]")).to_be_visible()
        await screenshot(page, shots, "sign-in")
        await page.fill("input[name=token]", TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{base}/")  # the token left the address
        await expect(page.locator('[data-kpi="requests"]')).to_have_attribute("data-value", "1")
        cookies = await context.cookies()
        [cookie] = [c for c in cookies if c["name"] == "lunaroute_ui"]
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        await page.goto(f"{base}/sessions")
        await expect(page.locator("#session-table tbody tr")).to_have_count(1)
        await context.close()


WIDTHS = (1440, 1024, 768, 420)


async def test_every_page_fits_the_width_of_the_window(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path, shots: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {"export_enabled": True, "delete_enabled": True}))
    await send_traffic(upstream, gateway)
    async with ui_server(gateway) as base:
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            for name, path in (
                ("dashboard", "/"),
                ("sessions", "/sessions"),
                ("session", f"/sessions/{TOOLS_SESSION}"),
            ):
                await page.goto(f"{base}{path}")
                if name == "dashboard":
                    await expect(page.locator("#dashboard")).to_have_attribute("data-loaded", re.compile(r"\d+"))
                    await expect(page.locator("#chart-activity svg rect.bar")).not_to_have_count(0)
                    await expect(page.locator("#chart-recent table")).to_have_count(1)
                scroll_width = await page.evaluate("document.documentElement.scrollWidth")
                await screenshot(page, shots, f"{name}-{width}")
                assert scroll_width <= width, f"{name} at {width} px is {scroll_width} px wide"
                # No table hides columns behind a scroll bar of its own either.
                clipped = await page.evaluate(
                    "[...document.querySelectorAll('.table-wrap, .mini-wrap')]"
                    ".filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.className)"
                )
                assert clipped == [], f"{name} at {width} px: {clipped} scroll sideways"
            await context.close()


async def test_the_activity_chart_uses_buckets_that_suit_the_window(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path, shots: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {}))
    await send_traffic(upstream, gateway)
    async with ui_server(gateway) as base:
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        bars = page.locator("#chart-activity svg rect.bar")
        labels = page.locator("#chart-activity svg text[text-anchor=middle]")
        for window, count in (("hour", (61, 62)), ("day", (97, 98))):
            await page.goto(f"{base}/?window={window}")
            await expect(page.locator("#dashboard")).to_have_attribute("data-loaded", re.compile(r"\d+"))
            await expect(bars).not_to_have_count(0)
            assert await bars.count() in count, f"{window}: {await bars.count()} bars"
            heights = [float(await b.get_attribute("height") or 0) for b in await bars.all()]
            assert sum(h > 0 for h in heights) >= 1
            await screenshot(page, shots, f"activity-{window}")
        await page.goto(f"{base}/?window=week")
        await expect(page.locator("#dashboard")).to_have_attribute("data-loaded", re.compile(r"\d+"))
        await expect(bars).not_to_have_count(0)
        texts = await labels.all_text_contents()
        assert texts, "the week chart has no labels"
        assert len(set(texts)) == len(texts), texts  # each label names its own day
        assert all(re.search(r"\d", t) and re.search(r"[A-Za-z]{3}", t) for t in texts), texts
        await screenshot(page, shots, "activity-week")
        await context.close()


async def test_cards_and_tiles_open_the_filtered_session_list(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {}))
    await send_traffic(upstream, gateway)
    async with ui_server(gateway) as base:
        context = await browser.new_context(viewport={"width": 1360, "height": 900})
        page = await context.new_page()
        rows = page.locator("#session-table tbody tr")
        clicks = (
            ('#chart-models a.name:text-is("gpt-4o")', r"/sessions\?model=gpt-4o&since=24h$", 2),
            ('#chart-providers a.name:text-is("anthropic")', r"/sessions\?provider=anthropic&since=24h$", 1),
            ('#chart-tools a:text-is("get_weather")', r"/sessions\?tool=get_weather$", 1),
            ("#kpi-errors", r"/sessions\?since=24h&success=false$", 1),
            ("#kpi-sessions", r"/sessions\?since=24h$", 3),
        )
        for selector, url, count in clicks:
            await page.goto(f"{base}/")
            await expect(page.locator("#dashboard")).to_have_attribute("data-loaded", re.compile(r"\d+"))
            await page.locator(selector).click()
            await expect(page).to_have_url(re.compile(url))
            await expect(rows).to_have_count(count)
        await context.close()


async def test_a_custom_date_range_filters_the_list(
    upstream: FakeUpstream, make_gateway: GatewayFactory, browser: Any, tmp_path: Path
) -> None:
    gateway = await make_gateway(**gateway_overrides(tmp_path, {}))
    await send_traffic(upstream, gateway)
    async with ui_server(gateway) as base:
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        rows = page.locator("#session-table tbody tr")
        await page.goto(f"{base}/sessions")
        await page.fill('input[name="since"]', "2020-01-01")
        await page.fill('input[name="until"]', "2099-12-31 23:00")
        await page.press('input[name="until"]', "Enter")
        await expect(page).to_have_url(re.compile(r"/sessions\?since=2020-01-01&until=2099-12-31\+23%3A00$"))
        await expect(rows).to_have_count(3)
        await page.fill('input[name="until"]', "2021-01-01")
        await page.press('input[name="until"]', "Enter")
        await expect(page.locator(".empty")).to_contain_text("No sessions match")
        await context.close()
