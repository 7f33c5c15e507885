"""Character-level text: a :class:`Vocabulary` and fixed-length windows of token ids.

The char-rnn setting (Karpathy 2015; Tiny Shakespeare): a text of ``N`` characters is encoded
as ids ``c_1 … c_N`` (long), and the dataset's items are the windows
``x^{(k)} = (c_{ks+1}, …, c_{ks+L})`` of length ``L = seq_len`` every ``s = stride`` characters
(``s = L`` by default: non-overlapping), each ``[L]`` long with ``obs_shape ()``, for a
Categorical decoder over ``num_classes = len(vocab)`` symbols. The last ``N - ((K-1)s + L)``
characters that do not fill a window are dropped (``num_dropped``).

Splits follow the corpus's convention: the first ``1 - valid_fraction`` of the characters
(90 %) train, the last ``valid_fraction`` validate. Id 0 is ``<unk>``: characters outside the
vocabulary (e.g. in the validation text, when the vocabulary was built on the training text)
map to it and are counted.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from ..errors import DataError
from .collate import SequenceDataset, require_int

__all__ = ["Vocabulary", "CharTextDataset", "read_text", "split_text"]

TEXT_SPLITS = ("train", "valid", "all")


def _code_points(text: str) -> np.ndarray:
    """``text`` -> ``[len(text)]`` uint32 Unicode code points (vectorised; no Python loop)."""
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype="<u4")


class Vocabulary:
    """Characters <-> ids. Id 0 is the out-of-vocabulary token ``<unk>``; ids ``1..n`` the characters.

    Immutable; equal vocabularies encode identically. ``to_dict``/``from_dict`` give a JSON-ready
    form for checkpoints: ``{"kind": "char", "unk_token": "<unk>", "chars": [...]}`` (``chars[i]``
    has id ``i + 1``).
    """

    kind = "char"
    unk_id = 0

    def __init__(self, chars: Iterable[str], *, unk_token: str = "<unk>"):
        chars = tuple(chars)
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise DataError(f"chars[{i}]", f"expected a single character, got {c!r}", "build the vocabulary from single characters")
        if len(set(chars)) != len(chars):
            dup = next(c for i, c in enumerate(chars) if c in chars[:i])
            raise DataError("chars", f"character {dup!r} appears twice", "list every character once")
        self.chars, self.unk_token = chars, unk_token
        codes = _code_points("".join(chars)).astype(np.int64)
        order = np.argsort(codes, kind="stable")
        self._sorted_codes, self._sorted_ids = codes[order], order + 1  # lookup by binary search

    @classmethod
    def from_text(cls, text: str, *, min_count: int = 1, unk_token: str = "<unk>") -> "Vocabulary":
        """Every character occurring at least ``min_count`` times in ``text``, sorted by code point."""
        require_int("min_count", min_count)
        codes, counts = np.unique(_code_points(text), return_counts=True)
        kept = codes[counts >= min_count]
        if kept.size == 0:
            raise DataError("text", f"has no character occurring {min_count}+ times (length {len(text)})", "pass a non-empty text or lower min_count")
        return cls((chr(int(c)) for c in kept), unk_token=unk_token)

    def __len__(self) -> int:
        return len(self.chars) + 1

    @property
    def num_classes(self) -> int:
        """Number of ids, ``<unk>`` included (the Categorical decoder's size)."""
        return len(self)

    @property
    def tokens(self) -> Tuple[str, ...]:
        """Every id's token: ``tokens[0] == unk_token``, ``tokens[i] == chars[i-1]``."""
        return (self.unk_token,) + self.chars

    def encode(self, text: str, *, return_unknown: bool = False) -> Union[torch.Tensor, Tuple[torch.Tensor, int]]:
        """``text`` -> ids ``[len(text)]`` long; unknown characters become ``unk_id`` (0).

        With ``return_unknown=True`` returns ``(ids, num_unknown)``, the count of characters that
        were not in the vocabulary.
        """
        if not isinstance(text, str):
            raise DataError("text", f"expected a str, got {type(text).__name__}", "decode bytes first (text.decode('utf-8'))")
        codes = _code_points(text).astype(np.int64)
        pos = np.searchsorted(self._sorted_codes, codes).clip(max=max(len(self._sorted_codes) - 1, 0))
        known = self._sorted_codes[pos] == codes if len(self._sorted_codes) else np.zeros(len(codes), dtype=bool)
        ids = torch.from_numpy(np.where(known, self._sorted_ids[pos], self.unk_id).astype(np.int64))
        return (ids, int((~known).sum())) if return_unknown else ids

    def decode(self, ids: Any, *, unknown: str = "\ufffd") -> str:
        """Ids (a 1-D tensor, array or list) -> str; ``<unk>`` is written as ``unknown`` (one character
        by default, so ``len(decode(ids)) == len(ids)``)."""
        flat = torch.as_tensor(ids).reshape(-1).tolist()
        bad = [i for i in flat if not 0 <= i < len(self)]
        if bad:
            raise DataError("ids", f"must lie in [0, {len(self)}) (found {bad[0]})", "decode ids produced with this vocabulary")
        table = (unknown,) + self.chars
        return "".join(table[i] for i in flat)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "unk_token": self.unk_token, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Vocabulary":
        if not isinstance(data, Mapping) or data.get("kind") != cls.kind or not isinstance(data.get("chars"), list):
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise DataError("vocab", f"expected a dict with kind 'char' and a 'chars' list, got {got}", "pass the dict written by Vocabulary.to_dict()")
        return cls(data["chars"], unk_token=data.get("unk_token", "<unk>"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and (self.chars, self.unk_token) == (other.chars, other.unk_token)

    def __hash__(self) -> int:
        return hash((self.chars, self.unk_token))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids: <unk> + {len(self.chars)} characters)"


def read_text(path: Union[str, os.PathLike], *, max_chars: Optional[int] = None) -> str:
    """The UTF-8 text of ``path`` (its first ``max_chars`` characters when given); DataError naming
    the path when it is missing, unreadable or not UTF-8."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() if max_chars is None else f.read(max_chars)
    except FileNotFoundError:
        raise DataError("path", f"{path}: no such file", "check the path (text data is a UTF-8 .txt file)") from None
    except UnicodeDecodeError as e:
        raise DataError("path", f"{path}: not UTF-8 text ({e.reason} at byte {e.start})", "re-encode the file as UTF-8") from None
    except OSError as e:
        raise DataError("path", f"{path}: cannot be read ({e.strerror or e})", "check the file exists and is readable") from None


def split_text(text: str, split: str, valid_fraction: float) -> str:
    """The ``'train'`` (first ``1 - valid_fraction``), ``'valid'`` (rest) or ``'all'`` part of ``text``."""
    if split not in TEXT_SPLITS:
        raise DataError("split", f"expected one of {', '.join(map(repr, TEXT_SPLITS))}, got {split!r}", "text files split by position")
    if isinstance(valid_fraction, bool) or not isinstance(valid_fraction, (int, float)) or not 0 <= valid_fraction < 1:
        raise DataError("valid_fraction", f"expected a number in [0, 1), got {valid_fraction!r}", "pass e.g. valid_fraction=0.1")
    cut = int(round(len(text) * (1 - valid_fraction)))
    return {"train": text[:cut], "valid": text[cut:], "all": text}[split]


class CharTextDataset(SequenceDataset):
    """Fixed-length windows of character ids (see the module docstring).

    Items: ``x: [seq_len]`` long, ``obs_shape ()``, ``obs_kind 'categorical'``,
    ``num_classes == len(vocab)``. Attributes: ``vocab``, ``seq_len``, ``stride``,
    ``num_chars`` (characters encoded), ``num_unknown`` (of them, mapped to ``<unk>``),
    ``num_dropped`` (trailing characters in no window).
    """

    def __init__(
        self,
        text: str,
        *,
        seq_len: int = 100,
        vocab: Optional[Union[Vocabulary, Mapping[str, Any]]] = None,
        stride: Optional[int] = None,
        name: str = "text",
        source: Optional[str] = None,
    ):
        require_int("seq_len", seq_len)
        stride = seq_len if stride is None else require_int("stride", stride)
        if vocab is None:
            vocab = Vocabulary.from_text(text)
        elif not isinstance(vocab, Vocabulary):
            vocab = Vocabulary.from_dict(vocab)
        ids, unknown = vocab.encode(text, return_unknown=True)  # [num_chars]
        if ids.shape[0] < seq_len:
            raise DataError("seq_len", f"the text has {ids.shape[0]} characters, fewer than seq_len={seq_len}", "lower seq_len or pass a longer text")
        windows = ids.unfold(0, seq_len, stride)  # [num_windows, seq_len], a view: no copy
        super().__init__(windows, obs_kind="categorical", num_classes=len(vocab), name=name, source=source)
        self.vocab, self.seq_len, self.stride = vocab, seq_len, stride
        self.num_chars, self.num_unknown = int(ids.shape[0]), unknown
        self.num_dropped = self.num_chars - ((windows.shape[0] - 1) * stride + seq_len)

    @classmethod
    def from_file(
        cls,
        path: Union[str, os.PathLike],
        *,
        split: str = "train",
        valid_fraction: float = 0.1,
        seq_len: int = 100,
        vocab: Optional[Union[Vocabulary, Mapping[str, Any]]] = None,
        stride: Optional[int] = None,
        max_chars: Optional[int] = None,
    ) -> "CharTextDataset":
        """Windows of one split of a UTF-8 text file.

        ``split``: ``'train'`` (first ``1 - valid_fraction`` of the characters), ``'valid'`` (the
        rest) or ``'all'``. ``vocab=None`` builds the vocabulary from the *training* part (the whole
        text for ``'all'``), so train and valid loaded separately from one file share ids; pass
        ``vocab=train.vocab`` to be explicit or to reuse a checkpoint's vocabulary.
        ``max_chars`` reads only the file's first characters (the split applies to those).
        """
        text = read_text(path, max_chars=max_chars)
        if not text:
            raise DataError("path", f"{path}: the file is empty", "point to a non-empty UTF-8 text file")
        part = split_text(text, split, valid_fraction)
        if vocab is None:
            vocab = Vocabulary.from_text(text if split == "all" else split_text(text, "train", valid_fraction))
        if not part:
            raise DataError("split", f"{path}: the {split!r} part is empty ({len(text)} characters, valid_fraction={valid_fraction})", "use a longer text or another valid_fraction")
        return cls(part, seq_len=seq_len, vocab=vocab, stride=stride, name=f"text ({split})", source=str(path))

    def _describe_extra(self) -> List[str]:
        return [
            f"{self.num_chars} characters, vocabulary {len(self.vocab)} (<unk> included), "
            f"{self.num_unknown} unknown, windows of {self.seq_len} every {self.stride}, {self.num_dropped} trailing dropped"
        ]
