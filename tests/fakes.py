"""Fakes that speak real interfaces: a loopback OpenAI-compatible HTTP server."""

from __future__ import annotations

import base64
import json
import string
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator

import numpy as np


def letter_vector(text: str) -> list[float]:
    """26 dims: how often each letter a-z occurs. Easy to check by eye."""
    lower = text.lower()
    return [float(lower.count(c)) for c in string.ascii_lowercase]


class OpenAIHandler(BaseHTTPRequestHandler):
    """POST /v1/embeddings answered with letter-count vectors, as the OpenAI API shapes them."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if not self.path.endswith("/embeddings"):
            return self._send(404, {"error": {"message": "not found"}})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": self._encode(letter_vector(t), body)} for i, t in enumerate(inputs)]
        self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}})

    @staticmethod
    def _encode(vector: list[float], body: dict):
        if body.get("encoding_format") == "base64":
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return vector

    def _send(self, status: int, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def openai_server() -> Iterator[str]:
    """A loopback server; yields its `api_base` (http://127.0.0.1:PORT/v1)."""
    OpenAIHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAIHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
