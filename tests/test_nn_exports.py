"""``convlab.nn`` re-exports every layer through ``convlab.nn.modules.__all__``: a layer imported into
``nn/modules/__init__.py`` but missing from ``__all__`` would silently be absent from ``convlab.nn``."""

import inspect

import convlab.nn as nn
import convlab.nn.modules as modules


def test_every_layer_imported_into_nn_modules_is_listed_in_all():
    layers = {
        name
        for name, obj in vars(modules).items()
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and not name.startswith("_")
    }
    assert layers - set(modules.__all__) == set()


def test_every_name_in_all_is_a_layer_reachable_as_convlab_nn_name():
    assert len(modules.__all__) == len(set(modules.__all__))
    for name in modules.__all__:
        obj = getattr(nn, name)
        assert obj is getattr(modules, name)
        assert inspect.isclass(obj) and issubclass(obj, nn.Module), name
