"""seqgen's conformance kit on the alternator (checks chosen by its capabilities)."""

from seqgen.testing import parametrize_with_checks

from seqgen_alternator import SPEC


@parametrize_with_checks([SPEC])
def test_alternator_conformance(spec, check):
    check(spec)
