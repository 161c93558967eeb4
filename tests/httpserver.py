"""A real HTTP file server for the tests: Range requests, basic auth, fault injection.

Bound to 127.0.0.1 on a free port, run in a thread. Paths:

* ``/files/<name>``: the file, Range supported, ETag from size and mtime;
* ``/private/<name>``: the same behind basic auth (``USER`` / ``PASSWORD``);
* ``/redirect/<name>``: a 302 to ``/files/<name>``;
* ``/fault/<kind>/<name>``: the first request for each byte range misbehaves:
  ``drop`` sends the headers and half the body then closes the connection,
  ``500`` answers 500, ``slow`` stalls past the client's read timeout;
  ``always500`` fails every request; ``norange`` ignores Range and sends the whole file (200);
  ``alt503`` answers every second request 503 with a 4 KiB body, keeping the connection alive.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USER, PASSWORD = "alyx", "s3cret-pw"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as production servers: no 40 ms delayed-ACK stalls
    root: Path = Path(".")
    seen: set = set()
    lock = threading.Lock()
    slow_seconds = 30.0
    sent = [0]  # body bytes sent, for benchmarks
    counts = [0]  # requests of the alt503 fault

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/redirect/"):  # a data server that moved the file
            return self._plain(302, {"Location": "/files/" + self.path[len("/redirect/"):]})
        m = re.match(r"^/(files|private|fault/(\w+))/(.+)$", self.path)
        if not m:
            return self._plain(404)
        area, kind, name = m.group(1), m.group(2), m.group(3)
        if area == "private":
            expect = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expect:
                return self._plain(401, {"WWW-Authenticate": 'Basic realm="data"'})
        path = self.root / name
        if not path.is_file():
            return self._plain(404)
        size = path.stat().st_size
        start, stop = 0, size - 1
        rng = self.headers.get("Range") if kind != "norange" else None
        if rng:
            r = re.match(r"bytes=(\d*)-(\d*)$", rng)
            if not r:
                return self._plain(416)
            if r.group(1):
                start = int(r.group(1))
                stop = int(r.group(2)) if r.group(2) else size - 1
            else:
                start, stop = size - int(r.group(2)), size - 1
            stop = min(stop, size - 1)
            if start > stop:
                return self._plain(416, {"Content-Range": f"bytes */{size}"})
        first = False
        if kind:
            key = (kind, name, start, stop)
            with self.lock:
                first = key not in self.seen
                self.seen.add(key)
        if kind == "always500" or (kind == "500" and first):
            return self._plain(500)
        if kind == "alt503":
            with self.lock:
                self.counts[0] += 1
                fail = self.counts[0] % 2 == 0
            if fail:
                return self._plain(503, body=b"busy, try again\n" * 256)
        if kind == "slow" and first:
            time.sleep(self.slow_seconds)
        with open(path, "rb") as fid:
            fid.seek(start)
            body = fid.read(stop - start + 1)
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{size}-{path.stat().st_mtime_ns}"')
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        self.end_headers()
        if kind == "drop" and first and len(body) > 1:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        for k in range(0, len(body), 1 << 16):  # count what the client really received
            self.wfile.write(body[k:k + (1 << 16)])
            self.sent[0] += len(body[k:k + (1 << 16)])

    def _plain(self, code, headers=None, body=None):
        body = f"{code}\n".encode() if body is None else body
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that stop reading mid-body (OpenCV, fault tests) are expected


class FileServer:
    """Serve ``root`` on 127.0.0.1 until :meth:`close`."""

    def __init__(self, root, slow_seconds: float = 30.0):
        handler = type("Handler", (_Handler,), {"root": Path(root), "seen": set(), "lock": threading.Lock(),
                                                 "slow_seconds": slow_seconds, "sent": [0], "counts": [0]})
        self.handler = handler
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str, area: str = "files", auth: bool = False) -> str:
        cred = f"{USER}:{PASSWORD}@" if auth else ""
        return f"http://{cred}127.0.0.1:{self.port}/{area}/{os.fspath(name)}"

    @property
    def bytes_sent(self) -> int:
        """Body bytes served so far."""
        return self.handler.sent[0]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
