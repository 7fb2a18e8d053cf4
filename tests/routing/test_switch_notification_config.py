"""`routing.provider_switch_notification.default_message` from a config file: its variables are filled per
fallback, not read from the environment when the file loads."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.testing import FakeUpstream, GatewayFactory, Reply

MESSAGE = "Note: ${original_provider} failed (${reason}); ${new_provider} answers for ${model}. Cost: $$0"


def notification(message: str) -> dict[str, Any]:
    return {"provider_switch_notification": {"enabled": True, "default_message": message}}


def test_the_message_keeps_its_variables() -> None:
    config = config_from_mapping({"routing": notification(MESSAGE)}, env={})
    assert config.routing.provider_switch_notification.default_message == MESSAGE.replace("$$", "$")


def test_other_variables_are_still_environment_variables() -> None:
    config = config_from_mapping({"routing": notification("from ${TEAM}")}, env={"TEAM": "core"})
    assert config.routing.provider_switch_notification.default_message == "from core"
    with pytest.raises(ConfigError, match="TEAM is not set"):
        config_from_mapping({"routing": notification("from ${TEAM}")}, env={})


async def test_the_fallback_gets_the_filled_message(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    async with FakeUpstream() as backup:
        gw = await make_gateway(
            providers={
                "main": {"provider_type": "openai", "base_url": upstream.openai_base_url},
                "spare": {"provider_type": "openai", "base_url": backup.openai_base_url},
            },
            routing={"rules": [{"name": "all", "primary": "main", "fallbacks": ["spare"]}], **notification(MESSAGE)},
        )
        upstream.enqueue(Reply(status=503))
        body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{gw.url}/v1/chat/completions", json=body) as response:
                assert response.status == 200
        first = backup.last_request.json()["messages"][0]
    assert first["role"] == "system"
    assert first["content"].startswith("Note: main failed (")
    assert first["content"].endswith("; spare answers for gpt-x. Cost: $0")
