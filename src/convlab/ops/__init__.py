"""Differentiable primitives, one topic per file, each op's forward and backward side by side.

The data path through them: elementwise / reduce / shape / indexing / matmul are the general
tensor algebra; activation, loss, conv, pool, norm, upsample and dropout are the layers' math.
"""
