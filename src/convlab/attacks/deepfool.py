"""DeepFool, as torchattacks 3.5 runs it (its per-image loop done for all images at once)."""

from __future__ import annotations

import numpy as np

from ..autograd import grad as autograd_grad
from ..backend import array_module
from ..tensor import Tensor
from .attack import Attack
from .gradient import _check_number

__all__ = ["DeepFool"]


class DeepFool(Attack):
    r"""DeepFool (Moosavi-Dezfooli et al., 2016): the smallest step to the nearest linearised
    decision boundary, repeated until the image is misclassified.

    At each step, for an image still classified as its label ``y``, with logits ``f`` and their
    Jacobian ``w`` (one gradient per class), the class ``k != y`` with the smallest
    ``|f_k - f_y| / ||w_k - w_y||`` is the nearest boundary; the image moves by
    ``(1 + overshoot) * |f_k - f_y| (w_k - w_y) / ||w_k - w_y||^2`` and is clamped to [0, 1].
    An image stops as soon as it is misclassified, or after ``steps`` steps.

    torchattacks attacks one image at a time with one backward pass per class; here all images
    still being attacked share each forward pass and each class's backward pass (the model runs in
    eval mode, so images do not interact) and the numbers are the same.

    Args:
        model: the classifier (returns logits).
        steps: the maximum number of steps (default 50).
        overshoot: the relative overshoot past the boundary (default 0.02).

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.
        DeepFool has no targeted mode.

    Example::

        >>> attack = DeepFool(model, steps=50, overshoot=0.02)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, steps: int = 50, overshoot: float = 0.02):
        super().__init__("DeepFool", model)
        _check_number("DeepFool", "steps", steps, 0, integer=True)
        _check_number("DeepFool", "overshoot", overshoot)
        self.steps = steps
        self.overshoot = overshoot
        self.supported_mode = ["default"]

    def forward(self, images, labels):
        xp = array_module(images)
        adv_images = images.copy()
        active = xp.ones(len(images), dtype=bool)
        step = 0
        while bool(active.any()) and step < self.steps:
            index = xp.nonzero(active)[0]
            fooled, stepped = self._step(adv_images[index], labels[index])
            adv_images[index] = stepped
            active[index[fooled]] = False
            step += 1
        return adv_images

    def _step(self, images, labels):
        """One DeepFool step for images still classified correctly before it: ``(fooled, images)``
        where ``fooled`` marks the images already misclassified (left unchanged)."""
        xp = array_module(images)
        n = len(images)
        x = Tensor(images, requires_grad=True)
        logits = self.get_logits(x)
        fs = logits.data
        classes = fs.shape[1]
        fooled = fs.argmax(axis=1) != labels
        jacobian = xp.empty((n, classes) + images.shape[1:], dtype=images.dtype)
        for k in range(classes):  # logit k of image i depends on image i only: one pass gives row k for all
            seed = xp.zeros_like(fs)
            seed[:, k] = 1
            jacobian[:, k] = autograd_grad(logits, [x], grad_outputs=[Tensor(seed)],
                                           retain_graph=k + 1 < classes)[0].data
        rows = xp.arange(n)
        others = xp.array([[k for k in range(classes) if k != y] for y in labels.tolist()]).reshape(n, classes - 1)
        f_prime = fs[rows[:, None], others] - fs[rows, labels][:, None]  # (n, classes - 1)
        w_prime = jacobian[rows[:, None], others] - jacobian[rows, labels][:, None]  # (n, classes - 1, C, H, W)
        w_norms = xp.sqrt((w_prime.reshape(n, classes - 1, -1) ** 2).sum(axis=2))
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero gradient difference: nan, as in torch
            hat = (xp.abs(f_prime) / w_norms).argmin(axis=1)
            w_hat = w_prime[rows, hat]
            norm_hat = w_norms[rows, hat].reshape((n,) + (1,) * (images.ndim - 1))
            delta = xp.abs(f_prime[rows, hat]).reshape(norm_hat.shape) * w_hat / norm_hat**2
        stepped = xp.clip(images + (1 + self.overshoot) * delta, 0, 1)
        return fooled, xp.where(fooled.reshape(norm_hat.shape), images, stepped)
