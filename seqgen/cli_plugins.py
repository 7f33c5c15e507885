"""``seqgen plugins``: the installed model plugins as a table.

Columns: name, distribution, version, status, capabilities. Every plugin that is not disabled is
loaded to learn its capabilities; a broken one stays in the table with the reason in the last
column, and the others are unaffected. ``--strict`` (or ``SEQGEN_STRICT_PLUGINS=1``) instead fails
on the first broken plugin, exit status 2; add ``--debug`` for the plugin's own traceback.
``--path DIR`` reads plugins from DIR only (for example a ``pip install --target DIR`` folder,
like ``pip list --path``) and puts DIR on ``sys.path`` so they can be imported.
"""

from __future__ import annotations

import argparse
import sys

from . import registry
from .cli import format_table
from .errors import PluginError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "list the installed model plugins: name, distribution, version, status, capabilities"

HEADERS = ("name", "distribution", "version", "status", "capabilities / reason")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"fail (exit 2) on the first broken plugin instead of listing it (same as {registry.ENV_STRICT}=1)",
    )
    parser.add_argument(
        "--path",
        action="append",
        metavar="DIR",
        help="read plugins from DIR instead of sys.path (repeatable); DIR is added to sys.path for importing",
    )


def run(args: argparse.Namespace) -> int:
    path = args.path
    if path:
        sys.path[:0] = [p for p in path if p not in sys.path]
    strict = args.strict or registry.env_flag(registry.ENV_STRICT)
    for info in registry.list_plugins(path=path):
        if info.status == "disabled":
            continue
        try:
            registry.load_spec(info.name, strict=strict, path=path)
        except PluginError:
            if strict:
                raise
            # not strict: the failure is recorded and shown as a 'broken' row below

    rows = []
    for info in registry.list_plugins(path=path):
        if info.status in ("broken", "disabled"):
            last = info.reason
        else:
            last = ", ".join(sorted(info.capabilities)) if info.capabilities else "-"
        distribution = info.distribution if info.distribution is not None else "(registered in-process)"
        rows.append((info.name, distribution, info.version, info.status, last))

    if not rows:
        where = ", ".join(path) if path else "sys.path"
        print(f"no model plugins found (entry-point group {registry.GROUP!r} on {where})")
        if registry.env_flag(registry.ENV_NO_AUTOLOAD):
            print(f"entry points were not read: {registry.ENV_NO_AUTOLOAD} is set")
        return 0
    print(format_table(HEADERS, rows))
    return 0
