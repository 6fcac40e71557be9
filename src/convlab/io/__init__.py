"""Checkpoints: ``save``/``load`` in the safetensors format (no pickle, atomic writes)."""

from .checkpoint import load, save

__all__ = ["load", "save"]
