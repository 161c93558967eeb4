"""Read videos from HTTP(S) data servers and S3 object stores with Range requests, a block cache and retries.

Only the bytes needed are fetched: the container's index (the mp4 ``moov`` box) and
the keyframe groups being decoded. Failures are retried with backoff (connection
resets, timeouts, 5xx); a read that cannot complete raises
:class:`~ibl_xvideo.errors.RemoteError` and never returns partial data. Credentials
(in the URL, or given as ``auth``) are kept out of every message, repr and attribute.
"""

from __future__ import annotations

import base64
import collections
import logging
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass

import urllib3

from ._lru import ByteLRU
from .errors import InvalidOptionError, RemoteError, SourceChangedError, VideoNotFoundError, XVideoError
from .fileio import SeekableRaw

__all__ = ["HTTPRangeFile", "download", "split_auth", "remember_credentials", "forget_credentials", "is_url",
           "RemoteAuthError", "RemoteNotFoundError", "STATS", "probe", "is_s3", "s3_location", "S3Credentials",
           "redact", "redact_text", "check_literal"]

_log = logging.getLogger(__name__)


class RemoteAuthError(RemoteError, PermissionError):
    """The server refused the credentials (HTTP 401 or 403)."""


class RemoteNotFoundError(RemoteError, VideoNotFoundError):
    """The server has no such file (HTTP 404)."""


def is_url(x) -> bool:
    """True for an http(s) URL string."""
    return isinstance(x, str) and re.match(r"^https?://", x, re.I) is not None


_KNOWN_AUTH: dict[str, tuple] = {}
_KNOWN_LOCK = threading.Lock()


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
    """``(url without credentials, (user, password) or None)``; explicit ``auth`` wins.

    Credentials seen for a URL are remembered in this process (never written
    anywhere), so that later calls with the bare URL (as stored in attrs) work.
    """
    clean, found = _split(url, auth)
    check_literal(clean, urllib.parse.urlsplit(clean).path)
    if not found:
        with _KNOWN_LOCK:
            found = _KNOWN_AUTH.get(clean)
    return clean, found


def remember_credentials(url: str, auth) -> None:
    """Keep ``auth`` for ``url`` in this process (done after a successful request)."""
    if auth:
        with _KNOWN_LOCK:
            _KNOWN_AUTH[url] = _as_auth(auth)


def forget_credentials() -> None:
    """Forget every credential remembered in this process."""
    with _KNOWN_LOCK:
        _KNOWN_AUTH.clear()


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


def s3_location(url: str, storage_options: dict | None = None) -> tuple[str, S3Credentials | None]:
    """The HTTPS URL of an ``s3://bucket/key`` object, and the credentials that sign its requests (or None).

    ``storage_options`` as fsspec's s3fs takes them: ``anon`` (True: no signature),
    ``key``, ``secret``, ``token``, ``endpoint_url`` and ``region_name`` (also inside
    ``client_kwargs``). Without keys there or in ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, requests are anonymous (a public bucket, as IBL's).
    """
    import os

    opts = dict(storage_options or {})
    client = dict(opts.pop("client_kwargs", None) or {})
    unknown = set(opts) - {"anon", "key", "secret", "token", "profile", "endpoint_url", "region_name"}
    if unknown:
        raise InvalidOptionError(f"storage_options for s3:// take anon, key, secret, token, profile, endpoint_url, "
                                 f"region_name and client_kwargs; not {sorted(unknown)}.")
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
        return https, None
    key_id = opts.get("key") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = opts.get("secret") or os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        found = _profile_credentials(opts.get("profile"))
        if found is None:
            return https, None
        key_id, secret, token = found
        return https, S3Credentials(key_id, secret, token, region)
    return https, S3Credentials(key_id, secret, opts.get("token") or os.environ.get("AWS_SESSION_TOKEN"), region)


