"""The manifest digest a registry serves for ``NAME:TAG`` now: standard library only, no Docker daemon.

Run as ``python registry_digest.py [--plain-http] [--timeout S] NAME:TAG`` (by path, or
``python -m infra.registry_digest``). It prints ``sha256:<64 hex>`` and nothing else, or names what
went wrong on stderr and exits 1 (2 for a malformed reference). The stack runs it at every
``pulumi preview`` and ``up`` through pulumi-command's ``local.run`` invoke (``infra/images.py``
:func:`~infra.images.lookup_digest`), which fails the preview with this script's message.

Protocol, as ``docker pull`` resolves a tag:

1. ``HEAD /v2/<name>/manifests/<tag>`` with an ``Accept`` header listing the OCI image index, the
   Docker manifest list, the Docker image manifest v2 and the OCI image manifest (OCI distribution
   spec, "Pulling manifests" / "Checking if content exists in the registry":
   https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests). Asking for
   the index types first yields the multi-platform digest, the one every node of any architecture
   pulls. A ``HEAD`` is a version check, which Docker Hub does not count as a pull
   (https://docs.docker.com/docker-hub/usage/pulls/).
2. On ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``: ``GET realm?service=
   ...&scope=...`` anonymously, take ``token`` (or ``access_token``) from the JSON answer and retry
   with ``Authorization: Bearer <token>`` (Docker registry token authentication:
   https://distribution.github.io/distribution/spec/auth/token/, "How to authenticate" and "Token
   Response Fields"; https://docs.docker.com/reference/api/registry/auth/). Docker Hub and gcr.io both
   answer anonymous pulls this way.
3. The digest is the response's ``Docker-Content-Digest`` header, which the spec requires on a
   successful ``HEAD``; registries implementing earlier spec versions may omit it ("Implementers
   note" of the same section), and then the manifest is fetched with ``GET`` and its digest computed:
   a manifest's digest is the sha256 of its bytes
   (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests).

Docker Hub names (no registry host, or ``docker.io``/``index.docker.io``) are served by
``registry-1.docker.io``, and one-component names live under ``library/`` (``python`` →
``library/python``): moby ``registry/config.go`` ``DefaultRegistryHost`` and distribution/reference
``normalize.go`` (``defaultDomain``, ``legacyDefaultDomain``, ``officialRepoPrefix``).

This module is also where the stack's image-reference grammar lives (``infra/images.py`` imports
it), so that the script, runnable by path, needs nothing but the standard library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
"""A manifest digest (OCI image-spec descriptor.md: algorithm ``sha256``, 64 lowercase hex)."""

# distribution/reference grammar (github.com/distribution/reference, reference.go): path components
# of lowercase alphanumerics joined by one separator ([._] | __ | -+); tags [\w][\w.-]{0,127}
# (the OCI distribution spec's <name> and tag expressions, "Pulling manifests").
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")

DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
"""Names of Docker Hub in references (distribution/reference normalize.go: defaultDomain, legacyDefaultDomain)."""
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
"""The host that serves Docker Hub's registry API (moby registry/config.go DefaultRegistryHost)."""

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
"""Accepted manifest media types, index types first (OCI image-spec media-types.md; Docker image manifest
v2 schema 2 for the two Docker types)."""
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""Largest manifest read by the GET fallback (the distribution spec lets registries refuse larger
manifests: "Pushing Manifests", 4 MiB)."""
USER_AGENT = "gke-inference-registry-digest/1"


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: ``[HOST/]PATH[:TAG][@sha256:HEX]``."""

    host: str | None
    """Registry host, when the first component looks like one (has '.' or ':' or is localhost, Docker's rule)."""
    path: str
    """Repository path, e.g. ``vllm/vllm-openai``."""
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Host and path, without tag or digest."""
        return f"{self.host}/{self.path}" if self.host else self.path

    @property
    def on_docker_hub(self) -> bool:
        return self.host is None or self.host in DOCKER_HUB_HOSTS

    @property
    def docker_hub_path(self) -> str:
        """Path on Docker Hub: official images live under ``library/`` (``python`` → ``library/python``)."""
        return self.path if "/" in self.path else f"library/{self.path}"

    @property
    def registry_host(self) -> str:
        """The host whose ``/v2/`` API serves this repository (Docker Hub: ``registry-1.docker.io``)."""
        return DOCKER_HUB_REGISTRY if self.on_docker_hub else str(self.host)

    @property
    def registry_path(self) -> str:
        """The repository ``<name>`` in that API's URLs (Docker Hub official images under ``library/``)."""
        return self.docker_hub_path if self.on_docker_hub else self.path

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def parse_image(value: str) -> ImageRef:
    """Parse a reference; ValueError with what is wrong when it is not one."""
    rest, _, digest = value.partition("@")
    if digest and not DIGEST.match(digest):
        raise ValueError(f"'{value}': the digest must be sha256:<64 lowercase hex>")
    host: str | None = None
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
        if not _HOST.match(host):
            raise ValueError(f"'{value}': '{host}' is not a registry host")
    path, colon, tag = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not _PATH.match(path):
        raise ValueError(f"'{value}' is not an image reference (lowercase NAME[:TAG][@sha256:<64 hex>])")
    if colon and not _TAG.match(tag):
        raise ValueError(f"'{value}': '{tag}' is not a valid tag")
    return ImageRef(host=host, path=path, tag=tag or None, digest=digest or None)


