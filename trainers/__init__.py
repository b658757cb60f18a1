"""Pluggable trainers: one SFT/RL contract (`trainers.base`), discovered through the ``harness.trainers``
entry-point group (`trainers.registry`), with TRL and OpenRLHF backends and a trainer-neutral log.

Importing this package is cheap on purpose: no torch, TRL or OpenRLHF until an operation runs.
"""