def _profile_credentials(profile: str | None):
    """``(key, secret, token)`` of an AWS profile, as the AWS tools find it; None when there is none.

    The profile is ``profile=``, else ``AWS_PROFILE``, else ``default``, read by botocore
    from the shared credentials file, then the config file (``AWS_SHARED_CREDENTIALS_FILE``,
    ``AWS_CONFIG_FILE``, ``~/.aws``). An instance role is not looked for: it would need
    a network query (the instance metadata service) on every machine without one.
    """
    import os
    from pathlib import Path

    home = Path(os.environ.get("HOME") or "~").expanduser()
    files = [Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
             Path(os.environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")]
    named = profile or os.environ.get("AWS_PROFILE")
    if named is None and not any(f.is_file() for f in files):
        return None
    try:
        from botocore.credentials import ConfigProvider, SharedCredentialProvider
    except ImportError as exc:
        raise RemoteAuthError("Reading s3:// with an AWS profile needs botocore: pip install botocore.") from exc
    name = named or "default"
    for provider in (SharedCredentialProvider(creds_filename=str(files[0]), profile_name=name),
                     ConfigProvider(config_filename=str(files[1]), profile_name=name)):
        creds = provider.load()
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            return frozen.access_key, frozen.secret_key, frozen.token
    if named is not None:
        raise InvalidOptionError(f"The AWS profile {name!r} has no keys in {files[0]} or {files[1]}: check "
                                 "storage_options' profile= or AWS_PROFILE.")
    return None


class _Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.bytes = 0
            self.requests = 0
            self.retries = 0
            self.by_source = collections.Counter()  # bytes by URL

    def add(self, nbytes=0, requests=0, retries=0, source=None):
        with self.lock:
            self.bytes += nbytes
            self.requests += requests
            self.retries += retries
            if nbytes and source is not None:
                self.by_source[source] += nbytes

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
    a changed file, no Range support) is final.
    """

    timeout: tuple  # (connect, read) seconds
    retries: int  # attempts after the first
    backoff: float  # seconds before the first retry, doubling

    @classmethod
    def now(cls, retries: int | None = None) -> Retry:
        """The policy of the module's current defaults (``retries`` overriding theirs)."""
        return cls(TIMEOUT, RETRIES if retries is None else retries, BACKOFF)

    def attempts(self):
        """Yield the attempt numbers, sleeping before each retry (counted in :data:`STATS`)."""
        for attempt in range(self.retries + 1):
            if attempt:
                STATS.add(retries=1)
                time.sleep(self.backoff * 2 ** (attempt - 1))
            yield attempt

    def get(self, url: str, auth, first: int, last: int, preload: bool):
        """One GET of bytes ``[first, last]`` (inclusive), redirects followed: the urllib3 response."""
        return _pool().request("GET", url, headers=_headers(url, auth, {"Range": f"bytes={first}-{last}"}),
                               timeout=urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1]),
                               preload_content=preload, retries=_REDIRECTS)

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


def _headers(url: str, auth, extra=None) -> dict:
    h = {"User-Agent": "ibl-xvideo", "Accept-Encoding": "identity", **(extra or {})}
    if isinstance(auth, S3Credentials):
        return auth.sign("GET", url, h)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        h["Authorization"] = f"Basic {token}"
    return h


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


def _fetch(url: str, auth, start: int, stop: int, retries: int | None = None, size: int | None = None,
           version: int | None = None) -> bytes:
    """Bytes ``[start, stop)`` of ``url``; retried on resets, timeouts and 5xx; exact or raise.

    ``size`` and ``version`` (from :func:`probe`) pin the file: a response for a file of
    another size or ETag / Last-Modified raises :class:`SourceChangedError`.
    """
    policy = Retry.now(retries)
    want = stop - start
    last = None
    for _ in policy.attempts():
        try:
            r = policy.get(url, auth, start, stop - 1, preload=False)
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


def probe(url: str, auth=None, retries: int | None = None) -> RemoteFacts:
    """Size and version (ETag or Last-Modified) of a remote file, with one small range request."""
    policy = Retry.now(retries)
    last = None
    for _ in policy.attempts():
        try:
            r = policy.get(url, auth, 0, 0, preload=True)
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


#: Fetched blocks, shared by every reader of the same file version in this process.
BLOCKS = ByteLRU(128 * 2**20)


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
#: Bytes of a cached block, and at most of one read-ahead request (see :class:`HTTPRangeFile`). Small
#: blocks keep a scattered read (a keyframe packet) near its own bytes.
BLOCK_SIZE, READAHEAD = 1 << 10, 1 << 20


def download(url: str, dest, auth=None, *, progress: bool = True, block: int = 8 << 20,
             retries: int | None = None):
    """Download ``url`` to ``dest`` in verified ranges (retried), with a progress bar; atomic.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    from pathlib import Path

    from tqdm.auto import tqdm

    dest = Path(dest)
    facts = probe(url, auth, retries)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with open(part, "wb") as fid, tqdm(total=facts.size, unit="B", unit_scale=True,
                                           desc=f"download {dest.name}", disable=not progress) as bar:
            for start in range(0, facts.size, block):
                data = _fetch(url, auth, start, min(facts.size, start + block), retries, facts.size,
                              facts.version)
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
    auth : (str, str), optional
        Basic-auth credentials.
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

    def __init__(self, url: str, auth=None, size: int | None = None, version: int | None = None,
                 block_size: int | None = None, holes=None):
        super().__init__()
        self.url = url
        self._auth = auth
        if size is None:
            facts = probe(url, auth)
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
        return (self.url, self.version, self.block_size, k)

    def _fetch_run(self, a: int, b: int) -> list:
        """Fetch blocks [a, b) (claimed by this reader) and cache them; the bytes of each block."""
        bs = self.block_size
        run = _fetch(self.url, self._auth, a * bs, min(self.size, b * bs), size=self.size, version=self.version)
        blocks = [run[i:i + bs] for i in range(0, (b - a) * bs, bs)]
        for j, block in enumerate(blocks, a):
            BLOCKS.put(self._key(j), block)
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
                    data = BLOCKS.get(self._key(k))
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
                while ahead < end and BLOCKS.get(self._key(ahead)) is None:
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
                event.wait(TIMEOUT[1] * (RETRIES + 1))

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
