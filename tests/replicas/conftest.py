"""The fault-injection world (restartable sandbox, REST-only people, bot processes) for replicas."""

from tests.faults.conftest import fault_world

__all__ = ["fault_world"]
