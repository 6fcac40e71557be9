"""``Optimizer``: the base class of every optimiser, with PyTorch's parameter groups, state and
``state_dict`` layout.

An optimiser holds

- ``param_groups``: a list of dicts, each with ``'params'`` (the tensors it updates) and that
  group's options (``'lr'``, ``'momentum'``, ...), readable and writable between steps, which is
  how learning-rate schedulers work;
- ``state``: per-parameter buffers (momentum, running averages, step counts), keyed by the
  parameter tensor and created lazily on the first step that sees a gradient.

``state_dict()`` replaces tensors by their position across all groups, exactly as PyTorch does::

    {'state': {0: {'momentum_buffer': tensor(...)}, ...},
     'param_groups': [{'lr': 0.1, 'momentum': 0.9, ..., 'params': [0, 1, 2]}]}

Steps update the parameters' arrays in place (NumPy or CuPy), never recording a graph, and bump
each updated parameter's ``_version`` (see ``Tensor._check_inplace``).

The options PyTorch uses to choose between its own kernels (``foreach`` batches, ``fused``
kernels, CUDA-graph ``capturable`` steps) do not change the maths: convlab accepts and records
them, so ``state_dict`` keys match PyTorch's, and ignores them.
"""

from __future__ import annotations

import collections
import copy
import functools
import numbers
import warnings

import numpy as np

from ..autograd import grad_mode
from ..backend import array_module, to_device, to_numpy
from ..tensor import Tensor
from . import _kernels


class Optimizer:
    """Base class for all optimisers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts defining
            parameter groups (each with a ``'params'`` entry and optional per-group options).
        defaults: the default value of every option, used where a group does not set it.

    Subclasses implement :meth:`step`.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}(): params should be an iterable of Tensors or dicts, got a single Tensor; "
                "wrap it in a list: [tensor]"
            )
        if isinstance(params, (dict, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{name}(): params should be an iterable of Tensors or dicts, got {type(params).__name__}")
        self.state: collections.defaultdict = collections.defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}(): got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _record_step_call(cls.__dict__["step"])

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new layer to fine-tune).

        Args:
            param_group: a dict with ``'params'`` (a tensor, or a list of tensors or of
                ``(name, tensor)`` pairs) and any options that differ from the defaults.

        Example::

            >>> opt = optim.SGD(model.features.parameters(), lr=0.01)
            >>> opt.add_param_group({"params": model.classifier.parameters(), "lr": 0.1})
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group(): param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group(): param_group has no 'params' entry (keys: {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"{name}.add_param_group(): parameters need to be in an ordered collection (a list), not a set: "
                "the order of a set changes between runs"
            )
        else:
            params = list(params)
        named = [isinstance(p, tuple) for p in params]
        if any(named) and not all(named):
            raise ValueError(f"{name}.add_param_group(): give all parameters with names (name, tensor) or none")
        if params and all(named):
            param_group["param_names"] = [n for n, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but params[{i}] is a {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (params[{i}] was produced by {p.grad_fn.name()}); "
                    "pass leaf tensors or Parameters"
                )
        param_group["params"] = params
        for key, default in self.defaults.items():
            param_group.setdefault(key, default)
        self._check_group(param_group)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                f"{name}: a parameter group contains duplicate parameters; they would be updated twice per step",
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in group) != ("param_names" in param_group):
                raise ValueError(f"{name}.add_param_group(): all parameter groups must be given with names or all without")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}.add_param_group(): some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _check_group(self, group: dict) -> None:
        """Validate one group's options (each optimiser checks its own ranges)."""
        name = type(self).__name__
        if group.get("differentiable"):
            raise ValueError(f"{name}(): differentiable=True (a step recorded in the autograd graph) is not supported")

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimised tensors.

        Args:
            set_to_none: set ``.grad`` to None (default, as in PyTorch) instead of filling it
                with zeros. With None, a parameter that gets no gradient in the next backward
                is skipped by ``step()``; with zeros it is still updated (e.g. by weight decay).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.grad_fn, p.grad.requires_grad = None, False
                        p.grad.data[...] = 0

    def step(self, closure=None):
        """Update the parameters once from their ``.grad``.

        Args:
            closure: optional function that re-evaluates the model and returns the loss
                (run with gradients enabled); its result is returned.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _params_with_grad(self, group: dict):
        """The group's parameters that have a gradient (the others are skipped, as in PyTorch),
        after checking that each gradient has its parameter's shape. The caller updates each one
        in place, so each one's ``_version`` is bumped here: a graph that saved the parameter
        before the step then refuses to backward (as in PyTorch) instead of using the new values."""
        for i, p in enumerate(group["params"]):
            grad = p.grad
            if grad is None:
                continue
            if grad.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.step(): params[{i}] of its group has shape {tuple(p.shape)} but its .grad "
                    f"has shape {tuple(grad.shape)}"
                )
            p._version += 1
            yield p

    @staticmethod
    def _evaluate(closure):
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """The optimiser's state as ``{'state': {index: {...}}, 'param_groups': [...]}``.

        Parameters are identified by their position across all groups (0, 1, ...), so the dict
        holds no reference to the model. The state tensors are the live buffers, not copies
        (as in PyTorch); :func:`convlab.save` writes them to disk.
        """
        index_of: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index_of[id(p)] if isinstance(p, Tensor) else p): s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state saved by :meth:`state_dict` (from convlab or converted from PyTorch).

        The groups must have the same number of parameters as this optimiser's; the loaded
        options replace the current ones. State tensors (convlab Tensors or NumPy arrays) are
        copied, cast to the parameter's floating dtype and moved to its device.

        Args:
            state_dict: a dict with ``'state'`` and ``'param_groups'`` entries.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict(): expected a dict with 'state' and 'param_groups', got {got}")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict(): loaded state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict(): parameter group {i} has {len(saved['params'])} parameters in the "
                    f"loaded state dict but {len(group['params'])} in the optimizer"
                )
        param_of = {
            saved_id: p
            for group, saved in zip(self.param_groups, saved_groups)
            for saved_id, p in zip(saved["params"], group["params"])
        }
        state = collections.defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = param_of.get(key)
            if param is None:
                state[key] = value
            else:
                state[param] = {k: _state_value_for(param, k, v) for k, v in value.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            for key, default in self.defaults.items():
                saved.setdefault(key, default)
        self.state, self.param_groups = state, saved_groups
        if state:  # per-parameter state exists only once a step has run: a resumed scheduler need not warn
            self._opt_called = True
        self._after_load()

    def _after_load(self) -> None:
        """Hook for subclasses that must fix up loaded options (AdamW's decoupled decay)."""

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"


def _record_step_call(step):
    """Wrap a subclass's ``step`` so learning-rate schedulers can tell whether it has run
    (they warn when ``scheduler.step()`` comes first, as PyTorch does)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    return wrapper


def _state_value_for(param: Tensor, key, value):
    """A loaded state entry as this optimiser keeps it: tensors copied onto the parameter's
    device (floating ones in its dtype, except the float32 step counter); numbers as they are."""
    if key == "step":
        return Tensor(np.array(to_numpy(value.data if isinstance(value, Tensor) else value), dtype=np.float32))
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        array = to_device(value, param.device)
        dtype = param.dtype if array.dtype.kind == "f" and param.dtype.kind == "f" else array.dtype
        return Tensor(array.astype(dtype, copy=True))
    if isinstance(value, dict):
        return {k: _state_value_for(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_state_value_for(param, None, v) for v in value)
    return value


def _check_number(owner: str, name: str, value, low: float = 0.0, high: float | None = None, high_open=False) -> None:
    """Raise a ValueError/TypeError naming ``owner`` unless ``low <= value (<|<=) high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}")
    too_high = high is not None and (value >= high if high_open else value > high)
    if not value >= low or too_high:  # `not >=` also rejects NaN
        upper = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{owner}: invalid {name} value {value}, expected >= {low}{upper}")


