"""Datasets of variable-length sequences, and the collate function that batches them.

Every dataset is a :class:`SequenceDataset` (items: :class:`Sequence` records) exposing
``obs_shape``, ``obs_kind`` (which decoder fits), ``num_classes`` (tokens) and ``describe()``;
:func:`collate` pads a list of items into a :class:`SeqBatch`; :func:`load_data` builds one
from a spec string (``'text:PATH'``, ``'lorenz:spiking'``, …).
"""

from .batch import SeqBatch
from .collate import OBS_KINDS, Sequence, SequenceDataset, collate
from .lorenz import LorenzDataset, linear_observations, lorenz_trajectories, spiking_observations
from .mnist import MNISTDataset, read_idx
from .pianoroll import NUM_KEYS, PianoRollDataset, RandomTranspose, pianoroll_to_pitches, pitches_to_pianoroll, transpose_range, transpose_roll, write_midi
from .spec import DATA_SCHEMES, load_data
from .text import CharTextDataset, Vocabulary
from .timeseries import CsvDataset, NpzDataset

__all__ = [
    "SeqBatch",
    "OBS_KINDS",
    "Sequence",
    "SequenceDataset",
    "collate",
    "LorenzDataset",
    "linear_observations",
    "lorenz_trajectories",
    "spiking_observations",
    "MNISTDataset",
    "read_idx",
    "NUM_KEYS",
    "PianoRollDataset",
    "pianoroll_to_pitches",
    "pitches_to_pianoroll",
    "RandomTranspose",
    "transpose_range",
    "transpose_roll",
    "write_midi",
    "DATA_SCHEMES",
    "load_data",
    "CharTextDataset",
    "Vocabulary",
    "CsvDataset",
    "NpzDataset",
]
