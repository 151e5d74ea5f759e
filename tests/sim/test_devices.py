"""The shipped device profiles: valid, cited, and distinct."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_support import make

from retrorun._paths import data_dir
from retrorun.devices import DeviceProfile, load_device_profile, match_device_profile

PROFILES = sorted(data_dir("devices").glob("*.toml"))


def test_at_least_three_quirky_profiles_besides_the_generic_one() -> None:
    quirky = [p for p in map(load_device_profile, PROFILES) if p.quirks]
    assert len(quirky) >= 3
    assert len({q for p in quirky for q in p.quirks}) >= 3


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_every_quirk_is_cited(path: Path) -> None:
    profile = load_device_profile(path)
    for note in profile.quirks.values():
        assert note.source.startswith("https://")
        assert len(note.note) > 40


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_the_simulator_serves_it_and_the_controller_recognises_it(path: Path) -> None:
    profile: DeviceProfile = load_device_profile(path)
    assert make(profile).advertised_name == profile.name
    assert match_device_profile(profile.name) == profile


def test_the_coarse_step_profile_is_synthetic_and_loads_by_name() -> None:
    profile = match_device_profile("Coarse Step")
    assert profile.name == "Coarse Step"
    assert profile.speed.raw == (100, 1600, 100)  # 1.0 to 16.0 km/h in steps of 1.0
    assert profile.quirks == {}  # a test profile: nothing to cite
    assert "synthetic" in profile.description.lower()
    assert load_device_profile(data_dir("devices") / "coarse-step.toml") == profile
