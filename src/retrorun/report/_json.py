"""The report as one JSON object: the same figures as the text, in numbers.

Times are seconds since the session started (numbers, for a program to read);
names follow the record's where the record has the figure.
"""

from __future__ import annotations

from typing import Any

from retrorun.record import SessionSummary
from retrorun.report._figures import (
    ending,
    event_groups,
    heart_rate_source,
    pace_s_per_km,
    step_rows,
)

__all__ = ["report_dict"]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def report_dict(summary: SessionSummary) -> dict[str, Any]:
    """The report of one session as a JSON-ready dict."""
    mean_hr = summary.heart_rate_mean
    return {
        "session": summary.session,
        "program": summary.program,
        "profile": summary.profile,
        "device": summary.device,
        "simulated": summary.simulated,
        "started_at": summary.started_at or None,
        "complete_record": summary.started and summary.ended,
        "reason": summary.reason if summary.ended else None,
        "ending": ending(summary),
        "message": summary.message,
        "belt_stopped": summary.belt_stopped,
        "stop_acknowledged": summary.stop_acknowledged,
        "duration_s": _round(summary.duration_s),
        "distance_m": _round(summary.distance_m),
        "pace_s_per_km": _round(pace_s_per_km(summary.duration_s, summary.distance_m)),
        "energy_kcal": _round(summary.energy_kcal),
        "backward_s": _round(summary.backward_s),
        "backward_m": _round(summary.backward_m),
        "backward_pace_s_per_km": _round(pace_s_per_km(summary.backward_s, summary.backward_m)),
        "max_backward_kmh": _round(summary.max_backward_kmh, 2),
        "ceiling_kmh": _round(summary.ceiling_kmh, 2),
        "over_ceiling_s": _round(summary.over_ceiling_s),
        "heart_rate_mean_bpm": _round(mean_hr),
        "heart_rate_max_bpm": summary.heart_rate_max,
        "heart_rate_source": heart_rate_source(summary),
        "heart_rate_readings": dict(sorted(summary.heart_rate_sources.items())),
        "steps": [
            {
                "index": row.index,
                "label": row.label,
                "direction": row.direction,
                "target_kmh": _round(row.target_kmh, 2),
                "planned_s": _round(row.planned_s),
                "state": row.state,
                "started_t": None if row.record is None else _round(row.record.started_t),
                "time_s": None if row.record is None else _round(row.record.time_s),
                "mean_kmh": None if row.record is None else _round(row.record.mean_kmh, 2),
                "at_target_s": None if row.record is None else _round(row.record.at_speed_s),
            }
            for row in step_rows(summary)
        ],
        "turnarounds": [
            {
                "index": turn.index,
                "to": turn.to or None,
                "started_t": _round(turn.started_t),
                "turn_t": _round(turn.turn_t),
                "confirmed_t": _round(turn.confirmed_t),
                "took_s": _round(turn.took_s),
                "speed_kmh": _round(turn.limit_kmh, 2),
                "stop_belt": turn.stop_belt or turn.limit_kmh == 0,
            }
            for turn in summary.turnarounds
        ],
        "safety_events": [
            {
                "kind": group.kind,
                "message": group.message,
                "count": group.count,
                "t": [_round(t) for t in group.times],
            }
            for group in event_groups(summary.safety_events)
        ],
        "user_stop_t": _round(summary.user_stop_t),
    }
