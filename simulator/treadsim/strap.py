"""A simulated heart-rate strap on the simulator's virtual link: a runner's heart,
the Heart Rate Service (0x180D) that reports it, and the faults real straps have.

:class:`HeartModel` is the runner, sans I/O. Heart rate follows the oxygen cost of
what the belt asks (``retrorun.energy``: the ACSM equations, backward walking and
running dearer than forward at the same speed) as a fraction of the runner's
reserve: ``resting + (VO2 - 3.5) / (VO2max - 3.5) x (max - resting)``, never over
``max``. It moves toward that with a lag (``TAU_UP_S`` rising, ``TAU_DOWN_S``
recovering), and breathing rocks it by about a beat either way
(``RSA_AMPLITUDE_BPM`` over ``RSA_PERIOD_S``), so a true value never stands still
for a minute the way a stuck sensor does.

:class:`SimulatedStrap` is the sensor: once a second it reports the model's value,
unless a fault says otherwise (``hr-contact-lost``: contact supported but not
detected, value 0; ``hr-dropout``: nothing at all; ``hr-stuck``: the value at the
fault, forever; ``hr-spike:BPM``: BPM for ``SPIKE_S``; ``hr-drift:BPM_PER_MIN``: an
error growing by that much a minute). It also knows the truth: :meth:`state`
(what the state log records) has both the true and the reported value, and tests
judge heart rate on the truth.

:class:`StrapPeripheral` serves it from its own bumble ``Device`` (bumble's
``HeartRateService``, its own encoder) on the same ``LocalLink`` as the treadmill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.profiles.heart_rate_service import HeartRateService
from bumble.transport.common import AsyncPipeSink

from retrorun.ble import VirtualController
from retrorun.energy import RESTING_VO2, vo2
from treadsim.faults import Fault

__all__ = [
    "HR_FAULTS",
    "HeartModel",
    "SimulatedStrap",
    "StrapPeripheral",
]

log = logging.getLogger(__name__)

HEART_RATE_SERVICE = 0x180D
TAU_UP_S = 30.0  # the heart catches up with a harder pace in tens of seconds ...
TAU_DOWN_S = 45.0  # ... and recovers a little more slowly
RSA_AMPLITUDE_BPM = 1.5  # breathing: about a beat and a half either way
RSA_PERIOD_S = 6.0
SPIKE_S = 3.0  # an ``hr-spike`` lasts this long
NOTIFY_PERIOD_S = 1.0  # straps send about once a second
DEFAULT_VO2MAX = 30.0  # ml/kg/min: a deconditioned adult, the people rehab programs are for
STRAP_NAME = "treadsim HR"
HR_FAULTS = ("hr-contact-lost", "hr-dropout", "hr-stuck", "hr-spike", "hr-drift")


@dataclass(slots=True)
class HeartModel:
    """The simulated runner's heart (see the module docstring). Pure: no clock."""

    resting: float = 70.0
    maximum: float = 180.0
    vo2max: float = DEFAULT_VO2MAX
    bpm: float = 0.0  # the true heart rate now (resting at start)
    t: float = 0.0

    def __post_init__(self) -> None:
        if not 20 <= self.resting < self.maximum <= 250:
            raise ValueError(
                f"simulated heart: resting {self.resting:g} must be under maximum"
                f" {self.maximum:g}, both within 20-250 bpm"
            )
        self.bpm = self.bpm or self.resting

    def demand(self, speed_kmh: float, grade_pct: float, *, backward: bool) -> float:
        """The steady heart rate this pace settles at."""
        net = vo2(speed_kmh, grade_pct, backward=backward) - RESTING_VO2
        fraction = min(max(net / (self.vo2max - RESTING_VO2), 0.0), 1.0)
        return self.resting + fraction * (self.maximum - self.resting)

    def step(self, dt: float, speed_kmh: float, grade_pct: float, *, backward: bool) -> float:
        """Advance ``dt`` seconds at this pace; the true heart rate after it."""
        target = self.demand(speed_kmh, grade_pct, backward=backward)
        tau = TAU_UP_S if target > self.bpm else TAU_DOWN_S
        self.bpm += (target - self.bpm) * (1 - math.exp(-max(dt, 0.0) / tau))
        self.t += max(dt, 0.0)
        return self.bpm

    def beat(self) -> int:
        """What a perfect sensor reads now: the heart rate with breathing in it."""
        rocking = RSA_AMPLITUDE_BPM * math.sin(2 * math.pi * self.t / RSA_PERIOD_S)
        return round(min(self.bpm + rocking, self.maximum))


