"""The ``seqgen`` command line (filled in by the CLI work)."""


def main(argv=None) -> int:
    raise SystemExit("seqgen: the command line is not built yet")
