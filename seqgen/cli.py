"""The ``seqgen`` command line: one parser, a table of subcommands, one error policy.

``seqgen <command> [options]``. Each command lives in its own module, listed in :data:`COMMANDS`,
which defines

- ``HELP``: one line for ``seqgen --help``;
- ``add_arguments(parser)``: registers the command's options on its ``argparse`` subparser;
- ``run(args) -> int``: does the work and returns the exit status.

Adding a command is one new module and one line in :data:`COMMANDS`; this file owns the parser,
the dispatch and the error policy, and nothing command-specific.

Error policy: a :class:`~seqgen.SeqgenError` (bad input, a broken plugin, a bad config) prints
ONE line, ``seqgen: error: <message>``, on stderr and exits 2 (argparse's own usage errors read
and exit the same way); ``--debug`` prints the traceback (with any chained cause) before that
line. Any other exception is a bug in seqgen or a plugin and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Iterable, Optional, Sequence

from . import __version__
from .errors import SeqgenError

__all__ = ["COMMANDS", "PROG", "build_parser", "format_table", "main"]

PROG = "seqgen"

#: command name -> module defining HELP, add_arguments(parser) and run(args); one line per command.
COMMANDS: dict[str, str] = {
    "plugins": "seqgen.cli_plugins",
    "train": "seqgen.cli_train",
    "sample": "seqgen.cli_sample",
    "evaluate": "seqgen.cli_evaluate",
    "demo": "seqgen.demo",
}


def _add_debug(parser: argparse.ArgumentParser, default) -> None:
    # The subparsers' copy defaults to SUPPRESS so `seqgen --debug plugins` is not reset to False.
    parser.add_argument("--debug", action="store_true", default=default, help="on an error, print the traceback too")


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options, then one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Generative models of sequences on PyTorch and Pyro.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_debug(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        _add_debug(cmd, argparse.SUPPRESS)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; ``None`` cells print as ``-``."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _exit_status(code) -> int:
    """``SystemExit.code`` as an int (None is success; a message is failure, already printed)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``seqgen`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error argparse already printed
        return _exit_status(exit_.code)
    try:
        return int(args.run(args) or 0)
    except SeqgenError as err:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        message = " ".join(str(err).split())  # one line, whatever the message holds
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
