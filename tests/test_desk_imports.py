"""The CSO desk runs on a CSO's own machine and must never load the gateway's code: each check imports in a fresh
interpreter and lists which of Dalil's modules came in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "flows", "referrals", "messages", "polls", "jobs")


def loaded_after(code: str) -> list[str]:
    """Dalil's modules in sys.modules after running ``code`` in a new interpreter on this checkout."""
    script = (f"{code}\nimport json, sys\n"
              f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {PACKAGES!r})))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_desk_sync_client_loads_nothing_from_the_gateway():
    loaded = loaded_after("import referrals.desk.client")
    assert "referrals.desk.client" in loaded
    assert [m for m in loaded if m.startswith("gateway")] == []


def test_desk_web_app_loads_nothing_from_the_gateway_or_its_referral_side():
    loaded = loaded_after("import referrals.desk.web as web\nweb._area_names()")  # the area names come lazily
    assert [m for m in loaded if m.startswith("gateway")] == []
    referral_modules = [m for m in loaded if m.startswith("referrals.")]
    assert referral_modules and all(m.startswith(("referrals.desk", "referrals.protocol")) for m in referral_modules)


def test_the_referral_protocol_imports_only_itself():
    modules = sorted(p.stem for p in (ROOT / "referrals" / "protocol").glob("*.py") if p.stem != "__init__")
    loaded = loaded_after("\n".join(f"import referrals.protocol.{m}" for m in modules))
    assert {f"referrals.protocol.{m}" for m in modules} <= set(loaded)
    assert [m for m in loaded if m not in ("referrals", "referrals.protocol")
            and not m.startswith("referrals.protocol.")] == []
