"""Checkpoints: ``save``/``load`` in the safetensors format (no pickle, atomic writes)."""

from .checkpoint import load, save
from .torch_state_dict import load_torch_state_dict

__all__ = ["load", "load_torch_state_dict", "save"]
