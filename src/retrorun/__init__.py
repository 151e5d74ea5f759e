"""retrorun: guided backward-running interval sessions on Bluetooth FTMS treadmills.

The public surface is re-exported here; every other module is an implementation
detail unless its own ``__all__`` says otherwise.
"""

from __future__ import annotations

from retrorun.errors import (
    CommandError,
    CommandIgnored,
    CommandRejected,
    CommandTimeout,
    ControlLost,
    DeviceNotFoundError,
    InputError,
    LinkError,
    LinkLost,
    NoAdapterError,
    ProfileError,
    ProgramError,
    RetrorunError,
    SafetyStop,
    UsageError,
)

__version__ = "0.1.0"

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
    "__version__",
]
