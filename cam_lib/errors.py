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


def worker_error_message(text: str) -> str:
    """A DataLoader worker's error re-raised in the main process reads "Caught BadInputError in DataLoader worker
    process 0. Original Traceback ..." with the file and the reason on its last line: put them first."""
    if not (text.startswith("Caught ") and "Original Traceback" in text):
        return text
    last = next((line for line in reversed(text.splitlines()) if line.strip()), text)
    where = text.splitlines()[0].removeprefix("Caught ").split(" in ", 1)[-1].rstrip(".")
    return f"{last.split('Error: ', 1)[-1]} (raised {where})"


def flag_message(error: BadInputError) -> str:
    """A library error as the command line says it: ``parameter model='x' ...`` becomes ``--model 'x' ...``; an
    error re-raised from a DataLoader worker starts with the file and the reason, not the worker's traceback."""
    text, param = worker_error_message(str(error)), getattr(error, "param", None)
    prefix = f"parameter {param}"
    if param is None or not text.startswith(prefix):
        return text
    rest = text[len(prefix):]
    return f"--{param.replace('_', '-')}" + (" " + rest[1:] if rest.startswith("=") else rest)
