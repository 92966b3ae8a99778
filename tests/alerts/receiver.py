"""A real HTTP webhook receiver on a loopback port, small enough to read: it checks the
signature, and remembers every delivery it accepted."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field

from safe_accounts.alerts.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebhookReceiver:
    port: int
    secret: bytes
    now: float
    accepted: list[dict] = field(default_factory=list)  # type: ignore[type-arg]
    keys: list[str] = field(default_factory=list)
    forged: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alerts"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                genuine = verify(
                    self.secret,
                    timestamp=headers.get(TIMESTAMP_HEADER.lower(), ""),
                    signature=headers.get(SIGNATURE_HEADER.lower(), ""),
                    body=body,
                    now=self.now,
                )
                if genuine:
                    self.keys.append(headers[IDEMPOTENCY_HEADER.lower()])
                    self.accepted.append(json.loads(body))
                    status = b"204 No Content"
                else:
                    self.forged += 1
                    status = b"401 Unauthorized"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()
