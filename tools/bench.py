"""How fast the offline plan is, measured against the cost of merely importing the SDKs.

    python -m tools.bench [--runs N] [--stacks dev qa prod] [--out build/bench] [--instructions]

For each stack it times, in fresh processes and interleaved so that machine noise hits all alike,
the offline plan (`python -m tools.plan` with the v2.9.4 fixture manifest) and the floor (a
process that imports the SDKs and the module of every typed class the plan of that stack declares
a resource with); the bar is plan/floor in wall time. The same ratio in CPU time (user + system
of each process) is reported beside it: on a shared machine it moves less with other work.
Each figure is the median of
`--runs` runs, after one untimed warm-up of each command (so byte-compilation and a cold page cache
are not charged to the first run). Writes OUT/results.json and prints a short table. A benchmark,
not a test: it always exits 0 when every plan succeeded, whatever the ratio.

With `--instructions` it counts, once each, the instructions the two commands execute under
valgrind's callgrind instead (OUT/instructions.json): a ratio that a busy machine does not move,
to tell the program's work from the machine's noise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pulumi
from pulumi.type_token import get_type_token

from settings.model import ENVIRONMENTS
from tools.paths import REPO_ROOT
from tools.plan import arguments as offline_plan_arguments
from tools.plan import command as offline_plan_command
from tools.plan import main as offline_plan_main

FLUX_MANIFESTS = REPO_ROOT / "tests" / "fixtures" / "flux" / "install-v2.9.4.yaml"
DEFAULT_RUNS = 7
MIN_RUNS = 5
# The bar the offline plan has to meet: at most this many floors, on this stack.
BAR_STACK = "dev"
BAR_RATIO = 1.25
# The libraries the program is built on. What the program does beyond importing them and the typed
# classes it declares with (its own modules, the mock engine, the run, the files written) is what
# the bar is about.
SDK_PACKAGES = (
    "pulumi",
    "pulumi_aws",
    "pulumi_kubernetes",
    "pulumi_github",
    "pulumi_random",
    "pulumi_tls",
    "yaml",
)


@dataclass(frozen=True)
class Sample:
    wall_seconds: float
    cpu_seconds: float


@dataclass(frozen=True)
class Timing:
    median_seconds: float
    runs_seconds: list[float]


@dataclass(frozen=True)
class StackResult:
    stack: str
    plan: Timing
    floor: Timing
    ratio: float
    """plan / floor: the figure the bar is about."""
    plan_cpu: Timing
    floor_cpu: Timing
    cpu_ratio: float
    """plan / floor in CPU seconds (user + system): on a shared machine, CPU steal and other work
    stretch wall time far more than this, so it tells noise from a real change."""
    resources: int
    custom_resources: int
    floor_imports: list[str]


def typed_class_modules(stack: str, out_dir: Path) -> list[str]:
    """Plan `stack` in this process, then name the module of every SDK class that declared a planned
    resource. Importing those modules loads what the program needs for its resources and no more:
    a module the program loads that no resource needs is charged to the plan, not to the floor."""
    if offline_plan_main(offline_plan_arguments(stack, out_dir, flux_manifests=FLUX_MANIFESTS)):
        raise RuntimeError(f"the plan of {stack} failed")
    planned = {
        resource["type"]
        for resource in json.loads((out_dir / stack / "resources.json").read_text())
    }
    return sorted(
        {cls.__module__ for cls in _subclasses(pulumi.Resource) if _declares(cls, planned)}
    )


def _declares(cls: type, planned: set[str]) -> bool:
    """Whether `cls`, loaded by the plan, is a class the plan declares resources with: a typed class
    whose token was planned, or an SDK's generic class, which has no token of its own and declares
    whatever type it is given (the program's Flux objects are
    `pulumi_kubernetes.apiextensions.CustomResource`s). The core `pulumi` package's own classes are
    left out: the floor imports it whole."""
    token = get_type_token(cls)
    package = cls.__module__.split(".")[0]
    return token in planned or (token is None and package in SDK_PACKAGES and package != "pulumi")


def _subclasses(cls: type) -> Iterator[type]:
    subclass: type
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def floor_imports(stack: str, out_dir: Path) -> list[str]:
    """The modules the floor imports: the SDK roots and the modules of the typed classes the plan of
    `stack` declares, found in a process of its own so this one stays clean."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, tools.bench as b; "
            f"modules = b.typed_class_modules({stack!r}, b.Path({str(out_dir)!r})); "
            "print(json.dumps(modules))",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise RuntimeError(f"finding the typed classes of {stack} failed: {found.stderr.strip()}")
    return sorted(set(SDK_PACKAGES) | set(json.loads(found.stdout.splitlines()[-1])))


