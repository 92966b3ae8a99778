"""A minimal HTTP/1.1 keep-alive client: one connection per simulated user.

The load and the server share two cores, so the client must cost little: httpx spends
more CPU per request than the server does. This speaks just enough HTTP/1.1 for the
wrapped host app (content-length or chunked bodies, keep-alive).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from typing import Any

# A request not answered within this long is a failure of the run (a transport error), not
# a wait: a worker that stops answering must fail the gate, not hang it.
ANSWER_TIMEOUT = 10.0


class WireError(Exception):
    """The connection broke, the server answered something this client cannot read, or it
    did not answer within ANSWER_TIMEOUT."""


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, actor: str, json: Any = None) -> tuple[int, bytes, str]:
        """(status, body, content type)."""
        body = b"" if json is None else jsonlib.dumps(json).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: soak\r\nx-account-id: {actor}\r\n"
            + (f"content-type: application/json\r\ncontent-length: {len(body)}\r\n" if json is not None else "")
            + "\r\n"
        )
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(*self._address)
                self._writer.write(head.encode() + body)
                await self._writer.drain()
                return await self._response()
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:  # TimeoutError is an OSError
            await self.close()
            raise WireError(f"{exc.__class__.__name__}: {exc}") from exc

    async def _response(self) -> tuple[int, bytes, str]:
        assert self._reader is not None
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            chunks = []
            while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            await self._reader.readexactly(2)
            content = b"".join(chunks)
        else:
            content = await self._reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, content, headers.get(b"content-type", b"").decode("latin-1")

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
