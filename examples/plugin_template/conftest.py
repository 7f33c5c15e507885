"""Lets ``pytest`` run this plugin's tests from a source checkout that was not ``pip install``-ed.

An installed copy (``pip install -e .``) is used when there is one.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("seqgen_example_plugin") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
