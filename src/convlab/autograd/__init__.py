"""Reverse-mode automatic differentiation: the ``Function`` base of every op, the graph walk,
grad mode, and a finite-difference ``gradcheck``."""

from .function import Function
from .functional import backward, grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck

__all__ = ["Function", "backward", "enable_grad", "grad", "gradcheck", "is_grad_enabled", "no_grad", "set_grad_enabled"]
