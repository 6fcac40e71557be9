"""``Module``: the base class of every layer and model, with PyTorch's behaviour.

A module owns parameters (:class:`~convlab.nn.Parameter`), buffers (tensors that are state but
not trained, e.g. BatchNorm's running mean) and child modules, registered simply by assigning
them as attributes. Their dotted names (``features.0.weight``, ``bn.running_mean``) are the keys
of ``state_dict()``, identical to PyTorch's, so checkpoints move between the two.

Calling a module runs, in PyTorch's order: forward pre-hooks, ``forward``, forward hooks; full
backward (pre-)hooks are attached by wrapping the module's input and output tensors in identity
nodes whose backward reports the gradients (see :class:`_BackwardHooks`).
"""

from __future__ import annotations

import collections
import itertools
import warnings

from ... import backend, dtypes
from ...autograd import grad_mode
from ...autograd.function import Function
from ...backend import array_module
from ...tensor import RemovableHandle, Tensor
from ..parameter import Parameter

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = "What ``load_state_dict`` returns: the keys it could not match, as PyTorch's."


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class _BackwardHookIdentity(Function):
    """Identity on a module's input or output tensors whose backward hands the arriving
    gradients to ``on_backward`` and passes on what it returns (the mechanism behind full
    backward hooks)."""

    @staticmethod
    def forward(ctx, *xs, on_backward):
        ctx.on_backward = on_backward
        return xs

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_backward(grads))


class _BackwardHooks:
    """One module call's full backward hooks, as PyTorch's ``BackwardHook``.

    The gradients with respect to the outputs arrive first: they are packed into
    ``grad_output`` (one entry per output; None for non-tensors and outputs no gradient reached)
    and shown to the backward pre-hooks, which may replace them. When the gradients with respect
    to the inputs arrive, the hooks get ``(module, grad_input, grad_output)`` with one
    ``grad_input`` entry per positional argument of the call (None for non-tensors, zeros for
    tensors that received no gradient); a hook may return a replacement ``grad_input``.
    """

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = self.n_outputs = 0
        self.input_arrays = {}
        self.input_positions = self.output_positions = None

    @staticmethod
    def _wrap(values, on_backward):
        """Route the tensors in ``values`` that require grad through one identity node; returns
        the new values and the wrapped positions (None when there are none)."""
        positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not positions:
            return values, None
        wrapped = _BackwardHookIdentity.apply(*[values[i] for i in positions], on_backward=on_backward)
        values = list(values)
        for i, t in zip(positions, wrapped):
            values[i] = t
        return tuple(values), positions

    def setup_inputs(self, args):
        self.n_inputs = len(args)
        self.input_arrays = {i: a.data for i, a in enumerate(args) if isinstance(a, Tensor)}
        args, self.input_positions = self._wrap(args, self._inputs_done)
        return args

    def setup_outputs(self, output):
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        self.n_outputs = len(outputs)
        outputs, self.output_positions = self._wrap(outputs, self._outputs_done)
        return outputs[0] if single else outputs

    def _outputs_done(self, grads):
        grad_output = [None] * self.n_outputs
        for i, g in zip(self.output_positions, grads):
            grad_output[i] = None if g is None else Tensor(g)
        self.grad_output = tuple(grad_output)
        for hook in self.module._backward_pre_hooks.values():
            result = hook(self.module, self.grad_output)
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != self.n_outputs:
                raise RuntimeError(
                    f"backward pre-hook of {self.module._get_name()} returned {len(result)} gradients, "
                    f"expected {self.n_outputs} (one per output)"
                )
            self.grad_output = result
        grad_output = self.grad_output
        if self.input_positions is None:  # no input needs a gradient: the hooks run now
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module outputs since "
                "no inputs require gradients.",
                stacklevel=2,
            )
            self._run_hooks((None,) * self.n_inputs, expect_none=True)
        return tuple(None if grad_output[i] is None else grad_output[i].data for i in self.output_positions)

    def _inputs_done(self, grads):
        grad_input = [None] * self.n_inputs
        for i, array in self.input_arrays.items():
            grad_input[i] = Tensor(array_module(array).zeros_like(array))
        for i, g in zip(self.input_positions, grads):
            if g is not None:
                grad_input[i] = Tensor(g)
        grad_input = self._run_hooks(tuple(grad_input))
        return tuple(None if grad_input[i] is None else grad_input[i].data for i in self.input_positions)

    def _run_hooks(self, grad_input, expect_none=False):
        for hook in self.module._backward_hooks.values():
            result = hook(self.module, grad_input, self.grad_output)
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if expect_none:
                if any(r is not None for r in result):
                    raise RuntimeError(
                        f"backward hook of {self.module._get_name()}: no input requires grad, so the hook "
                        "must return None (or only Nones)"
                    )
                continue
            if len(result) != len(grad_input):
                raise RuntimeError(
                    f"backward hook of {self.module._get_name()} returned {len(result)} gradients, "
                    f"expected {len(grad_input)} (one per input)"
                )
            grad_input = result
        self.grad_output = None
        return grad_input


