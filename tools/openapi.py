"""Write docs/openapi.json, the published copy of the public contract (sendvia.api.openapi).

make openapi            (tests/unit/test_openapi.py fails while the copy is stale)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "docs" / "openapi.json"


def rendered() -> str:
    sys.path.insert(0, str(ROOT / "shared"))
    from sendvia.api.openapi import document

    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    PUBLISHED.write_text(rendered())
    print(f"wrote {PUBLISHED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
