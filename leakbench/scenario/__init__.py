"""Stage 1: a scenario is loaded (its spec, payloads and workspace)."""
