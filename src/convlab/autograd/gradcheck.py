"""Finite-difference gradient check, the proof behind every op's ``backward``.

For a random vector ``v`` over the outputs, the analytical vector-Jacobian product
``d(v . f(x))/dx`` from ``autograd.grad`` (no ``.grad`` is touched) is compared with central differences
``(v . f(x + eps e_i) - v . f(x - eps e_i)) / (2 eps)`` for every element ``i`` of every input
that requires grad (PyTorch's ``fast_mode`` idea: one backward pass, 2 forwards per element).
Run it in float64: float32 rounding swamps the differences.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor
from .functional import grad
from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0) -> bool:
    """Check ``fn``'s gradients with respect to ``inputs`` by central finite differences.

    Args:
        fn: a function of the tensors in ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or tuple of tensors; those with ``requires_grad=True`` are checked and
            should be float64.
        eps: the finite-difference step.
        atol, rtol: the comparison tolerance, ``|analytical - numerical| <= atol + rtol |numerical|``.
        raise_exception: raise :class:`GradcheckError` on mismatch (else return False).

    Returns:
        True when every checked gradient agrees.

    Example::

        >>> x = convlab.randn(3, 4, dtype=convlab.float64, requires_grad=True)
        >>> convlab.autograd.gradcheck(lambda t: (t * t).sum(dim=1), (x,))
        True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck(): at least one input must be a Tensor with requires_grad=True")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck(): inputs should be float64 for a meaningful check, got {t.dtype}")
    rng = np.random.default_rng(seed)
    all_outs = _outputs(fn, inputs)
    differentiable = [i for i, o in enumerate(all_outs) if o.requires_grad]
    if not differentiable:
        raise ValueError("gradcheck(): no output of fn requires grad")
    outs = [all_outs[i] for i in differentiable]
    vs = [rng.standard_normal(o.shape) for o in outs]

    def projected():
        with no_grad():
            outputs = _outputs(fn, inputs)
        return sum(float((to_numpy(outputs[i].data).astype(np.float64) * v).sum()) for i, v in zip(differentiable, vs))

    grads = grad(outs, checked, grad_outputs=[Tensor(np.asarray(v, dtype=o.dtype)) for o, v in zip(outs, vs)], allow_unused=True)

    for k, (t, g) in enumerate(zip(checked, grads)):
        analytical = np.zeros(t.shape) if g is None else to_numpy(g.data).astype(np.float64)
        numerical = np.zeros(t.shape)
        t.data = np.ascontiguousarray(t.data)
        flat = t.data.reshape(-1)  # a view: perturb in place, restore after
        for i in range(flat.size):
            orig = flat[i].item()
            flat[i] = orig + eps
            plus = projected()
            flat[i] = orig - eps
            minus = projected()
            flat[i] = orig
            numerical.reshape(-1)[i] = (plus - minus) / (2 * eps)
        bad = np.abs(analytical - numerical) > atol + rtol * np.abs(numerical)
        if bad.any():
            if not raise_exception:
                return False
            i = np.unravel_index(np.argmax(np.abs(analytical - numerical)), t.shape)
            raise GradcheckError(
                f"gradcheck(): gradient of input {k} (shape {tuple(t.shape)}) disagrees at {bad.sum()} of "
                f"{bad.size} elements; worst at index {tuple(int(j) for j in i)}: analytical {analytical[i]:.8g}, "
                f"numerical {numerical[i]:.8g}"
            )
    return True
