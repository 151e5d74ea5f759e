"""Starting files for ``retrorun programs new``: commented programs a coach edits.

Each template is a whole, valid program (a test validates it, and the same text is
a worked example in ``docs/programs.md``), from the easiest to the most advanced.
``{name}`` is replaced by the program's name.
"""

from __future__ import annotations

__all__ = ["TEMPLATES", "template_text"]

_FIRST_STEPS = """\
# {name}: a first backward walk, written with `retrorun programs new`.
# Every field is explained in docs/programs.md; check your edits with
#   retrorun programs validate FILE      and look at them with   retrorun plan FILE
name = "{name}"
description = "Forward warm-up, three short backward walks, forward cool-down"
profile = "novice"          # older-adult, rehab, novice, recreational or trained

[[steps]]
kind = "warmup"             # warmup, work, recovery or cooldown
direction = "forward"       # forward or backward: the way the runner faces
duration = "4min"           # "90s", "1min30s", "1h", or seconds as a number
speed_kmh = 3.5
label = "Forward warm-up"   # shown on the display, at most 80 characters
cue = "Warm up walking forward."   # said by the voice when the step starts

# retrorun inserts a turn-around here (the direction changes): the belt slows to
# 2 km/h or less, the runner holds the rails, turns and confirms with Enter.

[[steps]]
repeat = 3
label = "Backward walks"

[[steps.steps]]
kind = "work"
direction = "backward"
duration = "1min"
speed_kmh = 2.5             # never above the profile's backward ceiling (5.0 for novice)
label = "Backward walk"
cue = "Short steps, stay tall."

[[steps.steps]]
kind = "recovery"
direction = "backward"
duration = "1min"
speed_kmh = 1.5
label = "Easy backward walk"

[[steps]]
kind = "cooldown"
direction = "forward"
duration = "3min"
speed_kmh = 3.0
label = "Forward cool-down"
"""

_INTERVALS = """\
# {name}: backward intervals that grow week by week, written with
# `retrorun programs new --template intervals`. See docs/programs.md.
name = "{name}"
description = "Backward intervals on an incline, with a weekly progression"
profile = "recreational"
weeks = 4                   # retrorun run --week N picks the week (1 to 4)
sources = ["Write where your figures come from (a study, a clinician)"]

# Week 2 adds 15 s to every work step, and so on, until they last 2 minutes;
# no week may add more than 10 % to the session.
[[progression]]
target = "duration"         # duration, reps, speed or incline
by = "15s"
up_to = "2min"
kinds = ["work"]
note = "only when the last week felt easy"

[[steps]]
kind = "warmup"
direction = "forward"
duration = "5min"
speed_kmh = 4.5
label = "Forward warm-up"

[[steps]]
repeat = 5
label = "Intervals"

[[steps.steps]]
kind = "work"
direction = "backward"
duration = "1min15s"
speed_kmh = 4.5
incline_pct = 4             # backward at most 10 % (15 % with allow_steep = true)
label = "Backward uphill"
cue = "Push through the heels."

[[steps.steps]]
kind = "recovery"
direction = "backward"
duration = "1min"
pace = "20:00"              # min:sec per km, the same as speed_kmh = 3.0
label = "Easy backward walk"

[[steps]]
kind = "cooldown"
direction = "forward"
duration = "4min"
speed_kmh = 4.0
label = "Forward cool-down"
"""

_RUNNER = """\
# {name}: backward running for a practised runner, speeds relative to the
# runner's own reference speed; written with `retrorun programs new --template runner`.
# Run it with   retrorun run FILE --reference-kmh 10   (see docs/programs.md).
name = "{name}"
description = "Backward run intervals at a share of the runner's easy forward speed"
profile = "trained"
weeks = 6

# First one more repeat a week up to 8, then 0.25 km/h a week up to 8.5 km/h.
[[progression]]
target = "reps"
by = 1
up_to = 8
note = "add repeats first"

[[progression]]
target = "speed"
by = 0.25
up_to = 8.5

[[steps]]
kind = "warmup"
direction = "forward"
duration = "8min"
reference_pct = 80          # 80 % of --reference-kmh
label = "Forward warm-up"

[[steps]]
repeat = 6
label = "Run intervals"

[[steps.steps]]
kind = "work"
direction = "backward"
duration = "30s"
reference_pct = 70
label = "Backward run"
cue = "Quick light steps, chest up."

[[steps.steps]]
kind = "recovery"
direction = "backward"
distance_m = 100            # a distance instead of a duration
speed_kmh = 4.0
label = "Backward walk"

[[steps]]
kind = "recovery"
direction = "backward"
duration = "1min"
stop_belt = true            # a rest on a stopped belt: Enter starts it again
label = "Rest, belt stopped"

[[steps]]
kind = "cooldown"
direction = "forward"
duration = "5min"
speed_kmh = 5.0
label = "Forward cool-down"
"""

#: Template name -> text, from the easiest to the most advanced.
TEMPLATES: dict[str, str] = {
    "first-steps": _FIRST_STEPS,
    "intervals": _INTERVALS,
    "runner": _RUNNER,
}


def template_text(template: str, name: str) -> str:
    """The text of ``template`` for a program called ``name`` (a TOML string)."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return TEMPLATES[template].replace("{name}", quoted)
