"""Benchmark scenarios for any y-websocket-protocol server (see loadtests/collab_bench.py)."""

from .cold_join import ColdJoinConfig, ColdJoinResult, run_cold_join
from .fanout import FanoutConfig, FanoutResult, run_fanout
from .idle import IdleConfig, IdleResult, run_idle
from .report import ServerReport, as_json, markdown_table, sweep_details
from .sweep import SweepConfig, SweepResult, run_sweep

__all__ = [
    "ColdJoinConfig",
    "ColdJoinResult",
    "FanoutConfig",
    "FanoutResult",
    "IdleConfig",
    "IdleResult",
    "ServerReport",
    "SweepConfig",
    "SweepResult",
    "as_json",
    "markdown_table",
    "run_cold_join",
    "run_fanout",
    "run_idle",
    "run_sweep",
    "sweep_details",
]
