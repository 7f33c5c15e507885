"""seqgen.masking keeps hidden steps inside every part's support, in any layout."""

import torch

from seqgen import BernoulliDecoder, BetaDecoder, GroupDecoder, NormalDecoder
from seqgen.masking import fill_hidden


def test_group_parts_each_get_an_in_support_fill():
    torch.manual_seed(0)
    dec = GroupDecoder({"s": NormalDecoder(4, 2), "d": BernoulliDecoder(4, 1), "p": BetaDecoder(4, 1)})
    p = dec.dist_from(torch.randn(3, 5, 4))  # batch [3, 5] (either layout)
    x = torch.zeros(3, 5, 4)
    x[..., 3] = 0.5  # observed Beta values inside (0, 1)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1, 3:] = False
    x[~mask] = 0.0  # what the base leaves at hidden steps
    filled = fill_hidden(p, x, mask)
    assert torch.isfinite(p.log_prob(filled)).all()  # raises if a part is out of support
    assert torch.equal(filled[mask], x[mask])
    assert set(filled[..., 2].unique().tolist()) == {0.0}  # the Bernoulli part keeps 0
    assert (filled[~mask][:, 3] > 0).all() and (filled[~mask][:, 3] < 1).all()  # Beta: its mean
