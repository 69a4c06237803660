"""Stage 4: the samples are judged, and runs compared."""
