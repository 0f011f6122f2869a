"""The Lambda layer ships exactly the versions the suite is tested with."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_layer_requirements_match_the_dev_lock() -> None:
    layer = pins(ROOT / "layers/payouts/requirements.txt")
    dev = pins(ROOT / "requirements/dev.lock")
    assert {"aws-lambda-powertools", "boto3", "httpx", "pydantic"} <= set(layer)
    drift = {
        name: (version, dev.get(name))
        for name, version in layer.items()
        if dev.get(name) != version
    }
    assert drift == {}, "run `make lock` so the layer ships what the tests ran against"


def test_every_lock_pins_every_line() -> None:
    for lock in [*ROOT.glob("requirements/*.lock"), ROOT / "layers/payouts/requirements.txt"]:
        for line in lock.read_text().splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                assert PIN.match(stripped), f"{lock.name}: unpinned line {stripped!r}"
