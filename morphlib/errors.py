"""The one exception users see: a problem they can fix, with a message that says how."""


class MorphError(Exception):
    """Bad input or state that the user can fix; the message says what to do."""
