"""Errors of the lab."""

from desa.errors import DesaError


class LabError(DesaError):
    """The lab cannot do what was asked; the message says what to do."""

    exit_code = 3
