"""Local, real checks of the serving path: vLLM's CPU build, a tiny model, probes, drain."""
