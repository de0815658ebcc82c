"""The hardened security context every pod of the stack runs with (Pod Security Standards "restricted").

https://kubernetes.io/docs/concepts/security/pod-security-standards/ (Restricted profile): run as
non-root, no privilege escalation, all capabilities dropped, seccomp ``RuntimeDefault``; plus a
read-only root filesystem (checkov CKV_K8S_22), writable paths on volumes only.
"""

from __future__ import annotations

from typing import Any

DEFAULT_USER = 10001


def container_security_context(run_as_user: int = DEFAULT_USER) -> dict[str, Any]:
    """``securityContext`` of a container: non-root ``run_as_user``, read-only root FS, nothing added."""
    _check_user(run_as_user)
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_user,
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


def _check_user(run_as_user: int) -> None:
    if run_as_user < 1:
        raise ValueError(f"run_as_user: {run_as_user}; a restricted pod runs as a non-root UID (≥ 1)")
