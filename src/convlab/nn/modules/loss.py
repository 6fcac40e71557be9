"""Loss modules: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``,
``HuberLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss``.

Each stores its options and calls the functional form in ``convlab.ops.loss`` (where the math and
its gradient live). Class weights are registered as buffers named ``weight`` / ``pos_weight``, as
in PyTorch, so they follow ``.to()`` and appear in ``state_dict``. Reprs carry no arguments
(``CrossEntropyLoss()``), as PyTorch's do.
"""

from __future__ import annotations

from ...ops import loss as F
from .module import Module


class _Loss(Module):
    """Base of the loss modules: holds ``reduction`` (the deprecated ``size_average``/``reduce``
    flags are translated to it, with PyTorch's warning)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F._legacy_reduction(size_average, reduce)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross entropy between logits and class indices or class probabilities.

    Args:
        weight: optional (C,) rescaling weight per class.
        ignore_index: a class-index target that contributes neither loss nor gradient (default -100).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` (default ``'mean'``).
        label_smoothing: eps in [0, 1]; the target becomes (1 - eps) target + eps / C.

    Shape:
        input (N, C), (C,) or (N, C, d1, ..., dK) logits; target (N,), () or (N, d1, ..., dK)
        integer class indices, or class probabilities of the input's shape; output a scalar, or
        the class-index target's shape for ``reduction='none'``.

    Example::

        >>> criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> loss = criterion(model(images), labels)
        >>> loss.backward()
    """

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of log-probabilities at class-index targets.

    Args:
        weight: optional (C,) rescaling weight per class.
        ignore_index: a target value that contributes neither loss nor gradient (default -100).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input (N, C), (C,) or (N, C, d1, ..., dK); target (N,), () or (N, d1, ..., dK) integer.

    Example::

        >>> loss = nn.NLLLoss()(nn.LogSoftmax(dim=1)(logits), labels)
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2``, reduced.

    Shape: input (*), target broadcastable to it (normally the same shape); output a scalar, or
    the broadcast shape for ``reduction='none'``.

    Example::

        >>> nn.MSELoss()(prediction, target).backward()
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``, reduced.

    Shape: as :class:`MSELoss`.

    Example::

        >>> nn.L1Loss(reduction="sum")(prediction, target)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error (divided by ``beta``) where ``|input - target| < beta``, absolute error
    (minus beta / 2) elsewhere.

    Args:
        beta: the threshold between the two regimes (default 1.0; 0 gives L1).

    Shape: as :class:`MSELoss`.

    Example::

        >>> nn.SmoothL1Loss(beta=0.5)(boxes, target_boxes)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error where ``|input - target| < delta``, ``delta``-scaled absolute error elsewhere.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold (default 1.0, must be positive).

    Shape: as :class:`MSELoss`.

    Example::

        >>> nn.HuberLoss(delta=2.0)(prediction, target)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities in [0, 1] against targets in [0, 1].

    Args:
        weight: optional rescaling weight, broadcastable to the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: input (*), target the same shape (floating point); output a scalar or (*).

    Example::

        >>> nn.BCELoss()(convlab.sigmoid(logits), labels.float())
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross entropy in one stable step, from logits.

    Args:
        weight: optional rescaling weight, broadcastable to the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: optional weight of positive examples, broadcastable to the input's shape
            (e.g. (C,) for C labels: ``negatives / positives`` balances them).

    Shape: input (*), target the same shape (floating point); output a scalar or (*).

    Example::

        >>> nn.BCEWithLogitsLoss(pos_weight=convlab.full((5,), 3.0))(logits, labels)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``.

    Args:
        reduction: ``'none'`` | ``'batchmean'`` (the mathematical KL per sample) | ``'sum'`` |
            ``'mean'`` (per element; warns).
        log_target: the target is given as log-probabilities.

    Shape: input (*), target broadcastable to it; output a scalar or the broadcast shape.

    Example::

        >>> nn.KLDivLoss(reduction="batchmean")(F.log_softmax(student, 1), F.softmax(teacher, 1))
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
