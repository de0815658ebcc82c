"""The one hardened security context (Pod Security Standards "restricted") every pod takes."""

import pytest

from workloads.pod_security import container_security_context, pod_security_context, root_init_security_context


def test_a_container_with_a_user_runs_as_that_user_and_group():
    assert container_security_context(65532) == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_a_container_joining_another_pod_inherits_its_user_but_still_refuses_root():
    context = container_security_context(None)
    assert "runAsUser" not in context and "runAsGroup" not in context
    assert context["runAsNonRoot"] is True


def test_the_pod_groups_its_volumes_under_the_user():
    assert pod_security_context(10001)["fsGroup"] == 10001


def test_root_is_refused_as_a_restricted_user():
    with pytest.raises(ValueError, match="run_as_user: 0"):
        container_security_context(0)
    with pytest.raises(ValueError, match="run_as_user: 0"):
        pod_security_context(0)


def test_a_root_init_step_adds_back_only_what_it_names():
    context = root_init_security_context(["CHOWN"])
    assert context["runAsUser"] == 0 and context["runAsNonRoot"] is False
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    with pytest.raises(ValueError, match="capabilities"):
        root_init_security_context([])
