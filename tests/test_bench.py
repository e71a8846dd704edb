"""The benchmark's bookkeeping, with a fake clock instead of processes: what it runs, in which
order, and how the medians and ratios come out. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.conftest import FLUX_V294
from tools.bench import (
    BAR_RATIO,
    SDK_PACKAGES,
    Sample,
    bar_verdict,
    bench_stack,
    collected_instructions,
    count_stack,
    floor_command,
    floor_imports,
    plan_command,
    results_document,
    run_timed,
)
from tools.paths import REPO_ROOT

FLOOR = ["pulumi", "yaml"]
# Wall and CPU seconds the fake clock answers per command, in the order they are asked for.
FAKE_SAMPLES = {
    "floor": [Sample(9.0, 9.0), Sample(1.0, 0.5), Sample(2.0, 1.0), Sample(3.0, 0.8)],
    "plan": [Sample(9.0, 9.0), Sample(4.0, 1.0), Sample(6.0, 1.5), Sample(5.0, 1.2)],
}


def command_labels(out_dir: Path, stack: str) -> dict[tuple[str, ...], str]:
    """The fake floor's and plan's command lines, to tell which of the two a fake is asked for."""
    return {
        tuple(floor_command(FLOOR)): "floor",
        tuple(plan_command(stack, out_dir)): "plan",
    }


def fake_clock(out_dir: Path, stack: str, calls: list[str]) -> Callable[[Sequence[str]], Sample]:
    labels = command_labels(out_dir, stack)
    answers = {label: iter(samples) for label, samples in FAKE_SAMPLES.items()}

    def clock(command: Sequence[str]) -> Sample:
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
    bench_stack("dev", 3, tmp_path, FLOOR, fake_clock(tmp_path, "dev", calls))
    assert calls == ["floor", "plan"] * 4


def test_medians_leave_the_warm_up_out_and_ratios_divide_them(tmp_path: Path) -> None:
    write_resources(tmp_path, "dev")
    result = bench_stack("dev", 3, tmp_path, FLOOR, fake_clock(tmp_path, "dev", []))
    assert (result.plan.median_seconds, result.floor.median_seconds) == (5.0, 2.0)
    assert result.ratio == 2.5
    # CPU seconds have medians of their own (the warm-up's 9.0 left out too).
    assert (result.plan_cpu.median_seconds, result.floor_cpu.median_seconds) == (1.2, 0.8)
    assert result.cpu_ratio == 1.2 / 0.8
    assert (result.resources, result.custom_resources) == (3, 2)


def test_the_bar_is_judged_on_dev_only(tmp_path: Path) -> None:
    write_resources(tmp_path, "qa")
    qa = bench_stack("qa", 3, tmp_path, FLOOR, fake_clock(tmp_path, "qa", []))
    document = results_document([qa], 3)
    assert document["bar"] == {"stack": "dev", "max_ratio": BAR_RATIO, "ratio": None, "met": None}
    assert "not measured" in bar_verdict([qa])


def test_a_ratio_above_the_bar_is_reported_not_met(tmp_path: Path) -> None:
    write_resources(tmp_path, "dev")
    dev = bench_stack("dev", 3, tmp_path, FLOOR, fake_clock(tmp_path, "dev", []))
    assert results_document([dev], 3)["bar"] == {
        "stack": "dev",
        "max_ratio": BAR_RATIO,
        "ratio": 2.5,
        "met": False,
    }
    assert bar_verdict([dev]).endswith("2.50, NOT met")


def test_a_timed_run_charges_the_childs_cpu_time_not_its_waiting() -> None:
    # A single-threaded child that sleeps: its CPU time is real (start-up) and less than its wall
    # time by at least the sleep, whatever the machine's speed.
    sample = run_timed([sys.executable, "-c", "import time; time.sleep(1.0)"])
    assert sample.wall_seconds >= 1.0
    assert 0 < sample.cpu_seconds <= sample.wall_seconds - 1.0


# What valgrind's callgrind writes to stderr at the end of a run (its format, numbers made up).
CALLGRIND_STDERR = """==4242== Callgrind, a call-graph generating cache profiler
==4242== Command: python -c pass
==4242==
==4242== Events    : Ir
==4242== Collected : 5615623139
==4242==
==4242== I   refs:      5,615,623,139
"""


def test_the_instruction_count_is_callgrinds_total() -> None:
    assert collected_instructions(CALLGRIND_STDERR) == 5_615_623_139


def test_a_run_without_one_total_is_an_error_not_a_count() -> None:
    for stderr in ("==4242== Command: python -c pass\n", CALLGRIND_STDERR * 2):
        with pytest.raises(RuntimeError, match="expected one callgrind total"):
            collected_instructions(stderr)


def test_instructions_are_counted_once_each_after_both_commands_are_warmed_up(
    tmp_path: Path,
) -> None:
    calls: list[tuple[str, str]] = []
    labels = command_labels(tmp_path, "dev")
    counts = {"floor": 4_000, "plan": 5_000}

    def counter(command: Sequence[str]) -> int:
        calls.append(("count", labels[tuple(command)]))
        return counts[labels[tuple(command)]]

    def warm_up(command: Sequence[str]) -> None:
        calls.append(("warm", labels[tuple(command)]))

    result = count_stack("dev", tmp_path, FLOOR, counter, warm_up)
    assert calls == [("warm", "floor"), ("warm", "plan"), ("count", "floor"), ("count", "plan")]
    assert (result.plan_instructions, result.floor_instructions, result.ratio) == (5000, 4000, 1.25)


# Prints, as its last line, every resource class loaded in the process so far and its type token.
_LOADED_RESOURCE_CLASSES = """
import json, pulumi
from pulumi.type_token import get_type_token

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

print(json.dumps({f"{c.__module__}.{c.__qualname__}": get_type_token(c) for c in subclasses(pulumi.Resource)}))
"""


def loaded_resource_classes(script: str) -> dict[str, str | None]:
    completed = subprocess.run(
        [sys.executable, "-c", script + _LOADED_RESOURCE_CLASSES],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    classes: dict[str, str | None] = json.loads(completed.stdout.splitlines()[-1])
    return classes


def test_the_floor_loads_every_typed_class_the_plan_declares_with_and_only_sdk_modules(
    tmp_path: Path,
) -> None:
    modules = floor_imports("dev", tmp_path / "found")
    assert all(module.split(".")[0] in SDK_PACKAGES for module in modules)

    plan = (
        "from tools.plan import main\n"
        f"main(['--stack', 'dev', '--out', {str(tmp_path / 'plan')!r}, "
        f"'--flux-manifests', {str(FLUX_V294)!r}])\n"
    )
    loaded_by_plan = loaded_resource_classes(plan)
    loaded_by_floor = loaded_resource_classes(floor_command(modules)[2] + "\n")
    resources = json.loads((tmp_path / "plan" / "dev" / "resources.json").read_text())
    planned_types = {resource["type"] for resource in resources}
    declared_by_typed_class = set(loaded_by_plan.values()) & planned_types
    assert {"aws:eks/cluster:Cluster", "kubernetes:core/v1:Secret"} <= declared_by_typed_class
    assert declared_by_typed_class <= set(loaded_by_floor.values())
    # The sync's GitRepository and Kustomization have no typed class in the SDK; the program
    # declares them with the SDK's generic class, which the floor must load as well.
    assert "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository" in planned_types
    generic = "pulumi_kubernetes.apiextensions.CustomResource.CustomResource"
    assert generic in loaded_by_plan
    assert generic in loaded_by_floor
