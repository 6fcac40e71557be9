"""Gradient-sign and gradient-step attacks: FGSM, BIM, PGD (L-infinity) and PGDL2 (L2).

Each follows torchattacks 3.5 operation for operation (the same loss, the same order of steps and
clamps), so on the same float64 model the adversarial images agree to rounding.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _random
from ..backend import array_module
from .attack import Attack

__all__ = ["BIM", "FGSM", "PGD", "PGDL2"]


def _check_number(attack: str, name: str, value, minimum=0.0, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= minimum:
        what = "an int" if integer else "a number"
        raise ValueError(f"{attack}(): {name} must be {what} >= {minimum}, got {value!r}")


def _check_steps(attack: str, eps, alpha, steps):
    """The settings of the iterative attacks: a budget, a step size and a number of steps."""
    _check_number(attack, "eps", eps)
    _check_number(attack, "alpha", alpha)
    _check_number(attack, "steps", steps, 0, integer=True)


class FGSM(Attack):
    r"""The fast gradient sign method (Goodfellow et al., 2015): one step of size ``eps`` along the
    sign of the loss gradient, ``x' = clamp(x + eps * sign(grad_x CE(f(x), y)), 0, 1)``.

    Args:
        model: the classifier (returns logits).
        eps: the L-infinity budget, in pixel units (default 8/255).

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.

    Example::

        >>> attack = FGSM(model, eps=8 / 255)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, eps: float = 8 / 255):
        super().__init__("FGSM", model)
        _check_number("FGSM", "eps", eps)
        self.eps = eps
        self.supported_mode = ["default", "targeted"]

    def forward(self, images, labels):
        xp = array_module(images)
        target_labels = self.get_target_label(images, labels) if self.targeted else None
        grad = self._input_grad(images, labels, target_labels)
        adv_images = images + self.eps * xp.sign(grad)
        return xp.clip(adv_images, 0, 1)


class BIM(Attack):
    r"""The basic iterative method (Kurakin et al., 2017): ``steps`` FGSM steps of size ``alpha``,
    each clipped to the ``eps``-ball around the original images and to [0, 1].

    Args:
        model: the classifier (returns logits).
        eps: the L-infinity budget (default 8/255).
        alpha: the step size (default 2/255).
        steps: the number of steps (default 10); 0 means the paper's
            ``int(min(eps * 255 + 4, 1.25 * eps * 255))``.

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.

    Example::

        >>> attack = BIM(model, eps=8 / 255, alpha=2 / 255, steps=10)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 10):
        super().__init__("BIM", model)
        _check_steps("BIM", eps, alpha, steps)
        self.eps = eps
        self.alpha = alpha
        self.steps = int(min(eps * 255 + 4, 1.25 * eps * 255)) if steps == 0 else steps
        self.supported_mode = ["default", "targeted"]

    def forward(self, images, labels):
        xp = array_module(images)
        target_labels = self.get_target_label(images, labels) if self.targeted else None
        ori_images = images
        for _ in range(self.steps):
            grad = self._input_grad(images, labels, target_labels)
            adv_images = images + self.alpha * xp.sign(grad)
            lower = xp.maximum(ori_images - self.eps, 0)  # torchattacks: clamp(ori - eps, min=0)
            clipped = xp.where(adv_images >= lower, adv_images, lower)
            upper = ori_images + self.eps
            clipped = xp.where(clipped > upper, upper, clipped)
            images = xp.minimum(clipped, 1)
        return images


class PGD(Attack):
    r"""Projected gradient descent in L-infinity (Madry et al., 2018): from a uniformly random
    point of the ``eps``-ball (``random_start``), ``steps`` signed-gradient steps of size ``alpha``,
    each projected back onto the ball and into [0, 1].

    Args:
        model: the classifier (returns logits).
        eps: the L-infinity budget (default 8/255).
        alpha: the step size (default 2/255).
        steps: the number of steps (default 10).
        random_start: start from a random point of the ball, drawn from convlab's generator
            (``convlab.manual_seed``) (default True).

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.

    Example::

        >>> attack = PGD(model, eps=8 / 255, alpha=2 / 255, steps=10, random_start=True)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 10,
                 random_start: bool = True):
        super().__init__("PGD", model)
        _check_steps("PGD", eps, alpha, steps)
        self.eps = eps
        self.alpha = alpha
        self.steps = steps
        self.random_start = random_start
        self.supported_mode = ["default", "targeted"]

    def forward(self, images, labels):
        xp = array_module(images)
        target_labels = self.get_target_label(images, labels) if self.targeted else None
        adv_images = images
        if self.random_start:
            noise = _random.uniform(-self.eps, self.eps, images.shape, images.dtype, self.device)
            adv_images = xp.clip(adv_images + noise, 0, 1)
        for _ in range(self.steps):
            grad = self._input_grad(adv_images, labels, target_labels)
            adv_images = adv_images + self.alpha * xp.sign(grad)
            delta = xp.clip(adv_images - images, -self.eps, self.eps)
            adv_images = xp.clip(images + delta, 0, 1)
        return adv_images


