"""Artifact Registry: our Docker repository plus a Docker Hub proxy, so upstream images stream."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options

READER_ROLE = "roles/artifactregistry.reader"


@dataclass(frozen=True)
class ImageRegistryArgs:
    project: str
    """GCP project id."""
    location: str
    """Region; image streaming needs the registry in the nodes' region (or a containing multi-region)."""
    repository_id: str
    """Standard Docker repository for our own images."""
    docker_hub_proxy_id: str
    """Remote repository proxying Docker Hub (e.g. vllm/vllm-openai)."""
    reader: pulumi.Input[str]
    """IAM member that pulls images (the node service account)."""


class ImageRegistry(pulumi.ComponentResource):
    """A standard repository (immutable tags, cleanup) and a Docker Hub remote repository."""

    location: str
    """Region of both repositories."""
    repositories: tuple[gcp.artifactregistry.Repository, ...]
    """The standard repository and the Docker Hub proxy (builds and IAM grants reference them)."""
    url: str
    """Image path prefix of the standard repository (known before the repository exists)."""
    docker_hub_url: str
    """Prefix that proxies Docker Hub: ``<docker_hub_url>/vllm/vllm-openai@sha256:<digest Docker Hub serves>``."""

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:ImageRegistry", name, {}, opts)
        child = child_options(self, opts)
        AR = gcp.artifactregistry
        own = AR.Repository(
            f"{name}-images",
            project=args.project,
            location=args.location,
            repository_id=args.repository_id,
            format="DOCKER",
            mode="STANDARD_REPOSITORY",
            description="gke-inference images (vLLM server, model downloader)",
            docker_config=AR.RepositoryDockerConfigArgs(immutable_tags=True),
            cleanup_policies=[
                AR.RepositoryCleanupPolicyArgs(
                    id="delete-untagged",
                    action="DELETE",
                    condition=AR.RepositoryCleanupPolicyConditionArgs(tag_state="UNTAGGED", older_than="2592000s"),
                ),
                AR.RepositoryCleanupPolicyArgs(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=AR.RepositoryCleanupPolicyMostRecentVersionsArgs(keep_count=10),
                ),
            ],
            opts=child,
        )
        proxy = AR.Repository(
            f"{name}-dockerhub",
            project=args.project,
            location=args.location,
            repository_id=args.docker_hub_proxy_id,
            format="DOCKER",
            mode="REMOTE_REPOSITORY",
            description="Docker Hub proxy: upstream images pulled through Artifact Registry stream on GKE",
            remote_repository_config=AR.RepositoryRemoteRepositoryConfigArgs(
                description="Docker Hub",
                docker_repository=AR.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(public_repository="DOCKER_HUB"),
            ),
            opts=child,
        )
        for repo in (own, proxy):
            AR.RepositoryIamMember(
                f"{repo.pulumi_resource_name}-reader",
                project=args.project,
                location=args.location,
                repository=repo.repository_id,
                role=READER_ROLE,
                member=args.reader,
                opts=child,
            )
        self.location = args.location
        self.repositories = (own, proxy)
        host = f"{args.location}-docker.pkg.dev/{args.project}"
        self.url = f"{host}/{args.repository_id}"
        self.docker_hub_url = f"{host}/{args.docker_hub_proxy_id}"
        self.register_outputs({"url": self.url, "dockerHubUrl": self.docker_hub_url})
