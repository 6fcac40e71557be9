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
from .probes import CORRUPTIONS, corrupt, corruption_sweep, kernel_spectra, modulation_probe
from .robustness import madry_pgd, plot_robustness_curves, robust_accuracy, robustness_curve

__all__ = [
    "BIM", "CORRUPTIONS", "CW", "FGSM", "PGD", "PGDL2", "Attack", "DeepFool", "corrupt", "corruption_sweep",
    "kernel_spectra", "madry_pgd", "modulation_probe", "plot_robustness_curves", "robust_accuracy",
    "robustness_curve",
]  # fmt: skip
