"""The built-in step kinds (``int``, ``sft``, ``rl``), one file each, registered as ``harness.steps`` entry points."""
