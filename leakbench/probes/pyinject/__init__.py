"""The directory leakbench puts first on a Python target's ``PYTHONPATH``: its ``sitecustomize`` loads the probe."""