class PGDL2(Attack):
    r"""Projected gradient descent in L2: steps of length ``alpha`` along the normalised
    gradient, each projected back onto the L2 ball of radius ``eps`` and into [0, 1].

    Args:
        model: the classifier (returns logits).
        eps: the L2 budget per image (default 1.0).
        alpha: the step length (default 0.2).
        steps: the number of steps (default 10).
        random_start: start from a random point of the ball (a Gaussian direction, a uniform
            radius in [0, eps]; default True).
        eps_for_division: added to the gradient's norm before dividing (default 1e-10).

    Shape:
        images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images ``(N, C, H, W)``.

    Example::

        >>> attack = PGDL2(model, eps=1.0, alpha=0.2, steps=10)
        >>> adv_images = attack(images, labels)
    """

    def __init__(self, model, eps: float = 1.0, alpha: float = 0.2, steps: int = 10, random_start: bool = True,
                 eps_for_division: float = 1e-10):
        super().__init__("PGDL2", model)
        _check_steps("PGDL2", eps, alpha, steps)
        self.eps = eps
        self.alpha = alpha
        self.steps = steps
        self.random_start = random_start
        self.eps_for_division = eps_for_division
        self.supported_mode = ["default", "targeted"]

    def forward(self, images, labels):
        xp = array_module(images)
        target_labels = self.get_target_label(images, labels) if self.targeted else None
        n = len(images)
        adv_images = images
        if self.random_start:
            delta = _random.normal(0.0, 1.0, images.shape, images.dtype, self.device)
            norms = xp.sqrt((delta.reshape(n, -1) ** 2).sum(axis=1)).reshape(n, 1, 1, 1)
            radius = _random.uniform(0.0, 1.0, norms.shape, images.dtype, self.device)
            delta = delta * (radius / norms * self.eps)
            adv_images = xp.clip(adv_images + delta, 0, 1)
        for _ in range(self.steps):
            grad = self._input_grad(adv_images, labels, target_labels)
            grad_norms = xp.sqrt((grad.reshape(n, -1) ** 2).sum(axis=1)) + self.eps_for_division
            grad = grad / grad_norms.reshape(n, 1, 1, 1)
            adv_images = adv_images + self.alpha * grad
            delta = adv_images - images
            delta_norms = xp.sqrt((delta.reshape(n, -1) ** 2).sum(axis=1))
            with np.errstate(divide="ignore"):  # a zero delta: factor inf, then min(inf, 1) = 1, as torch
                factor = xp.minimum(self.eps / delta_norms, 1.0)
            delta = delta * factor.reshape(-1, 1, 1, 1)
            adv_images = xp.clip(images + delta, 0, 1)
        return adv_images
