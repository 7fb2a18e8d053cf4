"""`GoogleToken`: a service account's access token from the (fake) token endpoint, renewed before it expires."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import pytest

from lunaroute.providers import GoogleToken, TokenUnavailable
from lunaroute.testing import FakeUpstream, write_service_account


async def test_token_is_fetched_once_and_shared(tmp_path: Path) -> None:
    async with FakeUpstream() as up:
        token = GoogleToken(str(write_service_account(tmp_path / "sa.json", up.token_uri)))
        first, second = await asyncio.gather(token.get(), token.get())
        assert first == second == "ya29.fake-1"
        assert await token.get() == "ya29.fake-1"
        assert token.refreshes == 1
        assert [r.path for r in up.requests] == ["/token"]


async def test_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    now = datetime.datetime(2030, 1, 1)
    async with FakeUpstream() as up:
        token = GoogleToken(str(write_service_account(tmp_path / "sa.json", up.token_uri)), clock=lambda: now)
        up.tokens.lifetime_secs = 3600
        assert await token.get() == "ya29.fake-1"
        # google-auth dates the expiry from the real clock; move ours to 4 minutes before it.
        expiry = token._credentials.expiry  # type: ignore[union-attr]
        assert expiry is not None
        now = expiry - datetime.timedelta(minutes=10)
        assert await token.get() == "ya29.fake-1"
        now = expiry - datetime.timedelta(minutes=4)
        assert await token.get() == "ya29.fake-2"
        assert token.refreshes == 2


async def test_a_refused_grant_raises(tmp_path: Path) -> None:
    async with FakeUpstream() as up:
        token = GoogleToken(str(write_service_account(tmp_path / "sa.json", f"{up.url}/not-the-token-endpoint")))
        with pytest.raises(TokenUnavailable, match="access token"):
            await token.get()
    missing = GoogleToken(str(tmp_path / "missing.json"))
    with pytest.raises(TokenUnavailable, match=r"missing\.json"):
        await missing.get()
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(TokenUnavailable, match="expected format"):
        await GoogleToken(str(tmp_path / "broken.json")).get()
