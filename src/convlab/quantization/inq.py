"""Incremental network quantisation (Zhou et al., 2017, cited by seed 004): weights become powers
of two or zero, a group at a time, the rest retrained between the steps.

With ``bits`` bits per weight (one pattern for zero), a layer whose largest weight magnitude is
``s`` gets the levels ``{0} U {+-2^k : n2 <= k <= n1}``, ``n1 = floor(log2(4s/3))`` and
``n2 = n1 + 1 - 2^(bits-1)/2``; a weight goes to the level ``beta`` with
``(alpha + beta)/2 <= |w| < 3 beta/2`` (``alpha`` the next level below, 0 for the smallest), to 0
below. At each step (cumulative fractions, e.g. 50%, 75%, 87.5%, 100%) the largest-magnitude
weights not yet quantised are quantised and frozen by a mask (their gradient is zeroed, their
value restored after every optimiser step), and the others are retrained to make up for the error.
A power-of-two weight turns a multiplication into a shift.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..nn import functional as F

__all__ = ["inq", "power_of_two_levels", "quantize_power_of_two"]


def power_of_two_levels(max_abs, bits=5):
    """``(n1, n2)``: the exponents of the largest and smallest nonzero level for weights up to
    ``max_abs`` in magnitude, ``bits`` bits per weight."""
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < 2:
        raise ValueError(f"power_of_two_levels(): bits must be an int >= 2, got {bits!r}")
    if not max_abs > 0:
        raise ValueError(f"power_of_two_levels(): max_abs must be positive, got {max_abs}")
    n1 = math.floor(math.log2(4 * max_abs / 3))
    return n1, n1 + 1 - 2 ** (bits - 1) // 2


def quantize_power_of_two(w, n1, n2):
    """Each weight to ``sign(w) * 2^k`` (``n2 <= k <= n1``) or 0, by INQ's rule."""
    w = np.asarray(w)
    magnitude = np.abs(w)
    with np.errstate(divide="ignore"):
        k = np.floor(np.log2(magnitude * (4 / 3)))  # |w| in [3/4 2^k, 3/2 2^k) -> 2^k
    k = np.minimum(k, n1)
    level = np.where(k >= n2, np.exp2(np.maximum(k, n2)), np.where(magnitude >= 2.0**n2 / 2, 2.0**n2, 0.0))
    return (np.sign(w) * level).astype(w.dtype)


def _quantize_step(param, levels, mask, fraction):
    """Quantise (and add to ``mask``) the largest free weights until ``fraction`` of all are."""
    w = param.data
    n_target = round(fraction * w.size)
    n_new = n_target - int(mask.sum())
    if n_new <= 0:
        return
    free = np.flatnonzero(~mask.reshape(-1))
    order = np.argsort(-np.abs(w.reshape(-1)[free]), kind="stable")
    chosen = free[order[:n_new]]
    flat_mask = mask.reshape(-1)
    flat_mask[chosen] = True
    flat = w.reshape(-1)
    flat[chosen] = quantize_power_of_two(flat[chosen], *levels)


def inq(model, train_loader, steps=(0.5, 0.75, 0.875, 1.0), bits=5, epochs=1, lr=1e-3, momentum=0.9,
        weight_decay=0.0, max_batches=None, progress=False, on_step=None):
    """Incremental network quantisation of every Conv2d/Linear weight of ``model``, in place.

    Args:
        model: the trained float model (any Module).
        train_loader: ``(input, target)`` batches for the retraining between steps (cross-entropy).
        steps: increasing cumulative fractions of each layer's weights quantised at each step;
            the last must be 1.0.
        bits: bits per weight: ``2^(bits-1)/2`` power-of-two magnitudes, their signs and zero.
        epochs: retraining epochs after each step but the last.
        lr, momentum, weight_decay: the retraining's SGD.
        max_batches: at most this many batches per epoch.
        progress: show progress bars.
        on_step: called as ``on_step(step_index, fraction, model)`` after each step's retraining.

    Returns:
        ``model``, its Conv2d/Linear weights now all in ``{0, +-2^k}`` (biases and BatchNorm stay
        float). Its train/eval mode and requires_grad flags are as before.

    Example::

        >>> inq(model, DataLoader(train_set, batch_size=128, shuffle=True), epochs=1, max_batches=200)
    """
    steps = tuple(float(f) for f in steps)
    if not steps or any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 1.0 or steps[0] <= 0:
        raise ValueError(f"inq(): steps must be increasing fractions in (0, 1] ending at 1.0, got {steps}")
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError("inq(): the model has no Conv2d or Linear layer")
    params = [m.weight for m in layers]
    levels = [power_of_two_levels(float(np.abs(p.data).max()), bits) for p in params]
    masks = [np.zeros(p.shape, bool) for p in params]
    training = [(m, m.training) for m in model.modules()]
    try:
        for index, fraction in enumerate(steps):
            with no_grad():
                for p, lv, mask in zip(params, levels, masks):
                    _quantize_step(p, lv, mask, fraction)
            if fraction < 1.0:
                _retrain(model, train_loader, params, masks, epochs, lr, momentum, weight_decay, max_batches,
                         progress, index)
            if on_step is not None:
                on_step(index, fraction, model)
    finally:
        for m, was_training in training:
            m.training = was_training
    return model


def _retrain(model, loader, params, masks, epochs, lr, momentum, weight_decay, max_batches, progress, index):
    frozen = [(p, mask, p.data[mask].copy()) for p, mask in zip(params, masks)]
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        batches = loader
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(loader, desc=f"INQ step {index + 1}", unit="batch", leave=False, total=max_batches)
        for i, (x, y) in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            for p, mask, _ in frozen:
                if p.grad is not None:
                    p.grad.data[mask] = 0
            optimizer.step()
            with no_grad():  # momentum or weight decay may still move a frozen weight
                for p, mask, values in frozen:
                    p.data[mask] = values
