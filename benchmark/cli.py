"""``benchmark`` command line. Its commands (run, score, leaderboard, export-inputs) land with the
benchmark issue; until then the group only reports that."""
from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Score inpainting models per hole-ratio bucket (not implemented yet: see the README's roadmap)."""
