"""A provider's answer presented to a Responses API client: a new response id, the request's own fields
repeated in every `response` object, and the finished response kept for `previous_response_id`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable

import msgspec

from lunaroute.dialects import openai_responses
from lunaroute.dialects.passthrough import top_level
from lunaroute.model import Accumulator, Response, StreamEvent
from lunaroute.responses import ResponseStore, StoredResponse, input_items
from lunaroute.translate._codecs import Codec, UpstreamCodec
from lunaroute.translate._exchange import TranslatedResponse
from lunaroute.types import UpstreamResponse

__all__ = ["ResponsesAnswer", "new_response_id"]


def new_response_id() -> str:
    return "resp_" + os.urandom(16).hex()


class ResponsesAnswer(TranslatedResponse):
    """`TranslatedResponse` for a Responses client.

    `input_items` is every input item answered when the request continued a stored response (None: the request's
    own `input`). When `store` is given and the request did not say `store: false`, the finished response (completed or incomplete, not failed) is kept with `input`, the
    whole input it answered, before the client sees its last event: a follow-up naming it can come at once.
    """

    def __init__(
        self,
        upstream: UpstreamResponse,
        *,
        provider: UpstreamCodec,
        stream: bool,
        client: Codec,
        request_body: bytes,
        input_items: list[object] | None,
        store: ResponseStore | None,
        model_name: str | None = None,
        on_error: Callable[[int, bytes], None] | None = None,
    ) -> None:
        super().__init__(
            upstream,
            client=client,
            provider=provider,
            stream=stream,
            include_usage=True,
            model_name=model_name,
            on_error=on_error,
        )
        self.response_id = new_response_id()
        self._echo = openai_responses.request_echo(request_body)
        self._custom = openai_responses.custom_names(msgspec.json.decode(self._echo["tools"]))
        self._request_body = request_body
        self._input = input_items
        self._store = store if bytes(self._echo["store"]) != b"false" else None

    async def _keep(self, response: Response) -> None:
        if self._store is None or response.stop_reason is None:
            return
        body = openai_responses.encode_response(response, echo=self._echo, custom=self._custom)
        created = response.created if response.created is not None else int(time.time())
        items = self._input if self._input is not None else input_items(top_level(self._request_body).get("input"))
        stored = StoredResponse(
            id=self.response_id, created_at=created, input=msgspec.json.encode(items), response=body
        )
        await self._store.put(stored)

    async def read(self) -> bytes:
        body = await self._upstream.read()
        if self._upstream.status >= 400:
            error = self._provider.decode_error(self._upstream.status, body)
            self.status = self._client.error_status(error)
            return self._client.encode_error(error)
        response = msgspec.structs.replace(self._provider.decode_response(body), id=self.response_id)
        response = msgspec.structs.replace(response, created=response.created or int(time.time()))
        await self._keep(response)
        return openai_responses.encode_response(response, echo=self._echo, custom=self._custom)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        decoder = self._provider.stream_decoder()
        created = int(time.time())
        encoder = openai_responses.StreamEncoder(
            response_id=self.response_id, echo=self._echo, created=created, custom=self._custom
        )
        accumulator = Accumulator() if self._store is not None else None

        async def encoded(events: list[StreamEvent]) -> bytes:
            nonlocal accumulator
            if accumulator is not None:
                for event in events:
                    accumulator.feed(event)
                if accumulator.done:
                    finished = accumulator.response()
                    accumulator = None
                    await self._keep(msgspec.structs.replace(finished, id=self.response_id, created=created))
            return b"".join(encoder.encode(event) for event in events)

        async for chunk in self._upstream.iter_chunks():
            out = await encoded(decoder.feed(chunk))
            if out:
                yield out
        tail = await encoded(decoder.finish()) + encoder.finish()
        if tail:
            yield tail
