"""ProjectApis: one Service per API, never disabled on destroy."""

from __future__ import annotations

from infra.apis import PLATFORM_APIS, ProjectApis, ProjectApisArgs


def test_platform_apis(recorder):
    rec = recorder.run(lambda: ProjectApis("apis", ProjectApisArgs(project="p-test")))
    services = rec.of_type("gcp:projects/service:Service")
    assert {r["name"]: r["inputs"]["service"] for r in services} == {
        "apis-container": "container.googleapis.com",
        "apis-compute": "compute.googleapis.com",
        "apis-artifactregistry": "artifactregistry.googleapis.com",
        "apis-containerfilesystem": "containerfilesystem.googleapis.com",
        "apis-file": "file.googleapis.com",
        "apis-monitoring": "monitoring.googleapis.com",
        "apis-storage": "storage.googleapis.com",
        "apis-iam": "iam.googleapis.com",
        "apis-cloudresourcemanager": "cloudresourcemanager.googleapis.com",
        "apis-cloudbuild": "cloudbuild.googleapis.com",
    }
    for service in services:
        assert service["parent"] == "apis"
        assert service["inputs"] == {
            "project": "p-test",
            "service": service["inputs"]["service"],
            "disableOnDestroy": False,
            "disableDependentServices": False,
        }
    assert len(PLATFORM_APIS) == 10


def test_custom_service_list(recorder):
    rec = recorder.run(lambda: ProjectApis("apis", ProjectApisArgs(project="p-test", services=("tpu.googleapis.com",))))
    assert rec.names() == ["apis", "apis-tpu"]
    assert [rec.resolve(s.service) for s in rec.value.services] == ["tpu.googleapis.com"]


def test_malformed_and_repeated_services_are_refused(recorder):
    services = ("container.googleapis.com", "compute", "container.googleapis.com")
    args = ProjectApisArgs(project="p-test", services=services)
    assert recorder.refused(lambda: ProjectApis("apis", args)) == [
        ("services.1", "'compute' is not an API service name like container.googleapis.com"),
        ("services.2", "'container' is listed twice; each API (by its first name part) may appear once"),
    ]


def test_a_string_instead_of_a_tuple_is_named(recorder):
    args = ProjectApisArgs(project="p-test", services="container.googleapis.com")  # type: ignore[arg-type]
    assert recorder.refused(lambda: ProjectApis("apis", args)) == [
        ("services", "expected tuple[str, ...], got str 'container.googleapis.com'")
    ]
