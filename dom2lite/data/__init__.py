"""Offline data: the batch type, the data set format, cards, validation, sampling and generation.

Explained in chapter 02 (the offline multi-agent setting).
"""

from dom2lite.data.batch import Batch
from dom2lite.data.card import normalised_score, read_card, reference_returns
from dom2lite.data.dataset import OfflineDataset
from dom2lite.data.paths import QUALITIES, card_path, dataset_path, dataset_stem, default_data_dir
from dom2lite.data.sampler import Sampler, TransitionSampler
from dom2lite.data.validate import validate_arrays

__all__ = [
    "Batch",
    "OfflineDataset",
    "QUALITIES",
    "Sampler",
    "TransitionSampler",
    "card_path",
    "dataset_path",
    "dataset_stem",
    "default_data_dir",
    "normalised_score",
    "read_card",
    "reference_returns",
    "validate_arrays",
]
