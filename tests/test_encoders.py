"""Encoders: shapes over leading dims, values, token checks, conv reshapes, dtypes, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqgen import ConfigError, DataError, ShapeError
from seqgen.components import ConvEncoder, EmbeddingEncoder, FlattenEncoder, MLPEncoder, OneHotEncoder

LEADS = [(), (2,), (2, 3)]


def make(kind: str):
    """(encoder, a function drawing an input with the given leading dims)."""
    return {
        "flatten": (FlattenEncoder((2, 3)), lambda lead: torch.randn(*lead, 2, 3)),
        "mlp": (MLPEncoder((2, 3), 5, hidden=(4,)), lambda lead: torch.randn(*lead, 2, 3)),
        "embedding": (EmbeddingEncoder(6, 5), lambda lead: torch.randint(0, 6, lead)),
        "onehot": (OneHotEncoder(6), lambda lead: torch.randint(0, 6, lead)),
        "conv_hw": (ConvEncoder((7, 5), 5, channels=(2, 3)), lambda lead: torch.randn(*lead, 7, 5)),
        "conv_chw": (ConvEncoder((2, 6, 6), 5, channels=(3,)), lambda lead: torch.randn(*lead, 2, 6, 6)),
    }[kind]


KINDS = ["flatten", "mlp", "embedding", "onehot", "conv_hw", "conv_chw"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lead", LEADS)
def test_encoder_shapes_over_leading_dims(kind, lead):
    torch.manual_seed(0)
    enc, draw = make(kind)
    out = enc(draw(lead))
    assert out.shape == torch.Size(lead) + (enc.out_dim,)
    assert out.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("kind", ["mlp", "embedding", "conv_hw", "conv_chw"])
def test_leading_dims_do_not_mix_rows(kind):
    """Row (i, j) of a [2, 3] batch equals the encoder applied to that observation alone."""
    torch.manual_seed(1)
    enc, draw = make(kind)
    x = draw((2, 3))
    out = enc(x)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(out[i, j], enc(x[i, j]), rtol=1e-5, atol=1e-6)  # batched vs single GEMMs


@pytest.mark.parametrize("kind", ["mlp", "embedding", "conv_hw"])
def test_gradients_reach_encoder_parameters(kind):
    torch.manual_seed(2)
    enc, draw = make(kind)
    enc(draw((4,))).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_flatten_and_onehot_values():
    x = torch.arange(12.0).reshape(2, 2, 3)
    assert torch.equal(FlattenEncoder((2, 3))(x), x.reshape(2, 6))
    assert FlattenEncoder(()).out_dim == 1 and FlattenEncoder(())(torch.tensor([1.0, 2.0])).shape == (2, 1)
    tokens = torch.tensor([[0, 3], [5, 1]])
    assert torch.equal(OneHotEncoder(6)(tokens), F.one_hot(tokens, 6).float())
    assert torch.equal(OneHotEncoder(6)(tokens.float()), F.one_hot(tokens, 6).float())  # float tokens read as ints


def test_embedding_reads_table_rows():
    torch.manual_seed(3)
    enc = EmbeddingEncoder(6, 4)
    tokens = torch.tensor([[2, 5, 0]])
    assert torch.equal(enc(tokens), enc.embedding.weight[tokens])


@pytest.mark.parametrize("enc", [EmbeddingEncoder(6, 4), OneHotEncoder(6)])
def test_token_errors_name_the_vocabulary(enc):
    with pytest.raises(DataError, match=r"num_classes=6\) got token 9 at index \(1,\), outside \[0, 6\)"):
        enc(torch.tensor([1, 9]))
    with pytest.raises(DataError, match="token 1.5"):
        enc(torch.tensor([1.5]))


def test_conv_feature_map_sizes():
    enc = ConvEncoder((7, 5), 3, channels=(2, 3))
    assert enc.feature_shape == (3, 2, 2)  # 7x5 -> 4x3 -> 2x2 with stride 2, padding 1
    assert ConvEncoder((1, 1), 3).feature_shape == (64, 1, 1)


def test_shape_and_config_errors_name_the_encoder():
    with pytest.raises(ShapeError, match=r"ConvEncoder obs_shape: expected \(H, W\) or \(C, H, W\), got \(10,\)"):
        ConvEncoder((10,), 4)
    with pytest.raises(ShapeError, match=r"MLPEncoder x: expected \[\*, 2, 3\], got \(4, 3, 2\)"):
        MLPEncoder((2, 3), 5)(torch.randn(4, 3, 2))
    with pytest.raises(ShapeError, match=r"ConvEncoder x: expected \[\*, 7, 5\], got \(7,\)"):
        ConvEncoder((7, 5), 3)(torch.randn(7))
    with pytest.raises(ConfigError, match="MLPEncoder: 'out_dim' must be an integer >= 1"):
        MLPEncoder((2,), 0)
    with pytest.raises(ConfigError, match="FlattenEncoder: 'obs_shape' must be an integer >= 1"):
        FlattenEncoder((2, 0))


def test_integer_inputs_follow_the_module_dtype():
    tokens = torch.tensor([[0, 1], [2, 3]])
    assert OneHotEncoder(4).double()(tokens).dtype == torch.float64
    assert FlattenEncoder((2,)).double()(tokens).dtype == torch.float64
    assert MLPEncoder((2,), 3).double()(tokens).dtype == torch.float64
    assert FlattenEncoder((2,))(tokens.double()).dtype == torch.float64  # floats keep their dtype
    assert "_probe" not in OneHotEncoder(4).state_dict()  # nothing extra in checkpoints
