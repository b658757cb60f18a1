"""``python -m harness.ecosystem ...`` = ``harness ecosystem ...`` (the same typer app; kept for scripts)."""

from harness.ecosystem.cli import main

if __name__ == "__main__":
    main()
