"""Pruning (``convlab.nn.utils.prune``): the names, arguments, state and semantics of
``torch.nn.utils.prune``.

Pruning ``module.<name>`` re-parametrises it: the parameter moves to ``<name>_orig``, a buffer
``<name>_mask`` (1 = kept, 0 = pruned, in the parameter's dtype) is registered, and a forward
pre-hook (the pruning method itself) recomputes the plain attribute ``<name> = <name>_mask *
<name>_orig`` before every call, so gradients reach ``<name>_orig`` only where the mask is 1.
The ``state_dict`` keys are PyTorch's (``weight_orig``, ``weight_mask``): a pruned checkpoint
loads into a PyTorch model pruned the same way, and back. Pruning the same tensor again
composes the masks in a :class:`PruningContainer` (the new method only sees the entries, or
channels, still unpruned). :func:`remove` makes the pruning permanent.

Example::

    >>> from convlab.nn.utils import prune
    >>> conv = nn.Conv2d(1, 4, 3)
    >>> prune.l1_unstructured(conv, "weight", amount=0.5)   # the 18 smallest |w| of 36
    >>> sorted(k for k, _ in conv.named_parameters()), list(dict(conv.named_buffers()))
    (['bias', 'weight_orig'], ['weight_mask'])
    >>> prune.ln_structured(conv, "weight", amount=1, n=2, dim=0)   # then one whole filter
    >>> prune.remove(conv, "weight")   # weight is a plain (sparse) parameter again
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ... import creation
from ..._random import default_generator
from ...backend import array_module
from ...tensor import Tensor

__all__ = [
    "BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured", "PruningContainer",
    "RandomStructured", "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity", "is_pruned",
    "l1_unstructured", "ln_structured", "random_structured", "random_unstructured", "remove",
]  # fmt: skip


def _array(t):
    return t.data if isinstance(t, Tensor) else t


class BasePruningMethod(ABC):
    """Base class of pruning methods: a subclass defines ``PRUNING_TYPE`` (``"unstructured"``,
    ``"structured"`` with a ``dim`` attribute, or ``"global"``) and :meth:`compute_mask`.

    An applied method is the module's forward pre-hook: ``method(module, inputs)`` sets
    ``module.<name>`` to the masked tensor before ``forward`` runs.
    """

    _tensor_name: str | None = None

    def __call__(self, module, inputs):
        """Recompute ``module.<name>`` from ``<name>_orig`` and ``<name>_mask`` (the pre-hook)."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask for tensor ``t``, combined with ``default_mask`` (the mask so far).

        Args:
            t: the importance scores (by default the tensor being pruned), a Tensor.
            default_mask: the mask from previous pruning, a Tensor of ``t``'s shape.

        Returns:
            a Tensor of ``t``'s shape, 1 where kept and 0 where pruned.
        """

    def apply_mask(self, module):
        """``<name>_mask * <name>_orig``: the pruned tensor (differentiable in ``<name>_orig``)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")  # set by apply()
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with a new ``cls(*args, **kwargs)`` (composed with any pruning
        already there) and return the method acting as the module's hook.

        Args:
            module: the module holding the tensor.
            name: the parameter's name within ``module``.
            args, kwargs: the method's constructor arguments.
            importance_scores: a tensor of the parameter's shape ranking its entries (default:
                the parameter itself).
        """
        orig = _pruned_tensor(module, name, cls.__name__)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(
                    f"importance_scores should have the same shape as parameter {name} of {module}, "
                    f"got {tuple(importance_scores.shape)} vs {tuple(orig.shape)}"
                )
        else:
            importance_scores = orig
        # an earlier pruning of module.<name> is one of its pre-hooks: it is taken out and
        # composed with the new one (and, unlike PyTorch, put back if anything below fails)
        old = [(k, hook) for k, hook in module._forward_pre_hooks.items()
               if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]  # fmt: skip
        if len(old) > 1:
            raise AssertionError(
                f"Avoid adding multiple pruning hooks to the same tensor {name} of module {module}. "
                "Use a PruningContainer."
            )
        new_method = cls(*args, **kwargs)
        new_method._tensor_name = name
        old_key, old_method = old[0] if old else (None, None)
        if old_method is None:
            method = new_method
        elif isinstance(old_method, PruningContainer):
            old_method.add_pruning_method(new_method)
            method = old_method
        else:
            method = PruningContainer(old_method)
            method.add_pruning_method(new_method)

        parameters = dict(module._parameters)
        if old_method is None:  # move the parameter to <name>_orig; <name> becomes a plain attribute
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = creation.ones_like(orig)
        else:  # pruned before: <name>_orig and <name>_mask exist
            del module._forward_pre_hooks[old_key]
            default_mask = Tensor(getattr(module, name + "_mask").data.copy())
        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if old_method is None:  # roll back: the module is as before
                module.__dict__.pop(name, None)
                module._buffers.pop(name + "_mask", None)
                module._parameters.clear()
                module._parameters.update(parameters)
            else:
                if method is old_method:
                    old_method._pruning_methods = old_method._pruning_methods[:-1]
                module._forward_pre_hooks[old_key] = old_method
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask this method computes for it (nothing is re-parametrised).

        Args:
            t: the tensor to prune.
            default_mask: the mask from previous pruning (default all ones).
            importance_scores: scores ranking ``t``'s entries (default ``t``).
        """
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError(
                    f"importance_scores should have the same shape as tensor t, got "
                    f"{tuple(importance_scores.shape)} vs {tuple(t.shape)}"
                )
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else creation.ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module) -> None:
        """Make the pruning permanent: ``<name>`` becomes a parameter holding the masked values;
        ``<name>_orig``, ``<name>_mask`` go (the hook is removed by :func:`remove`)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        module.__dict__.pop(self._tensor_name, None)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.data
        orig._version += 1
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """The successive pruning methods applied to one tensor; its mask is the last method's,
    computed only on what the earlier ones left (unpruned entries, or unpruned channels along
    a structured method's ``dim``) and composed with the mask so far.

    Args:
        *args: pruning methods (all acting on the same tensor name).
    """

    def __init__(self, *args) -> None:
        self._pruning_methods: tuple = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method) -> None:
        """Append ``method`` (a :class:`BasePruningMethod` on this container's tensor)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(
                "Can only add pruning methods acting on "
                f"the parameter named '{self._tensor_name}' to PruningContainer {self}."
                + f" Found '{method._tensor_name}'"
            )
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask on the part of ``t`` that ``default_mask`` keeps, inside
        ``default_mask`` (entries or channels already pruned stay pruned)."""
        method = self._pruning_methods[-1]
        t_data, mask = _array(t), _array(default_mask)
        new_mask = mask.astype(t_data.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = mask == 1  # prune among the entries still kept
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError(
                    'Pruning methods of PRUNING_TYPE "structured" need to have the attribute `dim` defined.'
                )
            n_dims, dim = t_data.ndim, method.dim
            if dim < 0:
                dim = n_dims + dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            # channels not yet entirely pruned
            keep_channel = mask.sum(axis=tuple(d for d in range(n_dims) if d != dim)) != 0
            slc = tuple(keep_channel if d == dim else slice(None) for d in range(n_dims))
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * t_data.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(Tensor(t_data[slc]), default_mask=Tensor(mask[slc]))
        new_mask[slc] = _array(partial).astype(new_mask.dtype, copy=False)
        return Tensor(new_mask)


class Identity(BasePruningMethod):
    """Prunes nothing: the re-parametrisation (``_orig``, ``_mask`` of ones, hook) alone."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        """Add the pruning re-parametrisation to ``module.<name>`` with a mask of ones."""
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries chosen at random (convlab's generator, see ``manual_seed``).

    Args:
        amount: a float in [0, 1] (the fraction to prune) or a non-negative int (how many).
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        def scores():  # a uniform draw per entry: the largest are pruned
            return array_module(_array(default_mask)).asarray(default_generator().random(t.numel()))

        return _unstructured_mask(self.amount, t, default_mask, scores)

    @classmethod
    def apply(cls, module, name, amount):
        """Prune ``amount`` random entries of ``module.<name>``."""
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries of smallest absolute value.

    Args:
        amount: a float in [0, 1] (the fraction to prune) or a non-negative int (how many).
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        return _unstructured_mask(self.amount, t, default_mask, lambda: -abs(_array(t)).reshape(-1))

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        """Prune the ``amount`` smallest-magnitude entries (of ``importance_scores``, default the
        tensor) of ``module.<name>``."""
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` whole channels along ``dim``, chosen at random.

    Args:
        amount: a float in [0, 1] (the fraction of channels) or a non-negative int (how many).
        dim: the dimension indexing the channels (default -1).
    """

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        mask = _array(default_mask)
        if nparams_toprune == 0:
            return Tensor(mask)
        xp = array_module(mask)
        prob = default_generator().random(tensor_size)
        channel_mask = xp.asarray(prob > xp.sort(prob)[nparams_toprune - 1].item())  # above the k-th value
        return Tensor(_channel_mask(_array(t), self.dim, channel_mask) * mask.astype(_array(t).dtype))

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        """Prune ``amount`` random channels along ``dim`` of ``module.<name>``."""
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` channels along ``dim`` with the smallest L\\ :sub:`n` norm.

    Args:
        amount: a float in [0, 1] (the fraction of channels) or a non-negative int (how many).
        n: the norm's order (a number, ``inf``, ``-inf`` or ``'fro'``), as ``p`` of ``torch.norm``.
        dim: the dimension indexing the channels (default -1).
    """

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        nparams_tokeep = tensor_size - nparams_toprune
        _validate_pruning_amount(nparams_toprune, tensor_size)
        mask = _array(default_mask)
        if nparams_toprune == 0:
            return Tensor(mask)
        t_data = _array(t)
        xp = array_module(t_data)
        norm = _compute_norm(t_data, self.n, self.dim)
        channel_mask = xp.zeros(tensor_size, dtype=bool)
        channel_mask[_indices_of_largest(norm, nparams_tokeep)] = True
        return Tensor(_channel_mask(t_data, self.dim, channel_mask) * mask.astype(t_data.dtype))

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        """Prune the ``amount`` channels along ``dim`` of ``module.<name>`` with the smallest
        L\\ :sub:`n` norm (of ``importance_scores``, default the tensor)."""
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is 0 (composed with the mask so far).

    Args:
        mask: a Tensor or array of the pruned tensor's shape.
    """

    PRUNING_TYPE = "global"

    def __init__(self, mask) -> None:
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise AssertionError(
                f"default_mask shape {tuple(default_mask.shape)} must match self.mask shape {tuple(self.mask.shape)}"
            )
        default = _array(default_mask)
        return Tensor(default * array_module(default).asarray(_array(self.mask)).astype(default.dtype))

    @classmethod
    def apply(cls, module, name, mask):
        """Prune ``module.<name>`` where ``mask`` is 0."""
        return super().apply(module, name, mask=mask)


# ---------------------------------------------------------------------------------- functions
def identity(module, name):
    """Re-parametrise ``module.<name>`` for pruning without pruning anything (a mask of ones).

    Returns:
        ``module``, modified in place.

    Example::

        >>> prune.identity(nn.Linear(2, 3), "bias").bias_mask.tolist()
        [1.0, 1.0, 1.0]
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` randomly chosen entries of ``module.<name>``.

    Args:
        module: the module holding the tensor.
        name: the parameter's name.
        amount: a float in [0, 1] (the fraction to prune) or a non-negative int (how many).

    Returns:
        ``module``, modified in place.
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest absolute value.

    Args:
        module: the module holding the tensor.
        name: the parameter's name.
        amount: a float in [0, 1] (the fraction to prune) or a non-negative int (how many).
        importance_scores: a tensor of the parameter's shape ranking the entries (default the
            parameter).

    Returns:
        ``module``, modified in place.

    Example::

        >>> m = prune.l1_unstructured(nn.Linear(2, 3), "weight", amount=0.2)
        >>> int((m.weight_mask == 0).sum())   # round(0.2 * 6) entries pruned
        1
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` randomly chosen channels along ``dim`` of ``module.<name>``.

    Args:
        module: the module holding the tensor.
        name: the parameter's name.
        amount: a float in [0, 1] (fraction of channels) or a non-negative int (how many).
        dim: the dimension indexing the channels.

    Returns:
        ``module``, modified in place.
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` channels along ``dim`` of ``module.<name>`` with the smallest
    L\\ :sub:`n` norm (``dim=0`` of a conv weight: whole output filters).

    Args:
        module: the module holding the tensor.
        name: the parameter's name.
        amount: a float in [0, 1] (fraction of channels) or a non-negative int (how many).
        n: the norm's order (a number, ``inf``, ``-inf`` or ``'fro'``).
        dim: the dimension indexing the channels.
        importance_scores: a tensor of the parameter's shape (default the parameter).

    Returns:
        ``module``, modified in place.
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune several tensors together, as if concatenated into one vector: e.g. the 80% smallest
    weights of the whole model, however they are spread over the layers.

    Args:
        parameters: an iterable of ``(module, name)`` pairs.
        pruning_method: an unstructured method class (e.g. :class:`L1Unstructured`).
        importance_scores: a dict ``{(module, name): scores}`` (default the tensors themselves).
        **kwargs: the method's arguments (e.g. ``amount``: a fraction of, or a count out of,
            all the tensors' entries).

    Example::

        >>> pairs = [(net[0], "weight"), (net[3], "weight")]
        >>> prune.global_unstructured(pairs, pruning_method=prune.L1Unstructured, amount=0.8)
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    tensors = [_pruned_tensor(module, name, "global_unstructured") for module, name in parameters]
    xp = array_module(tensors[0].data) if tensors else array_module(creation.zeros(0).data)
    scores = xp.concatenate(
        [xp.ravel(_array(importance_scores.get((m, n), t))) for (m, n), t in zip(parameters, tensors)]
    )
    default_mask = xp.concatenate(
        [
            xp.ravel(_array(getattr(m, n + "_mask"))) if hasattr(m, n + "_mask") else xp.ones(t.numel(), t.dtype)
            for (m, n), t in zip(parameters, tensors)
        ]
    ).astype(scores.dtype, copy=False)
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(
            'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
            f"Found method {pruning_method} of type {method.PRUNING_TYPE}"
        )
    container.add_pruning_method(method)
    final_mask = container.compute_mask(Tensor(scores), Tensor(default_mask)).data
    pointer = 0
    for (module, name), param in zip(parameters, tensors):
        num_param = param.numel()
        custom_from_mask(module, name, mask=Tensor(final_mask[pointer : pointer + num_param].reshape(param.shape)))
        pointer += num_param


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` where ``mask`` (a Tensor or array of its shape) is 0.

    Returns:
        ``module``, modified in place.
    """
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent: ``<name>`` becomes a parameter again,
    holding the masked values; ``<name>_orig``, ``<name>_mask`` and the hook are removed.

    Raises:
        ValueError: ``module.<name>`` is not pruned.

    Returns:
        ``module``.
    """
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module) -> bool:
    """Whether ``module`` or one of its submodules has a pruning hook.

    Example::

        >>> net = nn.Sequential(nn.Linear(2, 3))
        >>> prune.is_pruned(net), prune.is_pruned(prune.identity(net[0], "weight"))
        (False, True)
    """
    for _, submodule in module.named_modules():
        for hook in submodule._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False


# ---------------------------------------------------------------------------------- helpers
def _pruned_tensor(module, name, who):
    """``module.<name>``, checked to be a tensor: the error names the module, the attribute and
    what it has (PyTorch's AttributeError wording first)."""
    if not isinstance(name, str):
        raise TypeError(f"{who}: name must be the name of a parameter (a string), got {type(name).__name__}")
    value = getattr(module, name, None)
    if not isinstance(value, Tensor):
        names = ", ".join(n for n, p in module._parameters.items() if p is not None) or "none"
        what = "has no attribute" if value is None else f"has a {type(value).__name__}, not a tensor, as attribute"
        raise AttributeError(  # noqa: TRY004  (PyTorch's type for a missing attribute)
            f"'{type(module).__name__}' object {what} '{name}': {who} cannot prune {module._get_name()}.{name} "
            f"(its parameters: {names})"
        )
    return value


def _indices_of_largest(values, k):
    """Indices of the ``k`` largest ``values`` (a 1-D array), as ``torch.topk(..).indices``
    (in which of several equal values are taken may differ)."""
    xp = array_module(values)
    return xp.argpartition(-values, k - 1)[:k] if k < values.size else xp.arange(values.size)


def _unstructured_mask(amount, t, default_mask, scores):
    """``default_mask`` with the ``amount`` entries of ``t`` that have the largest ``scores()``
    (a flat array) zeroed; ``scores`` is called only when something is pruned, so a random
    score draws from the generator only then, as torch's does."""
    tensor_size = t.numel()
    nparams_toprune = _compute_nparams_toprune(amount, tensor_size)
    _validate_pruning_amount(nparams_toprune, tensor_size)
    mask = _array(default_mask).copy()
    if nparams_toprune != 0:
        mask.reshape(-1)[_indices_of_largest(scores(), nparams_toprune)] = 0
    return Tensor(mask)


def _channel_mask(t, dim, channel_mask):
    """A mask of ``t``'s shape and dtype: 1 on the channels along ``dim`` where ``channel_mask``."""
    xp = array_module(t)
    shape = [1] * t.ndim
    shape[dim] = -1
    return xp.broadcast_to(channel_mask.reshape(shape), t.shape).astype(t.dtype)


def _validate_pruning_amount_init(amount) -> None:
    """``amount`` is a float in [0, 1] or a non-negative int (PyTorch's checks and messages)."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
        not isinstance(amount, numbers.Integral) and (float(amount) > 1.0 or float(amount) < 0.0)
    ):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_pruning_amount(amount, tensor_size) -> None:
    """A count ``amount`` is at most ``tensor_size``."""
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _validate_structured_pruning(t) -> None:
    shape = tuple(t.shape)
    if len(shape) <= 1:
        raise ValueError(
            "Structured pruning can only be applied to multidimensional tensors. "
            f"Found tensor of shape {shape} with {len(shape)} dims"
        )


def _compute_nparams_toprune(amount, tensor_size):
    """How many units ``amount`` means: itself if an int, else ``round(amount * tensor_size)``."""
    if isinstance(amount, numbers.Integral):
        return amount
    return round(amount * tensor_size)


def _validate_pruning_dim(t, dim) -> None:
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _compute_norm(t, n, dim):
    """The L\\ :sub:`n` norm of every channel of ``t`` along ``dim`` (``torch.norm(t, p=n, dim=others)``)."""
    xp = array_module(t)
    dim = dim % t.ndim
    flat = xp.moveaxis(t, dim, 0).reshape(t.shape[dim], -1)
    magnitude = xp.abs(flat)
    if n == "fro" and t.ndim > 3:
        raise ValueError(
            f"LnStructured: n='fro' is a norm over at most 2 dimensions besides dim (as torch.norm), the tensor of "
            f"shape {tuple(t.shape)} has {t.ndim - 1}; use n=2"
        )
    if n == "fro" or n == 2:
        return xp.sqrt((flat * flat).sum(axis=1))
    if n == math.inf:
        return magnitude.max(axis=1)
    if n == -math.inf:
        return magnitude.min(axis=1)
    if n == 0:
        return (flat != 0).sum(axis=1).astype(t.dtype)
    if n == 1:
        return magnitude.sum(axis=1)
    if isinstance(n, numbers.Real):
        return (magnitude**n).sum(axis=1) ** (1.0 / n)
    raise ValueError(f"LnStructured: n must be a number, inf, -inf or 'fro', got n={n!r}")
