"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

import functools

from ..backend import array_module
from ..tensor import Tensor
from . import _kernels
from .optimizer import Optimizer, _check_number, _new_step_counter, _penalised_grad


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), PyTorch's update rule.

    For every parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``),
    at step :math:`t = 1, 2, \dots`:

    .. math::
        g &\leftarrow g + \lambda\theta \\
        \tilde\gamma &= \gamma / (1 + (t - 1)\eta) \qquad\text{(lr\_decay } \eta\text{)} \\
        s &\leftarrow s + g^2 \\
        \theta &\leftarrow \theta - \tilde\gamma\, g / (\sqrt{s} + \epsilon)

    State per parameter (PyTorch's keys): ``step`` and ``sum`` (s, starting at
    ``initial_accumulator_value``), created when the parameter is added, as in PyTorch.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the squared-gradient sums (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximise the objective instead of minimising it.
        foreach, fused: PyTorch's kernel choices; accepted, recorded and ignored.
        differentiable: must be False.

    Example::

        >>> opt = convlab.optim.Adagrad(model.parameters(), lr=0.1, lr_decay=1e-4)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        defaults = {
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "foreach": foreach, "maximize": maximize,
            "differentiable": differentiable, "fused": fused,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_number("Adagrad()", key, group[key])

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        state["step"] = _new_step_counter()
        state["sum"] = Tensor(array_module(p.data).full_like(p.data, group["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                state = self.state[p] or self._init_state(p, group)  # empty after loading a partial state
                state["step"].data += 1
                if _kernels.fusable(p.data, p.grad.data, state["sum"].data):
                    self._fused_update(p, state, group)
                else:
                    self._array_update(p, state, group)
        return loss

    @staticmethod
    def _clr(state: dict, group: dict) -> float:
        """This step's learning rate, lr / (1 + (step - 1) lr_decay)."""
        return group["lr"] / (1 + (float(state["step"].data) - 1) * group["lr_decay"])

    def _array_update(self, p: Tensor, state: dict, group: dict) -> None:
        """The update with array operations (NumPy or CuPy)."""
        param = p.data
        xp = array_module(param)
        grad = _penalised_grad(p, group["weight_decay"], group["maximize"])
        state_sum = state["sum"].data
        scratch = grad * grad
        state_sum += scratch
        std = xp.sqrt(state_sum)
        std += group["eps"]
        xp.multiply(grad, -self._clr(state, group), out=scratch)
        scratch /= std
        param += scratch

    def _fused_update(self, p: Tensor, state: dict, group: dict) -> None:
        """The same update in one pass (CPU kernel)."""
        param = p.data
        scalar = functools.partial(_kernels.as_scalar, param.dtype)
        _kernels.get("adagrad")(
            param, p.grad.data, state["sum"].data, scalar(group["weight_decay"]), scalar(-self._clr(state, group)),
            scalar(group["eps"]), group["weight_decay"] != 0, bool(group["maximize"]),
        )  # fmt: skip
