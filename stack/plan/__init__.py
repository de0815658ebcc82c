"""Offline planning: cold-start and cost estimates and the autoscaling simulator (never imported by the program)."""
