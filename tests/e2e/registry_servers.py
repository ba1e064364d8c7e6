"""Extra real registries and proxies for the Manifests e2e tests and the inspect bench.

* :func:`start_registry`: Debian's distribution registry (``docker-registry serve CONFIG``) on a
  free loopback port, optionally with htpasswd basic auth or bearer-token auth.
* :class:`TokenServer`: a tiny token service on loopback issuing RS256 JWTs signed with a key
  whose self-signed certificate is the registry's ``rootcertbundle`` (the ``x5c`` header carries
  the certificate, as docker/distribution's token auth expects).
* :class:`Proxy`: a loopback HTTP reverse proxy in front of a registry that can add latency each
  way, corrupt the body of chosen responses, or answer chosen paths with an error status.

Run as a program (``python -m tests.e2e.registry_servers proxy --upstream H:P --delay 0.025``) it
serves a latency proxy in its own process and prints ``PORT <n>`` (the bench uses that).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length",
}  # fmt: skip


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer (a cancelled look-up) are normal here, not errors."""

    daemon_threads = True
    # socketserver's default listen backlog of 5 drops the SYNs of a burst of concurrent
    # connections (the kernel retries after 1 s): size it like a real server.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_htpasswd_line(user: str, password: str) -> str:
    """``user:$2b$…`` with no new dependency: the system's libcrypt (libxcrypt, present on every
    Debian) through ctypes; Apache's ``htpasswd -nbB`` when libcrypt lacks bcrypt."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("crypt")
    if name:
        lib = ctypes.CDLL(name)
        if hasattr(lib, "crypt_gensalt"):
            lib.crypt_gensalt.restype = ctypes.c_char_p
            lib.crypt_gensalt.argtypes = [
                ctypes.c_char_p,
                ctypes.c_ulong,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.crypt.restype = ctypes.c_char_p
            lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            salt = lib.crypt_gensalt(b"$2b$", 5, None, 0)
            hashed = lib.crypt(password.encode(), salt) if salt else None
            if hashed and hashed.startswith(b"$2b$"):
                return f"{user}:{hashed.decode()}"
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        raise RuntimeError("no bcrypt available: install libcrypt1 or apache2-utils (htpasswd)")
    out = subprocess.run(
        [htpasswd, "-nbB", user, password], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


# --- the registry ----------------------------------------------------------------------------


@dataclass
class RegistryServer:
    port: int
    process: subprocess.Popen[bytes]
    root: Path
    log: Path
    ip: str = "127.0.0.1"
    cert: Path | None = None  # the self-signed certificate when it serves HTTPS

    @property
    def host(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def non_loopback_ip() -> str:
    """An IPv4 address of this machine that is not loopback (the route's source address, else
    docker0's), to test what mabgui does with a plain-HTTP registry that is not loopback."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it only picks the route
        address = str(s.getsockname()[0])
        if not address.startswith("127."):
            return address
    return "172.17.0.1"  # docker0, present wherever dockerd runs


def trust(cert: Path | str | None) -> ssl.SSLContext | bool:
    """What to pass as httpx's ``verify``: a context trusting ``cert``, else the defaults."""
    return ssl.create_default_context(cafile=str(cert)) if cert else True


def self_signed_cert(workdir: Path, ip: str) -> tuple[Path, Path]:
    """A certificate (and key) for ``ip``, made with the openssl CLI."""
    cert, key = workdir / "registry.crt", workdir / "registry.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1",
         "-subj", "/CN=mabgui test registry", "-addext", f"subjectAltName=IP:{ip}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def start_registry(
    workdir: Path,
    auth: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    tls: tuple[Path, Path] | None = None,
    storage_extra: tuple[str, ...] = (),
) -> RegistryServer:
    """Start ``docker-registry serve`` on a free port of ``host``; wait until ``/v2/`` answers.
    ``storage_extra``: more lines under ``storage:`` (e.g. ``maintenance:`` for read-only)."""
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        *storage_extra,
        "http:",
        f"  addr: {host}:{port}",
        f"  secret: {uuid.uuid4().hex}",
    ]
    if tls:
        lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
    if auth:
        lines.append("auth:")
        for kind, options in auth.items():
            lines.append(f"  {kind}:")
            lines.extend(f"    {k}: {v}" for k, v in options.items())
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = workdir / "registry.log"
    with log.open("wb") as fh:
        process = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(config)], stdout=fh, stderr=subprocess.STDOUT
        )
    server = RegistryServer(port, process, workdir, log, host, tls[0] if tls else None)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(f"{server.url}/v2/", timeout=1, verify=trust(server.cert))
                return server
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")
    except BaseException:
        server.stop()
        raise


@contextlib.contextmanager
def registry(
    workdir: Path,
    auth: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    tls: tuple[Path, Path] | None = None,
) -> Iterator[RegistryServer]:
    server = start_registry(workdir, auth, host, tls)
    try:
        yield server
    finally:
        server.stop()


