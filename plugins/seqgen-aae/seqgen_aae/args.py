"""Command-line helpers for the AAE examples and benchmarks: a boolean that parses as written.

``argparse``'s ``type=bool`` calls ``bool("False")``, which is True (any non-empty string is), so a
flag such as ``--adversarial False`` silently keeps the adversarial phases on. :func:`boolean` reads
the usual spellings instead and refuses anything else.
"""

from __future__ import annotations

import argparse

__all__ = ["boolean", "TRUE_WORDS", "FALSE_WORDS"]

TRUE_WORDS = ("true", "yes", "on", "1", "t", "y")
FALSE_WORDS = ("false", "no", "off", "0", "f", "n")


def boolean(text: str) -> bool:
    """An ``argparse`` ``type=``: ``'False'``/``'no'``/``'0'``/… -> False, ``'True'``/``'yes'``/``'1'``/… -> True.

    Case and surrounding spaces are ignored; any other word raises ``argparse.ArgumentTypeError``
    (argparse turns it into a usage error naming the flag).
    """
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean ({'/'.join(TRUE_WORDS[:3])} or {'/'.join(FALSE_WORDS[:3])}), got {text!r}")
