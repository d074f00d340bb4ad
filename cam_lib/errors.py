"""Errors raised on bad input: each names the file, parameter or value at fault."""


class BadInputError(ValueError):
    """Input data, a parameter or a file is not what the library expects; the message names it.

    ``param``: the name of the library parameter at fault, when there is one. Library messages speak of
    parameters (``model='x' is not ...``); the command line maps ``param`` to its flag (``--model 'x' is not ...``).
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither in the local cache nor downloadable; the message says where to put the file."""
