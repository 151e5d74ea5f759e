"""Typed errors for everything retrorun does.

The tree::

    RetrorunError
    ├── InputError            bad input from a person: exit code 2
    │   ├── ProgramError      a program file that does not validate
    │   ├── ProfileError      a device profile that does not validate
    │   └── UsageError        a bad flag or a bad combination of flags
    ├── LinkError             the Bluetooth link: cannot reach or lost the treadmill
    │   ├── NoAdapterError    no Bluetooth adapter on this machine
    │   ├── DeviceNotFoundError
    │   └── LinkLost
    ├── CommandError          a control-point procedure that did not do what was asked
    │   ├── CommandRejected   the treadmill answered with a result other than success
    │   ├── CommandTimeout    no indication arrived in time
    │   ├── CommandIgnored    the treadmill said success, the belt did not follow
    │   └── ControlLost       the treadmill took control back (status 0xFF, or a reset)
    └── SafetyStop            the governor or the monitor stopped the session

``retrorun.ftms.FtmsDecodeError`` is a ``ValueError`` on purpose (the codec is a
pure library) and is also a subclass of ``InputError`` so the command line reports
it as bad input.

Lower-layer errors (bleak, bumble, pydantic) are re-raised as the most specific
of these ``from exc`` at the boundary where they occur.
"""

from __future__ import annotations

__all__ = [
    "CommandError",
    "CommandIgnored",
    "CommandRejected",
    "CommandTimeout",
    "ControlLost",
    "DeviceNotFoundError",
    "InputError",
    "LinkError",
    "LinkLost",
    "NoAdapterError",
    "ProfileError",
    "ProgramError",
    "RetrorunError",
    "SafetyStop",
    "UsageError",
]


class RetrorunError(Exception):
    """Base of every error retrorun raises on purpose."""

    exit_code: int = 1


class InputError(RetrorunError):
    """Input from a person (a file, a flag, a hex string) is wrong."""

    exit_code = 2


class ProgramError(InputError):
    """A program file does not validate. The message names file and field path."""


class ProfileError(InputError):
    """A device profile does not validate. The message names file and field path."""


class UsageError(InputError):
    """A flag, or a combination of flags, that cannot be honoured."""


class LinkError(RetrorunError):
    """The Bluetooth link to the treadmill cannot be made or was lost."""


class NoAdapterError(LinkError):
    """This machine has no usable Bluetooth adapter."""

    def __init__(self, detail: str = "") -> None:
        message = "no Bluetooth adapter available (use --hci or the simulator)"
        super().__init__(f"{message}: {detail}" if detail else message)


class DeviceNotFoundError(LinkError):
    """No matching FTMS treadmill was seen during the scan."""


class LinkLost(LinkError):
    """The link dropped and could not be restored in time."""


class CommandError(RetrorunError):
    """A control-point procedure failed. ``op`` is the request op code."""

    def __init__(self, op: int, message: str) -> None:
        super().__init__(message)
        self.op = op


class CommandRejected(CommandError):
    """The treadmill answered the request with a result other than success."""

    def __init__(self, op: int, result: int, op_name: str = "", result_name: str = "") -> None:
        op_text = op_name or f"0x{op:02X}"
        result_text = result_name or f"0x{result:02X}"
        super().__init__(op, f"treadmill rejected {op_text}: {result_text}")
        self.result = result


class CommandTimeout(CommandError):
    """No response indication arrived for the request in time."""

    def __init__(self, op: int, timeout_s: float, op_name: str = "") -> None:
        op_text = op_name or f"0x{op:02X}"
        super().__init__(op, f"no response from the treadmill to {op_text} within {timeout_s:g} s")
        self.timeout_s = timeout_s


class CommandIgnored(CommandError):
    """The treadmill acknowledged a command but the belt did not follow it."""


class ControlLost(CommandError):
    """The treadmill withdrew control permission (status 0xFF) or was reset."""

    def __init__(self, message: str = "the treadmill withdrew control") -> None:
        super().__init__(0x00, message)


class SafetyStop(RetrorunError):
    """The session was stopped for safety; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
