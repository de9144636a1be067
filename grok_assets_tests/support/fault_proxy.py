"""A fault-injecting HTTP proxy between boto3 and the loopback S3 server.

Faults injected here reach boto3 (and pyarrow, which reads through the store's
ranged GETs) as real network events: refused connections, connections reset in the
middle of a body, error answers, bodies altered in flight, requests that never come
back. Nothing in-process is patched.

Requests are matched against a scriptable list of :class:`Rule` objects (method,
path regex, which matching request); the first rule that applies decides the
request's fate. Unmatched requests are forwarded unchanged.

Two behaviours of real S3 that moto 5.2.5 lacks are supplied here, on the server
side of the proxy (after any in-flight fault), because the pipeline's protections
depend on them:

- ``Content-MD5`` verification: S3 answers ``400 BadDigest`` when the body it
  received does not match the ``Content-MD5`` header; moto does not check it
  (checked: moto 5.2.5 has no BadDigest anywhere).
- atomic conditional writes: moto checks ``If-Match``/``If-None-Match`` and then
  writes in two steps with no lock, so two racing conditional PUTs can both pass;
  S3 decides them atomically. Writes are therefore forwarded one at a time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

# What a matching request suffers.
PASS = "pass"  # forward unchanged (useful to count requests)
STATUS = "status"  # answer with an S3 error (status, code) without forwarding
RESET_REQUEST = "reset_request"  # read half the request body, then reset the connection
RESET_RESPONSE = "reset_response"  # forward, send half the response body, then reset
REFUSE = "refuse"  # reset this connection and refuse new ones for `refuse_seconds`
MUTATE = "mutate"  # flip a byte of the request body in flight
MUTATE_RESPONSE = "mutate_response"  # flip a byte of the response body in flight
STRIP_CONDITIONS = "strip_conditions"  # drop If-Match / If-None-Match: an ignoring store
HANG = "hang"  # hold the request until released, then drop it unforwarded
FORWARD_THEN_HANG = "forward_then_hang"  # forward it, then hold the answer and drop it
FORWARD_THEN_RESET = "forward_then_reset"  # forward it, then reset: the answer is lost
BARRIER = "barrier"  # hold matching requests until `parties` arrived, then forward
HOLD = "hold"  # hold the request until `wait_for` is set (or the timeout), then forward
CUT = "cut"  # from this request on, answer 403 to everything: the client is "gone"

S3_ERRORS = {
    "SlowDown": (503, "Please reduce your request rate."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "AccessDenied": (403, "Access Denied"),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
}

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Request:
    """One request as the proxy saw it, and what it did with it."""

    method: str
    path: str  # URL path, unquoted, without the query
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    action: str = PASS
    status: int | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "POST", "DELETE")


@dataclass
class Rule:
    """``action`` for the requests matching ``method`` and ``path`` (a regex searched in
    the unquoted path), skipping the first ``skip`` matches and then applying to
    ``times`` of them (None: to all)."""

    action: str
    method: str | None = None
    path: str | None = None
    when: Callable[[Request], bool] | None = None
    skip: int = 0
    times: int | None = 1
    code: str = "SlowDown"  # for STATUS
    refuse_seconds: float = 1.0  # for REFUSE
    parties: int = 2  # for BARRIER
    timeout: float = 30.0  # for HANG / BARRIER: never hold forever
    # Set by the proxy: how many requests matched, and how many the rule acted on.
    seen: int = 0
    applied: int = 0
    wait_for: threading.Event | None = None  # for HOLD
    # Set by the proxy: when a request matched, and when its answer was sent.
    hit: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _waiting: list[threading.Event] = field(default_factory=list)

    def matches(self, request: Request) -> bool:
        if self.method is not None and request.method != self.method:
            return False
        if self.path is not None and re.search(self.path, request.path) is None:
            return False
        return self.when is None or self.when(request)


class _Reset(Exception):
    """The connection was reset on purpose; stop serving it."""


def s3_error_body(code: str, message: str, resource: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0) rather than a FIN: a reset, not an end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _flip(data: bytes) -> bytes:
    if not data:
        return data
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


class FaultProxy:
    """A threaded HTTP/1.1 proxy in front of ``upstream`` (an ``http://host:port`` URL)."""

    def __init__(
        self,
        upstream: str,
        *,
        verify_content_md5: bool = True,
        serialize_writes: bool = True,
    ) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.verify_content_md5 = verify_content_md5
        self.serialize_writes = serialize_writes
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting = threading.Event()
        self._stopped = threading.Event()
        self._cut = threading.Event()
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for rule in self.rules:
            rule.release.set()
        self._close_listener()
        self._drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting.set()

    def _close_listener(self) -> None:
        self._accepting.clear()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()

    def _drop_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            _reset(connection)

    def refuse(self, seconds: float | None) -> None:
        """Refuse connections (nothing listens on the port) for ``seconds``, or until
        :meth:`accept_again` when None; open connections are reset too, so that a
        pooled keep-alive connection cannot dodge the outage."""
        self._close_listener()
        self._drop_connections()
        if seconds is not None:
            timer = threading.Timer(seconds, self.accept_again)
            timer.daemon = True
            timer.start()

    def accept_again(self) -> None:
        if not self._stopped.is_set() and self._listener is None:
            self._listen()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            connection.settimeout(None)
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    # -- rules ----------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule, releasing whatever they hold, and end any cut-off."""
        with self._lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.release.set()
        self._cut.clear()

    def _choose(self, request: Request) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(request):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.times is not None and rule.applied >= rule.times:
                    continue
                rule.applied += 1
                return rule
        return None

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(
                (method is None or r.method == method)
                and (path is None or re.search(path, r.path) is not None)
                for r in self.requests
            )

    def actions(self) -> Counter[str]:
        with self._lock:
            return Counter(r.action for r in self.requests if r.action != PASS)

    # -- serving --------------------------------------------------------------------

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            while not self._stopped.is_set():
                request = self._read_request(connection, reader)
                if request is None:
                    break
                with self._lock:
                    self.requests.append(request)
                keep_alive = self._handle(connection, request)
                if not keep_alive:
                    break
        except (_Reset, OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                reader.close()
            with contextlib.suppress(OSError):
                connection.close()

    def _read_request(self, connection: socket.socket, reader: BinaryIO) -> Request | None:
        readline = reader.readline
        line = readline(65537)
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            header = readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.pop("expect", "").lower() == "100-continue":
            # botocore asks before sending a large body and would otherwise wait a
            # second for this; the expectation is settled here, not upstream.
            connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(reader)
        elif int(headers.get("content-length") or 0):
            body = reader.read(int(headers["content-length"]))
        split = urlsplit(target)
        return Request(method, unquote(split.path), split.query, headers, body)

    @staticmethod
    def _read_chunked(reader: BinaryIO) -> bytes:
        chunks = []
        while True:
            size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(reader.read(size))
            reader.readline()

    def _handle(self, connection: socket.socket, request: Request) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        if self._cut.is_set():
            request.action = CUT
            return self._error(connection, request, "AccessDenied")
        rule = self._choose(request)
        action = rule.action if rule is not None else PASS
        request.action = action
        if rule is not None:
            rule.hit.set()
        if action == STATUS:
            assert rule is not None
            return self._error(connection, request, rule.code)
        if action == CUT:
            self._cut.set()
            return self._error(connection, request, "AccessDenied")
        if action == RESET_REQUEST:
            # The client has sent the whole body by now; resetting before any answer is
            # what it sees when the connection dies mid-upload.
            _reset(connection)
            raise _Reset
        if action == REFUSE:
            assert rule is not None
            _reset(connection)
            self.refuse(rule.refuse_seconds)
            raise _Reset
        if action == HANG:
            assert rule is not None
            rule.release.wait(rule.timeout)
            _reset(connection)
            raise _Reset
        if action == BARRIER:
            assert rule is not None
            self._barrier(rule)
        if action == HOLD:
            assert rule is not None
            (rule.wait_for or rule.release).wait(rule.timeout)
        if action == MUTATE:
            request.body = _flip(request.body)
        if action == STRIP_CONDITIONS:
            request.headers.pop("if-match", None)
            request.headers.pop("if-none-match", None)
        if self.verify_content_md5 and not self._content_md5_holds(request):
            return self._error(connection, request, "BadDigest")
        status, reason, headers, body = self._forward(request)
        request.status = status
        if action == FORWARD_THEN_HANG:
            assert rule is not None
            rule.release.wait(rule.timeout)
            _reset(connection)
            raise _Reset
        if action == FORWARD_THEN_RESET:
            _reset(connection)
            raise _Reset
        if action == MUTATE_RESPONSE:
            body = _flip(body)
        if action == RESET_RESPONSE:
            # The full length is announced, half the body arrives, then the reset.
            self._send(connection, request, status, reason, headers, body, cut_at=len(body) // 2)
            _reset(connection)
            raise _Reset
        self._send(connection, request, status, reason, headers, body)
        if rule is not None:
            rule.done.set()
        return request.header("connection") != "close"

    def _barrier(self, rule: Rule) -> None:
        """Hold until ``rule.parties`` requests arrived, then let them go one by one in
        arrival order (each waits for the previous one's answer via the write lock)."""
        arrived = threading.Event()
        with self._lock:
            rule._waiting.append(arrived)
            if len(rule._waiting) >= rule.parties:
                for waiting in rule._waiting:
                    waiting.set()
        arrived.wait(rule.timeout)

    def _content_md5_holds(self, request: Request) -> bool:
        sent = request.header("content-md5")
        if sent is None or request.method not in ("PUT", "POST"):
            return True
        return sent == base64.b64encode(hashlib.md5(request.body).digest()).decode("ascii")

    def _forward(self, request: Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        lock = self._write_lock if self.serialize_writes and request.is_write else None
        with lock or contextlib.nullcontext():
            upstream = http.client.HTTPConnection(*self._upstream, timeout=60)
            try:
                target = request.path if not request.query else f"{request.path}?{request.query}"
                # Re-quote only what http.client cannot send raw.
                target = target.replace(" ", "%20")
                upstream.putrequest(
                    request.method, target, skip_host=True, skip_accept_encoding=True
                )
                for name, value in request.headers.items():
                    if name in _HOP_BY_HOP or name == "content-length":
                        continue
                    upstream.putheader(name, value)
                if request.body or request.method in ("PUT", "POST"):
                    upstream.putheader("content-length", str(len(request.body)))
                upstream.endheaders(request.body or None)
                response = upstream.getresponse()
                body = response.read()
                return response.status, response.reason, response.getheaders(), body
            finally:
                upstream.close()

    def _send(
        self,
        connection: socket.socket,
        request: Request,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
        cut_at: int | None = None,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}"]
        for name, value in headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                continue
            if lowered == "content-length" and request.method != "HEAD":
                continue
            lines.append(f"{name}: {value}")
        if request.method != "HEAD":
            lines.append(f"Content-Length: {len(body) if status != 304 else 0}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = body if request.method != "HEAD" else b""
        connection.sendall(head + (payload if cut_at is None else payload[:cut_at]))

    def _error(self, connection: socket.socket, request: Request, code: str) -> bool:
        status, message = S3_ERRORS[code]
        request.status = status
        body = s3_error_body(code, message, request.path)
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", "fault-proxy")]
        if request.method == "HEAD":
            headers.append(("Content-Length", "0"))
        self._send(connection, request, status, "Fault", headers, body)
        return request.header("connection") != "close"


@contextlib.contextmanager
def fault_proxy(upstream: str, **options: bool) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, **options)
    with proxy:
        yield proxy
