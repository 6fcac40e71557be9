"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, with PyTorch's
indexing, iteration, key naming (children of a Sequential or ModuleList are named ``0``, ``1``,
..., renumbered after a deletion) and reprs (ModuleList folds repeated blocks: ``(0-2): 3 x ...``)."""

from __future__ import annotations

import collections
import operator

from ...tensor import Tensor
from ..parameter import Parameter
from .module import Module, _addindent


def _index(name, idx, length):
    """``idx`` as a non-negative position, with an IndexError naming the container if out of range."""
    idx = operator.index(idx)
    if not -length <= idx < length:
        raise IndexError(f"{name}: index {idx} is out of range for length {length}")
    return idx % length


def _check_module(name, module):
    if not isinstance(module, Module):
        raise TypeError(f"{name}: expected an nn.Module, got {type(module).__name__}")


class _IndexedModules(Module):
    """Shared machinery of Sequential and ModuleList: children keyed ``"0"``, ``"1"``, ..."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __dir__(self):
        return [key for key in super().__dir__() if not key.isdigit()]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(self._get_name(), idx, len(self))), module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_index(self._get_name(), idx, len(self))]]:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def _renumber(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def append(self, module):
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append every module of an iterable."""
        if not hasattr(modules, "__iter__"):
            raise TypeError(
                f"{self._get_name()}.extend should be called with an iterable, but got {type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module):
        """Insert ``module`` before position ``index`` (negative counts from the end)."""
        _check_module(f"{self._get_name()}.insert", module)
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"{self._get_name()}.insert: index {index} is out of range for length {n}")
        modules = list(self._modules.values())
        modules.insert(index + n if index < 0 else index, module)
        self._renumber(modules)
        return self

    def pop(self, idx):
        """Remove and return the module at ``idx``."""
        module = self[idx]
        del self[idx]
        return module


class Sequential(_IndexedModules):
    """Modules applied one after another; ``Sequential(a, b)(x) == b(a(x))``.

    Args:
        *args: modules (named ``0``, ``1``, ...), or one ``OrderedDict`` of named modules.

    Shape: the first module's input -> the last module's output.

    Example::

        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> net[0]
        Linear(in_features=4, out_features=8, bias=True)
        >>> net(convlab.randn(5, 4)).shape
        (5, 2)
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], collections.OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(collections.OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index("Sequential", idx, len(self))]

    def __setitem__(self, idx, module):
        setattr(self, list(self._modules)[_index("Sequential", idx, len(self))], module)

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(  # noqa: TRY004  (PyTorch raises ValueError here)
                f"add operator supports only objects of Sequential class, but {type(other).__name__} is given."
            )
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(  # noqa: TRY004  (PyTorch raises ValueError here)
                f"add operator supports only objects of Sequential class, but {type(other).__name__} is given."
            )
        return self.extend(list(other))

    def __mul__(self, times: int):
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(f"unsupported operand type(s) for *: Sequential and {type(times).__name__}")
        if times <= 0:
            raise ValueError(f"Non-positive multiplication factor {times} for Sequential")
        return Sequential(*(list(self) * times))

    __rmul__ = __mul__

    def __imul__(self, times: int):
        repeated = self * times
        self._renumber(list(repeated))
        return self


class ModuleList(_IndexedModules):
    """A list of modules, registered so their parameters are found (not callable itself).

    Args:
        modules: an optional iterable of modules.

    Example::

        >>> blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        >>> len(list(blocks.parameters()))
        6
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index("ModuleList", idx, len(self)))]

    def __add__(self, other):
        return ModuleList([*self, *other])

    def __iadd__(self, modules):
        return self.extend(modules)

    def __repr__(self) -> str:
        """Runs of identical module reprs are folded into ``(i-j): n x <repr>``, as PyTorch does."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        lines, start = [], 0
        for i in range(1, len(reprs) + 1):
            if i == len(reprs) or reprs[i] != reprs[start]:
                end = i - 1
                label = (
                    f"({start}): {reprs[start]}"
                    if start == end
                    else f"({start}-{end}): {end - start + 1} x {reprs[start]}"
                )
                lines.append(_addindent(label, 2))
                start = i
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules with string keys, in insertion order.

    Args:
        modules: an optional mapping (or iterable of pairs) from names to modules.

    Example::

        >>> heads = nn.ModuleDict({"cls": nn.Linear(16, 10), "box": nn.Linear(16, 4)})
        >>> heads["box"](convlab.randn(2, 16)).shape
        (2, 4)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        """Add or overwrite entries from a mapping or an iterable of ``(name, module)`` pairs."""
        if not hasattr(modules, "__iter__"):
            raise TypeError(
                "ModuleDict.update should be called with an iterable of key/value pairs, "
                f"but got {type(modules).__name__}"
            )
        pairs = modules.items() if hasattr(modules, "items") else modules
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(
                    f"ModuleDict.update: element #{i} should be a (name, module) pair, got length {len(pair)}"
                )
            self[pair[0]] = pair[1]


class ParameterList(Module):
    """A list of parameters, registered as ``0``, ``1``, ... (a Tensor is wrapped in a Parameter).

    Example::

        >>> scales = nn.ParameterList([nn.Parameter(convlab.ones(4)) for _ in range(3)])
        >>> [name for name, _ in scales.named_parameters()]
        ['0', '1', '2']
    """

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    @staticmethod
    def _as_parameter(value):
        if isinstance(value, Parameter):
            return value
        if isinstance(value, Tensor):
            return Parameter(value)
        raise TypeError(f"ParameterList: expected a Parameter or Tensor, got {type(value).__name__}")

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._parameters.values())[idx])
        return self._parameters[str(_index("ParameterList", idx, len(self)))]

    def __setitem__(self, idx, value):
        self.register_parameter(str(_index("ParameterList", idx, len(self))), self._as_parameter(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values):
        return self.extend(values)

    def __dir__(self):
        return [key for key in super().__dir__() if not key.isdigit()]

    def append(self, value):
        self.register_parameter(str(len(self)), self._as_parameter(value))
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        lines = []
        for i, p in enumerate(self):
            size = "x".join(str(n) for n in p.shape)
            device = f" ({p.device})" if p.device.type != "cpu" else ""
            lines.append(f"  ({i}): Parameter containing: [convlab.{p.dtype} of size {size}{device}]")
        return "\n".join(lines)
