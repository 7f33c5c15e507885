"""seqgen's conformance kit on the Langevin machine (checks chosen by its capabilities).

The kit's gradient checks are not selected: the machine declares ``local_rule``, not ``gradient``.
``statistics_fn`` advances the persistent chains (a buffer) in place; the kit restores parameters
and buffers around each call, so its repeated-call comparisons see one chain state.
"""

from seqgen.testing import parametrize_with_checks

from seqgen_langevin import SPEC


@parametrize_with_checks([SPEC])
def test_langevin_conformance(check, spec):
    check(spec)
