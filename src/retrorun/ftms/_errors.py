"""The codec's errors: a ``ValueError`` family, since the codec is a pure library."""

from __future__ import annotations

from collections.abc import Sequence

from retrorun.errors import InputError

__all__ = ["FtmsDecodeError", "FtmsError", "FtmsValueError", "short_value"]


class FtmsError(ValueError):
    """Base of the codec's errors."""


class FtmsValueError(FtmsError):
    """A value given to a codec constructor is out of range for its wire field."""


class FtmsDecodeError(FtmsError, InputError):
    """Bytes that cannot be decoded: too short for what their flags or op code announce.

    Also an ``InputError``, so the command line reports it as one line and exit code 2.
    ``characteristic`` names the characteristic and ``offset`` is the byte offset of
    the first field that did not fit (or that is wrong).
    """

    def __init__(self, characteristic: str, offset: int, message: str) -> None:
        super().__init__(f"{characteristic}: {message} (byte offset {offset})")
        self.characteristic = characteristic
        self.offset = offset


def short_value(
    characteristic: str, length: int, fields: Sequence[tuple[str, int]]
) -> FtmsDecodeError:
    """The error for a ``length``-byte value: names the first of ``fields`` that does not fit.

    ``fields`` are (name, size in bytes) in wire order.
    """
    offset = 0
    for name, size in fields:
        if offset + size > length:
            return FtmsDecodeError(
                characteristic,
                offset,
                f"{length}-byte value too short: {name} needs {size} byte(s)",
            )
        offset += size
    return FtmsDecodeError(characteristic, offset, f"{length}-byte value too short")
