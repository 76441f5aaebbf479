"""Probes: small measurements that answer one question about the engine's speed, worth
running again when the engine, Numba or the machine changes. Each module's docstring says
the question and how to run it. They print; nothing they print is recorded or asserted."""
