"""Enable the Google APIs the platform needs, and never disable them on destroy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import Problem, project_id, raise_if_problems, type_problems, unique

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
        raise_if_problems("ProjectApis", name, validate_project_apis_args(args))
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


SERVICE_NAME = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][-a-z0-9]*)*\.googleapis\.com$")
"""Service Usage service names such as ``container.googleapis.com``."""


def validate_project_apis_args(args: ProjectApisArgs) -> list[Problem]:
    """Problems with the service list: malformed names, or two services that would share a child name (pure)."""
    problems = type_problems(args, ProjectApisArgs)
    if problems:
        return problems
    problems = project_id("project", args.project)
    for index, service in enumerate(args.services):
        if not SERVICE_NAME.match(service):
            problems.append(Problem(f"services.{index}", f"'{service}' is not an API service name like "
                                                         "container.googleapis.com"))
    # each Service child is named after the first label of its service name
    problems += unique("services", [s.split(".")[0] for s in args.services], "API (by its first name part)")
    return problems