# --- the token server ------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues registry tokens: ``GET /token?service=…&scope=…`` with optional basic auth."""

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        anonymous_pull: bool = False,
        service: str = "mabgui-test-registry",
        issuer: str = "mabgui-test-issuer",
    ) -> None:
        self.users = users or {}
        self.anonymous_pull = anonymous_pull
        self.service = service
        self.issuer = issuer
        self.requests: list[dict[str, str]] = []
        # The signing key and its self-signed certificate (the registry's rootcertbundle), made
        # with the openssl CLI so the tests need no Python crypto package.
        self._key_file = workdir / "token-signer.key"
        self.bundle = workdir / "token-signer.pem"
        openssl = shutil.which("openssl") or "openssl"
        self._openssl = openssl
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1",
             "-subj", "/CN=mabgui test token signer", "-keyout", str(self._key_file),
             "-out", str(self.bundle)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        der = subprocess.run(
            [openssl, "x509", "-in", str(self.bundle), "-outform", "DER"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self._cert_der = der.stdout
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.bundle),
            }
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue(self, subject: str, scope: str) -> str:
        """An RS256 JWT for ``scope`` (``repository:name:actions``) as distribution expects."""
        access = []
        for one in scope.split():  # several scopes (a push that mounts) are space-separated
            kind, name, actions = one.split(":", 2) if one.count(":") >= 2 else ("", "", "")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signed = subprocess.run(
            [self._openssl, "dgst", "-sha256", "-sign", str(self._key_file)],
            input=signing_input.encode(), check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return signing_input + "." + _b64url(signed.stdout)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        scope = " ".join(query.get("scope") or [""])
        user = ""
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(name) != password:
                self._reply(handler, 401, {"details": "wrong user name or password"})
                return
            user = name
        self.requests.append({"scope": scope, "user": user})
        anonymous_ok = all(one.endswith(":pull") for one in scope.split())
        if not user and not (self.anonymous_pull and anonymous_ok):
            self._reply(handler, 401, {"details": "authentication required"})
            return
        if (query.get("service") or [""])[0] != self.service:
            self._reply(handler, 400, {"details": "unknown service"})
            return
        self._reply(
            handler, 200, {"token": self.issue(user or "anonymous", scope), "expires_in": 300}
        )

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


# --- the proxy -------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A loopback reverse proxy in front of ``upstream`` (``host:port``).

    ``delay``: seconds added before forwarding each request and again before answering.
    ``corrupt``: responses whose path matches get one byte of their body changed.
    ``faults``: path substring → status to answer with instead of forwarding.
    """

    upstream: str
    delay: float = 0.0
    corrupt: Callable[[str, str], bool] | None = None
    faults: dict[str, int] = field(default_factory=dict)
    port: int = 0
    count: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed
            # ACK hold the body ~40 ms on every reused keep-alive connection.
            disable_nagle_algorithm = True
            upstream_conn: http.client.HTTPConnection | None = None

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy._forward(self)

            def finish(self) -> None:
                if self.upstream_conn is not None:
                    self.upstream_conn.close()
                super().finish()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, h: Any) -> None:
        self.count += 1
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        if self.delay:
            time.sleep(self.delay)
        for fragment, status in self.faults.items():
            if fragment in h.path:
                data = json.dumps(
                    {"errors": [{"code": "UNKNOWN", "message": f"injected {status}"}]}
                ).encode()
                h.send_response(status)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(data)))
                if status == 401:
                    h.send_header("WWW-Authenticate", 'Basic realm="injected"')
                if status == 429:  # what Docker Hub sends when the pull limit is reached
                    h.send_header("RateLimit-Limit", "100;w=21600")
                    h.send_header("RateLimit-Remaining", "0;w=21600")
                    h.send_header("Retry-After", "60")
                h.end_headers()
                if h.command != "HEAD":
                    h.wfile.write(data)
                return
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        conn: http.client.HTTPConnection | None = h.upstream_conn
        if conn is None:  # one upstream connection per client connection, closed with it
            conn = http.client.HTTPConnection(self.upstream, timeout=60)
            h.upstream_conn = conn
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            h.upstream_conn = None
            raise
        if data and self.corrupt is not None and self.corrupt(h.command, h.path):
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
        if self.delay:
            time.sleep(self.delay)
        h.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP:
                h.send_header(key, value)
        upstream_length = resp.getheader("Content-Length")
        if h.command == "HEAD" and upstream_length is not None:
            h.send_header("Content-Length", upstream_length)
        else:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


# --- pushing content with raw HTTP -----------------------------------------------------------


def sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    """Upload blobs and manifests with plain distribution API calls (no docker involved)."""

    def __init__(self, base_url: str, repo: str, auth: str = "", verify: str = "") -> None:
        self.base = f"{base_url}/v2/{repo}"
        self.headers = {"Authorization": auth} if auth else {}
        self.pushed: list[str] = []
        self.verify = trust(verify)

    def blob(self, data: bytes) -> dict[str, Any]:
        digest = sha256(data)
        r = httpx.post(
            f"{self.base}/blobs/uploads/", headers=self.headers, timeout=30, verify=self.verify
        )
        r.raise_for_status()
        location = r.headers["Location"]
        if location.startswith("/"):
            location = self.base.split("/v2/")[0] + location
        sep = "&" if "?" in location else "?"
        r = httpx.put(
            f"{location}{sep}digest={digest}",
            content=data,
            headers={**self.headers, "Content-Type": "application/octet-stream"},
            timeout=30,
            verify=self.verify,
        )
        r.raise_for_status()
        return {"digest": digest, "size": len(data)}

    def manifest(self, doc: dict[str, Any], ref: str = "") -> dict[str, Any]:
        data = json.dumps(doc, indent=2).encode()
        digest = sha256(data)
        r = httpx.put(
            f"{self.base}/manifests/{ref or digest}",
            content=data,
            headers={**self.headers, "Content-Type": doc["mediaType"]},
            timeout=30,
            verify=self.verify,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"push of {ref or digest} failed: {r.status_code} {r.text}")
        assert r.headers.get("Docker-Content-Digest", digest) == digest
        self.pushed.append(digest)
        return {"mediaType": doc["mediaType"], "digest": digest, "size": len(data)}

    def tag(self, descriptor: dict[str, Any], tag: str) -> None:
        """Put the manifest ``descriptor`` names under ``tag`` too (the same bytes)."""
        url = f"{self.base}/manifests/{descriptor['digest']}"
        accept = {**self.headers, "Accept": descriptor["mediaType"]}
        data = httpx.get(url, headers=accept, verify=self.verify).content
        r = httpx.put(
            f"{self.base}/manifests/{tag}",
            content=data,
            headers={**self.headers, "Content-Type": descriptor["mediaType"]},
            timeout=30,
            verify=self.verify,
        )
        r.raise_for_status()

    def delete_all(self) -> None:
        for digest in reversed(self.pushed):
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(
                    f"{self.base}/manifests/{digest}",
                    headers=self.headers,
                    timeout=30,
                    verify=self.verify,
                )


def small_image(
    pusher: Pusher, arch: str, *, docker: bool = False, variant: str = ""
) -> dict[str, Any]:
    """Push a tiny (not runnable) image for ``arch``: a config and one random layer."""
    config = {
        "architecture": arch,
        "os": "linux",
        **({"variant": variant} if variant else {}),
        "created": "2024-01-02T03:04:05Z",
        "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": ["/init"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(b"x")]},
        "history": [{"created_by": "mabgui test"}],
    }
    cfg = pusher.blob(json.dumps(config).encode())
    layer = pusher.blob(os.urandom(64))
    if docker:
        doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **cfg},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **layer}],
        }
    else:
        doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", **layer}],
        }
    desc = pusher.manifest(doc)
    desc["platform"] = {
        "architecture": arch,
        "os": "linux",
        **({"variant": variant} if variant else {}),
    }
    return desc


def push_attested_image(
    docker: str, base_image: str, registry_host: str, platforms: str = "linux/amd64,linux/arm64"
) -> tuple[str, Callable[[], None]]:
    """``docker buildx build --push`` an image with provenance attestations (COPY only, so no
    emulation is needed); returns its reference and a clean-up function."""
    import tempfile

    ctx = Path(tempfile.mkdtemp(prefix="mabgui-attested-"))
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nCOPY hello.txt /hello.txt\n")
    (ctx / "hello.txt").write_text(uuid.uuid4().hex)
    name = f"mabgui-manifest-test-{uuid.uuid4().hex[:12]}"
    ref = f"{registry_host}/{name}:x"
    argv = [
        docker, "buildx", "build", "--builder", "default", "--platform", platforms,
        "--provenance=mode=min", "-t", ref, "--push", str(ctx),
    ]  # fmt: skip

    def cleanup() -> None:
        shutil.rmtree(ctx, ignore_errors=True)
        accept = "application/vnd.oci.image.index.v1+json"
        url = f"http://{registry_host}/v2/{name}/manifests"
        with contextlib.suppress(httpx.HTTPError):
            digest = httpx.head(f"{url}/x", headers={"Accept": accept}).headers.get(
                "Docker-Content-Digest"
            )
            if digest:
                httpx.delete(f"{url}/{digest}")
        subprocess.run([docker, "image", "rm", "-f", ref], capture_output=True, timeout=60)

    # distribution 2.8 sometimes fails the HEAD after docker's concurrent PUTs of one tag
    # (500 "invalid checksum digest format"): a registry race, retried.
    for attempt in range(3):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if result.returncode == 0:
            return ref, cleanup
        if attempt == 2:
            cleanup()
            raise RuntimeError(f"buildx push failed: {result.stderr[-2000:]}")
    raise AssertionError("unreachable")


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy", help="serve a latency proxy in front of a registry")
    p.add_argument("--upstream", default="127.0.0.1:5000")
    p.add_argument("--delay", type=float, default=0.025, help="seconds added each way")
    p.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    proxy = Proxy(args.upstream, delay=args.delay, port=args.port)
    print(f"PORT {proxy.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
