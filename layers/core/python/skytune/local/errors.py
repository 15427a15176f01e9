class LocalRuntimeError(Exception):
    """A problem the user can fix; the CLI prints the message on one line and exits non-zero."""