def floor_command(modules: Sequence[str]) -> list[str]:
    return [sys.executable, "-c", f"import {', '.join(modules)}"]


def plan_command(stack: str, out_dir: Path) -> list[str]:
    return offline_plan_command(stack, out_dir, flux_manifests=FLUX_MANIFESTS)


def timing(samples: Sequence[float]) -> Timing:
    return Timing(statistics.median(samples), [round(sample, 4) for sample in samples])


def wall_and_cpu_timings(samples: Sequence[Sample]) -> tuple[Timing, Timing]:
    return (
        timing([sample.wall_seconds for sample in samples]),
        timing([sample.cpu_seconds for sample in samples]),
    )


def resource_counts(resources: Sequence[dict[str, object]]) -> tuple[int, int]:
    """All resources the plan declares, and how many of them are provider resources (not components)."""
    return len(resources), sum(1 for resource in resources if resource.get("custom"))


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(command: Sequence[str]) -> Sample:
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr.strip()}")
    return Sample(wall_seconds=elapsed, cpu_seconds=_children_cpu_seconds() - cpu_before)


# Counting instructions: callgrind runs the command on a simulated CPU and counts every
# instruction executed, all threads together, so the count does not move with CPU steal or other
# work on the machine. A fixed hash seed keeps dict and set iteration, and so the work, the same.
VALGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
_COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class InstructionResult:
    stack: str
    plan_instructions: int
    floor_instructions: int
    ratio: float


def collected_instructions(valgrind_stderr: str) -> int:
    counts = _COLLECTED.findall(valgrind_stderr)
    if len(counts) != 1:
        raise RuntimeError(f"expected one callgrind total, found {len(counts)}: {valgrind_stderr}")
    return int(counts[0])


