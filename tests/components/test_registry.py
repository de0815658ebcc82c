"""ImageRegistry: own repository (immutable tags, cleanup) + Docker Hub remote, readable by the nodes."""

from __future__ import annotations

from infra.registry import ImageRegistry, ImageRegistryArgs

READER = "serviceAccount:nodes@p-test.iam.gserviceaccount.com"
ARGS = ImageRegistryArgs(
    project="p-test", location="us-central1", repository_id="inference", docker_hub_proxy_id="dockerhub", reader=READER
)


def test_registry_exact_inputs(recorder):
    rec = recorder.run(lambda: ImageRegistry("registry", ARGS))
    assert rec.tree() == {
        ("gke-inference:infra:ImageRegistry", "registry", None),
        ("gcp:artifactregistry/repository:Repository", "registry-images", "registry"),
        ("gcp:artifactregistry/repository:Repository", "registry-dockerhub", "registry"),
        ("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "registry-images-reader", "registry"),
        ("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "registry-dockerhub-reader", "registry"),
    }
    assert rec.inputs("registry-images") == {
        "project": "p-test",
        "location": "us-central1",
        "repositoryId": "inference",
        "format": "DOCKER",
        "mode": "STANDARD_REPOSITORY",
        "description": "gke-inference images (vLLM server, model downloader)",
        "dockerConfig": {"immutableTags": True},
        "cleanupPolicies": [
            {
                "id": "delete-untagged",
                "action": "DELETE",
                "condition": {"tagState": "UNTAGGED", "olderThan": "2592000s"},
            },
            {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 10}},
        ],
    }
    assert rec.inputs("registry-dockerhub") == {
        "project": "p-test",
        "location": "us-central1",
        "repositoryId": "dockerhub",
        "format": "DOCKER",
        "mode": "REMOTE_REPOSITORY",
        "description": "Docker Hub proxy: upstream images pulled through Artifact Registry stream on GKE",
        "remoteRepositoryConfig": {"description": "Docker Hub", "dockerRepository": {"publicRepository": "DOCKER_HUB"}},
    }
    for repo in ("inference", "dockerhub"):
        reader = "registry-images-reader" if repo == "inference" else "registry-dockerhub-reader"
        assert rec.inputs(reader) == {
            "project": "p-test",
            "location": "us-central1",
            "repository": repo,
            "role": "roles/artifactregistry.reader",
            "member": READER,
        }


def test_urls(recorder):
    rec = recorder.run(lambda: ImageRegistry("registry", ARGS))
    assert rec.resolve(rec.value.url) == "us-central1-docker.pkg.dev/p-test/inference"
    assert rec.resolve(rec.value.docker_hub_url) == "us-central1-docker.pkg.dev/p-test/dockerhub"
