"""The hardened security context every pod of the stack runs with (Pod Security Standards "restricted").

https://kubernetes.io/docs/concepts/security/pod-security-standards/ (Restricted profile): run as
non-root, no privilege escalation, all capabilities dropped, seccomp ``RuntimeDefault``; plus a
read-only root filesystem (checkov CKV_K8S_22), writable paths on volumes only.

Every pod and container of the stack takes its ``securityContext`` from here, so the profile is
written once; the one root container (a chown init step) says why where it asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_USER = 10001


def container_security_context(run_as_user: int | None = DEFAULT_USER) -> dict[str, Any]:
    """``securityContext`` of a container.

    Args:
        run_as_user: the non-root UID (and GID) it runs as; None for a container that joins
            another component's pod and runs as that pod's user (it still refuses to run as root).
    """
    user: dict[str, Any] = {}
    if run_as_user is not None:
        _check_user(run_as_user)
        user = {"runAsUser": run_as_user, "runAsGroup": run_as_user}
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        **user,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(run_as_user: int = DEFAULT_USER) -> dict[str, Any]:
    """``securityContext`` of a pod: the same user and group, volumes group-owned by it."""
    _check_user(run_as_user)
    return {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_user,
        "fsGroup": run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def root_init_security_context(capabilities: Sequence[str]) -> dict[str, Any]:
    """``securityContext`` of a short init step that must run as root for ``capabilities`` only.

    Args:
        capabilities: the Linux capabilities it adds back after dropping all (e.g. ``CHOWN`` to hand a
            freshly provisioned share to the non-root user); nothing else of the profile is relaxed.
    """
    if not capabilities:
        raise ValueError("capabilities: name the capabilities the root step needs; with none it can run as non-root")
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": False,
        "runAsUser": 0,
        "capabilities": {"drop": ["ALL"], "add": list(capabilities)},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _check_user(run_as_user: int) -> None:
    if run_as_user < 1:
        raise ValueError(f"run_as_user: {run_as_user}; a restricted pod runs as a non-root UID (≥ 1)")
