"""The README stays the user's guide it claims to be: every setting documented, its figures current."""

from __future__ import annotations

import re
from pathlib import Path

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [f"CORRIDOR_{name.upper()}" for name in Settings.model_fields
               if f"| `CORRIDOR_{name.upper()}` |" not in README]  # fmt: skip
    assert not missing, f"README's configuration table lacks {missing}"


def test_the_performance_figures_are_the_latest_in_docs_performance() -> None:
    """Each figure in README's performance section is in docs/performance.md, where the runs are kept."""
    section = README.split("## Performance", 1)[1].split("\n## ", 1)[0]
    performance = (ROOT / "docs" / "performance.md").read_text()
    figures = set(re.findall(r"\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+|\d{3,}", section)) - {"2026"}
    assert figures, "no figures found"
    assert not [f for f in sorted(figures) if f not in performance]


def test_local_links_lead_somewhere() -> None:
    for doc in [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"
