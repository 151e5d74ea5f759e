"""The link as the treadmill client's parts share it: the current client, up, down.

The supervisor changes it (a client attached, the link established, lost, closed);
the procedures read it: the client to write to, and whether the link is down, so
that a procedure waiting on a dropped link fails at once.

*Down* is set from the moment a link is lost, even while a connect attempt is
still setting up (that attempt fails at once), and cleared when a new client is
attached. *Up* is set only once setup is done; a link lost while not yet up is
the connect attempt's business, not a reconnect's.
"""

from __future__ import annotations

import asyncio

from bleak import BleakClient

from retrorun.errors import LinkLost
from retrorun.treadmill._data import Machine

__all__ = ["Connection"]


class Connection:
    """One treadmill's link state; see the module docstring."""

    def __init__(self, machine: Machine) -> None:
        self._machine = machine
        self._client: BleakClient | None = None
        self._up = asyncio.Event()
        self._down = asyncio.Event()

    @property
    def connected(self) -> bool:
        """The link is up (as far as bleak knows)."""
        return self._client is not None and self._client.is_connected and self._up.is_set()

    @property
    def is_up(self) -> bool:
        """Setup is done and the link has not been lost since."""
        return self._up.is_set()

    @property
    def is_down(self) -> bool:
        """The link was lost and no new client is attached yet."""
        return self._down.is_set()

    async def wait_down(self) -> None:
        """Return the moment the link is lost."""
        await self._down.wait()

    def client(self) -> BleakClient:
        """The client to talk to; ``LinkLost`` when there is none."""
        if self._client is None:
            raise LinkLost(f"not connected to {self._machine.name}")
        return self._client

    def is_current(self, client: BleakClient) -> bool:
        """Whether ``client`` is the one in use (one given up on may report late)."""
        return client is self._client

    def attach(self, client: BleakClient) -> None:
        """A new client connected: it is the one in use, and the link is not down."""
        self._client = client
        self._down.clear()

    def established(self) -> None:
        """Setup on the attached client is done: the link is up."""
        self._up.set()

    def lost(self) -> bool:
        """The link is gone: down from now on. True when it had been up."""
        self._down.set()
        if not self._up.is_set():
            return False
        self._up.clear()
        return True

    def detach(self) -> BleakClient | None:
        """Forget the client in use (to replace or close it) and hand it back."""
        client, self._client = self._client, None
        return client

    def close(self) -> BleakClient | None:
        """The end: no client, not up. The client that was in use, to disconnect."""
        self._up.clear()
        return self.detach()
