"""RouterOS's own error wording."""

from __future__ import annotations


class RouterOSError(Exception):
    """An error RouterOS prints; ``col`` (1-based) adds ``(line L column C)``."""

    def __init__(self, message: str, col: int | None = None, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.line = line

    def render(self) -> str:
        if self.col is None:
            return self.message
        return f"{self.message} (line {self.line} column {self.col})"

    def __str__(self) -> str:
        return self.render()


def bad_command(word: str, col: int) -> RouterOSError:
    return RouterOSError(f"bad command name {word}", col)


def end_of_command(col: int) -> RouterOSError:
    return RouterOSError("expected end of command", col)


def no_match(arg: str) -> RouterOSError:
    return RouterOSError(f"input does not match any value of {arg}")


def invalid_value(arg: str) -> RouterOSError:
    return RouterOSError(f"invalid value for argument {arg}")


def missing(args: list[str]) -> RouterOSError:
    return RouterOSError(f"missing value(s) of argument(s) {' '.join(args)}")


NO_SUCH_ITEM = "no such item"
