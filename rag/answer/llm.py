"""The optional LLM answerer: any OpenAI-compatible chat endpoint (Ollama, llama.cpp, vLLM, hosted APIs)."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rag.answer.grounding import build_messages, check_reply
from rag.config import LLMConfig, RagConfig
from rag.errors import GeneratorError, UngroundedAnswerError
from rag.schema import Answer, ScoredChunk

log = logging.getLogger(__name__)

RETRY_PAUSE_S = 0.25
MAX_REPLY_BYTES = 2_000_000


@dataclass(frozen=True)
class _Piece:
    """Part of a reply: streamed text, and why the model stopped once it says so."""

    text: str
    finish_reason: str | None = None


class OpenAIChatGenerator:
    """POSTs a grounded prompt to `{base_url}/chat/completions` and returns only answers that pass the checks.

    `llm.timeout_s` bounds each network operation and the whole answer: the exchange runs in a worker
    thread and the caller stops waiting at the deadline, even if the server keeps trickling tokens.
    """

    def __init__(self, llm: LLMConfig, env: Mapping[str, str] | None = None) -> None:
        self.llm = llm
        self.url = llm.base_url.rstrip("/") + "/chat/completions"
        env = os.environ if env is None else env
        self._api_key = env.get(llm.api_key_env) if llm.api_key_env else None
        timeout = httpx.Timeout(connect=llm.timeout_s, read=llm.timeout_s, write=llm.timeout_s, pool=llm.timeout_s)
        self._client = httpx.Client(timeout=timeout)  # no network until the first request

    def __repr__(self) -> str:
        return f"OpenAIChatGenerator(url={self.url!r}, model={self.llm.model!r})"

    def close(self) -> None:
        self._client.close()

    def generate(self, question: str, lang: str, passages: Sequence[ScoredChunk]) -> Answer:
        messages = self._messages(question, lang, passages)
        pieces = list(self._within_deadline(lambda cancelled: self._exchange(messages, False, cancelled)))
        return self._answer(question, lang, passages, pieces)

    def stream(self, question: str, lang: str, passages: Sequence[ScoredChunk]) -> Iterator[str | Answer]:
        messages = self._messages(question, lang, passages)
        pieces = []
        for piece in self._within_deadline(lambda cancelled: self._exchange(messages, True, cancelled)):
            pieces.append(piece)
            if piece.text:
                yield piece.text
        yield self._answer(question, lang, passages, pieces)

    @staticmethod
    def _messages(question: str, lang: str, passages: Sequence[ScoredChunk]) -> list[dict[str, str]]:
        if not passages:
            raise UngroundedAnswerError("no passage was retrieved to answer from")
        return build_messages(question, lang, passages)

    def _answer(self, question: str, lang: str, passages: Sequence[ScoredChunk], pieces: Sequence[_Piece]) -> Answer:
        reply = "".join(p.text for p in pieces)
        if not reply.strip():
            raise GeneratorError(f"{self.llm.model} at {self.llm.base_url} returned an empty answer")
        checked = check_reply(reply, question, passages, lang)
        finish = next((p.finish_reason for p in reversed(pieces) if p.finish_reason), None)
        cut = (f"the LLM answer was cut at llm.max_tokens ({self.llm.max_tokens}); the last sentence may be incomplete"
               if finish == "length" else None)
        note = "; ".join(n for n in (cut, checked.note) if n) or None
        return Answer(question=question, answer=checked.text, mode="llm", lang=lang, citations=checked.citations,
                      passages=tuple(passages), note=note, unsupported_sentences=checked.unsupported_sentences)

    def _within_deadline(self, produce: Callable[[threading.Event], Iterator[_Piece]]) -> Iterator[_Piece]:
        """Pass on what `produce` yields in a worker thread, and give up at the deadline.

        httpx's timeouts apply per read, so a server that keeps sending could hold a plain loop forever;
        waiting on a queue with the remaining time cannot. An abandoned worker sees `cancelled` and closes
        its response; if it is blocked in a read, its own read timeout ends it.
        """
        items: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancelled = threading.Event()

        def work() -> None:
            try:
                for piece in produce(cancelled):
                    if cancelled.is_set():
                        return
                    items.put(("piece", piece))
                items.put(("end", None))
            except Exception as exc:  # noqa: BLE001 -- handed over to the caller's thread and raised there
                items.put(("error", exc))

        deadline = time.monotonic() + self.llm.timeout_s
        threading.Thread(target=work, name="rag-llm", daemon=True).start()
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise queue.Empty
                    kind, value = items.get(timeout=remaining)
                except queue.Empty:
                    raise GeneratorError(self._timeout_message()) from None
                if kind == "error":
                    raise value
                if kind == "end":
                    return
                yield value
        finally:
            cancelled.set()

    def _timeout_message(self) -> str:
        return (f"no complete answer from {self.llm.base_url} within {self.llm.timeout_s:g} s "
                "(raise llm.timeout_s, or use a smaller model)")

    def _exchange(self, messages: list[dict[str, str]], stream: bool, cancelled: threading.Event) -> Iterator[_Piece]:
        """One chat-completions request, retried once if the connection cannot be made; httpx errors become
        GeneratorError with a message a user can act on (and never the key)."""
        payload = {"model": self.llm.model, "messages": messages, "temperature": self.llm.temperature,
                   "max_tokens": self.llm.max_tokens, "stream": stream}
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in (1, 2):
            try:
                with self._client.stream("POST", self.url, json=payload, headers=headers) as response:
                    self._raise_for_status(response)
                    if stream and response.headers.get("content-type", "").startswith("text/event-stream"):
                        yield from self._events(response, cancelled)
                    else:  # also a server that ignores "stream": true and sends one JSON reply
                        yield self._completion(response)
                return
            except httpx.ConnectError as exc:
                if attempt == 2 or cancelled.is_set():
                    raise GeneratorError(self._redact(
                        f"cannot connect to {self.llm.base_url} ({exc}): is the LLM server running? "
                        "Start it, or set llm.base_url")) from exc
                log.info("cannot connect to %s (%s): retrying once", self.llm.base_url, exc)
                self._before_retry(cancelled)
            except httpx.TimeoutException as exc:
                raise GeneratorError(self._timeout_message()) from exc
            except httpx.InvalidURL as exc:  # not an HTTPError: a malformed llm.base_url ("host:port:/v1")
                raise GeneratorError(self._redact(
                    f"llm.base_url {self.llm.base_url!r} is not a valid URL ({exc}): "
                    "set it to the server's address, e.g. http://localhost:11434/v1")) from exc
            except httpx.HTTPError as exc:
                raise GeneratorError(self._redact(
                    f"the connection to {self.llm.base_url} failed: {type(exc).__name__}: {exc}")) from exc

    @staticmethod
    def _before_retry(cancelled: threading.Event) -> None:
        cancelled.wait(RETRY_PAUSE_S)

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = self._read(response).decode("utf-8", "replace")
        try:
            detail = json.loads(body)["error"]
            detail = detail.get("message", detail) if isinstance(detail, dict) else detail
        except (ValueError, KeyError, TypeError):
            detail = body
        hint = ""
        if response.status_code in (401, 403):
            hint = f" (check the API key in the environment variable {self.llm.api_key_env})"
        elif response.status_code == 404:
            hint = f" (check llm.base_url, which should end with /v1, and llm.model = {self.llm.model!r})"
        snippet = " ".join(str(detail).split())[:300]
        raise GeneratorError(self._redact(
            f"{self.llm.base_url} answered HTTP {response.status_code}: {snippet or response.reason_phrase}{hint}"))

    def _completion(self, response: httpx.Response) -> _Piece:
        try:
            reply = json.loads(self._read(response))
            choice = reply["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"{self.llm.base_url} sent a reply that is not a chat completion "
                                 f"({type(exc).__name__}: {str(exc)[:120]})") from exc
        if not isinstance(content, str):
            raise GeneratorError(f"{self.llm.model} at {self.llm.base_url} returned an empty answer")
        return _Piece(content, choice.get("finish_reason"))

    def _events(self, response: httpx.Response, cancelled: threading.Event) -> Iterator[_Piece]:
        """Server-sent events: `data: {chunk}` lines, then `data: [DONE]`."""
        finished = False
        for line in response.iter_lines():
            if cancelled.is_set():
                return
            if not line.startswith("data:"):
                continue  # blank separators, comments, "event:" and "id:" fields
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
                if "error" in event:
                    raise GeneratorError(self._redact(f"{self.llm.base_url} reported an error mid-answer: "
                                                      f"{str(event['error'])[:300]}"))
                choice = event["choices"][0] if event["choices"] else {}
                text = (choice.get("delta") or {}).get("content") or ""
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise GeneratorError(f"{self.llm.base_url} sent a streamed event that is not a chat completion "
                                     f"chunk ({type(exc).__name__})") from exc
            finish = choice.get("finish_reason")
            finished = finished or bool(finish)
            if text or finish:
                yield _Piece(text, finish)
        if not finished:
            raise GeneratorError(f"the stream from {self.llm.base_url} ended before the answer was complete")

    @staticmethod
    def _read(response: httpx.Response) -> bytes:
        body = bytearray()
        for data in response.iter_bytes():
            body += data
            if len(body) > MAX_REPLY_BYTES:
                raise GeneratorError(f"the reply was larger than {MAX_REPLY_BYTES} bytes")
        return bytes(body)

    def _redact(self, message: str) -> str:
        """A server could echo the request headers back; the key never reaches a message or a log."""
        return message.replace(self._api_key, "***") if self._api_key else message


def make_generator(config: RagConfig) -> OpenAIChatGenerator:
    """The generator for `config.llm`; building it opens no connection, so an absent server costs nothing."""
    return OpenAIChatGenerator(config.llm)
