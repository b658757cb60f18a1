"""Install a test plugin the way pip would: a ``*.dist-info`` with ``entry_points.txt`` on ``sys.path``."""

from __future__ import annotations

from pathlib import Path

PLUGINS = Path(__file__).parent / "plugins"


def install_dist(root: Path, name: str, groups: dict[str, dict[str, str]]) -> Path:
    """A minimal installed distribution (what `pip install` leaves in site-packages), entry points included."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    text = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in groups.items())
    (info / "entry_points.txt").write_text(text)
    return root
