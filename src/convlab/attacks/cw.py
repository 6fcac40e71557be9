"""The Carlini-Wagner L2 attack, as torchattacks 3.5 runs it."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import grad as autograd_grad
from ..backend import array_module
from ..nn import functional as F
from ..tensor import Tensor
from .attack import Attack
from .gradient import _check_number

__all__ = ["CW"]


class CW(Attack):
    r"""Carlini & Wagner's L2 attack (2017): optimise ``w`` with Adam, the images being
    ``x' = (tanh(w) + 1) / 2`` (always in [0, 1]), to minimise
    ``||x' - x||_2^2 + c * max(Z(x')_y - max_{i != y} Z(x')_i, -kappa)`` per image (``Z``: the
    logits), summed over the batch.

    Each step keeps, per image, the smallest perturbation that is misclassified (or classified as
    the target); images never fooled are returned unchanged. Every ``max(steps // 10, 1)`` steps
    the summed cost is compared with its value at the previous check and the attack stops early
    if it grew.

    As in torchattacks, the logit terms are taken from ``(1 - one_hot) * Z`` and ``one_hot * Z``,
    so a class's "logit" is at least 0 in the margin, and ``w`` starts at ``atanh(2x - 1)`` (pixels
    at exactly 0 or 1 start at infinity and never move).

    Args:
        model: the classifier (returns logits).
        c: the weight of the classification term (default 1).
        kappa: the confidence margin (default 0).
        steps: Adam steps (default 50).
        lr: Adam's learning rate (default 0.01).

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.

    Example::

        >>> attack = CW(model, c=1, kappa=0, steps=50, lr=0.01)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, c: float = 1, kappa: float = 0, steps: int = 50, lr: float = 0.01):
        super().__init__("CW", model)
        _check_number("CW", "c", c)
        _check_number("CW", "kappa", kappa)
        _check_number("CW", "steps", steps, 0, integer=True)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"CW(): lr must be a positive number, got {lr!r}")
        self.c = c
        self.kappa = kappa
        self.steps = steps
        self.lr = lr
        self.supported_mode = ["default", "targeted"]

    def forward(self, images, labels):
        from ..optim import Adam

        xp = array_module(images)
        target_labels = self.get_target_label(images, labels) if self.targeted else None
        w = Tensor(self.inverse_tanh_space(images), requires_grad=True)
        best_adv_images = images
        best_l2 = xp.full(len(images), 1e10, dtype=images.dtype)
        prev_cost = 1e10
        mask_shape = (-1,) + (1,) * (images.ndim - 1)
        flat_images = Tensor(images.reshape(len(images), -1))
        optimizer = Adam([w], lr=self.lr)
        for step in range(self.steps):
            adv_images = self.tanh_space(w)
            current_l2 = F.mse_loss(adv_images.reshape(len(images), -1), flat_images, reduction="none").sum(dim=1)
            l2_loss = current_l2.sum()
            outputs = self.get_logits(adv_images)
            f_loss = self.f(outputs, target_labels if self.targeted else labels).sum()
            cost = l2_loss + self.c * f_loss
            w.grad = autograd_grad(cost, [w])[0]
            optimizer.step()

            predictions = outputs.data.argmax(axis=1)
            if self.targeted:  # success: classified as the target
                condition = (predictions == target_labels).astype(images.dtype)
            else:  # success: misclassified
                condition = (predictions != labels).astype(images.dtype)
            # keep the images that succeed with a smaller perturbation than the best so far
            mask = condition * (best_l2 > current_l2.data)
            best_l2 = mask * current_l2.data + (1 - mask) * best_l2
            mask = mask.reshape(mask_shape)
            best_adv_images = mask * adv_images.data + (1 - mask) * best_adv_images

            if step % max(self.steps // 10, 1) == 0:  # stop when the cost stops decreasing
                value = float(cost.item())
                if value > prev_cost:
                    return best_adv_images
                prev_cost = value
        return best_adv_images

    @staticmethod
    def tanh_space(x):
        """``(tanh(x) + 1) / 2``: the images of the optimisation variable."""
        return 1 / 2 * (x.tanh() + 1)

    def inverse_tanh_space(self, x):
        """``atanh(clamp(2x - 1, -1, 1))`` (infinite at 0 and 1)."""
        return self.atanh(array_module(x).clip(x * 2 - 1, -1, 1))

    @staticmethod
    def atanh(x):
        with np.errstate(divide="ignore"):
            return 0.5 * array_module(x).log((1 + x) / (1 - x))

    def f(self, outputs, labels):
        """The margin term per image: ``clamp(real - other, min=-kappa)`` (``other - real`` when
        targeted), ``real`` the label's logit term and ``other`` the largest other one."""
        xp = array_module(outputs.data)
        one_hot = Tensor(xp.eye(outputs.shape[1], dtype=outputs.dtype)[labels])
        other = ((1 - one_hot) * outputs).max(dim=1)[0]
        real = (one_hot * outputs).max(dim=1)[0]
        if self.targeted:
            return (other - real).clamp(min=-self.kappa)
        return (real - other).clamp(min=-self.kappa)
