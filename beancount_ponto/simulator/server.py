"""The HTTP layer of the simulator: a stdlib ThreadingHTTPServer in a thread.

Contract:

* :class:`SimHTTPServer` serves an :class:`~.api.Api` over HTTP/1.1 with
  keep-alive; each connection runs in a daemon thread. :meth:`SimHTTPServer.close_all`
  cuts every open connection (used on stop, so no keep-alive client keeps talking
  to a stopped simulator).
* Every answer carries ``Content-Type: application/json``, ``Content-Length`` and
  ``ibanity-request-id``; even malformed HTTP gets a JSON error (``send_error``
  is overridden). A ``drop`` response closes the socket without a byte.
* Bodies larger than 1 MiB or chunked bodies are refused (413/411) and the
  connection is closed.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator.messages import Request, Response, error_response

if TYPE_CHECKING:
    from beancount_ponto.simulator.api import Api

MAX_BODY = 1 << 20
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


class SimHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its API and its open connections."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host, port = self.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        if ":" in text:
            text = f"[{text}]"
        return f"http://{text}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then serve it in a thread."""
        if isinstance(request, socket.socket):
            with self._conns_lock:
                self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close the connection."""
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Cut every open client connection."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PontoSimulator/1.0"
    sys_version = ""
    timeout = 60
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: SimHTTPServer

    def version_string(self) -> str:
        """The ``Server`` header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (the simulator keeps its own request log)."""

    def _base(self) -> str:
        host = self.headers.get("Host", "")
        if not _HOST_RE.match(host):
            return self.server.base_url
        return f"http://{host}"

    def _read_body(self) -> bytes | Response:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return error_response(411, "lengthRequired", "Send a Content-Length, not chunks.")
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit():
            return error_response(400, "invalidRequest", "Invalid Content-Length.")
        length = int(raw)
        if length > MAX_BODY:
            return error_response(413, "payloadTooLarge", "The request body is too large.")
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        body = self._read_body()
        if isinstance(body, Response):
            self.close_connection = True
            self._send(body, request_id, close=True)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        req = Request(self.command, self.path, headers, body, self._base(), request_id)
        response = self.server.api.handle(req)
        if response.drop:
            self.close_connection = True
            return
        self._send(response, request_id)

    def _send(self, response: Response, request_id: str, close: bool = False) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("ibanity-request-id", request_id)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if close or self.command == "HEAD":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer malformed HTTP with a JSON error too, then close."""
        detail = message or explain or "Malformed request."
        if self.request_version == "HTTP/0.9":  # unparsable request line: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        response = error_response(code, "invalidRequest", detail)
        if code == 501:
            response = error_response(405, "methodNotAllowed", detail)
        self.close_connection = True
        self._send(response, str(uuid.uuid4()), close=True)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_OPTIONS = _serve
    do_HEAD = _serve
