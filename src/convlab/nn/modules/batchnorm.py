"""Batch normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``.

Each channel is normalised with the batch's mean and variance in training and with running
averages of them in evaluation, then scaled and shifted by learned per-channel ``weight`` and
``bias``. State, names, defaults, ``repr`` and ``state_dict`` keys are PyTorch's (``weight``,
``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``); the math and its closed-form
gradient live in :mod:`convlab.ops.norm`.
"""

from __future__ import annotations

import numbers

from ... import creation, dtypes
from ...ops import norm
from ...tensor import Tensor
from .module import Module
from .normalization import _affine_parameters, _init_affine


class _NormBase(Module):
    """What batch and instance norm share: per-channel affine parameters and running statistics."""

    _layouts: tuple = ()  # accepted (ndim, layout) pairs, the layout written with {c} channels

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, numbers.Integral) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)):
            raise TypeError(f"{name}: momentum must be a number or None, got {type(momentum).__name__}")
        self.num_features = int(num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0 (PyTorch's initialisation)."""
        self.reset_running_stats()
        if self.affine:
            _init_affine(self.weight, self.bias)

    def _check_input_dim(self, input) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r}: expected a convlab Tensor input, got {type(input).__name__}")
        layouts = dict(self._layouts)
        if input.ndim not in layouts:
            wanted = " or ".join(f"{n}D {layout.format(c='C')}" for n, layout in self._layouts)
            raise ValueError(f"{self!r}: expected {wanted} input, got {input.ndim}D input of shape {tuple(input.shape)}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # checkpoints from before num_batches_tracked existed load with the counter kept (as PyTorch)
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None else creation.tensor(0)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    def _check_channels(self, input) -> None:
        """A layer with per-channel state must get ``num_features`` channels (dim 1)."""
        c = self.num_features
        if (self.affine or self.track_running_stats) and input.shape[1] != c:
            layout = dict(self._layouts)[input.ndim].format(c=c)
            raise ValueError(f"{self!r}: expected input with {c} channels {layout}, got shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input_dim(input)
        self._check_channels(input)
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats and self.num_batches_tracked is not None
        if counting and self.momentum is None:  # cumulative moving average over all batches so far
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        # evaluation uses the running statistics when the layer has them, else the batch's
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        out = norm._batch_norm(
            repr(self),
            input,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )
        if counting:
            self.num_batches_tracked.data += 1
        return out


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over a (N, C) or (N, C, L) input (Ioffe & Szegedy, 2015):

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    per channel, the mean and (biased) variance taken over N (and L). In training the batch
    statistics are used and running estimates updated, ``running = (1 - momentum) * running +
    momentum * batch`` with the unbiased batch variance (``momentum=None``: the cumulative average
    over all batches); in evaluation the running estimates are used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for numerical stability (default 1e-5).
        momentum: weight of each new batch in the running estimates (default 0.1), or None.
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0) (default True).
        track_running_stats: keep running estimates (default True); if False the batch
            statistics are used in evaluation too.
        bias: with ``affine``, also learn the bias (keyword only, default True).

    Shape:
        input (N, C) or (N, C, L) -> output of the same shape.

    Example::

        >>> bn = nn.BatchNorm1d(512)
        >>> bn(convlab.randn(128, 512)).shape
        (128, 512)
    """

    _layouts = ((2, "(N, {c})"), (3, "(N, {c}, L)"))


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of each channel of a (N, C, H, W) input over N, H and W; see
    :class:`BatchNorm1d` for the formula, the running statistics and the arguments.

    Shape:
        input (N, C, H, W) -> output of the same shape.

    Example::

        >>> bn = nn.BatchNorm2d(64)
        >>> bn
        BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        >>> bn(convlab.randn(8, 64, 28, 28)).shape
        (8, 64, 28, 28)
    """

    _layouts = ((4, "(N, {c}, H, W)"),)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of each channel of a (N, C, D, H, W) input over N, D, H and W; see
    :class:`BatchNorm1d` for the formula, the running statistics and the arguments.

    Shape:
        input (N, C, D, H, W) -> output of the same shape.

    Example::

        >>> nn.BatchNorm3d(4)(convlab.randn(2, 4, 3, 8, 8)).shape
        (2, 4, 3, 8, 8)
    """

    _layouts = ((5, "(N, {c}, D, H, W)"),)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics are taken over the whole global batch - the
    union of every process's batch under :func:`convlab.distributed.init_process_group` - rather
    than each process's shard (``torch.nn.SyncBatchNorm``). Each forward all-reduces the per-channel
    sum and sum of squares, each backward the two per-channel gradient sums (see
    :class:`convlab.ops.norm.SyncBatchNorm`). In evaluation, or without an initialised process
    group (or with one process), it is plain batch normalisation.

    Args:
        num_features, eps, momentum, affine, track_running_stats: as :class:`BatchNorm1d`.
        process_group: must be None (the default group).

    Shape:
        input (N, C, *) with at least 2 dimensions -> output of the same shape.

    Example::

        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(convlab.models.resnet18())
        >>> ddp = nn.parallel.DistributedDataParallel(model)
    """

    _layouts = ((2, "(N, {c})"), (3, "(N, {c}, L)"), (4, "(N, {c}, H, W)"), (5, "(N, {c}, D, H, W)"))

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        if process_group is not None:
            raise ValueError(f"SyncBatchNorm: process_group must be None (the default group), got {process_group!r}")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = None

    def forward(self, input):
        from ... import distributed as dist

        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        self._check_channels(input)
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.track_running_stats and self.num_batches_tracked is not None
        if counting and self.momentum is None:
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        comm, mpi = dist._communicator(), dist._default_group("SyncBatchNorm").mpi

        def reduce(values):
            comm.Allreduce(mpi.IN_PLACE, values, mpi.SUM)

        track = self.track_running_stats
        out = norm.SyncBatchNorm.apply(
            input, self.weight, self.bias,
            running_mean=self.running_mean.data if track else None,
            running_var=self.running_var.data if track else None,
            momentum=float(factor), eps=float(self.eps), reduce=reduce,
        )  # fmt: skip
        if counting:
            self.num_batches_tracked.data += 1
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm*d`` replaced by a :class:`SyncBatchNorm` sharing its
        parameters and buffers (the same state_dict keys); other layers are kept as they are.

        Example::

            >>> net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8))
            >>> nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]
            SyncBatchNorm(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        """
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                         process_group)
            if module.affine:
                output.weight, output.bias = module.weight, module.bias
            output.running_mean, output.running_var = module.running_mean, module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output
