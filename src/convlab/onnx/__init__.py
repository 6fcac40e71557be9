"""ONNX export and import (``torch.onnx``-shaped).

``export(model, args, f, ...)`` traces a model through convlab's ops and writes an ONNX file;
``load(path)`` builds a convlab ``Module`` from an ONNX file (convlab's own exports, PyTorch's,
any producer using the supported operators). The ``onnx`` package is imported only when these
are called (``pip install 'convlab[onnx]'``).
"""

from .export import UnsupportedOperatorError, export
from .load import SUPPORTED, ONNXModule, load

__all__ = ["SUPPORTED", "ONNXModule", "UnsupportedOperatorError", "export", "load"]
