"""Read videos from HTTP(S) data servers and S3 object stores with Range requests, a block cache and retries.

Only the bytes needed are fetched: the container's index (the mp4 ``moov`` box) and
the keyframe groups being decoded. Failures are retried with backoff (connection
resets, timeouts, 5xx); a read that cannot complete raises
:class:`~ibl_xvideo.errors.RemoteError` and never returns partial data. Credentials
(in the URL, or in ``storage_options``) are kept out of every message, repr and attribute.

How a URL is read (its credentials, timeouts and retry policy) is a :class:`Transport`:
a small frozen record that travels with the index to the Dask workers. Nothing about
a URL is remembered by the process beyond its fetched blocks (in the package's byte cache, :mod:`ibl_xvideo._shared`).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import urllib3

from .._shared import CACHE, after_fork_in_child
from ..errors import InvalidOptionError, RemoteError, SourceChangedError, VideoNotFoundError, XVideoError
from .fileio import SeekableRaw

__all__ = ["HTTPRangeFile", "download", "split_auth", "is_url", "Transport", "Retry", "http_location",
           "transport_options", "as_transport", "S3_OPTIONS", "RemoteAuthError", "RemoteNotFoundError", "STATS",
           "probe", "is_s3", "s3_location", "S3Credentials", "redact", "redact_text", "check_literal"]

_log = logging.getLogger(__name__)


class RemoteAuthError(RemoteError, PermissionError):
    """The server refused the credentials (HTTP 401 or 403)."""


class RemoteNotFoundError(RemoteError, VideoNotFoundError):
    """The server has no such file (HTTP 404)."""


def is_url(x) -> bool:
    """True for an http(s) URL string."""
    return isinstance(x, str) and re.match(r"^https?://", x, re.I) is not None


#: Query parameters whose values are secrets (pre-signed URLs, tokens): never shown.
_SECRET_PARAM = re.compile(r"signature|credential|token|secret|password|passwd|key", re.I)


def redact(url):
    """``url`` with no secret in it, to show or store: user and password dropped, secret query values hidden.

    Anything that is not a URL string is returned as it is.
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode([(k, "REDACTED" if _SECRET_PARAM.search(k) else v) for k, v in pairs])
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` (a message, a log line) with the credentials of every URL in it removed."""
    return re.sub(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", lambda m: redact(m.group(0)), str(text), flags=re.I)


def check_literal(url: str, path: str) -> None:
    """Refuse a URL or object key whose path an HTTP client would resolve to another object.

    ``.`` and ``..`` segments (also percent-encoded) and empty segments are collapsed by
    HTTP clients and servers: ``s3://pub/../other/x.mp4`` would read bucket ``other``.
    """
    segments = urllib.parse.unquote(path).split("/")
    inner = segments[1:-1] if path.startswith("/") else segments[:-1]
    if any(s in (".", "..") for s in segments) or "" in inner:
        raise InvalidOptionError(
            f"{redact(url)}: its path has '.', '..' or empty segments, which a server would resolve to another "
            "object than the one named; give the object's path as it is stored.")


def split_auth(url: str, auth=None) -> tuple[str, tuple[str, str] | None]:
    """``(url without credentials, (user, password) or None)``; explicit ``auth`` wins."""
    clean, found = _split(url, auth)
    check_literal(clean, urllib.parse.urlsplit(clean).path)
    return clean, found


def _split(url: str, auth=None):
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        if auth is None and parts.username not in (None, "None"):
            auth = (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url, (_as_auth(auth) if auth else None)


def _as_auth(auth):
    """Basic-auth credentials as a (user, password) tuple; S3 credentials as they are."""
    return auth if isinstance(auth, S3Credentials) else tuple(auth)


def is_s3(x) -> bool:
    """True for an ``s3://bucket/key`` URL string."""
    return isinstance(x, str) and re.match(r"^s3://[^/]+/.", x, re.I) is not None


class S3Credentials:
    """AWS credentials that sign each request (Signature Version 4, by botocore); never shown.

    Picklable, so that they travel with Dask tasks to the workers; ``repr`` shows the
    first characters of the access key only.
    """

    def __init__(self, key: str, secret: str, token: str | None = None, region: str = "us-east-1"):
        self.key, self._secret, self._token, self.region = key, secret, token, region

    def __repr__(self) -> str:
        return f"S3Credentials(key={self.key[:4]}..., region={self.region!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, S3Credentials) and (self.key, self._secret, self._token, self.region) == \
            (other.key, other._secret, other._token, other.region)

    def __hash__(self) -> int:
        return hash((self.key, self.region))

    def sign(self, method: str, url: str, headers: dict) -> dict:
        """``headers`` with the AWS SigV4 signature of a ``method`` request of ``url``."""
        try:
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError as exc:
            raise RemoteAuthError("Reading s3:// with keys needs botocore: pip install botocore (or pass "
                                  "storage_options={'anon': True} for a public bucket).") from exc
        request = AWSRequest(method=method, url=url, headers=headers)
        S3SigV4Auth(Credentials(self.key, self._secret, self._token), "s3", self.region).add_auth(request)
        return dict(request.headers.items())


#: The options of an ``s3://`` object's ``storage_options`` beyond the retry policy (as s3fs's).
S3_OPTIONS = ("anon", "key", "secret", "token", "profile", "endpoint_url", "region_name", "client_kwargs")


def s3_location(url: str, storage_options: dict | None = None) -> tuple[str, Transport]:
    """The HTTPS URL of an ``s3://bucket/key`` object, and the :class:`Transport` that reads it.

    ``storage_options`` as fsspec's s3fs takes them: ``anon`` (True: no signature),
    ``key``, ``secret``, ``token``, ``profile``, ``endpoint_url`` and ``region_name`` (also
    inside ``client_kwargs``); and the retry policy as for http(s): ``timeout``,
    ``retries``, ``backoff``. Without keys there, they come from botocore's credential
    chain (:func:`_chain_credentials`: the environment, an AWS profile, an SSO login, a
    container's or an instance's role); without any, requests are anonymous (a public
    bucket, as IBL's).
    """
    opts = dict(storage_options or {})
    client = dict(opts.pop("client_kwargs", None) or {})
    unknown = set(opts) - {*S3_OPTIONS, *RETRY_OPTIONS} - {"client_kwargs"}
    if unknown:
        raise InvalidOptionError(f"storage_options for s3:// take anon, key, secret, token, profile, endpoint_url, "
                                 f"region_name, client_kwargs, timeout, retries and backoff; not {sorted(unknown)}.")
    retry = _retry_from(opts)
    bucket, _, key = url[len("s3://"):].partition("/")
    check_literal(url, key)
    endpoint = opts.get("endpoint_url") or client.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    region = opts.get("region_name") or client.get("region_name") or os.environ.get("AWS_REGION") or "us-east-1"
    quoted = urllib.parse.quote(key)
    if endpoint:
        https = f"{endpoint.rstrip('/')}/{bucket}/{quoted}"
    else:
        host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
        https = f"https://{bucket}.{host}/{quoted}"
    if opts.get("anon"):
        return https, Transport(None, retry)
    if opts.get("key") and opts.get("secret"):
        token = opts.get("token")
    else:
        found = _chain_credentials(opts.get("profile"))
        if found is None:
            return https, Transport(None, retry)
        key_id, secret, token = found
        return https, Transport(S3Credentials(key_id, secret, token, region), retry)
    return https, Transport(S3Credentials(opts["key"], opts["secret"], token, region), retry)


def _chain_credentials(profile: str | None):
    """``(key, secret, token)`` as the AWS tools find them; None when there are none (anonymous reads).

    botocore's credential chain: the environment (``AWS_ACCESS_KEY_ID`` ...), the profile
    (``profile=``, else ``AWS_PROFILE``, else ``default``) in the shared credentials and
    config files (``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_CONFIG_FILE``, ``~/.aws``) with its
    assumed roles, SSO and credential processes, then a container's or an EC2 instance's
    role (``AWS_EC2_METADATA_DISABLED=true`` skips the instance metadata query).
    """
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError, ProfileNotFound
    except ImportError:
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:  # signing will say that botocore is needed
            return key, secret, os.environ.get("AWS_SESSION_TOKEN")
        if profile or os.environ.get("AWS_PROFILE"):
            raise RemoteAuthError("Reading s3:// with an AWS profile needs botocore: pip install botocore.") from None
        return None
    try:
        creds = botocore.session.Session(profile=profile).get_credentials()
    except ProfileNotFound as exc:
        raise InvalidOptionError(f"The AWS profile {exc.kwargs.get('profile')!r} is in neither the credentials nor "
                                 "the config file: check storage_options' profile= or AWS_PROFILE.") from None
    except BotoCoreError as exc:  # a profile that cannot give keys (an expired SSO login, a failing process)
        raise RemoteAuthError(f"No AWS credentials from the profile's settings: {redact_text(str(exc))}") from None
    if creds is None:
        return None
    frozen = creds.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


#: URLs whose bytes :data:`STATS` counts: the ones read most recently.
SOURCES_COUNTED = 4096


class _Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.bytes = 0
            self.requests = 0
            self.retries = 0
            self.by_source: dict = {}  # bytes by URL, in the order they were last read

    def add(self, nbytes=0, requests=0, retries=0, source=None):
        with self.lock:
            self.bytes += nbytes
            self.requests += requests
            self.retries += retries
            if nbytes and source is not None:  # the URL read last, last; the oldest forgotten past the bound
                self.by_source[source] = self.by_source.pop(source, 0) + nbytes
                if len(self.by_source) > SOURCES_COUNTED:
                    self.by_source.pop(next(iter(self.by_source)))

    def bytes_by_source(self) -> dict:
        """A copy of the bytes fetched so far by URL (taken under the lock: other threads may be fetching)."""
        with self.lock:
            return dict(self.by_source)


#: Process-wide counters of the bytes (in all and by URL), requests and retries of HTTP reads.
STATS = _Stats()

#: The defaults of :class:`Retry`: (connect, read) timeouts in seconds, attempts after the first, first
#: backoff (s, doubling).
TIMEOUT = (5.0, 20.0)
RETRIES = 5
BACKOFF = 0.2


@dataclass(frozen=True)
class Retry:
    """How every request is made and retried: one policy for the range reads, the probes and the downloads.

    Resets, timeouts, 5xx answers and short or misplaced bodies are retried (by the caller, which
    knows what a good answer is) after ``backoff``, doubling; redirects are followed by urllib3
    (which drops the Authorization header when the host changes); anything typed (auth, not found,
    a changed file, no Range support) is final. Set per camera with ``storage_options``'
    ``timeout``, ``retries`` and ``backoff``.
    """

    timeout: tuple = TIMEOUT  # (connect, read) seconds
    retries: int = RETRIES  # attempts after the first
    backoff: float = BACKOFF  # seconds before the first retry, doubling

    def attempts(self):
        """Yield the attempt numbers, sleeping before each retry (counted in :data:`STATS`)."""
        for attempt in range(self.retries + 1):
            if attempt:
                STATS.add(retries=1)
                time.sleep(self.backoff * 2 ** (attempt - 1))
            yield attempt

    def longest(self) -> float:
        """The longest a request can take with its retries (seconds): how long to wait for another's fetch."""
        return (sum(self.timeout) + self.backoff) * (self.retries + 1) + self.backoff * 2 ** self.retries


@dataclass(frozen=True)
class Transport:
    """How the bytes of a URL are asked for: its credentials and its retry policy.

    A recipe, not a connection: frozen, picklable (it travels with the index to the Dask
    workers), and its credentials never appear in its repr. Built from ``storage_options``
    by :func:`transport_options`.
    """

    auth: tuple | S3Credentials | None = field(default=None, repr=False)
    retry: Retry = Retry()

    def headers(self, url: str, extra=None) -> dict:
        """The request headers for ``url``: basic auth, or the S3 signature."""
        h = {"User-Agent": "ibl-xvideo", "Accept-Encoding": "identity", **(extra or {})}
        if isinstance(self.auth, S3Credentials):
            return self.auth.sign("GET", url, h)
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            h["Authorization"] = f"Basic {token}"
        return h

    def get(self, url: str, first: int, last: int, preload: bool):
        """One GET of bytes ``[first, last]`` (inclusive), redirects followed: the urllib3 response."""
        timeout = urllib3.Timeout(connect=self.retry.timeout[0], read=self.retry.timeout[1])
        return _pool().request("GET", url, headers=self.headers(url, {"Range": f"bytes={first}-{last}"}),
                               timeout=timeout, preload_content=preload, retries=_REDIRECTS)


def as_transport(auth) -> Transport:
    """``auth`` as a :class:`Transport`: a Transport as it is, else credentials with the default policy."""
    if isinstance(auth, Transport):
        return auth
    return Transport(_as_auth(auth) if auth else None)


#: The transport settings ``storage_options`` takes for any URL, and the credentials of an http(s) one.
RETRY_OPTIONS = ("timeout", "retries", "backoff")
HTTP_OPTIONS = ("username", "password", "auth", *RETRY_OPTIONS)


def _retry_from(opts: dict) -> Retry:
    """The :class:`Retry` of ``storage_options``' ``timeout`` (s, or (connect, read)), ``retries``, ``backoff``."""
    timeout = opts.get("timeout", TIMEOUT)
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = (float(timeout), float(timeout))
    ok = (isinstance(timeout, (tuple, list)) and len(timeout) == 2
          and all(isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in timeout))
    if not ok:
        raise InvalidOptionError(f"storage_options' timeout is seconds > 0 or (connect, read) seconds; "
                                 f"got {timeout!r}.")
    retries = opts.get("retries", RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidOptionError(f"storage_options' retries is a count >= 0; got {retries!r}.")
    backoff = opts.get("backoff", BACKOFF)
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 0:
        raise InvalidOptionError(f"storage_options' backoff is seconds >= 0; got {backoff!r}.")
    return Retry((float(timeout[0]), float(timeout[1])), retries, float(backoff))


def transport_options(storage_options: dict | None) -> Transport:
    """The :class:`Transport` of an http(s) URL's ``storage_options``.

    ``username`` and ``password`` (or ``auth=(user, password)``) for basic auth, and the
    retry policy: ``timeout`` (seconds, or ``(connect, read)``), ``retries`` (attempts
    after the first) and ``backoff`` (seconds before the first retry, doubling).
    """
    opts = dict(storage_options or {})
    unknown = set(opts) - set(HTTP_OPTIONS)
    if unknown:
        raise InvalidOptionError(f"storage_options for http(s) take {', '.join(HTTP_OPTIONS)}; "
                                 f"not {sorted(unknown)}.")
    if "username" in opts or "password" in opts:
        if "auth" in opts:
            raise InvalidOptionError("storage_options take username/password or auth, not both.")
        opts["auth"] = (str(opts.get("username") or ""), str(opts.get("password") or ""))
    given = opts.get("auth")
    if given is not None and not (isinstance(given, (tuple, list)) and len(given) == 2):
        raise InvalidOptionError("storage_options' auth is a (user, password) pair.")
    return Transport(_as_auth(given) if given else None, _retry_from(opts))


def http_location(url: str, storage_options: dict | Transport | None = None) -> tuple[str, Transport]:
    """An http(s) URL without its credentials, and the :class:`Transport` that reads it.

    ``storage_options``: a dict (:func:`transport_options`), or a Transport already made.
    Credentials there win over ``user:password@`` in the URL.
    """
    transport = storage_options if isinstance(storage_options, Transport) else transport_options(storage_options)
    clean, auth = split_auth(url, transport.auth)
    return clean, dataclasses.replace(transport, auth=auth)


_POOL = None
_POOL_LOCK = threading.Lock()
# follow redirects (urllib3 drops the Authorization header when the host changes); every
# other retry is ours, with backoff and exactness checks
_REDIRECTS = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_redirect=True)


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = urllib3.PoolManager(num_pools=16, maxsize=16, retries=False)
        return _POOL


@dataclass(frozen=True)
class RemoteFacts:
    """What a HEAD-like probe says about a remote file."""

    url: str
    size: int
    etag: str

    @property
    def version(self) -> int:
        """An integer identifying this version of the file (from its ETag or Last-Modified)."""
        return _version(self.etag)


def _version(etag: str) -> int:
    import hashlib

    return int(hashlib.sha1(etag.encode()).hexdigest()[:12], 16)


def _etag(headers) -> str:
    """What identifies a version of the file on the server: its ETag, else its Last-Modified."""
    return headers.get("ETag") or headers.get("Last-Modified") or ""


def _check_status(status: int, url: str) -> None:
    if status in (401, 403):
        raise RemoteAuthError(
            f"{url}: access denied (HTTP {status}). Check the credentials (ONE's "
            "HTTP_DATA_SERVER_LOGIN / HTTP_DATA_SERVER_PWD, user:password in the URL, or for s3:// "
            "storage_options={'key': ..., 'secret': ...} or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).")
    if status == 404:
        raise RemoteNotFoundError(f"{url}: not found on the server (HTTP 404); check the URL or the eid.")
    if status == 416:
        raise RemoteError(f"{url}: requested range not satisfiable (HTTP 416): the file changed size?")


def _fetch(url: str, transport: Transport, start: int, stop: int, size: int | None = None,
           version: int | None = None) -> bytes:
    """Bytes ``[start, stop)`` of ``url``; retried on resets, timeouts and 5xx; exact or raise.

    ``size`` and ``version`` (from :func:`probe`) pin the file: a response for a file of
    another size or ETag / Last-Modified raises :class:`SourceChangedError`.
    """
    policy = transport.retry
    want = stop - start
    last = None
    for _ in policy.attempts():
        try:
            r = transport.get(url, start, stop - 1, preload=False)
            done = False
            try:
                STATS.add(requests=1)
                _check_status(r.status, url)
                if r.status >= 500:
                    last = f"HTTP {r.status}"
                    continue
                if r.status == 200:
                    raise RemoteError(f"{url}: the server ignores Range requests; download the file instead.")
                if r.status != 206:
                    raise RemoteError(f"{url}: unexpected HTTP {r.status} for a range request.")
                cr = r.headers.get("Content-Range", "")
                m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", cr)
                if not m or int(m.group(1)) != start:
                    last = f"bad Content-Range {cr!r}"
                    continue
                _check_pinned(url, size, version, m.group(3), r.headers)
                data = r.read(want + 1)
                STATS.add(nbytes=len(data), source=url)
                if len(data) != want:
                    last = f"short body ({len(data)} of {want} bytes)"
                    continue
                done = True
                return data
            finally:
                _let_go(r, done)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(exc, XVideoError):  # ours: typed and final (auth, changed file, no Range)
                raise
            last = f"{type(exc).__name__}: {exc}"
    raise RemoteError(f"{url}: could not read bytes {start}-{stop - 1} after {policy.retries + 1} attempts ({last}).")


def _let_go(r, read_whole: bool) -> None:
    """Give a response's connection back to the pool only when nothing of its body is left unread.

    A failed response (a 5xx, a short or unexpected body) left unread on a keep-alive
    connection would be read by the next request on it as its own answer: a small error
    body is drained, anything else closes the connection.
    """
    try:
        if not read_whole:
            if r.status >= 400 and int(r.headers.get("Content-Length") or 0) <= 65536:
                r.drain_conn()
            else:
                r.close()
    except Exception:  # noqa: BLE001 - a connection that cannot be drained is closed
        r.close()
    r.release_conn()


def _check_pinned(url: str, size: int | None, version: int | None, total: str, headers) -> None:
    """Raise :class:`SourceChangedError` if a response is of another version of the file than the one opened."""
    now_size = int(total) if total.isdigit() else None
    changed = []
    if size is not None and now_size is not None and now_size != size:
        changed.append(f"size {size} -> {now_size} bytes")
    if version and _version(_etag(headers)) != version:
        changed.append(f"ETag / Last-Modified now {_etag(headers) or 'absent'}")
    if changed:
        raise SourceChangedError(
            f"{url} changed on the server since it was opened ({'; '.join(changed)}): nothing read from "
            "the new file was used. Open the camera again to read the new version.")


def probe(url: str, transport: Transport | None = None) -> RemoteFacts:
    """Size and version (ETag or Last-Modified) of a remote file, with one small range request."""
    transport = transport or Transport()
    last = None
    for _ in transport.retry.attempts():
        try:
            r = transport.get(url, 0, 0, preload=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        STATS.add(requests=1, nbytes=len(r.data or b""), source=url)
        _check_status(r.status, url)
        if r.status >= 500:
            last = f"HTTP {r.status}"
            continue
        m = re.match(r"bytes \d+-\d+/(\d+)", r.headers.get("Content-Range", ""))
        if r.status != 206 or not m:
            raise RemoteError(f"{url}: the server does not answer Range requests (HTTP {r.status}).")
        return RemoteFacts(url, int(m.group(1)), _etag(r.headers))
    raise RemoteError(f"{url}: no answer after retries ({last}).")


class _InFlight:
    """The blocks being fetched now: a reader wanting one waits for the fetch in flight instead of a second."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events: dict = {}  # key -> the event of the claim that holds it
        self._held: dict = {}  # event -> how many of its keys are still held

    def claim(self, keys) -> tuple[list, list]:
        """``(keys now claimed by the caller, the events of the keys others are fetching)``, in ``keys``' order.

        One event stands for all the keys one call claims: it is set when the last of them is released.
        """
        mine, theirs = [], []
        event = threading.Event()
        with self._lock:
            for key in keys:
                other = self._events.get(key)
                if other is None:
                    self._events[key] = event
                    mine.append(key)
                elif not theirs or theirs[-1] is not other:
                    theirs.append(other)
            if mine:
                self._held[event] = len(mine)
        return mine, theirs

    def release(self, keys) -> None:
        """The caller's fetch of ``keys`` is over (done or failed): wake whoever waits for them."""
        done = []
        with self._lock:
            for key in keys:
                event = self._events.pop(key, None)
                if event is not None:
                    self._held[event] -= 1
                    if not self._held[event]:
                        del self._held[event]
                        done.append(event)
        for event in done:
            event.set()


#: Blocks in flight in this process (bounded by the requests running at once).
INFLIGHT = _InFlight()


def _after_fork_in_child() -> None:
    """A forked child opens its own connections (its parent's sockets are shared with it) and fetches afresh."""
    global _POOL, _POOL_LOCK, INFLIGHT
    _POOL, _POOL_LOCK, INFLIGHT = None, threading.Lock(), _InFlight()
    STATS.lock = threading.Lock()


after_fork_in_child(_after_fork_in_child)

#: Bytes of a cached block, and at most of one read-ahead request (see :class:`HTTPRangeFile`). Small
#: blocks keep a scattered read (a keyframe packet) near its own bytes.
BLOCK_SIZE, READAHEAD = 1 << 10, 1 << 20


def download(url: str, dest, transport: Transport | None = None, *, progress: bool = True, block: int = 8 << 20):
    """Download ``url`` to ``dest`` in verified ranges (retried), with a progress bar; atomic.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    from pathlib import Path

    from tqdm.auto import tqdm

    dest = Path(dest)
    transport = transport or Transport()
    facts = probe(url, transport)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with open(part, "wb") as fid, tqdm(total=facts.size, unit="B", unit_scale=True,
                                           desc=f"download {dest.name}", disable=not progress) as bar:
            for start in range(0, facts.size, block):
                data = _fetch(url, transport, start, min(facts.size, start + block), facts.size, facts.version)
                fid.write(data)
                bar.update(len(data))
    except BaseException:
        part.unlink(missing_ok=True)  # never leave a partial file behind
        raise
    part.replace(dest)
    return dest


class HTTPRangeFile(SeekableRaw):
    """A read-only, seekable file over HTTP Range requests with a shared block cache.

    Parameters
    ----------
    url : str
        URL without credentials.
    transport : Transport, optional
        Its credentials and retry policy (default: none, and the default policy).
    size, version : int, optional
        From :func:`probe` (probed when not given); ``version`` keys the block cache.
    block_size : int, optional
        Bytes per cached block (default :data:`BLOCK_SIZE`, 1 KiB). A read fetches the
        blocks it covers that are not cached, in one request; a read that continues where
        the last fetch ended also reads ahead, twice its own size first, then twice as much
        each time, up to :data:`READAHEAD` a request. So a scattered read (a keyframe
        packet) costs about its own bytes, and a sequential one (a keyframe group, a scan)
        a few large requests.
    holes : numpy.ndarray, optional
        ``(n, 2)`` sorted byte ranges served as zeros without fetching (used to read a
        container's tables without its frame data).
    """

    def __init__(self, url: str, transport: Transport | None = None, size: int | None = None,
                 version: int | None = None, block_size: int | None = None, holes=None):
        super().__init__()
        self.url = url
        self.transport = transport or Transport()
        if size is None:
            facts = probe(url, self.transport)
            size, version = facts.size, facts.version
        self.size = int(size)
        self.version = version or 0
        self.block_size = block_size or BLOCK_SIZE
        self.pos = 0
        self._window, self._next_miss = 0, -1  # read-ahead: blocks of the last one, where the last fetch ended
        self.set_holes(holes)

    def __repr__(self) -> str:
        return f"HTTPRangeFile({self.url!r}, size={self.size})"

    def _key(self, k: int) -> tuple:
        return ("block", self.url, self.version, self.block_size, k)

    def _fetch_run(self, a: int, b: int) -> list:
        """Fetch blocks [a, b) (claimed by this reader) and cache them; the bytes of each block."""
        bs = self.block_size
        run = _fetch(self.url, self.transport, a * bs, min(self.size, b * bs), size=self.size, version=self.version)
        blocks = [run[i:i + bs] for i in range(0, (b - a) * bs, bs)]
        for j, block in enumerate(blocks, a):
            CACHE.put(self._key(j), block)
        return blocks

    def _blocks(self, a: int, b: int) -> dict:
        """The bytes of blocks [a, b), fetched where not cached: one request per run of missing blocks.

        Blocks another reader is fetching now are waited for, not fetched again. A read that
        continues where this reader's last fetch ended reads ahead: twice its own size, then
        twice as much as the last time while the reads go on, up to :data:`READAHEAD`; any
        other read fetches only its own blocks.
        """
        bs = self.block_size
        got, end = {}, None
        while True:
            for k in range(a, b):
                if k not in got:
                    data = CACHE.get(self._key(k))
                    if data is not None:
                        got[k] = data
            want = [k for k in range(a, b) if k not in got]
            if not want:
                return got
            if end is None:  # a miss: does it go on past the last fetch?
                if a <= self._next_miss < b:
                    self._window = min(max(2 * self._window, 2 * (b - a)), max(1, READAHEAD // bs))
                else:
                    self._window = 0
                end = min(max(b, a + self._window), -(-self.size // bs))
            mine, theirs = INFLIGHT.claim([self._key(k) for k in want])
            if mine and mine[-1][-1] == b - 1:  # read ahead after the last block, while not cached
                ahead = b
                while ahead < end and CACHE.get(self._key(ahead)) is None:
                    ahead += 1
                more, _ = INFLIGHT.claim([self._key(k) for k in range(b, ahead)])
                n = next((i for i, key in enumerate(more) if key[-1] != b + i), len(more))
                INFLIGHT.release(more[n:])  # after a block another reader fetches: not this run's
                mine += more[:n]
            try:
                for lo, hi in _runs([key[-1] for key in mine]):
                    got.update(zip(range(lo, min(hi, b)), self._fetch_run(lo, hi)))
                    self._next_miss = hi
            finally:
                INFLIGHT.release(mine)
            for event in theirs:  # then their blocks are cached (or their fetch failed: claimed next time)
                event.wait(self.transport.retry.longest())

    def _read(self, out: memoryview, start: int) -> int:
        """Fill ``out`` from byte ``start`` (exactly, or raise); return its length."""
        n = len(out)
        bs = self.block_size
        first = start // bs
        blocks = self._blocks(first, (start + n - 1) // bs + 1)
        done = 0
        while done < n:
            k, off = divmod(start + done, bs)
            blk = blocks[k]
            take = min(n - done, len(blk) - off)
            if take <= 0:
                raise RemoteError(f"{self.url}: the file is shorter than announced.")
            out[done:done + take] = blk[off:off + take]
            done += take
        return n


def _runs(ks: list) -> list:
    """``[lo, hi)`` runs of consecutive block numbers in the sorted list ``ks``."""
    runs = []
    for k in ks:
        if runs and runs[-1][1] == k:
            runs[-1][1] = k + 1
        else:
            runs.append([k, k + 1])
    return runs
