"""The model registry behind ``convlab.models.get_model`` and ``list_models`` (torchvision's API).

Constructors register themselves with :func:`register_model`; :func:`get_model` builds one by
name. Pretrained weights cannot be downloaded here (no network): every constructor takes
``weights=None`` or the path of a state dict file - a PyTorch ``.pt``/``.pth`` (e.g. torchvision's
``resnet18-f37072fd.pth``, read by :func:`convlab.io.load_torch_state_dict`) or a convlab
``.safetensors`` checkpoint - loaded with ``strict=True``.
"""

from __future__ import annotations

import fnmatch
import os

from ..io import checkpoint
from ..io.torch_state_dict import load_torch_state_dict

_MODELS: dict = {}
_INPUT_SIZES: dict = {}


def register_model(name: str | None = None, input_size: tuple = (3, 224, 224)):
    """Decorator adding a constructor to the registry under ``name`` (default: its own name);
    ``input_size`` is the model's usual input ``(channels, height, width)``, used by the command
    line tools when none is given."""

    def wrap(fn):
        key = name or fn.__name__
        if key in _MODELS:
            raise ValueError(f"register_model(): a model named {key!r} is already registered")
        _MODELS[key] = fn
        _INPUT_SIZES[key] = tuple(input_size)
        return fn

    return wrap


def default_input_size(name: str) -> tuple:
    """The usual input ``(channels, height, width)`` of the registered model ``name``."""
    get_model_builder(name)
    return _INPUT_SIZES[name.lower()]


def list_models(include=None, exclude=None) -> list[str]:
    """The registered model names, sorted; ``include``/``exclude`` filter with shell-style
    patterns (a string or a list of them), as ``torchvision.models.list_models``.

    Example::

        >>> convlab.models.list_models(include="resnet*")
        ['resnet101', 'resnet18', 'resnet18_cifar', 'resnet34', 'resnet50']
    """
    names = sorted(_MODELS)
    if include is not None:
        patterns = [include] if isinstance(include, str) else list(include)
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if exclude is not None:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)]
    return names


def get_model_builder(name: str):
    """The constructor registered as ``name``; ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"get_model(): the model name must be a string, got {type(name).__name__}")
    try:
        return _MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"get_model(): unknown model {name!r}; valid names: {', '.join(list_models())}") from None


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` with the constructor's keyword arguments.

    Example::

        >>> net = convlab.models.get_model("resnet18", num_classes=10)
    """
    return get_model_builder(name)(**kwargs)


def read_state_dict(weights, who: str):
    """The state dict stored at the path ``weights`` (a torch ``.pt``/``.pth`` or a convlab
    ``.safetensors`` file); TypeError/FileNotFoundError naming ``who`` otherwise."""
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"{who}: weights must be None or the path of a state dict file, got {type(weights).__name__}")
    if not os.path.exists(weights):
        raise FileNotFoundError(
            f"{who}: weights file {os.fspath(weights)!r} not found; convlab cannot download weights - fetch the "
            "torchvision .pth file elsewhere and pass its path"
        )
    if os.fspath(weights).endswith(".safetensors"):
        return checkpoint.load(weights)
    return load_torch_state_dict(weights)


def load_weights(model, weights, who: str, rename=None):
    """Load ``weights`` (None, or the path of a state dict file) into ``model``, strictly; returns it.

    ``rename`` maps the loaded state dict to the one to load (old key spellings).
    """
    if weights is None:
        return model
    state = read_state_dict(weights, who)
    model.load_state_dict(state if rename is None else rename(state), strict=True)
    return model
