"""The one exception type for mistakes a user can fix (bad file, unknown column, bad override).

The CLI prints it on one line and exits non-zero, without a traceback. Anything else is a bug.
"""


class SynthgenError(Exception):
    """A user-fixable problem; the message says what to fix, on one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
