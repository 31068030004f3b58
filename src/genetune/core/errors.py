"""One exception type for problems in user input, printed as one line by every script."""


class InputError(Exception):
    """Bad user input: the message names the file (and line) and the problem."""