class Module:
    """Base class for all neural network modules; subclass it and define ``forward``.

    Attributes assigned in ``__init__`` register themselves: a :class:`~convlab.nn.Parameter` as
    a parameter, a ``Module`` as a child; ``register_buffer`` adds non-trained state.

    Example::

        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = nn.Linear(784, 128)
        ...         self.fc2 = nn.Linear(128, 10)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x.flatten(1)).relu())
        >>> list(Net().state_dict())
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks"] = {}
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_hooks"] = {}
        d["_backward_pre_hooks"] = {}

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if params is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(
                f"cannot assign {type(value).__name__} before {type(self).__name__}.__init__() calls super().__init__()"
            )
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' (nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' (nn.Module or None expected)"
                )
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Drop ``name`` from every store but ``keep`` (re-assigning keeps its position, as in PyTorch)."""
        for store in (self.__dict__, self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _check_name(self, kind, name):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f'{kind} name can\'t contain "." or be empty, got {name!r}')
        if (
            name in self.__dict__
            and name not in self._parameters
            and name not in self._buffers
            and name not in self._modules
        ):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a placeholder kept out of ``state_dict``)."""
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter '{name}' (nn.Parameter or None expected)"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state saved in ``state_dict`` (unless ``persistent=False``) but not trained."""
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer '{name}' (Tensor or None expected)")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as ``self.<name>``."""
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(name, module)`` for this module and all descendants, depth first; a module
        reachable by two paths is listed once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield ``(dotted_name, parameter)``; a parameter shared by two layers is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant named ``target`` (dotted path, ``""`` for self)."""
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"{mod._get_name()} has no submodule '{part}' (looking up '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter '{name}'")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer '{name}'")
        return mod._buffers[name]

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, BatchNorm uses batch statistics) on this module and,
        through their own ``train``, on all children."""
        if not isinstance(mode, bool):
            raise ValueError(  # noqa: TRY004  (PyTorch raises ValueError here)
                f"train(): mode is expected to be a bool, got {type(mode).__name__}"
            )
        self.__dict__["training"] = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default, as in PyTorch) or to zeros."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every child (recursively), then on self; e.g. to initialise.

        Example::

            >>> def init_weights(m):
            ...     if isinstance(m, nn.Linear):
            ...         nn.init.xavier_uniform_(m.weight)
            >>> net.apply(init_weights)
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ device and dtype
    def _move(self, convert):
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    t.data = convert(t.data)
                    if t.grad is not None:
                        t.grad.data = convert(t.grad.data)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move (in place) parameters and buffers to a device and/or cast the floating ones to a
        floating dtype: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``."""
        dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"{self._get_name()}.to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, backend.device)):
                dev = a
            elif isinstance(a, Tensor):
                dev, dtype = a.device, a.dtype
            else:
                dtype = a
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"{self._get_name()}.to() only accepts floating point dtypes, got {dtype}")
            self._move(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)
        if dev is not None:
            backend.module_for(dev)  # clear error when CUDA is unavailable
            self._move(lambda a: backend.to_device(a, dev))
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """Add this module's own parameters and persistent buffers (not its children's)."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict from dotted names to tensors: parameters, then persistent buffers,
        module by module, with PyTorch's key names. The tensors share memory with the module.

        Example::

            >>> list(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).state_dict())
            ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        if args:  # PyTorch's deprecated positional form state_dict(destination, prefix, keep_vars)
            warnings.warn(
                "state_dict(): positional arguments are deprecated, use keyword arguments", FutureWarning, stacklevel=2
            )
            options = dict(zip(("destination", "prefix", "keep_vars"), args))
            destination = options.get("destination", destination)
            prefix, keep_vars = options.get("prefix", prefix), options.get("keep_vars", keep_vars)
        out = collections.OrderedDict() if destination is None else destination
        self._save_to_state_dict(out, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=out, prefix=prefix + name + ".", keep_vars=keep_vars)
        return out

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        """Copy this module's own entries from ``state_dict`` (PyTorch's protocol: a layer may
        override it to upgrade old checkpoints), recording missing and unexpected keys and errors."""
        local_state = {
            k: v
            for k, v in itertools.chain(self._parameters.items(), self._buffers.items())
            if v is not None and k not in self._non_persistent_buffers
        }
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, target in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else value
            if not hasattr(array, "shape") or not hasattr(array, "dtype"):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected a Tensor or array from checkpoint '
                    f"but received {type(value).__name__}"
                )
                continue
            if len(target.shape) == 0 and tuple(array.shape) == (1,):  # PyTorch 0.3-era scalars
                array = array.reshape(())
            if tuple(array.shape) != tuple(target.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(target.shape)}."
                )
                continue
            array = backend.to_device(array, target.device)
            if assign:
                array = array.astype(target.dtype, copy=False)
                if isinstance(target, Parameter):
                    self._parameters[name] = Parameter(array, requires_grad=target.requires_grad)
                else:
                    self._buffers[name] = Tensor(array)
            else:
                target.data[...] = array
                target._version += 1  # an in-place change, as Tensor.copy_ counts it
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    head, dot, _ = key[len(prefix) :].partition(".")
                    if (dot and head not in self._modules) or (not dot and head not in local_state):
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict`` (convlab Tensors or NumPy arrays),
        casting to each target's dtype.

        Args:
            state_dict: a mapping from dotted names to tensors or arrays.
            strict: raise if a key is missing or unexpected (shape mismatches always raise).
            assign: replace the tensors instead of copying into them (the module takes the
                given arrays, dtype cast to its own).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError naming every missing and unexpected key (when ``strict``) and every shape
            mismatch (key and both shapes), in PyTorch's wording.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"load_state_dict(): expected a mapping of names to tensors, got {type(state_dict).__name__}"
            )
        missing, unexpected, errors = [], [], []
        metadata = {"assign_to_params_buffers": True} if assign else {}

        def load(module, local_state, prefix):
            module._load_from_state_dict(local_state, prefix, metadata, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state.items() if k.startswith(child_prefix)}, child_prefix)

        load(self, dict(state_dict), "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ calling and hooks
    _hook_ids = itertools.count()

    def _add_hook(self, store, hook, prepend=False):
        key = next(Module._hook_ids)
        if prepend:
            rest = list(store.items())
            store.clear()
            store[key] = hook
            store.update(rest)
        else:
            store[key] = hook
        return RemovableHandle(store, key)

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Run ``hook(module, args) -> None | new_args`` before ``forward``; with
        ``with_kwargs=True`` it is ``hook(module, args, kwargs) -> None | (new_args, new_kwargs)``.
        ``prepend`` runs it before the hooks already registered. Returns a removable handle."""
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle._item)
        return handle

    def register_forward_hook(
        self, hook, *, prepend: bool = False, with_kwargs: bool = False, always_call: bool = False
    ):
        """Run ``hook(module, args, output) -> None | new_output`` after ``forward`` (with
        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``); ``always_call`` runs it even
        when ``forward`` raises. Returns a removable handle.

        Example::

            >>> features = {}
            >>> net[0].register_forward_hook(lambda m, args, out: features.update(conv1=out.detach()))
        """
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle._item)
        if always_call:
            self._forward_hooks_always_called.add(handle._item)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """Run ``hook(module, grad_output) -> None | new_grad_output`` when the gradients with
        respect to the module's outputs are known, before they flow into the module."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """Run ``hook(module, grad_input, grad_output) -> None | new_grad_input`` when the
        gradients with respect to the module's inputs are computed. Both are tuples, as in PyTorch:
        ``grad_input`` has one entry per positional argument (None for non-tensors, zeros for a
        tensor that got no gradient), ``grad_output`` one per output (None where no gradient
        arrived). A returned tuple replaces ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook with kwargs must return None or a tuple (new_args, new_kwargs), "
                            f"got {result!r}"
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and grad_mode.is_grad_enabled():
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.setup_inputs(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            for key, hook in list(self._forward_hooks.items()):
                if key in self._forward_hooks_always_called:
                    try:
                        if key in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception as hook_error:  # noqa: BLE001  the forward's exception is the one to report
                        warnings.warn(f"forward hook with always_call=True raised {hook_error!r}", stacklevel=2)
            raise
        for key, hook in list(self._forward_hooks.items()):
            result = (
                hook(self, args, kwargs, output) if key in self._forward_hooks_with_kwargs else hook(self, args, output)
            )
            if result is not None:
                output = result
        if backward_hooks is not None:
            output = backward_hooks.setup_outputs(output)
        return output

    # ------------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(m), 2)}" for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            body = extra_lines[0] if len(extra_lines) == 1 and not child_lines else "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"
