"""Checkov skip annotations live with the workloads that carry them (``workloads/checkov.py``);
re-exported here for the checkers."""

from workloads.checkov import checkov_skip_annotations  # noqa: F401
