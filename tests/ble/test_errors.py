"""The one table from bleak, bumble and OS exceptions to retrorun's errors."""

from __future__ import annotations

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)
from bumble import att, core
from bumble.transport.common import TransportLostError

from retrorun.ble import (
    BLUETOOTH_ERRORS,
    Situation,
    command_error,
    link_error,
    situation,
    translate_platform_error,
)
from retrorun.errors import (
    CommandTimeout,
    DeviceNotFoundError,
    LinkError,
    LinkLost,
    NoAdapterError,
)

SAME_SITUATION = [
    # a machine with no Bluetooth
    (FileNotFoundError(2, "No such file or directory"), Situation.NO_ADAPTER),
    (
        BleakBluetoothNotAvailableError(
            "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        ),
        Situation.NO_ADAPTER,
    ),
    (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []), Situation.NO_ADAPTER),
    (BleakError("No Bluetooth adapters found."), Situation.NO_ADAPTER),
    # a device not found, or silent
    (BleakDeviceNotFoundError("AA:BB", "AA:BB is not advertising"), Situation.NOT_FOUND),
    # a host or a peer that no longer answers
    (TimeoutError(), Situation.TIMED_OUT),
    (core.TimeoutError(), Situation.TIMED_OUT),
    (core.CommandTimeoutError(), Situation.TIMED_OUT),
    # a link gone
    (BleakError("Not connected"), Situation.LINK_GONE),
    (BleakDBusError("org.bluez.Error.Failed", ["Not connected"]), Situation.LINK_GONE),
    (ConnectionResetError(), Situation.LINK_GONE),
    (BrokenPipeError(), Situation.LINK_GONE),
    (EOFError(), Situation.LINK_GONE),
    (core.ConnectionError(0x08, core.PhysicalTransport.LE, "peer", "connect"), Situation.LINK_GONE),
    (TransportLostError("transport lost"), Situation.LINK_GONE),
    # the peer answered no
    (BleakGATTProtocolError(0x0A), Situation.REFUSED),
    (att.ATT_Error(att.ErrorCode.ATTRIBUTE_NOT_FOUND), Situation.REFUSED),
    # anything else a Bluetooth call raises
    (BleakDBusError("org.bluez.Error.Failed", ["Operation failed"]), Situation.FAILED),
    (BleakError("something odd"), Situation.FAILED),
    (core.InvalidStateError("odd"), Situation.FAILED),
    (PermissionError(), Situation.FAILED),
]


@pytest.mark.parametrize(("exc", "expected"), SAME_SITUATION)
def test_each_exception_means_one_situation(exc: BaseException, expected: Situation) -> None:
    assert isinstance(exc, BLUETOOTH_ERRORS)
    assert situation(exc) is expected


def test_an_exception_the_table_does_not_know_is_no_situation() -> None:
    assert not isinstance(ValueError("x"), BLUETOOTH_ERRORS)
    assert situation(ValueError("x")) is None
    assert translate_platform_error(ValueError("x")) is None


@pytest.mark.parametrize(
    ("situation_", "error"),
    [
        (Situation.NO_ADAPTER, NoAdapterError),
        (Situation.NOT_FOUND, DeviceNotFoundError),
        (Situation.LINK_GONE, LinkLost),
        (Situation.TIMED_OUT, LinkError),
        (Situation.REFUSED, LinkError),
        (Situation.FAILED, LinkError),
    ],
)
def test_each_situation_is_one_retrorun_error(
    situation_: Situation, error: type[LinkError]
) -> None:
    for exc, found in SAME_SITUATION:
        if found is situation_:
            got = link_error(exc, "connect to Treadmill")
            assert type(got) is error, exc


def test_the_error_says_what_was_being_done() -> None:
    assert str(link_error(BleakError("Not connected"), "Bluetooth")) == "Bluetooth: Not connected"
    assert str(link_error(TimeoutError(), "connect to X")) == "connect to X: no answer in time"
    no_adapter = link_error(FileNotFoundError(), "Bluetooth")
    assert isinstance(no_adapter, NoAdapterError)
    assert "no Bluetooth adapter available" in str(no_adapter)


def test_a_procedure_without_an_answer_is_a_command_timeout() -> None:
    timeout = command_error(
        TimeoutError(), "set_target_speed failed on X", op=0x02, op_name="set", timeout_s=5
    )
    assert isinstance(timeout, CommandTimeout)
    assert timeout.op == 0x02
    assert timeout.timeout_s == 5
    gone = command_error(
        BleakError("Not connected"), "stop failed on X", op=0x08, op_name="stop", timeout_s=5
    )
    assert isinstance(gone, LinkLost)
    assert str(gone) == "stop failed on X: Not connected"


def test_only_no_adapter_translates_as_a_platform_error() -> None:
    assert isinstance(translate_platform_error(FileNotFoundError()), NoAdapterError)
    assert translate_platform_error(BleakError("Not connected")) is None
    assert translate_platform_error(BleakDBusError("org.bluez.Error.Failed", [])) is None
