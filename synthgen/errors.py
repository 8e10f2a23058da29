"""The one exception type for mistakes a user can fix (bad file, unknown column, bad override).

The CLI prints it on one line and exits non-zero, without a traceback. Anything else is a bug.
"""


class SynthgenError(Exception):
    """A user-fixable problem; the message says what to fix, on one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class GateFailed(SynthgenError):
    """The privacy gate failed: metrics.json and the report are written, the run exits non-zero
    (the CLI prints the headline figures before the one-line reason)."""


def check_known_settings(raw: dict, known, what: str) -> None:
    """One line for keys of a settings mapping that `known` (a dataclass's field names) lacks."""
    unknown = set(raw) - set(known)
    if unknown:
        raise SynthgenError(f"unknown {what} setting(s) {sorted(unknown)}; known: {', '.join(known)}")
