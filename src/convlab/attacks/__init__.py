"""Adversarial attacks with torchattacks 3.5's names, arguments and numbers, robustness
measurements, adversarial training, and the out-of-domain probes of seed 000.

Example::

    >>> from convlab import attacks
    >>> attack = attacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=10)
    >>> adv_images = attack(images, labels)                  # images in [0, 1]
    >>> attacks.robust_accuracy(model, test_loader, attack)  # a fraction in [0, 1]
    0.113...
"""

from .attack import Attack
from .cw import CW
from .deepfool import DeepFool
from .gradient import BIM, FGSM, PGD, PGDL2

__all__ = ["BIM", "CW", "FGSM", "PGD", "PGDL2", "Attack", "DeepFool"]
