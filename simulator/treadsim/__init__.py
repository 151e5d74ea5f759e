"""treadsim: a virtual FTMS treadmill that speaks real GATT over a virtual Bluetooth link."""

from __future__ import annotations

__all__: list[str] = []