def _lerp_(buf, end, weight: float) -> None:
    """``buf += weight * (end - buf)`` in place, with PyTorch's two formulas (exact at 0 and 1):
    ``buf + w (end - buf)`` for ``|w| < 0.5``, else ``end - (end - buf)(1 - w)``."""
    diff = end - buf
    if abs(weight) < 0.5:
        diff *= weight
        buf += diff
    else:
        diff *= 1 - weight
        array_module(buf).subtract(end, diff, out=buf)


def _penalised_grad(p: Tensor, weight_decay: float, maximize: bool):
    """The gradient an array update follows: ``p.grad`` (negated when ``maximize``) plus the L2
    term ``weight_decay * p``; a new array when it differs from ``p.grad``, which is never modified."""
    grad = -p.grad.data if maximize else p.grad.data
    if weight_decay != 0:
        grad = grad + weight_decay * p.data
    return grad


def _square_avg_(avg, grad, decay: float):
    """``avg = decay * avg + (1 - decay) * grad^2`` in place, in PyTorch's operation order;
    returns the scratch array it used (``grad``'s shape and dtype), free for reuse."""
    scratch = grad * (1 - decay)
    scratch *= grad
    avg *= decay
    avg += scratch
    return scratch


def _new_step_counter() -> Tensor:
    """The per-parameter step count: a 0-d float32 CPU tensor, as PyTorch keeps it."""
    return Tensor(np.zeros((), dtype=np.float32))


class _BufferedOptimizer(Optimizer):
    """An optimiser whose per-parameter state is a step counter and zero-initialised buffers,
    created on the parameter's first update (Adam, RMSprop). Each step runs the one-pass CPU
    kernel when the arrays allow it (``_fused_update``), else array operations (``_array_update``).
    """

    # (state key, the group option that enables it or None for always), in PyTorch's creation order
    _buffers: tuple[tuple[str, str | None], ...] = ()

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    zeros = array_module(p.data).zeros_like
                    state["step"] = _new_step_counter()
                    for key, option in self._buffers:
                        if option is None or group[option]:
                            state[key] = Tensor(zeros(p.data))
                state["step"].data += 1
                buffers = [state[key].data for key, _ in self._buffers if key in state]
                if _kernels.fusable(p.data, p.grad.data, *buffers):
                    self._fused_update(p, state, group)
                else:
                    self._array_update(p, state, group)
        return loss

