"""Shared test settings for every test under the repository (core, plugins, examples).

Hypothesis profiles: ``ci`` (the default: few examples, no deadline, derandomized so a run is
reproducible) and ``dev`` (many more examples, random) — pick one with ``HYPOTHESIS_PROFILE=dev``.
A test's own ``@settings(max_examples=…)`` still wins over the profile.

Tests marked ``cuda`` are skipped when no CUDA GPU is present.
"""

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=200, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False")
    for item in items:
        if item.get_closest_marker("cuda") is not None:  # the marker, not a test id containing "cuda"
            item.add_marker(skip)
