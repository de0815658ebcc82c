"""Secret config keys, read beside (never inside) the platform object."""

from __future__ import annotations

from typing import Any

from stack.config import CONFIG_NAMESPACE, SECRET_KEYS


def secrets_from_pulumi() -> dict[str, Any]:
    """``{key: Output[str] | None}`` for each secret key (``pulumi config set --secret gke-inference:apiKey``)."""
    import pulumi

    config = pulumi.Config(CONFIG_NAMESPACE)
    return {key: config.get_secret(key) for key in SECRET_KEYS}
