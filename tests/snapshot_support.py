"""Pictures compared with their approved snapshots, tolerant of antialiasing.

One rule for every picture the tests freeze (the plan's chart, the live page's
screenshots): a pixel differs when a channel differs by more than
``CHANNEL_TOLERANCE``, and up to ``PIXEL_SHARE`` of the pixels may.
``RETRORUN_UPDATE_SNAPSHOTS=1`` approves a new picture after a deliberate change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageChops

CHANNEL_TOLERANCE = 48
PIXEL_SHARE = 0.004


def compare_png(actual_png: bytes, approved: Path) -> str | None:
    """None when ``actual_png`` matches the approved picture ``approved`` (a PNG file);
    otherwise what differs, the picture kept beside it as ``<name>.actual.png``.
    ``RETRORUN_UPDATE_SNAPSHOTS=1`` approves it instead."""
    if os.environ.get("RETRORUN_UPDATE_SNAPSHOTS") == "1":
        approved.parent.mkdir(exist_ok=True)
        approved.write_bytes(actual_png)
        return None
    if not approved.exists():
        return f"no approved snapshot {approved} (RETRORUN_UPDATE_SNAPSHOTS=1 writes it)"
    actual = Image.open(io.BytesIO(actual_png)).convert("RGB")
    expected = Image.open(approved).convert("RGB")
    if actual.size != expected.size:
        return f"size {actual.size} != approved {expected.size}"
    red, green, blue = ImageChops.difference(actual, expected).split()
    diff = ImageChops.lighter(ImageChops.lighter(red, green), blue)  # the largest channel
    differing = sum(diff.point(lambda v: 255 if v > CHANNEL_TOLERANCE else 0).histogram()[255:])
    share = differing / (actual.size[0] * actual.size[1])
    if share > PIXEL_SHARE:
        failed = approved.with_name(f"{approved.stem}.actual.png")
        failed.write_bytes(actual_png)
        return f"{share:.2%} of the pixels differ (at most {PIXEL_SHARE:.2%}); see {failed}"
    return None
