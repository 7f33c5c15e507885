"""Property tests on masks: hidden values never reach a result, right-padding never changes one,
and the within-length reversal behind the smoothing posterior never moves padding."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen.testing import masks, sequence_batches
from seqgen_srnn import SPEC
from seqgen_srnn.masking import latent_steps, reverse_within_length

TINY = dict(obs_dim=3, z_dim=2, d_dim=5, a_dim=5, mlp_hidden=6, decoder_hidden=(4,))
MODELS = {
    kind: SPEC.build(**{**TINY, **over}).double()
    for kind, over in {"smooth": {}, "filter": {"inference": "filter"}, "normal": {"obs": "normal"}}.items()
}
BITS = SPEC.build(**TINY).decoder.support
EXAMPLES = settings(max_examples=15, deadline=None)


def _seeded(fn, seed=0):
    torch.manual_seed(seed)
    return fn()


def _results(model, x, mask):
    """ELBO terms and a 3-particle IWAE, each under a fixed seed: ``[batch]`` tensors."""
    return {
        "elbo": _seeded(lambda: model.elbo(x, mask=mask)),
        "iwae": _seeded(lambda: model.iwae(x, 3, mask=mask)),
        "a": model.infer(x, mask=mask)["a"],
    }


@EXAMPLES
@given(batch=sequence_batches(obs_shape=(3,), support=BITS, max_batch=3, max_steps=6, holes=True),
       kind=st.sampled_from(sorted(MODELS)), seed=st.integers(0, 2**16))
def test_hidden_values_never_reach_a_result(batch, kind, seed):
    model = MODELS[kind]
    x = batch.x.double()
    if kind == "normal":
        x = torch.randn(x.shape, dtype=torch.double, generator=torch.Generator().manual_seed(seed))
    hidden = ~batch.mask.unsqueeze(-1)
    noise = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(seed + 1)).double()
    before, after = _results(model, x, batch.mask), _results(model, torch.where(hidden, noise * 3, x), batch.mask)
    for name in before:
        # identical draws under one seed; double precision leaves only rounding
        torch.testing.assert_close(after[name], before[name], rtol=1e-9, atol=1e-9, msg=name)


@EXAMPLES
@given(batch=sequence_batches(obs_shape=(3,), support=BITS, max_batch=3, max_steps=6, holes=True),
       pad=st.integers(1, 3), kind=st.sampled_from(sorted(MODELS)))
def test_right_padding_changes_nothing(batch, pad, kind):
    model = MODELS[kind]
    x = batch.x.double()
    if kind == "normal":
        x = torch.randn(x.shape, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    padded_x = torch.cat([x, torch.ones(x.shape[0], pad, 3, dtype=torch.double)], 1)  # [batch, time + pad, 3]
    padded_mask = torch.cat([batch.mask, torch.zeros(x.shape[0], pad, dtype=torch.bool)], 1)
    before, after = _results(model, x, batch.mask), _results(model, padded_x, padded_mask)
    torch.testing.assert_close(after["elbo"], before["elbo"], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(after["iwae"], before["iwae"], rtol=1e-9, atol=1e-9)
    valid = latent_steps(batch.lengths, x.shape[1]).t()  # [batch, time]
    torch.testing.assert_close(after["a"][:, : x.shape[1]][valid], before["a"][valid], rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(mask=masks(batch_size=4, num_steps=7), width=st.integers(1, 3))
def test_reverse_within_length(mask, width):
    lengths = (mask.long() * torch.arange(1, 8)).amax(1)  # [batch]
    u = torch.randn(7, 4, width)  # [time, N, width]
    v = reverse_within_length(u, lengths)
    torch.testing.assert_close(reverse_within_length(v, lengths), u, rtol=0, atol=0)  # an involution
    for n, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(v[:length, n], u[:length, n].flip(0), rtol=0, atol=0)
        torch.testing.assert_close(v[length:, n], u[length:, n], rtol=0, atol=0)  # padding stays put
