"""A real `chroma run` server for tests: a loopback port, a persist directory of its own, stopped afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMA = str(Path(sys.executable).parent / "chroma")


class ChromaServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        command = [CHROMA, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("chroma run did not start within 60 s")
                time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
            self._proc = None

    def vacuum(self) -> None:
        """`chroma vacuum` on the stopped server's directory, as its documentation recommends."""
        done = subprocess.run([CHROMA, "vacuum", "--path", str(self.path), "--force"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"chroma vacuum failed: {done.stderr.strip() or done.stdout.strip()}")
