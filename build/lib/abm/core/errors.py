"""Errors the model raises for bad input. The CLI turns them into exit code 2."""


class ConfigError(ValueError):
    """A scenario, regime, parameter, spec or CLI value was refused.

    The message names the file (where there is one), the key, the value and what was
    expected, so the user can fix it without reading code.
    """
