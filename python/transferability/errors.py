"""Errors that the command line reports as one line."""


class UserError(Exception):
    """Bad input: reported as one line on stderr and exit status 2."""
