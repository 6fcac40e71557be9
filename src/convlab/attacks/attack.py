"""The base of every attack: torchattacks 3.5's ``Attack``, on convlab models.

An attack is built on a model and called on a batch: ``attack(images, labels)`` returns
adversarial images (a Tensor of the images' shape and dtype). As in torchattacks:

- the model runs in eval mode during the attack (BatchNorm uses its running statistics, dropout
  is off) and gets its mode back afterwards;
- ``set_normalization_used(mean, std)`` is for a model that expects normalised input: the attack
  then takes *normalised* images, undoes the normalisation, attacks in pixel space (``eps`` and the
  ``[0, 1]`` clamp are in pixels), normalises inside every forward pass, and returns normalised
  adversarial images;
- ``set_mode_targeted_by_label()`` makes ``attack(images, target_labels)`` push the images
  towards ``target_labels``; ``set_mode_default()`` goes back to the untargeted attack.

Unlike torchattacks, an attack leaves no trace on the model, even when it raises: every module's
train/eval flag and every parameter's ``requires_grad`` flag are restored, the parameters'
``.grad`` are never touched (gradients are taken with :func:`convlab.autograd.grad` with respect to
the images only), and the normalisation state is restored too.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _random
from ..autograd import enable_grad
from ..autograd import grad as autograd_grad
from ..backend import array_module, to_numpy
from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["Attack"]


class Attack:
    """Base class for all attacks (torchattacks' ``Attack``).

    Args:
        name: the attack's name (``"PGD"``, ...), shown by ``repr``.
        model: a classifier returning logits ``(N, classes)`` for images ``(N, C, H, W)``.

    Subclasses implement :meth:`forward` on pixel-space NumPy (or CuPy) arrays.
    """

    def __init__(self, name: str, model):
        if not callable(model) or not hasattr(model, "parameters"):
            raise TypeError(f"{name}(): model must be a convlab.nn.Module, got {type(model).__name__}")
        self.attack = name
        self.model = model
        self.model_name = type(model).__name__
        first = next(iter(model.parameters()), None)
        self.device = None if first is None else first.device
        self.attack_mode = "default"
        self.supported_mode = ["default"]
        self.targeted = False
        self._target_map_function = None
        self.normalization_used = None
        self._normalization_applied = None

    # ------------------------------------------------------------------ subclass interface
    def forward(self, images, labels):
        """Adversarial images (array) for pixel-space ``images`` (array) and int ``labels`` (array)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ modes
    def get_mode(self) -> str:
        """``"default"`` or the targeted mode's name (``"targeted(label)"``, ...)."""
        return self.attack_mode

    def set_mode_default(self) -> None:
        """Untargeted attack: move the images away from their labels."""
        self.attack_mode = "default"
        self.targeted = False
        print("Attack mode is changed to 'default.'")

    def _set_mode_targeted(self, mode: str, quiet: bool) -> None:
        if "targeted" not in self.supported_mode:
            raise ValueError(f"{self.attack}: targeted mode is not supported (modes: {', '.join(self.supported_mode)})")
        self.targeted = True
        self.attack_mode = mode
        if not quiet:
            print(f"Attack mode is changed to '{mode}'.")

    def set_mode_targeted_by_label(self, quiet: bool = False) -> None:
        """Targeted attack whose targets are the labels passed: ``attack(images, target_labels)``."""
        self._set_mode_targeted("targeted(label)", quiet)
        self._target_map_function = "labels"

    def set_mode_targeted_by_function(self, target_map_function, quiet: bool = False) -> None:
        """Targeted attack with targets ``target_map_function(images, labels)`` (e.g.
        ``lambda images, labels: (labels + 1) % 10``), given and returning arrays."""
        if not callable(target_map_function):
            raise TypeError(f"{self.attack}.set_mode_targeted_by_function(): target_map_function must be callable, "
                            f"got {type(target_map_function).__name__}")
        self._set_mode_targeted("targeted(custom)", quiet)
        self._target_map_function = target_map_function

    def set_mode_targeted_random(self, quiet: bool = False) -> None:
        """Targeted attack towards a class drawn uniformly among each image's other classes
        (from convlab's generator, ``convlab.manual_seed``)."""
        self._set_mode_targeted("targeted(random)", quiet)
        self._target_map_function = self._random_target_label

    def set_mode_targeted_least_likely(self, kth_min: int = 1, quiet: bool = False) -> None:
        """Targeted attack towards each image's ``kth_min``-th least likely class (other than its label)."""
        if not isinstance(kth_min, numbers.Integral) or kth_min < 1:
            raise ValueError(f"{self.attack}.set_mode_targeted_least_likely(): kth_min must be an int >= 1, got "
                             f"{kth_min!r}")
        self._set_mode_targeted("targeted(least-likely)", quiet)
        self._kth_min = int(kth_min)
        self._target_map_function = self._least_likely_label

    def get_target_label(self, images, labels):
        """The target labels (array) of a targeted attack."""
        if self._target_map_function is None:
            raise ValueError(f"{self.attack}: target_map_function is not initialized by set_mode_targeted")
        if self.attack_mode == "targeted(label)":
            return labels
        return array_module(labels).asarray(self._target_map_function(images, labels))

    def _random_target_label(self, images, labels):
        classes = self._logits_no_grad(images).shape[1]
        offset = _random.integers(1, classes, labels.shape, labels.dtype, self.device)  # never 0: not the label
        return (labels + offset) % classes

    def _least_likely_label(self, images, labels):
        logits = self._logits_no_grad(images)
        xp = array_module(logits)
        masked = logits.copy()
        masked[xp.arange(len(labels)), labels] = xp.inf  # the label itself is never the target
        if self._kth_min > masked.shape[1] - 1:
            raise ValueError(f"{self.attack}: kth_min={self._kth_min} but only {masked.shape[1] - 1} other classes")
        return xp.argsort(masked, axis=1, kind="stable")[:, self._kth_min - 1]

    # ------------------------------------------------------------------ normalisation
    def set_normalization_used(self, mean, std) -> None:
        """The model expects ``(x - mean) / std`` per channel: take and return normalised images,
        attack in pixel space (see the module docstring).

        As ``torch.tensor`` does, Python numbers are stored as float32 and arrays keep their dtype;
        the statistics are cast to the images' dtype when used.
        """
        stats = {}
        for name, value in (("mean", mean), ("std", std)):
            array = to_numpy(value.data) if isinstance(value, Tensor) else np.asarray(value)
            if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "fiu":
                raise ValueError(f"{self.attack}.set_normalization_used(): {name} must be a sequence of numbers, one "
                                 f"per channel, got {value!r}")
            if not isinstance(value, (np.ndarray, Tensor)):
                array = array.astype(np.float32)
            stats[name] = array.reshape(1, -1, 1, 1)
        if stats["mean"].shape != stats["std"].shape:
            raise ValueError(f"{self.attack}.set_normalization_used(): mean and std need one value per channel each, "
                             f"got {stats['mean'].shape[1]} and {stats['std'].shape[1]}")
        if np.any(stats["std"] == 0):
            raise ValueError(f"{self.attack}.set_normalization_used(): std must be non-zero, got {std!r}")
        self.normalization_used = stats
        self._normalization_applied = True

    def _stats(self, inputs):
        xp = array_module(inputs)
        return (xp.asarray(self.normalization_used["mean"], dtype=inputs.dtype),
                xp.asarray(self.normalization_used["std"], dtype=inputs.dtype))

    def normalize(self, inputs):
        """``(inputs - mean) / std`` (a Tensor stays differentiable; arrays give arrays)."""
        if isinstance(inputs, Tensor):
            mean, std = self._stats(inputs.data)
            return (inputs - Tensor(mean)) / Tensor(std)
        mean, std = self._stats(inputs)
        return (inputs - mean) / std

    def inverse_normalize(self, inputs):
        """``inputs * std + mean`` on an array."""
        mean, std = self._stats(inputs)
        return inputs * std + mean

    # ------------------------------------------------------------------ model
    def get_logits(self, inputs: Tensor) -> Tensor:
        """The model's logits for pixel-space ``inputs`` (normalised first when the model expects it)."""
        if self._normalization_applied is False:
            inputs = self.normalize(inputs)
        return self.model(inputs)

    def _logits_no_grad(self, images):
        from ..autograd import no_grad

        with no_grad():
            return self.get_logits(Tensor(images)).data

    def _input_grad(self, images, labels, target_labels=None):
        """``d loss / d images`` (array) for the cross-entropy loss of torchattacks' gradient
        attacks: mean cross-entropy to ``labels``, or minus that to ``target_labels`` when targeted."""
        x = Tensor(images, requires_grad=True)
        logits = self.get_logits(x)
        if self.targeted:
            cost = -F.cross_entropy(logits, Tensor(target_labels))
        else:
            cost = F.cross_entropy(logits, Tensor(labels))
        return autograd_grad(cost, [x])[0].data

    # ------------------------------------------------------------------ call
    def _check_inputs(self, images, labels):
        if isinstance(images, Tensor):
            images = images.detach()
        else:
            images = Tensor(np.asarray(images))
        if self.device is not None:
            images = images.to(self.device)
        if images.ndim != 4 or images.dtype.kind != "f":
            raise ValueError(f"{self.attack}(): expected floating-point images (N, C, H, W), got shape {tuple(images.shape)} "
                             f"and dtype {images.dtype}")
        if labels is None:
            raise ValueError(f"{self.attack}(): labels are required ({'target labels' if self.targeted else 'true labels'} "
                             f"of shape ({images.shape[0]},))")
        labels = labels.detach() if isinstance(labels, Tensor) else Tensor(np.asarray(labels))
        if self.device is not None:
            labels = labels.to(self.device)
        if labels.dtype.kind not in "iu" or labels.shape != (images.shape[0],):
            raise ValueError(f"{self.attack}(): expected integer labels of shape ({images.shape[0]},), got shape "
                             f"{tuple(labels.shape)} and dtype {labels.dtype}")
        if self.normalization_used is not None and self.normalization_used["mean"].shape[1] != images.shape[1]:
            raise ValueError(f"{self.attack}(): set_normalization_used() has {self.normalization_used['mean'].shape[1]} "
                             f"channels, the images have {images.shape[1]}")
        return images.data, labels.data

    def __call__(self, images, labels=None) -> Tensor:
        """Adversarial images for ``images`` (Tensor or array ``(N, C, H, W)``, in [0, 1] or
        normalised after :meth:`set_normalization_used`) and their ``labels`` (target labels in
        ``targeted(label)`` mode); a Tensor of the images' shape and dtype, without gradient."""
        images, labels = self._check_inputs(images, labels)
        modules = list(self.model.modules())
        training = [m.training for m in modules]
        parameters = list(self.model.parameters())
        requires_grad = [p.requires_grad for p in parameters]
        applied = self._normalization_applied
        try:
            self.model.eval()
            for p in parameters:  # only the images' gradient is wanted; the weights' graph is not built
                p.requires_grad = False
            with enable_grad():
                if applied is True:
                    self._normalization_applied = False
                    adv_images = self.normalize(self.forward(self.inverse_normalize(images), labels))
                else:
                    adv_images = self.forward(images, labels)
        finally:
            self._normalization_applied = applied
            for m, flag in zip(modules, training):
                m.training = flag
            for p, flag in zip(parameters, requires_grad):
                p.requires_grad = flag
        return Tensor(adv_images)

    def __repr__(self) -> str:
        hidden = {"model", "attack", "supported_mode"}
        info = {k: v for k, v in self.__dict__.items() if k not in hidden and not k.startswith("_")}
        info["attack_mode"] = self.attack_mode
        info["normalization_used"] = self.normalization_used is not None
        return f"{self.attack}(" + ", ".join(f"{k}={v}" for k, v in info.items()) + ")"
