"""Errors raised on bad input: each names the file, parameter or value at fault."""


class BadInputError(ValueError):
    """Input data, a parameter or a file is not what the library expects; the message names it."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither in the local cache nor downloadable; the message says where to put the file."""
