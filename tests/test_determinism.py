"""The offline plan is byte-for-byte reproducible: string hashing, which Python seeds afresh in
every process, must not reach resources.json, manifests.yaml or outputs.json.

Each stack is planned by the real CLI in separate processes with different PYTHONHASHSEED values.
A program that leaks set order into an output is shown to be caught by the same comparison.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import ENVIRONMENTS, FLUX_V294, REPO_ROOT

SEEDS = ("1", "4242")


# The plan command as `make plan` runs it.
PLAN = ("-m", "tools.plan")
# The same command, with the program's `declare` wrapped to export a set of strings: set iteration
# order follows the hash seed, so this plan must differ between seeds.
LEAKING_PLAN = (
    "-c",
    "import sys, pulumi, eks_gitops.program as program, tools.plan as plan\n"
    "declare = program.declare\n"
    "def leaking(*args):\n"
    "    declare(*args)\n"
    "    pulumi.export('probe', list({'alpha', 'bravo', 'charlie', 'delta', 'echo', 'golf'}))\n"
    "plan.declare = leaking\n"
    "sys.exit(plan.main(sys.argv[1:]))\n",
)


def run_plans(out: Path, seed: str, stacks: Sequence[str], command: Sequence[str] = PLAN) -> None:
    """Plan every stack in its own process under one hash seed (processes run side by side)."""
    environment = {**os.environ, "PYTHONHASHSEED": seed}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                *command,
                *("--stack", stack, "--out", str(out), "--flux-manifests", str(FLUX_V294)),
            ],
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stack in stacks
    ]
    for process in processes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors


def plan_files(out: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def differing_files(first: Path, second: Path) -> list[str]:
    files_a, files_b = plan_files(first), plan_files(second)
    names = sorted(files_a.keys() | files_b.keys())
    return [name for name in names if files_a.get(name) != files_b.get(name)]


def test_plans_are_identical_under_different_hash_seeds(tmp_path: Path) -> None:
    outs = [tmp_path / f"seed-{seed}" for seed in SEEDS]
    for seed, out in zip(SEEDS, outs, strict=True):
        run_plans(out, seed, ENVIRONMENTS)
    expected = {
        f"{stack}/{name}"
        for stack in ENVIRONMENTS
        for name in ("resources.json", "manifests.yaml", "outputs.json", "policy.json")
    }
    assert set(plan_files(outs[0])) == expected
    assert differing_files(*outs) == []


def test_a_hash_order_leak_is_caught(tmp_path: Path) -> None:
    outs = [tmp_path / f"seed-{seed}" for seed in SEEDS]
    for seed, out in zip(SEEDS, outs, strict=True):
        run_plans(out, seed, ["dev"], LEAKING_PLAN)
    assert differing_files(*outs) == ["dev/outputs.json"]
