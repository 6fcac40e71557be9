"""Transfer learning (seed 004): start from a network trained on one task, freeze its features,
retrain the head, and give the pretrained layers a smaller learning rate than the new ones.

The three steps, as a PyTorch user writes them, are one function each here::

    source = convlab.load("runs/fmnist/best.safetensors")["model"]
    model = convlab.models.fmnist_cnn(num_classes=10)
    loaded = load_pretrained(model, source)          # the head's shapes differ: it stays new
    freeze(model, feature_prefixes(model))           # requires_grad_(False) on the conv layers
    optimizer = convlab.optim.Adam(param_groups(model, lr=3e-3, pretrained=loaded, pretrained_lr_scale=0.1))

``convlab train --init-from CKPT --freeze features --pretrained-lr-scale 0.1`` does the same
(:func:`prepare`).
"""

from __future__ import annotations

from .nn import Flatten, Linear

__all__ = ["feature_prefixes", "freeze", "load_pretrained", "param_groups", "prepare"]


def load_pretrained(model, state_dict, who: str = "load_pretrained()") -> list[str]:
    """Copy every entry of ``state_dict`` whose key and shape match ``model``'s; the others
    (a classifier for another number of classes) keep their fresh initialisation.

    Args:
        model: the new network.
        state_dict: the trained network's ``state_dict`` (Tensors or NumPy arrays).
        who: prefix of error messages.

    Returns:
        the keys loaded.

    Raises:
        ValueError: nothing matches (another architecture), naming a few keys of each side.
    """
    own = model.state_dict()
    matching = {k: v for k, v in state_dict.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not matching:
        raise ValueError(
            f"{who}: no entry of the checkpoint fits the model (checkpoint keys {list(state_dict)[:4]}..., model "
            f"keys {list(own)[:4]}...): it was trained with another architecture"
        )
    model.load_state_dict(matching, strict=False)
    return list(matching)


def feature_prefixes(model) -> list[str]:
    """The module names of the feature extractor: ``features`` when the model has such a
    child (torchvision's VGG, DenseNet, MobileNet, ...), else, for a ``Sequential``, the layers
    before its first ``Flatten`` or ``Linear`` (the convolutional part of ``fmnist_cnn``)."""
    children = list(model.named_children())
    if any(name == "features" for name, _ in children):
        return ["features"]
    prefixes = []
    for name, child in children:
        if isinstance(child, (Flatten, Linear)):
            return prefixes
        prefixes.append(name)
    raise ValueError(
        f"feature_prefixes(): {type(model).__name__} has no 'features' module and no Flatten/Linear layer that "
        "ends a feature extractor; name the modules to freeze instead"
    )


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def freeze(model, prefixes) -> list[str]:
    """``requires_grad_(False)`` on the parameters of the modules named by ``prefixes``
    (``"features"`` freezes ``features.0.weight``, ...; in a model without a ``features`` module
    it means :func:`feature_prefixes`); returns the frozen parameter names.

    Raises:
        ValueError: a prefix names no module of the model (the message lists its top-level ones).

    Example::

        >>> freeze(model, ["features"])        # then optimise [p for p in model.parameters() if p.requires_grad]
    """
    names = [name for name, _ in model.named_parameters()]
    modules = {name for name, _ in model.named_modules()}
    frozen = []
    if "features" in prefixes and "features" not in modules:
        prefixes = [p for p in prefixes if p != "features"] + feature_prefixes(model)
    for prefix in prefixes:
        if prefix not in modules:
            top = [name for name, _ in model.named_children()]
            raise ValueError(f"freeze(): the model has no module {prefix!r} (its top-level modules: {top})")
        frozen += [n for n in names if _matches(n, prefix)]
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)
    return frozen


def param_groups(model, lr: float, pretrained, pretrained_lr_scale: float = 1.0) -> list[dict]:
    """Optimiser parameter groups for discriminative learning rates: the trainable parameters
    loaded from the pretrained network get ``lr * pretrained_lr_scale``, the new ones ``lr``
    (frozen parameters are left out).

    Returns:
        ``[{"params": new, "lr": lr}, {"params": pretrained, "lr": lr * scale}]`` without empty groups.
    """
    loaded = set(pretrained)
    new, old = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (old if name in loaded else new).append(p)
    groups = [{"params": new, "lr": lr}, {"params": old, "lr": lr * pretrained_lr_scale}]
    return [g for g in groups if g["params"]]


def prepare(model, lr: float, init_from=None, freeze_prefixes=None, pretrained_lr_scale=1.0, load_weights=True):
    """What ``convlab train --init-from CKPT --freeze PREFIXES --pretrained-lr-scale S`` does
    before training: load the checkpoint's matching weights (when ``load_weights``; when resuming
    a run, its own checkpoint has them), freeze, and return the optimiser's parameter groups.

    Args:
        model: the new network.
        lr: the learning rate of the new layers.
        init_from: a checkpoint of ``convlab train`` (its ``"model"`` entry) or None.
        freeze_prefixes: comma-separated module names (a string) or a list of them, or None.
        pretrained_lr_scale: the loaded layers' learning rate as a fraction of ``lr``.
    """
    from . import load

    pretrained = []
    if init_from is not None:
        source = load(init_from)["model"]
        if load_weights:
            pretrained = load_pretrained(model, source, "--init-from")
        else:
            own = model.state_dict()
            pretrained = [k for k, v in source.items() if k in own and tuple(v.shape) == tuple(own[k].shape)]
    if freeze_prefixes:
        freeze(model, freeze_prefixes.split(",") if isinstance(freeze_prefixes, str) else list(freeze_prefixes))
    return param_groups(model, lr, pretrained, pretrained_lr_scale)
