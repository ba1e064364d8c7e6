"""A hostile registry for tests: loopback only, an ephemeral port, a bounded lifetime.

Each :data:`MODES` entry serves one attack or one kind of broken data seen from real or fake
registries (issue 15). The server records every request (method, path, Authorization header)
so tests can assert what it was sent — e.g. that no credential reached it.

    with HostileRegistry("redirect-loop") as reg:
        ... fetch reg.ref() with a RegistryClient ...

Everything served is built here from plain JSON; no engine or real registry is involved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

# The e2e servers' threaded server: daemon threads, a real backlog, hang-ups not reported.
from tests.e2e.registry_servers import QuietServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REPO = "hostile/app"

MODES = (
    "redirect-to-other-host",  # registry (basic auth) redirects manifests to another host
    "redirect-with-challenge",  # registry redirects to a host answering 401 with its own realm
    "self-reusing-index",  # an index whose 12 children are one index, 5 levels deep
    "slow-drip",  # a manifest sent one byte a second
    "self-linking-tags",  # a tag list whose Link: rel="next" points to itself
    "redirect-loop",  # /manifests/ redirects to itself
    "bad-size",  # a descriptor with "size": "x"
    "list-annotations",  # annotations given as a list
    "bad-env",  # a config with "Env": 5 (other wrong types, escapes in "created")
    "shake-digest",  # Docker-Content-Digest: shake_256:…
    "md5-digest",  # an index naming its child by an md5: digest
)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    authorization: str


class HostileRegistry:
    """One hostile mode on ``127.0.0.1:<ephemeral>``; shut down by :meth:`stop` or after
    ``lifetime`` seconds, whichever comes first."""

    def __init__(
        self, mode: str, *, lifetime: float = 60.0, user: str = "alice", password: str = "pw-A"
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        self.user, self.password = user, password
        self.seen: list[Seen] = []
        self.documents: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes)
        self.tags: dict[str, str] = {}  # tag -> digest
        self._stopped = threading.Event()
        self.other: HostileRegistry | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append(
                    Seen(self.command, self.path, self.headers.get("Authorization", ""))
                )
                outer._handle(self)

            do_GET = do_HEAD = do_POST = _any

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        if mode in ("redirect-to-other-host", "redirect-with-challenge"):
            self.other = _Other(lifetime, challenge=mode == "redirect-with-challenge")
        self._build()
        self._thread.start()
        self._timer.start()

    # --- lifetime ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ref(self, tag: str = "v1") -> str:
        return f"{self.host}/{REPO}:{tag}"

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        if self.other is not None:
            self.other.stop()

    def __enter__(self) -> HostileRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- content ----------------------------------------------------------------------------

    def add(self, media_type: str, doc: Any) -> dict[str, Any]:
        data = doc if isinstance(doc, bytes) else encode(doc)
        digest = sha256(data)
        self.documents[digest] = (media_type, data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def _image(self, config: Any | None = None, **extra: Any) -> dict[str, Any]:
        cfg = self.add(OCI_CONFIG, config or {"os": "linux", "architecture": "amd64"})
        layer = {"mediaType": OCI_LAYER, "digest": sha256(b"layer"), "size": 5}
        return self.add(
            OCI_MANIFEST,
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**cfg}, "layers": [layer],
             **extra},
        )  # fmt: skip

    def _build(self) -> None:
        mode = self.mode
        if mode == "self-reusing-index":
            child = self._image()
            for _level in range(5):
                child = self.add(
                    OCI_INDEX,
                    {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * 12},
                )
            self.tags["v1"] = child["digest"]
        elif mode == "bad-size":
            child = self._image()
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                     "manifests": [{**child, "size": "x"}]}  # fmt: skip
            self.tags["v1"] = self.add(OCI_INDEX, index)["digest"]
        elif mode == "list-annotations":
            self.tags["v1"] = self._image(annotations=["a", "b"])["digest"]
        elif mode == "bad-env":
            wrong = {"Env": 5, "Entrypoint": 5, "Cmd": {"a": 1}, "Labels": [1]}
            config = {"os": "linux", "architecture": "arm64", "history": 3,
                      "created": "\x1b]0;owned\x07\x1b[2J2024", "config": wrong}  # fmt: skip
            self.tags["v1"] = self._image(config)["digest"]
        elif mode == "md5-digest":
            md5 = "md5:" + hashlib.md5(b"x").hexdigest()
            entry = {"mediaType": OCI_MANIFEST, "digest": md5, "size": 1}
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
            self.tags["v1"] = self.add(OCI_INDEX, index)["digest"]
        else:
            self.tags["v1"] = self._image()["digest"]
        if self.other is not None:
            self.other.documents.update(self.documents)
            self.other.tags.update(self.tags)

    # --- answers ----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        mode, path = self.mode, h.path.split("?")[0]
        prefix = f"/v2/{REPO}"
        if mode == "redirect-loop" and "/manifests/" in path:
            return _reply(h, 302, b"", {"Location": h.path})
        if mode in ("redirect-to-other-host", "redirect-with-challenge"):
            expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            # redirect-with-challenge redirects at once (the case: A's credentials are
            # looked up only because B challenges); redirect-to-other-host after basic auth.
            if mode == "redirect-to-other-host" and h.headers.get("Authorization", "") != expected:
                return _reply(h, 401, b"{}", {"WWW-Authenticate": 'Basic realm="hostile"'})
            assert self.other is not None
            return _reply(h, 307, b"", {"Location": f"http://{self.other.host}{h.path}"})
        if mode == "self-linking-tags" and path == f"{prefix}/tags/list":
            link = f'<{prefix}/tags/list?n=1000>; rel="next"'
            return _reply(h, 200, encode({"name": REPO, "tags": ["a"]}), {"Link": link})
        if path.startswith(f"{prefix}/manifests/") or path.startswith(f"{prefix}/blobs/"):
            target = path.rsplit("/", 1)[1]
            digest = self.tags.get(target, target)
            if digest not in self.documents:
                return _reply(h, 404, encode({"errors": [{"code": "MANIFEST_UNKNOWN"}]}))
            media_type, data = self.documents[digest]
            announced = digest
            if mode == "shake-digest":
                announced = "shake_256:" + hashlib.shake_256(data).hexdigest(32)
            headers = {"Content-Type": media_type, "Docker-Content-Digest": announced}
            if mode == "slow-drip" and "/manifests/" in path:
                return self._drip(h, data, headers)
            return _reply(h, 200, data, headers)
        return _reply(h, 404, encode({"errors": [{"code": "NAME_UNKNOWN"}]}))

    def _drip(self, h: BaseHTTPRequestHandler, data: bytes, headers: dict[str, str]) -> None:
        h.send_response(200)
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for i in range(len(data)):
            if self._stopped.wait(1.0):
                return
            try:
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
            except OSError:
                return


class _Other(HostileRegistry):
    """The other host a hostile registry redirects to: it serves the same content, and (with
    ``challenge``) first answers 401 with a bearer challenge naming its own token realm."""

    def __init__(self, lifetime: float, *, challenge: bool) -> None:
        self.challenge = challenge
        self.token_requests: list[Seen] = []
        super().__init__("list-annotations", lifetime=lifetime)
        self.mode = "other"

    def _build(self) -> None:
        pass  # filled with the redirecting registry's content

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token"):
            self.token_requests.append(self.seen[-1])
            return _reply(h, 200, encode({"token": "other-token", "expires_in": 300}))
        if self.challenge and h.headers.get("Authorization", "") != "Bearer other-token":
            realm = f"http://{self.host}/token"
            challenge = f'Bearer realm="{realm}",service="other",scope="repository:{REPO}:pull"'
            return _reply(h, 401, b"{}", {"WWW-Authenticate": challenge})
        path = h.path.split("?")[0]
        target = path.rsplit("/", 1)[1]
        digest = self.tags.get(target, target)
        if digest not in self.documents:
            return _reply(h, 404, b"{}")
        media_type, data = self.documents[digest]
        return _reply(h, 200, data, {"Content-Type": media_type, "Docker-Content-Digest": digest})


def _reply(
    h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    h.send_response(status)
    for key, value in (headers or {}).items():
        h.send_header(key, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD" and body:
        h.wfile.write(body)
