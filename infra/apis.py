"""Enable the Google APIs the platform needs, and never disable them on destroy."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options

PLATFORM_APIS = (
    "container.googleapis.com",
    "compute.googleapis.com",
    "artifactregistry.googleapis.com",
    "containerfilesystem.googleapis.com",  # image streaming
    "file.googleapis.com",  # Filestore
    "monitoring.googleapis.com",
    "storage.googleapis.com",
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",  # project IAM bindings (projects.setIamPolicy)
    "cloudbuild.googleapis.com",  # in-stack image and secondary-boot-disk builds
)


@dataclass(frozen=True)
class ProjectApisArgs:
    project: str
    """GCP project id."""
    services: tuple[str, ...] = field(default=PLATFORM_APIS)
    """API service names to enable."""


class ProjectApis(pulumi.ComponentResource):
    """One ``gcp.projects.Service`` per API, with ``disable_on_destroy=False``.

    Disabling an API on destroy would break anything else in the project that uses it.
    """

    services: list[gcp.projects.Service]

    def __init__(self, name: str, args: ProjectApisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:ProjectApis", name, {}, opts)
        child = child_options(self, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{service.split('.')[0]}",
                project=args.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=child,
            )
            for service in args.services
        ]
        self.register_outputs({"services": [s.service for s in self.services]})
