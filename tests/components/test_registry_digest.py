"""infra/registry_digest.py for real: the exact argv the stack runs, against a local registry over https.

The fake registry implements what the script relies on (OCI distribution spec "Pulling manifests" and
"Checking if content exists in the registry"; Docker registry token authentication): ``HEAD``/``GET
/v2/<name>/manifests/<tag>`` answering ``Docker-Content-Digest``, ``404`` for unknown tags, and, when
asked, ``401`` + ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` with an anonymous token
endpoint. It records every request, so each test asserts the exact exchange.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra.images import registry_lookup_interpreter
from infra.registry_digest import MANIFEST_TYPES, parse_image

MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
"""What the registry serves for every known tag: the sha256 of the manifest bytes (image-spec descriptor.md)."""
TOKEN = "anonymous-token-1"
ACCEPT = ", ".join(MANIFEST_TYPES)


@dataclass
class FakeRegistry:
    """Behaviour switches of the fake registry and what it saw."""

    tags: dict[str, set[str]] = field(default_factory=lambda: {"team/app": {"v1"}})
    bearer: bool = False
    """Require ``Authorization: Bearer TOKEN`` on manifests (401 + challenge otherwise)."""
    basic: bool = False
    """Challenge with Basic instead of Bearer."""
    digest_header: str | None = MANIFEST_DIGEST
    """What ``Docker-Content-Digest`` says (None: no header, as registries of earlier spec versions)."""
    token_body: bytes = json.dumps({"token": TOKEN}).encode()
    requests: list[dict[str, str | None]] = field(default_factory=list)
    base: str = ""

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def _answer(self, body: bool) -> None:
                url = urllib.parse.urlsplit(self.path)
                registry.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "accept": self.headers.get("Accept"),
                        "authorization": self.headers.get("Authorization"),
                    }
                )
                if url.path == "/token":
                    return self._send(200, registry.token_body, {"Content-Type": "application/json"}, body)
                if url.path.startswith("/v2/moved/"):  # a repository that answers with a redirect
                    location = {"Location": url.path.replace("/v2/moved/", "/v2/", 1)}
                    return self._send(307, b"", location, body)
                repo, _, tag = url.path.removeprefix("/v2/").partition("/manifests/")
                if registry.basic and self.headers.get("Authorization") is None:
                    return self._send(401, b"", {"WWW-Authenticate": 'Basic realm="fake"'}, body)
                if registry.bearer and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    challenge = (
                        f'Bearer realm="{registry.base}/token",service="fake-registry",scope="repository:{repo}:pull"'
                    )
                    return self._send(401, b"", {"WWW-Authenticate": challenge}, body)
                if tag not in registry.tags.get(repo, set()):
                    error = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
                    return self._send(404, json.dumps(error).encode(), {"Content-Type": "application/json"}, body)
                headers = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
                if registry.digest_header is not None:
                    headers["Docker-Content-Digest"] = registry.digest_header
                return self._send(200, MANIFEST, headers, body)

            def _send(self, status: int, payload: bytes, headers: dict[str, str], body: bool) -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(payload)

        return Handler


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl CLI); the script trusts it via SSL_CERT_FILE."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI to make a certificate for the local https registry")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _serve(registry: FakeRegistry, tls: tuple[Path, Path] | None) -> Iterator[FakeRegistry]:
    import ssl

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), registry.handler())
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        # The handshake happens in each request's thread, so a client that fails it cannot stall the server.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    registry.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def registry(certificate: tuple[Path, Path]) -> Iterator[FakeRegistry]:
    yield from _serve(FakeRegistry(), certificate)


def _host(registry: FakeRegistry) -> str:
    return registry.base.split("://", 1)[1]


def _lookup(registry: FakeRegistry, reference: str, cert: Path | None, *extra: str) -> subprocess.CompletedProcess:
    """Run the lookup exactly as the stack's invoke does: ``interpreter + [reference]``."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    if cert is not None:
        env["SSL_CERT_FILE"] = str(cert)
    argv = [*registry_lookup_interpreter(), *extra, reference]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


# -- the script against the local registry ----------------------------------------------------


def test_prints_the_digest_from_one_head_request(registry, certificate):
    done = _lookup(registry, f"{_host(registry)}/team/app:v1", certificate[0])
    assert (done.returncode, done.stdout, done.stderr) == (0, MANIFEST_DIGEST + "\n", "")
    assert registry.requests == [
        {"method": "HEAD", "path": "/v2/team/app/manifests/v1", "accept": ACCEPT, "authorization": None}
    ]


def test_a_redirected_head_stays_a_head(registry, certificate):
    done = _lookup(registry, f"{_host(registry)}/moved/team/app:v1", certificate[0])
    assert (done.returncode, done.stdout) == (0, MANIFEST_DIGEST + "\n")
    assert [(r["method"], r["path"], r["accept"]) for r in registry.requests] == [
        ("HEAD", "/v2/moved/team/app/manifests/v1", ACCEPT),
        ("HEAD", "/v2/team/app/manifests/v1", ACCEPT),
    ]


