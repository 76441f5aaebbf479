"""What every mechanism module provides: a :class:`Mechanism`, stepped once a week.

A mechanism (``abm/mechanisms/*.py``) owns its parameter record (the parameters its kernels
read, :func:`abm.core.params.param_record`), its Numba kernels and its per-week driver
state; the model holds its mechanisms in caseflow order and steps each in turn
(``ChildProtectionModel._advance_week``). ``configure`` runs at the start and whenever a
policy changes (a dated event, the app); ``step`` runs every week with that week's
:class:`abm.core.params.Drivers`.
"""

from __future__ import annotations

from numba.core.typing.typeof import Purpose, typeof


class Mechanism:
    #: the name the model files it under (``model.mechanisms[name]``)
    name: str = ""
    #: its parameter record type (``param_record``); None if its kernels take none
    Params: type | None = None

    def __init__(self, model):
        self.model = model
        self._entries: dict = {}
        self.configure(model.p)

    def configure(self, p) -> None:
        """Build the parameter record from the model's parameters (at the start, and after
        every change of policy)."""
        self.p = self.Params.of(p) if self.Params is not None else None
        self._entries = {}

    def step(self, d) -> None:
        """One week, given the week's drivers ``d``."""

    def call(self, kernel, *args):
        """Call a Numba kernel; after its first call, through its compiled entry point.

        Numba's dispatcher derives the type of every argument on every call (tens of arrays
        in the state tables, several times a week); the entry point for the types of the
        first call skips that. Types can change only with the parameter record, so
        ``configure`` forgets the entry points."""
        entry = self._entries.get(kernel)
        if entry is not None:
            return entry(*args)
        out = kernel(*args)
        overloads = getattr(kernel, "overloads", None)  # None: a plain Python stand-in (tests)
        if overloads is None:
            return out
        sig = tuple(typeof(a, Purpose.argument) for a in args)
        found = overloads.get(sig)
        self._entries[kernel] = found.entry_point if found is not None else kernel
        return out
