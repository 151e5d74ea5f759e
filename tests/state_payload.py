"""The documented state payload (docs/architecture.md "MQTT", ``SessionState.to_json_dict``):
its fields and their JSON types, for the bus's and the MQTT tests alike."""

from __future__ import annotations

STATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "speed_kmh": (int, float),
    "incline_pct": (int, float),
    "distance_m": (int, float),
    "elapsed_s": (int, float),
    "heart_rate_bpm": (int, type(None)),
    "direction": str,
    "step": int,
    "step_label": str,
    "step_remaining_s": (int, float),
    "program": str,
    "status": str,
    "ceiling_kmh": (int, float),
}
