"""Fakes that speak real interfaces: a loopback OpenAI-compatible HTTP server (embeddings and chat)."""

from __future__ import annotations

import base64
import json
import string
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator

import numpy as np


def letter_vector(text: str) -> list[float]:
    """26 dims: how often each letter a-z occurs. Easy to check by eye."""
    lower = text.lower()
    return [float(lower.count(c)) for c in string.ascii_lowercase]


@dataclass
class Reply:
    """What the fake chat endpoint does for one request: wait, then answer `status` with `content`.

    `raw` replaces the whole body (to send a broken payload); `echo_key` puts the
    request's Authorization header into an error message, as careless servers do.
    """

    content: str | None = None  # None: echo the last user message as "echo: ..."
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    echo_key: bool = False


class OpenAIHandler(BaseHTTPRequestHandler):
    """POST /v1/embeddings (letter-count vectors) and /v1/chat/completions (scripted replies, streaming too)."""

    requests: list[dict] = []
    replies: list[Reply] = []  # consumed in order; when empty, chat echoes

    @classmethod
    def enqueue(cls, *replies: Reply) -> None:
        cls.replies.extend(replies)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path.endswith("/chat/completions"):
            return self._chat(body)
        if not self.path.endswith("/embeddings"):
            return self._send(404, {"error": {"message": "not found"}})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": self._encode(letter_vector(t), body)} for i, t in enumerate(inputs)]
        self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}})

    def _chat(self, body: dict) -> None:
        reply = type(self).replies.pop(0) if type(self).replies else Reply()
        time.sleep(reply.delay)
        if reply.status != 200:
            detail = f"rejected {self.headers.get('Authorization')}" if reply.echo_key else f"status {reply.status}"
            return self._send(reply.status, {"error": {"message": detail, "type": "fake_error", "code": reply.status}})
        if reply.raw is not None:
            return self._send_bytes(200, reply.raw, "application/json")
        text = reply.content if reply.content is not None else "echo: " + str(body["messages"][-1]["content"])
        if body.get("stream"):
            return self._stream(body["model"], text)
        usage = {"prompt_tokens": 5, "completion_tokens": len(text.split()), "total_tokens": 5 + len(text.split())}
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        self._send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice], "usage": usage})

    def _stream(self, model: str, text: str) -> None:
        # Server-sent events, one word per chunk, as the OpenAI API streams.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1][:-1]
        for word in [*words, None]:
            delta = {"content": word} if word is not None else {}
            choice = {"index": 0, "delta": delta, "finish_reason": None if word is not None else "stop"}
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    @staticmethod
    def _encode(vector: list[float], body: dict):
        if body.get("encoding_format") == "base64":
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return vector

    def _send(self, status: int, payload: dict) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, raw: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def openai_server() -> Iterator[str]:
    """A loopback server; yields its `api_base` (http://127.0.0.1:PORT/v1)."""
    OpenAIHandler.requests = []
    OpenAIHandler.replies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAIHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