def test_anonymous_bearer_token_flow(registry, certificate):
    registry.bearer = True
    done = _lookup(registry, f"{_host(registry)}/team/app:v1", certificate[0])
    assert (done.returncode, done.stdout, done.stderr) == (0, MANIFEST_DIGEST + "\n", "")
    assert registry.requests == [
        {"method": "HEAD", "path": "/v2/team/app/manifests/v1", "accept": ACCEPT, "authorization": None},
        {
            "method": "GET",
            "path": "/token?service=fake-registry&scope=repository%3Ateam%2Fapp%3Apull",
            "accept": None,
            "authorization": None,
        },
        {"method": "HEAD", "path": "/v2/team/app/manifests/v1", "accept": ACCEPT, "authorization": f"Bearer {TOKEN}"},
    ]


def test_access_token_field_is_accepted_too(registry, certificate):
    registry.bearer, registry.token_body = True, json.dumps({"access_token": TOKEN}).encode()
    done = _lookup(registry, f"{_host(registry)}/team/app:v1", certificate[0])
    assert (done.returncode, done.stdout) == (0, MANIFEST_DIGEST + "\n")


def test_token_answer_without_a_token_fails(registry, certificate):
    registry.bearer, registry.token_body = True, b"{}"
    done = _lookup(registry, f"{_host(registry)}/team/app:v1", certificate[0])
    ref = f"{_host(registry)}/team/app:v1"
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"registry_digest: {ref}: the token service {registry.base}/token answered no `token` or `access_token`\n"
    )


def test_unknown_tag_fails_naming_the_tag(registry, certificate):
    ref = f"{_host(registry)}/team/app:v9"
    done = _lookup(registry, ref, certificate[0])
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"registry_digest: {ref}: {_host(registry)} ({registry.base}/v2/team/app/manifests/v9) has no manifest "
        "for tag 'v9' (HTTP 404): check the name and the tag\n"
    )


def test_malformed_digest_header_fails(registry, certificate):
    registry.digest_header = "sha256:xyz"
    ref = f"{_host(registry)}/team/app:v1"
    done = _lookup(registry, ref, certificate[0])
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"registry_digest: {ref}: {_host(registry)} ({registry.base}/v2/team/app/manifests/v1) answered a "
        "malformed Docker-Content-Digest 'sha256:xyz' (expected sha256:<64 lowercase hex>)\n"
    )


def test_without_a_digest_header_the_manifest_bytes_are_hashed(registry, certificate):
    registry.digest_header = None
    done = _lookup(registry, f"{_host(registry)}/team/app:v1", certificate[0])
    assert (done.returncode, done.stdout) == (0, MANIFEST_DIGEST + "\n")
    assert [(r["method"], r["path"]) for r in registry.requests] == [
        ("HEAD", "/v2/team/app/manifests/v1"),
        ("GET", "/v2/team/app/manifests/v1"),
    ]


def test_basic_auth_registries_are_refused_with_what_to_do(registry, certificate):
    registry.basic = True
    ref = f"{_host(registry)}/team/app:v1"
    done = _lookup(registry, ref, certificate[0])
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"registry_digest: {ref}: the registry asks for credentials ('Basic realm=\"fake\"'), and this lookup is "
        "anonymous: pin the image by digest in config (NAME@sha256:<64 hex>), or copy it to Artifact Registry\n"
    )


def test_an_untrusted_certificate_fails(registry):
    ref = f"{_host(registry)}/team/app:v1"
    done = _lookup(registry, ref, None)
    assert (done.returncode, done.stdout) == (1, "")
    prefix = f"registry_digest: {ref}: cannot reach {_host(registry)}: [SSL: CERTIFICATE_VERIFY_FAILED]"
    assert done.stderr.startswith(prefix)


def test_plain_http_only_when_asked():
    for registry in _serve(FakeRegistry(), None):
        done = _lookup(registry, f"{_host(registry)}/team/app:v1", None, "--plain-http")
        assert (done.returncode, done.stdout) == (0, MANIFEST_DIGEST + "\n")


@pytest.mark.parametrize(
    "reference,message",
    [
        ("team/app", "'team/app': give NAME:TAG (no digest)"),
        ("Team/app:v1", "'Team/app:v1' is not an image reference (lowercase NAME[:TAG][@sha256:<64 hex>])"),
    ],
)
def test_a_bad_reference_is_a_usage_error(reference, message):
    done = subprocess.run([*registry_lookup_interpreter(), reference], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == f"registry_digest: error: {message}"


# -- where each reference is asked ------------------------------------------------------------


@pytest.mark.parametrize(
    "reference,host,path",
    [
        ("python:3.11-slim", "registry-1.docker.io", "library/python"),
        ("vllm/vllm-openai:v0.32.0", "registry-1.docker.io", "vllm/vllm-openai"),
        ("docker.io/library/python:3.11", "registry-1.docker.io", "library/python"),
        ("index.docker.io/python:3.11", "registry-1.docker.io", "library/python"),
        ("gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0", "gcr.io",
         "gke-release/custom-metrics-stackdriver-adapter"),
        ("localhost:5000/a:1", "localhost:5000", "a"),
    ],
)  # fmt: skip
def test_docker_hub_names_are_asked_at_registry_1_with_library_prefix(reference, host, path):
    ref = parse_image(reference)
    assert (ref.registry_host, ref.registry_path) == (host, path)
