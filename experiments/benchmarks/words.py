"""How many random words a model's streams took: PCG64 arithmetic on generator states.

The floor (``benchmarks.floor``) must take, week by week, exactly as many 64-bit words from
each stream as the engine did. Counting them needs no change to the kernels: a PCG64
generator is a 128-bit LCG, so the number of steps between two of its states is the LCG
jump distance (O'Neill, pcg-cpp ``distance``), whatever kinds of draws were made.
"""

from __future__ import annotations

PCG64_MULT = (2549297995355413924 << 64) | 4865540595714422341
MASK128 = (1 << 128) - 1


def stream_states(model) -> list[dict]:
    """The ``bit_generator.state`` of each of ``model.streams``, in the streams' order."""
    return [g.bit_generator.state for g in model.streams.values()]


def pcg64_distance(a: dict, b: dict) -> int:
    """How many 64-bit words a PCG64 generator produced between states ``a`` and ``b``
    (``bit_generator.state`` dicts). Counts every draw of every kind exactly."""
    if a["bit_generator"] != "PCG64" or b["bit_generator"] != "PCG64":
        raise ValueError("pcg64_distance needs PCG64 states")
    cur, new, inc = a["state"]["state"], b["state"]["state"], a["state"]["inc"]
    if inc != b["state"]["inc"]:
        raise ValueError("states of two different PCG64 streams")
    mult, plus, bit, dist = PCG64_MULT, inc, 1, 0
    while cur != new:
        if (cur & bit) != (new & bit):
            cur = (cur * mult + plus) & MASK128
            dist |= bit
        bit <<= 1
        plus = ((mult + 1) * plus) & MASK128
        mult = (mult * mult) & MASK128
    return dist


def words_between(before: list[dict], after: list[dict]) -> list[int]:
    """Words taken from each stream between two lists of states (see :func:`stream_states`)."""
    return [pcg64_distance(x, y) for x, y in zip(before, after, strict=True)]
