"""The treadmill's FTMS server, sans I/O: bytes in, bytes out, physics inside.

``FtmsServer`` implements :class:`treadsim._api.GattApp`; ``treadsim.gatt``
serves it over bumble and ``treadsim.runtime`` calls :meth:`FtmsServer.tick`
on the loop clock. It follows FTMS v1.0 where real machines do (Request Control
first, one procedure at a time, indications required, ranges enforced, control
lost on disconnect, a status notification for every change, console ones
included) and misbehaves where the device profile's quirks or the fault plan say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from retrorun.devices import DeviceProfile
from retrorun.ftms import (
    ControlOp,
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    FtmsDecodeError,
    InclinationRange,
    MachineFeature,
    MachineStatus,
    ResultCode,
    ServiceData,
    SpeedRange,
    StatusOp,
    StopOrPause,
    TargetSettingFeature,
    TrainingStatus,
    TrainingStatusCode,
    TreadmillData,
    TreadmillDataFlags,
    split_record,
)
from treadsim._api import (
    ATT_CCCD_IMPROPERLY_CONFIGURED,
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    AttError,
    Outgoing,
    Send,
)
from treadsim.faults import Fault, FaultPlan
from treadsim.physics import Belt

__all__ = ["FtmsServer"]

FEATURE, TREADMILL_DATA, TRAINING_STATUS = 0x2ACC, 0x2ACD, 0x2AD3
SPEED_RANGE, INCLINE_RANGE, CONTROL_POINT, STATUS = 0x2AD4, 0x2AD5, 0x2AD9, 0x2ADA

KMH_PER_MPH: Final = 1.609344
_ATT_INVALID_LENGTH: Final = 0x0D
_GARBAGE: Final = bytes([0x04, 0x00, 0x10])  # announces a distance it does not carry
_REBOOT_SILENCE_S: Final = 2.0


class FtmsServer:
    """A simulated FTMS treadmill. See the module docstring."""

    def __init__(self, profile: DeviceProfile, *, faults: FaultPlan | None = None) -> None:
        self.profile = profile
        self.faults = faults or FaultPlan()
        self.belt = self._new_belt()
        self.controlled = False
        self.connected_now = False
        self.mtu = 23
        self.targeted_distance: int | None = None
        self.targeted_time: int | None = None
        self._queue: list[Outgoing] = []
        self._response_pending = False
        self._last_tick: float | None = None
        self._next_notify = 0.0
        self._silent_until = 0.0

    def _new_belt(self) -> Belt:
        accel = self.profile.accel_kmh_per_s
        slow = self.faults.arg("slow-ramp")
        if slow is not None:
            accel = min(accel, slow)
        return Belt(accel, self.profile.decel_kmh_per_s, self.profile.incline_pct_per_s)

    # -- GattApp -------------------------------------------------------------------------

    @property
    def advertised_name(self) -> str:
        return self.profile.name

    def service_data(self) -> bytes:
        return bytes(ServiceData())

    def _zero_ranges(self) -> bool:
        return self.profile.has("zero_ranges") or self.faults.has("zero-ranges")

    def read(self, uuid: int) -> bytes:
        if uuid == FEATURE:
            machine = (
                MachineFeature.AVERAGE_SPEED
                | MachineFeature.TOTAL_DISTANCE
                | MachineFeature.INCLINATION
                | MachineFeature.EXPENDED_ENERGY
                | MachineFeature.HEART_RATE_MEASUREMENT
                | MachineFeature.ELAPSED_TIME
            )
            target = (
                TargetSettingFeature.SPEED
                | TargetSettingFeature.INCLINATION
                | TargetSettingFeature.DISTANCE
                | TargetSettingFeature.TRAINING_TIME
            )
            return bytes(FitnessMachineFeature(machine, target))
        if uuid == SPEED_RANGE:
            if self._zero_ranges():
                return bytes(SpeedRange(0, 0, 0))
            return bytes(SpeedRange(*self.profile.speed.raw))
        if uuid == INCLINE_RANGE:
            if self._zero_ranges():
                return bytes(InclinationRange(0, 0, 0))
            return bytes(InclinationRange(*self.profile.incline.raw))
        if uuid == TRAINING_STATUS:
            code = TrainingStatusCode.MANUAL_MODE if self.belt.running else TrainingStatusCode.IDLE
            return bytes(TrainingStatus(status=code))
        return b""

    def set_mtu(self, mtu: int) -> None:
        self.mtu = mtu

    def connected(self) -> None:
        self.connected_now = True
        self.mtu = 23

    def disconnected(self) -> None:
        """Control is lost with the link; the belt keeps doing what it did."""
        self.connected_now = False
        self.controlled = False
        self._response_pending = False
        self._queue.clear()

    def drain(self) -> Sequence[Outgoing]:
        out, self._queue = self._queue, []
        self._response_pending = False
        return out

    # -- the control point ---------------------------------------------------------------

    def write_control_point(self, data: bytes, *, indications_enabled: bool) -> None:
        if not indications_enabled:
            raise AttError(ATT_CCCD_IMPROPERLY_CONFIGURED)
        if self._response_pending:
            raise AttError(ATT_PROCEDURE_ALREADY_IN_PROGRESS)
        if not data:
            raise AttError(_ATT_INVALID_LENGTH)
        try:
            request = ControlRequest.from_bytes(data)
        except (FtmsDecodeError, ValueError):
            self._respond(data[0], ResultCode.INVALID_PARAMETER)
            return
        result, statuses = self._handle(request)
        self._respond(request.op, result)
        for status in statuses:
            self._status(status)

    def _respond(self, op: int, result: int) -> None:
        self._queue.append(
            Outgoing(CONTROL_POINT, bytes(ControlResponse(op, result)), Send.INDICATE)
        )
        self._response_pending = True

    def _status(self, status: MachineStatus) -> None:
        self._queue.append(Outgoing(STATUS, bytes(status)))

    def _speed_status(self) -> MachineStatus:
        value = self.belt.target
        if self.profile.has("speed_in_mph"):
            value = round(value / KMH_PER_MPH)
        return MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (value,))

    def _handle(self, request: ControlRequest) -> tuple[int, list[MachineStatus]]:
        op = request.op
        if op == ControlOp.REQUEST_CONTROL:
            if self.faults.has("reject-control"):
                return ResultCode.CONTROL_NOT_PERMITTED, []
            if self.profile.has("rejects_request_control"):
                return ResultCode.OP_CODE_NOT_SUPPORTED, []
            self.controlled = True
            return ResultCode.SUCCESS, []
        without_control = self.profile.has("rejects_request_control") and not self.faults.has(
            "reject-control"
        )
        if not self.controlled and not without_control:
            return ResultCode.CONTROL_NOT_PERMITTED, []
        belt = self.belt
        if op == ControlOp.RESET:
            belt.stop()
            belt.target_incline = 0
            self.controlled = False
            return ResultCode.SUCCESS, [MachineStatus(StatusOp.RESET)]
        if op == ControlOp.SET_TARGET_SPEED:
            (raw,) = request.values
            if self.profile.has("speed_in_mph"):
                raw = round(raw * KMH_PER_MPH)
            low, high, _step = self.profile.speed.raw
            if not low <= raw <= high:
                return ResultCode.INVALID_PARAMETER, []
            if self.profile.has("needs_start_before_speed") and not belt.running:
                return ResultCode.OPERATION_FAILED, []
            if self.profile.has("ignores_speed_commands") or self.faults.has("ignore-speed"):
                return ResultCode.SUCCESS, []
            belt.target = raw
            belt.start()
            return ResultCode.SUCCESS, [self._speed_status()]
        if op == ControlOp.SET_TARGET_INCLINATION:
            (raw,) = request.values
            low, high, _step = self.profile.incline.raw
            if not low <= raw <= high:
                return ResultCode.INVALID_PARAMETER, []
            belt.target_incline = raw
            return ResultCode.SUCCESS, [MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (raw,))]
        if op == ControlOp.START_OR_RESUME:
            belt.start()
            return ResultCode.SUCCESS, [MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER)]
        if op == ControlOp.STOP_OR_PAUSE:
            (control,) = request.values
            if control not in (StopOrPause.STOP, StopOrPause.PAUSE):
                return ResultCode.INVALID_PARAMETER, []
            belt.stop()
            return ResultCode.SUCCESS, [
                MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (control,))
            ]
        if op == ControlOp.SET_TARGETED_DISTANCE:
            (self.targeted_distance,) = request.values
            return ResultCode.SUCCESS, []
        if op == ControlOp.SET_TARGETED_TRAINING_TIME:
            (self.targeted_time,) = request.values
            return ResultCode.SUCCESS, []
        return ResultCode.OP_CODE_NOT_SUPPORTED, []

    # -- the console: what a person at the machine can press ------------------------------

    def console_speed(self, delta: int) -> None:
        """Speed +/- ``delta`` (0.01 km/h) at the console."""
        low, high, _ = self.profile.speed.raw
        base = self.belt.target if self.belt.running else 0
        self.console_set_speed(min(max(base + delta, low), high))

    def console_set_speed(self, raw: int) -> None:
        self.belt.target = raw
        self.belt.start()
        self._status(self._speed_status())

    def console_stop(self) -> None:
        self.belt.stop()
        self._status(MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (StopOrPause.STOP,)))

    def console_pause(self) -> None:
        self.belt.stop()
        self._status(MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (StopOrPause.PAUSE,)))

    def console_start(self) -> None:
        self.belt.start()
        self._status(MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER))

    def safety_key(self) -> None:
        """The key is pulled: the motor is cut and the belt stops at once."""
        self.belt.stop()
        self.belt.speed = 0.0
        self._status(MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY))

    # -- time ---------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Advance to ``now`` (seconds since power-on): faults, physics, telemetry."""
        last = self._last_tick if self._last_tick is not None else now
        self._last_tick = now
        for fault in self.faults.due(now):
            self._fire(fault, now)
        self.belt.step(now - last)
        if now + 1e-9 >= self._next_notify:
            self._next_notify = now + self.profile.notify_period_s
            if self.connected_now and now >= self._silent_until:
                self._notify_data()

    def _fire(self, fault: Fault, now: float) -> None:
        name, arg = fault.name, fault.arg or 0.0
        if name == "console-speedup":
            self.console_set_speed(round(arg * 100))
        elif name == "console-stop":
            self.console_stop()
        elif name == "safety-key":
            self.safety_key()
        elif name == "drop-link":
            self._queue.append(Outgoing(0, b"", Send.DISCONNECT))
        elif name == "stall":
            self._silent_until = now + arg
        elif name == "spurious-speed":
            self.belt.target = round(arg * 100)
            self.belt.speed = float(self.belt.target)
            self.belt.start()
        elif name == "reboot":
            self._queue.append(Outgoing(0, b"", Send.DISCONNECT))
            self.belt = self._new_belt()
            self.controlled = False
            self._silent_until = now + _REBOOT_SILENCE_S
        elif name == "garbage":
            self._queue.append(Outgoing(TREADMILL_DATA, _GARBAGE))

    def record(self) -> TreadmillData:
        """The Treadmill Data record the console would send now."""
        belt = self.belt
        speed = belt.speed_raw
        if self.profile.has("speed_in_mph"):
            speed = round(speed / KMH_PER_MPH)
        kmh = belt.speed / 100
        fields: dict[str, Any] = {
            "speed": speed,
            "total_distance": round(belt.distance_m),
            "inclination": belt.incline_raw,
            "ramp_angle": None,
            "total_energy": round(belt.energy_kcal),
            "energy_per_hour": None,
            "energy_per_minute": None,
            "heart_rate": round(belt.heart_rate),
            "elapsed_time": round(belt.elapsed_s),
        }
        if kmh > 0:
            fields["average_speed"] = speed
        if self.profile.has("step_count_bit13"):
            fields["step_count"] = round(belt.steps)
        return TreadmillData(flags=TreadmillDataFlags(0), **fields)

    def _notify_data(self) -> None:
        record = self.record()
        whole = bytes(record)
        limit = self.mtu - 3
        if self.profile.has("split_records"):
            limit = min(limit, 20)
        parts = [whole] if len(whole) <= limit else split_record(record, limit)
        self._queue.extend(Outgoing(TREADMILL_DATA, part) for part in parts)

    def state_dict(self, now: float) -> dict[str, Any]:
        """One line of the state log: what the belt really did."""
        return {
            "t": round(now, 3),
            "belt_kmh": round(self.belt.speed / 100, 3),
            "target_kmh": self.belt.target / 100 if self.belt.running else 0.0,
            "incline_pct": round(self.belt.incline / 10, 2),
            "running": self.belt.running,
            "connected": self.connected_now,
            "controlled": self.controlled,
        }
