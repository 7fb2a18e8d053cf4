"""The one scrubbing module: override fields of request bodies, known secrets in bytes, text and records."""

from __future__ import annotations

import json

from lunaroute.scrub import MASK, Scrubber, override_fields, without_overrides
from lunaroute.types import Endpoint, ExchangeRecord

KEY = "sk-ant-api03-canary-0123456789"


def test_override_fields_are_recognised_and_removed_at_the_top_level_only() -> None:
    body = b'{"api_key":"k","model":"m","api_base":"http://x","metadata":{"base_url":"kept"},"stream":true}'
    assert override_fields(json.loads(body)) == ["api_key", "api_base"]
    assert json.loads(without_overrides(body)) == {"model": "m", "metadata": {"base_url": "kept"}, "stream": True}


def test_scrubber_masks_every_occurrence_longest_first() -> None:
    scrub = Scrubber([KEY, KEY[:12], "short"])
    text = f"key {KEY} and again {KEY}; prefix {KEY[:12]}; short stays"
    masked = scrub.text(text)
    assert KEY not in masked
    assert KEY[:12] not in masked
    assert masked.count(MASK) == 3
    assert "short stays" in masked
    assert scrub.data(text.encode()) == masked.encode()
    assert not Scrubber(["tiny", ""])


def test_scrubber_for_providers_takes_keys_and_secret_named_headers() -> None:
    scrub = Scrubber.for_providers(
        [
            (KEY, {}),
            (None, {"Authorization": "Bearer tok-0123456789", "x-team": "team-name-visible"}),
        ]
    )
    assert scrub.text(f"{KEY} tok-0123456789 team-name-visible") == f"{MASK} {MASK} team-name-visible"


def test_scrubber_masks_what_an_upstream_sent_back_in_a_record() -> None:
    record = ExchangeRecord(
        request_id="r",
        started_at=0.0,
        listener="anthropic",
        endpoint=Endpoint.ANTHROPIC_MESSAGES,
        method="POST",
        path="/v1/messages",
        request_headers=[],
        request_body=b"{}",
        model_requested="m",
        is_streaming=False,
        status=401,
        response_headers=[("x-echo", KEY)],
        response_body=f'{{"error":"{KEY}"}}'.encode(),
        stream_chunks=[KEY.encode()],
        error=f"bad key {KEY}",
    )
    Scrubber([KEY]).record(record)
    assert KEY.encode() not in record.response_body
    assert record.stream_chunks == [MASK.encode()]
    assert record.response_headers == [("x-echo", MASK)]
    assert record.error == f"bad key {MASK}"
