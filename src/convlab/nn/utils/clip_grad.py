"""Gradient clipping: ``clip_grad_norm_`` (rescale all gradients so their joint norm is at most
``max_norm``) and ``clip_grad_value_`` (clamp every gradient entry), as in ``torch.nn.utils``.

Both work in place on the parameters' ``.grad`` arrays and skip parameters without a gradient.
"""

from __future__ import annotations

import math
import numbers
import types
import warnings

import numpy as np

from ...backend import array_module, device_of, to_device
from ...tensor import Tensor


def _as_list(tensors) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _norm_type(fn: str, norm_type) -> float:
    try:
        value = float(norm_type)  # 'inf' and float('inf') both mean the max norm
    except (TypeError, ValueError):
        raise ValueError(f"{fn}(): norm_type must be a number or 'inf', got {norm_type!r}") from None
    if math.isnan(value):
        raise ValueError(f"{fn}(): norm_type must be a number or 'inf', got nan")
    return value


def _vector_norm(array, p: float):
    """The p-norm of ``array`` viewed as one vector, a 0-d array in its dtype (torch.linalg.vector_norm)."""
    xp = array_module(array)
    flat = array.reshape(-1)
    if flat.size == 0:
        return xp.zeros((), dtype=array.dtype)
    if p == 2:
        return xp.sqrt(xp.dot(flat, flat))
    magnitude = xp.abs(flat)
    if p == math.inf:
        return magnitude.max()
    if p == -math.inf:
        return magnitude.min()
    if p == 0:
        return xp.asarray(xp.count_nonzero(flat), dtype=array.dtype)
    if p == 1:
        return magnitude.sum()
    return (magnitude**p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The norm of all ``tensors`` together, as if concatenated into one vector.

    Args:
        tensors: a tensor or an iterable of tensors (e.g. the gradients).
        norm_type: the p of the p-norm; ``float('inf')`` or ``'inf'`` for the max norm.
        error_if_nonfinite: raise if the norm is nan or infinite.
        foreach: PyTorch's kernel choice; accepted and ignored.

    Returns:
        A 0-d tensor (the tensors' dtype; ``float32`` 0 for no tensors).
    """
    tensors = _as_list(tensors)
    p = _norm_type("get_total_norm", norm_type)
    if not tensors:
        return Tensor(np.zeros((), dtype=np.float32))
    first = tensors[0].data
    norms = [to_device(_vector_norm(t.data, p), tensors[0].device) for t in tensors]
    xp = array_module(first)
    total = _vector_norm(xp.stack(norms), p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_(): the total norm of order {p} of the gradients is non-finite ({float(total)}), so it "
            "cannot be clipped; to scale the gradients by it anyway, set error_if_nonfinite=False"
        )
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale the parameters' gradients by ``min(max_norm / (total_norm + 1e-6), 1)``, in place.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is scaled.
        max_norm: the largest norm allowed.
        total_norm: the gradients' norm, e.g. from :func:`get_total_norm`.
        foreach: PyTorch's kernel choice; accepted and ignored.
    """
    max_norm = _real("clip_grads_with_norm_", "max_norm", max_norm)
    grads = [p.grad.data for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    norm = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    xp = array_module(norm)
    # Always multiply (by 1 when the norm is small enough), as PyTorch does, so the result does
    # not depend on a data-dependent branch.
    coef = xp.minimum(max_norm / (norm + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # a nan/inf norm scales by nan silently, as in PyTorch
        for grad in grads:
            grad *= to_device(coef, device_of(grad))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    r"""Rescale the gradients of ``parameters`` in place so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one vector:
    :math:`\|g\|_p = (\sum_i \|g_i\|_p^p)^{1/p}`; every gradient is then multiplied by
    :math:`\min(1, \text{max\_norm} / (\|g\|_p + 10^{-6}))`.

    Args:
        parameters: a tensor or an iterable of tensors (``model.parameters()``); those without
            a gradient are skipped.
        max_norm: the largest norm allowed.
        norm_type: the p of the p-norm (default 2.0); ``float('inf')`` or ``'inf'`` for the max norm.
        error_if_nonfinite: raise a RuntimeError if the norm is nan or infinite (default False).
        foreach: PyTorch's kernel choice; accepted and ignored.

    Returns:
        The total norm of the gradients before clipping, a 0-d tensor.

    Example::

        >>> loss.backward()
        >>> norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        >>> opt.step()
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("clip_grad_norm_(): `parameters` is an empty generator, no gradient clipping will occur", stacklevel=2)
    _real("clip_grad_norm_", "max_norm", max_norm)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry of ``parameters`` to ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: a tensor or an iterable of tensors; those without a gradient are skipped.
        clip_value: the largest magnitude allowed.
        foreach: PyTorch's kernel choice; accepted and ignored.

    Example::

        >>> nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    clip_value = _real("clip_grad_value_", "clip_value", clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            grad = p.grad.data
            array_module(grad).clip(grad, -clip_value, clip_value, out=grad)


def _real(fn: str, name: str, value) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}(): {name} must be a real number, got {type(value).__name__}")
    return float(value)
