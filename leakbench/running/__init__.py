"""Stage 3: the target is launched or called, paced and sampled per iteration."""
