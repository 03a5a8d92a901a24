"""Saturation sweep: raise the per-client edit rate until the p99 latency passes a limit.

A step is sustained when p99 stays within `p99_limit_ms`, nothing is lost and the clients
managed to send at least 95% of the scheduled edits. The sweep stops at the first step that
is not (or after the last rate), so it is bounded by len(rates) x (duration + drain).
A load generator above ~90% CPU is itself the bottleneck: the step says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from loadtests.bench.fanout import FanoutConfig, FanoutResult, run_fanout
from loadtests.servers import ProcessProbe
from loadtests.tickets import RoomAddressing

DEFAULT_RATES = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


@dataclass(frozen=True)
class SweepConfig:
    base: FanoutConfig
    rates: tuple[float, ...] = DEFAULT_RATES
    step_duration: float = 8.0
    p99_limit_ms: float = 50.0


@dataclass(frozen=True)
class SweepStep:
    rate: float
    result: FanoutResult
    sustained: bool

    @property
    def edits_per_s(self) -> float:
        return self.result.sent / self.result.config.duration


@dataclass(frozen=True)
class SweepResult:
    config: SweepConfig
    steps: list[SweepStep]

    @property
    def best(self) -> SweepStep | None:
        """The highest sustained step, if any."""
        sustained = [step for step in self.steps if step.sustained]
        return sustained[-1] if sustained else None


def _sustained(result: FanoutResult, limit_ms: float) -> bool:
    config = result.config
    scheduled = config.rooms * config.clients * config.rate * config.duration
    return (
        not result.errors
        and result.loss == 0
        and result.p99_ms <= limit_ms
        and result.sent >= 0.95 * scheduled
    )


async def run_sweep(
    urls: Sequence[str], addressing: RoomAddressing, config: SweepConfig, probe: ProcessProbe | None
) -> SweepResult:
    """Run one fan-out step per rate, in fresh rooms, until a step is not sustained."""
    steps: list[SweepStep] = []
    for index, rate in enumerate(config.rates):
        step_config = replace(
            config.base,
            rate=rate,
            duration=config.step_duration,
            prefix=f"{config.base.prefix}-sweep{index}",
        )
        result = await run_fanout(urls, addressing, step_config, probe)
        steps.append(SweepStep(rate, result, _sustained(result, config.p99_limit_ms)))
        if not steps[-1].sustained:
            break
    return SweepResult(config, steps)