class SimulatedStrap:
    """The sensor: the model, the faults, and what goes out (see the module docstring)."""

    def __init__(self, heart: HeartModel) -> None:
        self.heart = heart
        self.contact = True
        self.dropout = False
        self.stuck: int | None = None
        self.spike: tuple[int, float] | None = None  # (bpm, until)
        self.drift_per_min = 0.0
        self.drift_since = 0.0
        self.reported: int | None = None  # the last value sent (None: none yet, or silent)
        self.sent = 0
        self._next = 0.0
        self.now = 0.0

    def fire(self, fault: Fault, now: float) -> None:
        """An ``hr-*`` fault fires at ``now`` (seconds since power-on)."""
        if fault.name == "hr-contact-lost":
            self.contact = False
        elif fault.name == "hr-dropout":
            self.dropout = True
        elif fault.name == "hr-stuck":
            self.stuck = self.reported if self.reported is not None else self.heart.beat()
        elif fault.name == "hr-spike":
            self.spike = (round(fault.arg or 0.0), now + SPIKE_S)
        elif fault.name == "hr-drift":
            self.drift_per_min = fault.arg or 0.0
            self.drift_since = now

    def value(self, now: float) -> int:
        """The value the sensor would report at ``now`` (its faults applied)."""
        if self.stuck is not None:
            return self.stuck
        if self.spike is not None and now < self.spike[1]:
            return self.spike[0]
        drift = self.drift_per_min * max(now - self.drift_since, 0.0) / 60
        return max(round(self.heart.beat() + drift), 0)

    def tick(
        self, now: float, speed_kmh: float, grade_pct: float, *, backward: bool
    ) -> HeartRateService.HeartRateMeasurement | None:
        """Advance to ``now``; the measurement to notify when one is due."""
        self.heart.step(now - self.now, speed_kmh, grade_pct, backward=backward)
        self.now = now
        if now < self._next:
            return None
        self._next = max(self._next + NOTIFY_PERIOD_S, now)
        if self.dropout:
            self.reported = None
            return None
        if not self.contact:
            self.reported = 0
            return HeartRateService.HeartRateMeasurement(0, sensor_contact_detected=False)
        bpm = self.value(now)
        self.reported = bpm
        rr = (round(60 / bpm, 3),) if bpm > 0 else ()
        return HeartRateService.HeartRateMeasurement(
            bpm, sensor_contact_detected=True, rr_intervals=rr
        )

    def state(self) -> dict[str, float | int | bool | None]:
        """The state-log fields: the true heart rate and what the strap last said."""
        return {
            "hr_true_bpm": round(self.heart.bpm, 1),
            "hr_reported_bpm": self.reported,
            "hr_contact": self.contact,
        }


class StrapPeripheral:
    """The strap's Bluetooth side: its own bumble ``Device`` on ``local_link``,
    advertising the Heart Rate Service as ``name``; ``async with`` powers it on."""

    def __init__(
        self, strap: SimulatedStrap, *, local_link: LocalLink, address: str, name: str = STRAP_NAME
    ) -> None:
        self.strap = strap
        self.name = name
        self._controller = VirtualController("treadsim-hr", link=local_link, public_address=address)
        self.device: Any = Device(
            name=name,
            address=Address(address),
            host=Host(self._controller, AsyncPipeSink(self._controller)),
        )
        self.service = HeartRateService(
            read_heart_rate_measurement=lambda _c: HeartRateService.HeartRateMeasurement(0),
            body_sensor_location=HeartRateService.BodySensorLocation.CHEST,
        )
        self.device.add_service(self.service)
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self._connection: Connection | None = None
        self._closing = False
        self._advertising: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.device.power_on()
        await self._advertise()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._advertising is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._advertising), 2.0)
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await connection.disconnect()
        self._controller.drop_all()
        with contextlib.suppress(KeyError, ValueError):
            self._controller.link.remove_controller(self._controller)

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: object) -> None:
        self._connection = None
        if not self._closing:
            task = asyncio.get_running_loop().create_task(self._advertise())
            self._advertising = task

    async def _advertise(self) -> None:
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        bytes(UUID.from_16_bits(HEART_RATE_SERVICE)),
                    ),
                ]
            )
        )
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        await self.device.start_advertising(
            advertising_interval_min=20, advertising_interval_max=20, auto_restart=False
        )

    async def send(self, value: HeartRateService.HeartRateMeasurement) -> None:
        """Notify one measurement (dropped without a subscriber, as a strap drops it)."""
        connection = self._connection
        if connection is None:
            return
        try:
            await self.device.notify_subscriber(
                connection, self.service.heart_rate_measurement_characteristic, value
            )
        except Exception as exc:  # noqa: BLE001 - a link going down mid-send
            log.debug("could not send a heart-rate measurement: %s", exc)
