"""Numba step kernels, one module per mechanism group.

Every kernel is ``@njit(cache=True)``, serial and deterministic. It takes all its inputs
explicitly: the state tables, a ``Params`` record, the week index and a
``numpy.random.Generator`` from its own stream.
"""
