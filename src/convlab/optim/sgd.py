"""Stochastic gradient descent, with momentum, Nesterov momentum, dampening and weight decay."""

from __future__ import annotations

import functools

import numpy as np

from ..tensor import Tensor
from . import _kernels
from .optimizer import Optimizer, _check_number, _penalised_grad


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's update rule.

    For every parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``):

    .. math::
        g &\leftarrow g + \lambda\,\theta                         &\text{(weight\_decay } \lambda\text{)} \\
        b &\leftarrow g \text{ on the first step, else } \mu b + (1 - \tau) g
                                                                  &\text{(momentum } \mu\text{, dampening } \tau\text{)} \\
        g &\leftarrow g + \mu b \text{ if nesterov, else } b \\
        \theta &\leftarrow \theta - \gamma\, g                    &\text{(lr } \gamma\text{)}

    The momentum buffer starts as a copy of the first gradient (no dampening on step 1), as in
    PyTorch; a parameter whose ``.grad`` is None is skipped.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening applied to the gradient entering the momentum buffer (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximise the objective instead of minimising it.
        foreach, fused: PyTorch's kernel choices; accepted, recorded and ignored (same maths).
        differentiable: must be False (steps are never recorded in the graph).

    Example::

        >>> opt = convlab.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad()
        >>> loss_fn(model(x), y).backward()
        >>> opt.step()
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay, "nesterov": nesterov,
            "maximize": maximize, "foreach": foreach, "differentiable": differentiable, "fused": fused,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        for key in ("lr", "momentum", "weight_decay"):
            _check_number("SGD()", key, group[key])
        _check_number("SGD()", "dampening", group["dampening"], low=float("-inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD(): nesterov=True requires momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                buf = self.state[p].get("momentum_buffer") if group["momentum"] != 0 else None
                if _kernels.fusable(p.data, p.grad.data, *(() if buf is None else (buf.data,))):
                    self._fused_update(p, buf, group)
                else:
                    self._array_update(p, buf, group)
        return loss

    def _array_update(self, p: Tensor, buf: Tensor | None, group: dict) -> None:
        """The update with array operations (NumPy or CuPy)."""
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        param = p.data
        grad = _penalised_grad(p, group["weight_decay"], group["maximize"])
        if momentum != 0:
            if buf is None:
                buf = self.state[p]["momentum_buffer"] = Tensor(grad.copy())
            else:
                buf.data *= momentum
                buf.data += grad if dampening == 0 else (1 - dampening) * grad
            grad = grad + momentum * buf.data if group["nesterov"] else buf.data
        param -= lr * grad

    def _fused_update(self, p: Tensor, buf: Tensor | None, group: dict) -> None:
        """The same update in one pass (CPU kernel)."""
        param = p.data
        momentum, dampening = group["momentum"], group["dampening"]
        first_step = momentum != 0 and buf is None
        if first_step:
            buf = self.state[p]["momentum_buffer"] = Tensor(np.empty_like(param))
        scalar = functools.partial(_kernels.as_scalar, param.dtype)
        _kernels.get("sgd")(
            param, p.grad.data, param if buf is None else buf.data, scalar(group["lr"]), scalar(group["weight_decay"]),
            scalar(momentum), scalar(1 - dampening), group["weight_decay"] != 0, momentum != 0, first_step,
            dampening != 0, bool(group["nesterov"]), bool(group["maximize"]),
        )  # fmt: skip
