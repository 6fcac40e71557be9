"""RMSprop, optionally centered and with momentum."""

from __future__ import annotations

import functools

from ..backend import array_module
from ..tensor import Tensor
from . import _kernels
from .optimizer import _BufferedOptimizer, _check_number, _lerp_, _penalised_grad, _square_avg_


class RMSprop(_BufferedOptimizer):
    r"""RMSprop (Hinton's lecture 6e), PyTorch's update rule.

    For every parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``):

    .. math::
        g &\leftarrow g + \lambda\theta \\
        v &\leftarrow \alpha v + (1 - \alpha) g^2 \\
        \bar g &\leftarrow \alpha \bar g + (1 - \alpha) g,\quad
            d = \sqrt{v - \bar g^2} + \epsilon \text{ if centered, else } d = \sqrt{v} + \epsilon \\
        b &\leftarrow \mu b + g / d,\quad \theta \leftarrow \theta - \gamma b
            \quad\text{if momentum } \mu > 0,\text{ else } \theta \leftarrow \theta - \gamma g / d

    State per parameter (PyTorch's keys): ``step``, ``square_avg`` (v), ``momentum_buffer``
    (when momentum > 0) and ``grad_avg`` (when centered), all starting at zero.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its second moment.
        maximize: maximise the objective instead of minimising it.
        foreach, capturable: PyTorch's kernel choices; accepted, recorded and ignored.
        differentiable: must be False.

    Example::

        >>> opt = convlab.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9, centered=True)
    """

    _buffers = (("square_avg", None), ("momentum_buffer", "momentum"), ("grad_avg", "centered"))

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        defaults = {
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach, "maximize": maximize,
            "differentiable": differentiable,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            _check_number("RMSprop()", key, group[key])

    @staticmethod
    def _array_update(p: Tensor, state: dict, group: dict) -> None:
        """The update with array operations (NumPy or CuPy)."""
        lr, alpha, eps, weight_decay, momentum = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        param = p.data
        xp = array_module(param)
        grad = _penalised_grad(p, weight_decay, group["maximize"])
        square_avg = state["square_avg"].data
        scratch = _square_avg_(square_avg, grad, alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"].data
            _lerp_(grad_avg, grad, 1 - alpha)
            xp.multiply(grad_avg, grad_avg, out=scratch)
            avg = square_avg - scratch
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"].data
            buf *= momentum
            xp.divide(grad, avg, out=scratch)
            buf += scratch
            xp.multiply(buf, -lr, out=scratch)
        else:
            xp.multiply(grad, -lr, out=scratch)
            scratch /= avg
        param += scratch

    @staticmethod
    def _fused_update(p: Tensor, state: dict, group: dict) -> None:
        """The same update in one pass (CPU kernel)."""
        alpha, weight_decay, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        param = p.data
        scalar = functools.partial(_kernels.as_scalar, param.dtype)
        _kernels.get("rmsprop")(
            param, p.grad.data, state["square_avg"].data,
            state["grad_avg"].data if group["centered"] else param,
            state["momentum_buffer"].data if momentum > 0 else param,
            scalar(alpha), scalar(1 - alpha), scalar(1 - (1 - alpha)), scalar(group["eps"]), scalar(weight_decay),
            scalar(momentum), scalar(-group["lr"]), weight_decay != 0, bool(group["centered"]), abs(1 - alpha) < 0.5,
            momentum > 0, bool(group["maximize"]),
        )  # fmt: skip
