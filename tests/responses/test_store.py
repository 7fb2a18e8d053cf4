"""The response store on each backend (SQLite file, PostgreSQL) and continuing a stored response."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from tests._needs import fresh_pg_database

from lunaroute.errors import NotFound
from lunaroute.responses import LazyResponseStore, ResponseStore, StoredResponse, continue_from, open_response_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ResponseStore]:
    """Each test runs once on a SQLite file and once on a PostgreSQL database of its own."""
    if request.param == "sqlite":
        opened = await open_response_store(str(tmp_path / "responses.db"))
        yield opened
        await opened.aclose()
        return
    async with fresh_pg_database() as url:
        opened = await open_response_store(url)
        yield opened
        await opened.aclose()


def _stored(response_id: str, text: str = "hi") -> StoredResponse:
    response = {
        "id": response_id,
        "object": "response",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
    }
    items = [{"type": "message", "role": "user", "content": "hello"}]
    return StoredResponse(
        id=response_id, created_at=1, input=msgspec.json.encode(items), response=msgspec.json.encode(response)
    )


async def test_put_get_replace_delete(store: ResponseStore) -> None:
    assert await store.get("resp_1") is None
    await store.put(_stored("resp_1"))
    assert await store.get("resp_1") == _stored("resp_1")
    await store.put(_stored("resp_1", "again"))
    assert await store.get("resp_1") == _stored("resp_1", "again")
    assert await store.delete("resp_1") is True
    assert await store.delete("resp_1") is False
    assert await store.get("resp_1") is None


async def test_continue_splices_input_and_output(store: ResponseStore) -> None:
    await store.put(_stored("resp_a", "first answer"))
    body = b'{"model":"m","previous_response_id":"resp_a","input":"and then?","store":true}'
    spliced, items = await continue_from(store, body)
    sent = json.loads(spliced)
    assert "previous_response_id" not in sent
    assert sent["input"] == items
    assert [item["role"] for item in sent["input"]] == ["user", "assistant", "user"]
    assert sent["input"][1]["content"][0]["text"] == "first answer"
    assert sent["input"][2] == {"type": "message", "role": "user", "content": "and then?"}


async def test_continue_unknown_id_is_the_responses_404(store: ResponseStore) -> None:
    with pytest.raises(NotFound) as info:
        await continue_from(store, b'{"model":"m","previous_response_id":"resp_missing","input":"x"}')
    assert info.value.message == "Previous response with id 'resp_missing' not found."
    assert info.value.param == "previous_response_id"


async def test_request_without_previous_id_is_untouched() -> None:
    body = b'{"model": "m", "input": "x"}'
    assert await continue_from(None, body) == (body, None)


async def test_lazy_store_creates_no_file_until_used(tmp_path: Path) -> None:
    path = tmp_path / "lazy.db"
    lazy = LazyResponseStore(str(path))
    assert not path.exists()
    await lazy.put(_stored("resp_z"))
    assert path.exists()
    assert await lazy.get("resp_z") == _stored("resp_z")
    await lazy.aclose()
