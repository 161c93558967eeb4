"""A loopback Alyx for the tests: the REST endpoints ONE 3 calls in remote mode, over sessions on disk.

Started by the tests on 127.0.0.1, in a thread. It answers what ``one.api.OneAlyx`` asks
of an Alyx 3 server for the sessions it serves:

* ``POST /auth-token`` (username and password) -> a token; every other request needs it;
* ``GET /api/schema``: an OpenAPI description of the endpoints below (ONE reads it first);
* ``GET /sessions/<eid>``: the session with its datasets (``data_dataset_session_related``),
  each with its ``data_url`` on the data server (``<root>/<session>/<collection>/<name>.<uuid>.<ext>``);
* ``GET /sessions?id=<eid>`` (and ``subject``, ``date_range``, ``number``): the sessions' records;
* anything else (``cache/info``, ``data-repository``...): 404, as a server without them.

The data server is a :class:`tests.httpserver.FileServer` (with basic auth) over a folder
this module fills with each dataset under its uuid name.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from iblutil.io.hashfile import md5  # the hash Alyx records, as ONE checks it

USER, PASSWORD, TOKEN = "alyx_user", "alyx-pw", "t0k3n-1234"
_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

#: The endpoints ONE validates its queries against.
_SCHEMA = {"openapi": "3.0.3", "info": {"title": "Alyx (tests)", "version": "3"},
           "paths": {"/sessions": {"get": {"parameters": [{"name": n, "in": "query"} for n in (
               "id", "subject", "lab", "date_range", "number", "task_protocol", "projects", "django")]}},
                     "/sessions/{id}": {"get": {"parameters": [{"name": "id", "in": "path"}]}},
                     "/datasets": {"get": {"parameters": [{"name": n, "in": "query"} for n in (
                         "session", "name", "collection", "django")]}}},
           "components": {"schemas": {}}}


class Sessions:
    """The sessions an :class:`AlyxServer` serves: ``{eid: session folder}`` under a ONE-layout root."""

    def __init__(self, root: Path, sessions: dict[str, str], served: Path, data_url: str):
        self.root, self.served, self.data_url = Path(root), Path(served), data_url.rstrip("/")
        self.records = {eid: self._record(eid, rel) for eid, rel in sessions.items()}

    def _record(self, eid: str, rel: str) -> dict:
        lab, _, subject, date, number = rel.split("/")
        folder = self.root / rel
        datasets = []
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel_file = f.relative_to(folder).as_posix()
            did = str(uuid.uuid5(_NAMESPACE, f"{eid}/{rel_file}"))
            stem, dot, ext = f.name.rpartition(".")
            served_name = f"{stem}.{did}.{ext}" if dot else f"{f.name}.{did}"
            target = self.served / rel / Path(rel_file).parent / served_name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.link(f, target)
            collection = Path(rel_file).parent.as_posix()
            datasets.append({
                "id": did, "name": f.name, "dataset_type": f.name.split(".")[0] + "." + f.name.split(".")[1]
                if f.name.count(".") >= 2 else f.name,
                "collection": "" if collection == "." else collection, "revision": None,
                "file_size": f.stat().st_size, "hash": md5(f), "qc": "NOT_SET", "default_revision": "True",
                "version": "1", "data_url": f"{self.data_url}/{rel}/{Path(rel_file).parent / served_name}".replace(
                    "/./", "/"),
                "url": f"http://alyx/datasets/{did}",
            })
        return {"id": eid, "url": f"http://alyx/sessions/{eid}", "subject": subject, "lab": lab,
                "start_time": f"{date}T12:00:00", "number": int(number), "task_protocol": "ephysChoiceWorld",
                "projects": ["ibl_neuropixel_brainwide_01"], "users": [USER], "type": "Experiment",
                "data_dataset_session_related": datasets}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sessions: Sessions = None  # set per server
    requests: list = []

    def log_message(self, *args):
        pass

    def _json(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self.requests.append(("POST", self.path))
        if self.path.rstrip("/") != "/auth-token":
            return self._json(404, {"detail": "Not found."})
        if form.get("username") == [USER] and form.get("password") == [PASSWORD]:
            return self._json(200, {"token": TOKEN})
        return self._json(400, {"non_field_errors": ["Unable to log in with provided credentials."]})

    def do_GET(self):
        self.requests.append(("GET", self.path))
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path.rstrip("/"), urllib.parse.parse_qs(url.query)
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            return self._json(401, {"detail": "Authentication credentials were not provided."})
        if path in ("/api/schema", "/docs"):
            return self._json(200, _SCHEMA)
        records = self.sessions.records
        m = re.match(r"^/sessions/([0-9a-f-]{36})$", path)
        if m:
            rec = records.get(m.group(1))
            return self._json(200, rec) if rec else self._json(404, {"detail": "Not found."})
        if path == "/sessions":
            found = [r for r in records.values() if _matches(r, query)]
            return self._json(200, [{k: v for k, v in r.items() if k != "data_dataset_session_related"}
                                    for r in found])
        if path == "/datasets":  # the datasets endpoint's records (ONE's path2url, list_aggregates)
            found = []
            for rec in records.values():
                if "session" in query and rec["id"] != query["session"][0]:
                    continue
                for d in rec["data_dataset_session_related"]:
                    if "name" in query and d["name"] != query["name"][0]:
                        continue
                    if "collection" in query and d["collection"] != query["collection"][0]:
                        continue
                    found.append({**d, "session": rec["url"], "default_dataset": True,
                                  "file_records": [{"data_url": d["data_url"], "exists": True,
                                                    "data_repository": "tests"}]})
            return self._json(200, found)
        return self._json(404, {"detail": "Not found."})


def _matches(rec: dict, query: dict) -> bool:
    if "id" in query and rec["id"] not in query["id"][0].split(","):
        return False
    if "subject" in query and rec["subject"] != query["subject"][0]:
        return False
    if "number" in query and rec["number"] != int(query["number"][0]):
        return False
    if "date_range" in query:
        a, b = query["date_range"][0].split(",")
        if not a <= rec["start_time"][:10] <= b:
            return False
    return True


class AlyxServer:
    """Serve ``sessions`` (a :class:`Sessions`) as an Alyx on 127.0.0.1 until :meth:`close`."""

    def __init__(self, sessions: Sessions):
        handler = type("Handler", (_Handler,), {"sessions": sessions, "requests": []})
        self.handler = handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list:
        """(method, path) of every request so far."""
        return self.handler.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
