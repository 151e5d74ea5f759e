"""bumble's virtual controller, with the two gaps that hung our prototypes filled.

Shared by both ends: retrorun's central (``retrorun.ble``) and the simulator's
peripheral and HCI bridge (``treadsim.gatt``).

- ``LE Create Connection Cancel`` is a no-op in bumble 0.0.236: the pending
  connection stays, the host waits forever for the cancelled connection's
  "complete" event, and every later connect gets "command disallowed". Here it
  clears the pending connection and answers as the spec says (Vol 4, Part E,
  7.8.13): command complete, then LE Connection Complete with status 0x02.
- :meth:`VirtualController.drop_all` ends every LE connection as a radio would when
  the host behind the controller goes away (the peer sees a disconnection, here
  "remote user terminated"), so a peripheral advertises again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from typing import Any

from bumble import hci, ll
from bumble.controller import Controller

__all__ = ["VirtualController", "next_random_address"]

_counter = itertools.count(1)


def next_random_address(prefix: int = 0xC0) -> str:
    """A static random address unique in this process and (likely) across processes.

    ``prefix``: the first byte; its two top bits must be set (static random).
    """
    n = next(_counter) & 0xFFFFFF
    pid = os.getpid() & 0xFFFF
    octets = [prefix | 0xC0, pid >> 8, pid & 0xFF, n >> 16, (n >> 8) & 0xFF, n & 0xFF]
    return ":".join(f"{octet:02X}" for octet in octets)


class VirtualController(Controller):  # type: ignore[misc]  # bumble is untyped here
    """A bumble ``Controller`` whose connect can be cancelled and whose links can be dropped."""

    def on_hci_le_create_connection_cancel_command(self, command: Any) -> Any:
        pending: Any = getattr(self, "pending_le_connection", None)
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        peer = pending.peer_address
        failure = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=peer.address_type,
            peer_address=peer,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # The command's own "complete" goes out when this returns; the connection's
        # failure must follow it, not precede it.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failure)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def drop_all(
        self, reason: int = hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR
    ) -> None:
        """End every LE link and forget any pending connect, without telling our host
        (it is gone); each peer sees a disconnection."""
        self.pending_le_connection = None
        for peer, connection in list(self.le_connections.items()):
            with contextlib.suppress(Exception):  # the peer may have left the link already
                connection.send_ll_control_pdu(ll.TerminateInd(reason))
            self.le_connections.pop(peer, None)
