"""leakbench: memory-leak regression harness for long-running programs."""

__version__ = "0.1.0"