# --------------------------------------------------------------------------------------------
# The registry client
# --------------------------------------------------------------------------------------------


class RegistryError(Exception):
    """The registry did not give a digest; the message says what it answered and what to do."""


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Message
    body: bytes


class _KeepMethodRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects turn HEAD into GET; keep the method, so a redirected HEAD stays a version check.
    A redirect to another host does not carry the registry's bearer token (as Go's net/http drops
    ``Authorization`` on a redirect to a different domain)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.method = req.get_method()
            if urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
                new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_KeepMethodRedirects)


def _request(method: str, url: str, headers: dict[str, str], timeout: float) -> _Answer:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_MANIFEST_BYTES + 1) if method == "GET" else b""
            return _Answer(response.status, response.headers, body)
    except urllib.error.HTTPError as err:
        return _Answer(err.code, err.headers, err.read(MAX_MANIFEST_BYTES) if method == "GET" else b"")
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RegistryError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from err


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate`` → (scheme, params), e.g. ``("bearer", {"realm": ..., "service": ..., "scope": ...})``
    (RFC 6750 section 3, the format the token authentication spec uses)."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


def _anonymous_token(challenge: str, default_scope: str, plain_http: bool, timeout: float) -> str:
    scheme, params = parse_challenge(challenge)
    if scheme != "bearer" or "realm" not in params:
        raise RegistryError(
            f"the registry asks for credentials ({challenge!r}), and this lookup is anonymous: "
            "pin the image by digest in config (NAME@sha256:<64 hex>), or copy it to Artifact Registry"
        )
    realm = params["realm"]
    if urllib.parse.urlsplit(realm).scheme != "https" and not plain_http:
        raise RegistryError(f"the token realm {realm!r} is not https")
    query = [("service", params["service"])] if "service" in params else []
    query += [("scope", s) for s in (params.get("scope") or default_scope).split()]
    separator = "&" if urllib.parse.urlsplit(realm).query else "?"
    answer = _request("GET", realm + separator + urllib.parse.urlencode(query), {}, timeout)
    if answer.status != 200:
        raise RegistryError(f"the token service {realm} answered HTTP {answer.status} to an anonymous request")
    try:
        document = json.loads(answer.body)
        token = document.get("token") or document.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token service {realm} answered no `token` or `access_token`")
    return token


def manifest_digest(ref: ImageRef, *, plain_http: bool = False, timeout: float = 30.0) -> str:
    """The digest the registry serves for ``ref``'s tag now.

    Args:
        ref: a reference with a tag (and no digest).
        plain_http: talk http instead of https (local test registries only; the stack never sets it).
        timeout: seconds per HTTP request.
    """
    if ref.tag is None or ref.digest is not None:
        raise RegistryError("only NAME:TAG is looked up (a digest is already the answer)")
    scheme = "http" if plain_http else "https"
    url = f"{scheme}://{ref.registry_host}/v2/{ref.registry_path}/manifests/{ref.tag}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    answer = _request("HEAD", url, headers, timeout)
    if answer.status == 401 and "WWW-Authenticate" in answer.headers:
        default_scope = f"repository:{ref.registry_path}:pull"
        token = _anonymous_token(answer.headers["WWW-Authenticate"], default_scope, plain_http, timeout)
        headers["Authorization"] = f"Bearer {token}"
        answer = _request("HEAD", url, headers, timeout)
    where = f"{ref.registry_host} ({url})"
    if answer.status == 404:
        raise RegistryError(f"{where} has no manifest for tag '{ref.tag}' (HTTP 404): check the name and the tag")
    if answer.status in (401, 403):
        raise RegistryError(
            f"{where} refused anonymous access (HTTP {answer.status}): the repository does not exist or is "
            "private; pin the image by digest in config (NAME@sha256:<64 hex>), or copy it to Artifact Registry"
        )
    if answer.status != 200:
        raise RegistryError(f"{where} answered HTTP {answer.status}")
    digest = answer.headers.get("Docker-Content-Digest")
    if digest is None:  # registries of earlier spec versions: hash the manifest itself
        answer = _request("GET", url, headers, timeout)
        if answer.status != 200:
            raise RegistryError(f"{where} answered HTTP {answer.status} to GET the manifest")
        if len(answer.body) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"{where} served a manifest over {MAX_MANIFEST_BYTES} bytes")
        digest = "sha256:" + hashlib.sha256(answer.body).hexdigest()
    if not DIGEST.match(digest):
        raise RegistryError(
            f"{where} answered a malformed Docker-Content-Digest {digest!r} (expected sha256:<64 lowercase hex>)"
        )
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="registry_digest",
        description="Print the manifest digest (sha256:<64 hex>) a registry serves for NAME:TAG.",
    )
    parser.add_argument("reference", help="NAME:TAG, e.g. vllm/vllm-openai:v0.32.0 or gcr.io/project/image:v1")
    parser.add_argument("--plain-http", action="store_true", help="http instead of https (local test registries)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    args = parser.parse_args(argv)
    try:
        ref = parse_image(args.reference)
    except ValueError as err:
        parser.error(str(err))
    if ref.tag is None or ref.digest is not None:
        parser.error(f"'{args.reference}': give NAME:TAG (no digest)")
    try:
        print(manifest_digest(ref, plain_http=args.plain_http, timeout=args.timeout))
    except RegistryError as err:
        print(f"registry_digest: {ref}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