def count_instructions(command: Sequence[str]) -> int:
    if shutil.which(VALGRIND[0]) is None:
        raise RuntimeError("--instructions needs valgrind (Debian package `valgrind`)")
    completed = subprocess.run(
        [*VALGRIND, *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed under valgrind: {completed.stderr.strip()}")
    return collected_instructions(completed.stderr)


def count_stack(
    stack: str,
    out_dir: Path,
    floor_modules: Sequence[str],
    counter: Callable[[Sequence[str]], int] = count_instructions,
    warm_up: Callable[[Sequence[str]], object] = run_timed,
) -> InstructionResult:
    """The floor and the plan counted once each, after a plain run of each that byte-compiles what
    they load (the count is the same every time, so one is enough)."""
    floor, plan = floor_command(floor_modules), plan_command(stack, out_dir)
    for command in (floor, plan):
        warm_up(command)
    floor_count, plan_count = counter(floor), counter(plan)
    return InstructionResult(stack, plan_count, floor_count, plan_count / floor_count)


def instruction_table(results: Sequence[InstructionResult]) -> str:
    lines = [f"{'stack':6} {'plan instructions':>18} {'floor instructions':>19} {'ratio':>6}"]
    lines += [
        f"{r.stack:6} {r.plan_instructions:18,} {r.floor_instructions:19,} {r.ratio:6.2f}"
        for r in results
    ]
    return "\n".join(lines)


def bench_stack(
    stack: str,
    runs: int,
    out_dir: Path,
    floor_modules: Sequence[str],
    clock: Callable[[Sequence[str]], Sample] = run_timed,
) -> StackResult:
    commands = {
        "floor": floor_command(floor_modules),
        "plan": plan_command(stack, out_dir),
    }
    for command in commands.values():
        clock(command)
    samples: dict[str, list[Sample]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            samples[label].append(clock(command))
    resources = json.loads((out_dir / stack / "resources.json").read_text())
    total, custom = resource_counts(resources)
    plan, plan_cpu = wall_and_cpu_timings(samples["plan"])
    floor, floor_cpu = wall_and_cpu_timings(samples["floor"])
    return StackResult(
        stack=stack,
        plan=plan,
        floor=floor,
        ratio=plan.median_seconds / floor.median_seconds,
        plan_cpu=plan_cpu,
        floor_cpu=floor_cpu,
        cpu_ratio=plan_cpu.median_seconds / floor_cpu.median_seconds,
        resources=total,
        custom_resources=custom,
        floor_imports=list(floor_modules),
    )


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }


def bar_ratio(results: Sequence[StackResult]) -> float | None:
    return next((result.ratio for result in results if result.stack == BAR_STACK), None)


def results_document(results: Sequence[StackResult], runs: int) -> dict[str, object]:
    ratio = bar_ratio(results)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": runs,
        "stacks": {result.stack: asdict(result) for result in results},
        # Each plan runs in its own process, as `make plans` runs them, so the stacks add up.
        "all_stacks_plan_seconds": sum(result.plan.median_seconds for result in results),
        "bar": {
            "stack": BAR_STACK,
            "max_ratio": BAR_RATIO,
            "ratio": ratio,
            "met": ratio <= BAR_RATIO if ratio is not None else None,
        },
    }


def table(results: Sequence[StackResult]) -> str:
    lines = [
        f"{'stack':6} {'plan s':>7} {'floor s':>8} {'ratio':>6} {'cpu ratio':>10} {'resources':>10}"
    ]
    lines += [
        f"{r.stack:6} {r.plan.median_seconds:7.3f} {r.floor.median_seconds:8.3f} "
        f"{r.ratio:6.2f} {r.cpu_ratio:10.2f} {r.resources:>10}"
        for r in results
    ]
    lines.append(f"all stacks planned in {sum(r.plan.median_seconds for r in results):.3f} s")
    return "\n".join(lines)


def bar_verdict(results: Sequence[StackResult]) -> str:
    ratio = bar_ratio(results)
    if ratio is None:
        return f"bar (ratio <= {BAR_RATIO} on {BAR_STACK}): not measured"
    return f"bar (ratio <= {BAR_RATIO} on {BAR_STACK}): {ratio:.2f}, {'met' if ratio <= BAR_RATIO else 'NOT met'}"


def report_timings(stacks: Sequence[str], runs: int, plan_dir: Path, out: Path) -> None:
    results = [
        bench_stack(stack, runs, plan_dir, floor_imports(stack, plan_dir)) for stack in stacks
    ]
    target = out / "results.json"
    target.write_text(json.dumps(results_document(results, runs), indent=2) + "\n")
    print(table(results))
    print(bar_verdict(results))
    print(f"results written to {target}")


def report_instructions(stacks: Sequence[str], plan_dir: Path, out: Path) -> None:
    results = [count_stack(stack, plan_dir, floor_imports(stack, plan_dir)) for stack in stacks]
    target = out / "instructions.json"
    target.write_text(json.dumps([asdict(result) for result in results], indent=2) + "\n")
    print(instruction_table(results))
    print(f"the bar ({BAR_RATIO} on {BAR_STACK}) is judged in wall time; results in {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"at least {MIN_RUNS}")
    parser.add_argument("--stacks", nargs="+", default=list(ENVIRONMENTS), choices=ENVIRONMENTS)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the instructions of one run of each command under valgrind instead of timing "
        "them: the same figure on a busy machine as on a quiet one (slow: minutes per command)",
    )
    args = parser.parse_args(argv)
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS} for a median to mean anything")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as plan_dir:
        try:
            if args.instructions:
                report_instructions(args.stacks, Path(plan_dir), args.out)
            else:
                report_timings(args.stacks, args.runs, Path(plan_dir), args.out)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
