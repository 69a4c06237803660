"""leakbench as a pytest plugin: options, the ``leak`` fixture and marker, the terminal summary."""
