"""The benchmark's bookkeeping, with a fake clock instead of processes: what it runs, in which
order, and how the medians and ratios come out. No timing is asserted."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.bench import (
    BAR_RATIO,
    bar_verdict,
    bench_stack,
    floor_command,
    plan_command,
    results_document,
)

# Seconds the fake clock answers per command, in the order they are asked for.
FAKE_SECONDS = {
    "floor": [9.0, 1.0, 2.0, 3.0],
    "plan": [9.0, 4.0, 6.0, 5.0],
}


def fake_clock(out_dir: Path, stack: str, calls: list[str]) -> Callable[[Sequence[str]], float]:
    labels = {
        tuple(floor_command()): "floor",
        tuple(plan_command(stack, out_dir)): "plan",
    }
    answers = {label: iter(seconds) for label, seconds in FAKE_SECONDS.items()}

    def clock(command: Sequence[str]) -> float:
        label = labels[tuple(command)]
        calls.append(label)
        return next(answers[label])

    return clock


def write_resources(out_dir: Path, stack: str) -> None:
    (out_dir / stack).mkdir(parents=True)
    resources = [{"custom": True}, {"custom": False}, {"custom": True}]
    (out_dir / stack / "resources.json").write_text(json.dumps(resources))


def test_each_command_is_warmed_up_once_then_the_two_are_interleaved(tmp_path: Path) -> None:
    write_resources(tmp_path, "dev")
    calls: list[str] = []
    bench_stack("dev", 3, tmp_path, fake_clock(tmp_path, "dev", calls))
    assert calls == ["floor", "plan"] * 4


def test_medians_leave_the_warm_up_out_and_ratios_divide_them(tmp_path: Path) -> None:
    write_resources(tmp_path, "dev")
    result = bench_stack("dev", 3, tmp_path, fake_clock(tmp_path, "dev", []))
    assert (result.plan.median_seconds, result.floor.median_seconds) == (5.0, 2.0)
    assert result.ratio == 2.5
    assert (result.resources, result.custom_resources) == (3, 2)


def test_the_bar_is_judged_on_dev_only(tmp_path: Path) -> None:
    write_resources(tmp_path, "qa")
    qa = bench_stack("qa", 3, tmp_path, fake_clock(tmp_path, "qa", []))
    document = results_document([qa], 3)
    assert document["bar"] == {"stack": "dev", "max_ratio": BAR_RATIO, "ratio": None, "met": None}
    assert "not measured" in bar_verdict([qa])


def test_a_ratio_above_the_bar_is_reported_not_met(tmp_path: Path) -> None:
    write_resources(tmp_path, "dev")
    dev = bench_stack("dev", 3, tmp_path, fake_clock(tmp_path, "dev", []))
    assert results_document([dev], 3)["bar"] == {
        "stack": "dev",
        "max_ratio": BAR_RATIO,
        "ratio": 2.5,
        "met": False,
    }
    assert bar_verdict([dev]).endswith("2.50, NOT met")


def test_the_floor_imports_exactly_the_top_level_packages() -> None:
    assert floor_command()[1:] == [
        "-c",
        "import pulumi, pulumi_aws, pulumi_kubernetes, pulumi_github, pulumi_tls, yaml",
    ]
