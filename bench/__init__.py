"""Measurements (not tests): see bench/README.md."""
