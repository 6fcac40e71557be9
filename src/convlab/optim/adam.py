"""Adam and AdamW (Adam with decoupled weight decay), optionally with AMSGrad."""

from __future__ import annotations

import functools
import numbers

from ..backend import array_module
from ..tensor import Tensor
from . import _kernels
from .optimizer import _BufferedOptimizer, _check_number, _lerp_, _penalised_grad, _square_avg_


class Adam(_BufferedOptimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's update rule.

    For every parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``),
    at step :math:`t = 1, 2, \dots`:

    .. math::
        g &\leftarrow g + \lambda\theta \quad\text{(or } \theta \leftarrow \theta(1 - \gamma\lambda)
            \text{ when decoupled)} \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat v &= \max(\hat v, v) \text{ with amsgrad, else } v \\
        \theta &\leftarrow \theta - \frac{\gamma}{1 - \beta_1^t}\,
            \frac{m}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    State per parameter (PyTorch's keys): ``step`` (a 0-d float32 tensor), ``exp_avg`` (m),
    ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: use the maximum of past squared-gradient averages (default False).
        maximize: maximise the objective instead of minimising it.
        decoupled_weight_decay: apply the decay to the weights directly, as AdamW does.
        foreach, fused, capturable: PyTorch's kernel choices; accepted, recorded and ignored.
        differentiable: must be False.

    Example::

        >>> opt = convlab.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    """

    _buffers = (("exp_avg", None), ("exp_avg_sq", None), ("max_exp_avg_sq", "amsgrad"))

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ):
        defaults = {
            "lr": lr, "betas": _betas(type(self).__name__, betas), "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach, "capturable": capturable,
            "differentiable": differentiable, "fused": fused, "decoupled_weight_decay": decoupled_weight_decay,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        owner = f"{type(self).__name__}()"
        for key in ("lr", "eps", "weight_decay"):
            _check_number(owner, key, group[key])
        group["betas"] = _betas(type(self).__name__, group["betas"])
        for i, beta in enumerate(group["betas"]):
            _check_number(owner, f"betas[{i}]", beta, high=1.0, high_open=True)

    @staticmethod
    def _array_update(p: Tensor, state: dict, group: dict) -> None:
        """The update with array operations (NumPy or CuPy)."""
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        step = float(state["step"].data)
        param = p.data
        xp = array_module(param)
        decoupled = group["decoupled_weight_decay"]
        grad = _penalised_grad(p, 0 if decoupled else weight_decay, group["maximize"])
        if decoupled and weight_decay != 0:
            param *= 1 - lr * weight_decay
        exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
        _lerp_(exp_avg, grad, 1 - beta1)
        scratch = _square_avg_(exp_avg_sq, grad, beta2)
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"].data
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = xp.sqrt(max_exp_avg_sq)
        else:
            denom = xp.sqrt(exp_avg_sq)
        denom /= (1 - beta2**step) ** 0.5
        denom += eps
        xp.multiply(exp_avg, -(lr / (1 - beta1**step)), out=scratch)
        scratch /= denom
        param += scratch

    @staticmethod
    def _fused_update(p: Tensor, state: dict, group: dict) -> None:
        """The same update in one pass (CPU kernel)."""
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        step = float(state["step"].data)
        param = p.data
        scalar = functools.partial(_kernels.as_scalar, param.dtype)
        max_exp_avg_sq = state["max_exp_avg_sq"].data if group["amsgrad"] else param
        _kernels.get("adam")(
            param, p.grad.data, state["exp_avg"].data, state["exp_avg_sq"].data, max_exp_avg_sq,
            scalar(weight_decay), scalar(1 - lr * weight_decay), scalar(1 - beta1), scalar(1 - (1 - beta1)),
            scalar(beta2), scalar(1 - beta2), scalar((1 - beta2**step) ** 0.5), scalar(group["eps"]),
            scalar(-(lr / (1 - beta1**step))), weight_decay != 0, bool(group["decoupled_weight_decay"]),
            abs(1 - beta1) < 0.5, bool(group["amsgrad"]), bool(group["maximize"]),
        )  # fmt: skip


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the weights shrink by
    :math:`\theta \leftarrow \theta(1 - \gamma\lambda)` before the Adam step instead of the decay
    entering the gradient averages. Same arguments as :class:`Adam` except ``weight_decay``
    defaults to 1e-2 and ``decoupled_weight_decay`` is always True.

    Example::

        >>> opt = convlab.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
        )  # fmt: skip

    def _after_load(self) -> None:
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _betas(owner: str, betas) -> tuple:
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or not all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in betas)
    ):
        raise TypeError(f"{owner}(): betas must be a pair of floats (beta1, beta2), got {betas!r}")
    return tuple(float(b) for b in betas)
