"""Numbers and steps as words a listener on a moving belt understands.

Speech engines read "2.5" as "two point five" but "1:30" as anything from "one
thirty" to "one colon thirty"; writing the words ourselves makes every cue sound
the same, and makes ``index.jsonl`` say exactly what was heard.
"""

from __future__ import annotations

from retrorun.events import Direction, StepInfo, TurnaroundPhase

__all__ = [
    "announce_step",
    "duration_words",
    "number_words",
    "script_words",
    "speed_words",
    "turnaround_script",
]

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
    "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """``0`` -> ``zero``, ``45`` -> ``forty-five``, ``120`` -> ``one hundred twenty``.

    Covers 0 to 999 999; larger numbers are left as digits (no cue needs them).
    """
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return f"{number_words(thousands)} thousand" + (f" {number_words(rest)}" if rest else "")
    return str(n)


def speed_words(kmh: float) -> str:
    """``2.5`` -> ``two point five``, ``4.0`` -> ``four``, ``2.25`` -> ``two point two five``.

    Speeds are exact to 0.01 km/h (the FTMS unit); trailing zeros are not spoken.
    """
    hundredths = round(abs(kmh) * 100)
    whole, frac = divmod(hundredths, 100)
    words = number_words(whole)
    if frac:
        digits = f"{frac:02d}".rstrip("0")
        words += " point " + " ".join(_ONES[int(d)] for d in digits)
    return words


def duration_words(seconds: float) -> str:
    """``90`` -> ``one minute thirty``, ``60`` -> ``one minute``, ``45`` -> ``forty-five seconds``.

    The way a coach says it: seconds after minutes are a bare number, hours
    appear only for hour-long steps.
    """
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = _plural(hours, "hour")
        if minutes:
            text += f" {_plural(minutes, 'minute')}"
        return text
    if minutes:
        text = _plural(minutes, "minute")
        return f"{text} {number_words(secs)}" if secs else text
    return _plural(secs, "second")


def _plural(n: int, unit: str) -> str:
    return f"{number_words(n)} {unit}" + ("" if n == 1 else "s")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def announce_step(step: StepInfo) -> str:
    """``Backward. Two point five. One minute.`` (and the incline when there is one).

    A turn-around step is announced as such; its script comes with the
    ``turnaround`` event. A step at 0 km/h is a rest with the belt stopped.
    """
    if step.turnaround:
        return "Turn-around coming up."
    duration = _sentence(duration_words(step.duration_s))
    if round(step.speed_kmh * 100) == 0:
        return f"Rest, belt stopped. {duration}"
    parts = [
        "Backward." if step.direction is not Direction.FORWARD else "Forward.",
        _sentence(speed_words(step.speed_kmh)),
        duration,
    ]
    if round(step.incline_pct * 10):
        parts.append(_sentence(f"incline {speed_words(step.incline_pct)} percent"))
    return " ".join(parts)


def turnaround_script(turn: TurnaroundPhase) -> list[str]:
    """The turn-around script in order, for the phase the event announces.

    ``slowing``: what happens to the belt and the rails; ``turn``: turn now and
    how to go on; no phase: all of it.
    """
    slowing = ["Stopping the belt." if turn.stop_belt else "Slowing down.", "Hold the rails."]
    turning = ["Turn around now."]
    if turn.needs_confirm:
        turning.append("Press enter when you are ready.")
    elif turn.hold_s > 0:
        turning.append(f"Continuing in {duration_words(turn.hold_s)}.")
    if turn.phase == "slowing":
        return slowing
    if turn.phase == "turn":
        return turning
    return slowing + turning


def script_words(text: str) -> int:
    """How many words a cue has (to estimate how long it takes to say)."""
    return len(text.split())
