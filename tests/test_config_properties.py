"""Any stack file ends in a StackConfig or in one config error line naming the key at fault.

Hypothesis starts from the real stack files and breaks them: sets random keys to values of any JSON
shape (and to near-miss strings for durations, versions, CIDRs and regions), drops keys, adds
unknown ones. `parse_stack_config` must then either accept the result or raise ConfigError whose
message starts with `config error: KEY = ` and whose KEY is the changed key, one inside it, one
containing it, or a key it constrains (minSize vs desiredSize, aws:region vs the zone names); never
any other exception.
The plan CLI is run on the issue's examples: exit code 2, one line on stderr, no traceback.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eks_gitops.settings.model import KNOWN_KEYS, PROJECT, ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, REPO_ROOT, stack_document

KeyPath = tuple[str, ...]
PREFIX = "config error: "

near_miss_strings = st.one_of(
    st.from_regex(r"\A[0-9]{1,400}(\.[0-9]{1,3})?(h|m|s|ms|us|ns)\Z"),
    st.from_regex(r"\A1\.[0-9]{1,3}\Z"),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}\Z"),
    st.from_regex(r"\A[a-z]{2}-[a-z]{4,9}-[0-9]\Z"),
    st.sampled_from(["", " ", "main", "..", "/abs", "ON_DEMAND", "v2.9.4", "github.com"]),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        near_miss_strings,
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
new_key_names = st.from_regex(r"\A[a-z][a-zA-Z]{0,11}\Z")


def key_paths(node: dict[str, Any], parent: KeyPath = ()) -> Iterator[KeyPath]:
    for key, value in node.items():
        yield (*parent, key)
        if isinstance(value, dict):
            yield from key_paths(value, (*parent, key))


def sections(node: dict[str, Any], parent: KeyPath = ()) -> Iterator[KeyPath]:
    yield parent
    for key, value in node.items():
        if isinstance(value, dict):
            yield from sections(value, (*parent, key))


def container(config: dict[str, Any], path: KeyPath) -> dict[str, Any]:
    for key in path:
        config = config[key]
    return config


@st.composite
def broken_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[KeyPath]]:
    """(stack, config, the key paths changed) after one to three random changes."""
    stack = draw(st.sampled_from(ENVIRONMENTS))
    config = stack_document(stack)["config"]
    changed: list[KeyPath] = []
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["set", "drop", "add"]))
        if action == "add":
            parent = draw(st.sampled_from(sorted(sections(config))))
            name = draw(new_key_names)
            if not parent:
                name = f"{PROJECT}:{name}"
            target = container(config, parent)
            if name in target or (not parent and name.split(":")[-1] in KNOWN_KEYS):
                continue
            target[name] = draw(json_values)
            changed.append((*parent, name))
            continue
        path = draw(st.sampled_from(sorted(key_paths(config))))
        target = container(config, path[:-1])
        if action == "drop":
            del target[path[-1]]
        else:
            target[path[-1]] = draw(json_values)
        changed.append(path)
    return stack, config, changed


def named_key(error: ConfigError) -> str:
    message = str(error)
    assert message.startswith(PREFIX), message
    assert "\n" not in message, message
    key = message[len(PREFIX) :].split(" = ", 1)[0]
    assert key == error.key
    return key


def as_path(key: str) -> KeyPath:
    # Top-level keys are `namespace:name`; nested names are joined with dots; an item of a list of
    # objects is `name[index]` (`toolkit.patches[0].target`), a part of that list.
    return tuple(re.sub(r"\[\d+\]$", "", part) for part in key.split("."))


# Keys one section constrains in another: zone names must belong to the stack's region.
CONSTRAINED_ELSEWHERE: dict[KeyPath, set[KeyPath]] = {
    ("aws:region",): {("eks-gitops:network", "availabilityZones")},
    # An application Secret lives in the toolkit namespace (the only one there before Flux's first
    # sync): a new namespace leaves the stack files' Secret in the old one.
    ("eks-gitops:toolkit", "namespace"): {
        ("eks-gitops:appSecrets", "sumologic-credentials", "namespace")
    },
}


def related(named: KeyPath, changed: KeyPath) -> bool:
    shared = min(len(named), len(changed))
    nested_siblings = len(named) > 1 and named[:-1] == changed[:-1]
    constrained = named in CONSTRAINED_ELSEWHERE.get(changed, set())
    return named[:shared] == changed[:shared] or nested_siblings or constrained


Parser = Callable[[dict[str, Any], str], StackConfig]


def outcome(
    stack: str, config: dict[str, Any], parse: Parser = parse_stack_config
) -> StackConfig | ConfigError:
    try:
        return parse(config, stack)
    except ConfigError as error:
        return error


def check_accepted_or_refused_well(
    stack: str, config: dict[str, Any], changed: list[KeyPath], parse: Parser = parse_stack_config
) -> None:
    result = outcome(stack, config, parse)
    if isinstance(result, ConfigError):
        named = as_path(named_key(result))
        assert any(related(named, path) for path in changed), (named, changed)
    else:
        assert isinstance(result, StackConfig)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_configs())
def test_every_config_is_accepted_or_refused_with_a_key_it_relates_to(
    case: tuple[str, dict[str, Any], list[KeyPath]],
) -> None:
    check_accepted_or_refused_well(*case)


def test_the_check_fails_on_parsers_that_misbehave() -> None:
    config = stack_document("dev")["config"]
    config["aws:region"] = "mars-1"
    changed = [("aws:region",)]

    def blames_the_wrong_key(raw: dict[str, Any], stack: str) -> StackConfig:
        raise ConfigError("eks-gitops:sync.interval", "1m", "anything")

    def crashes(raw: dict[str, Any], stack: str) -> StackConfig:
        raise KeyError("zone")

    with pytest.raises(AssertionError):
        check_accepted_or_refused_well("dev", config, changed, blames_the_wrong_key)
    with pytest.raises(KeyError):
        check_accepted_or_refused_well("dev", config, changed, crashes)
    check_accepted_or_refused_well("dev", config, changed)
    # Nor is the relation vacuous: siblings inside a section relate, other keys do not.
    nodes = ("eks-gitops:cluster", "nodes")
    assert related((*nodes, "desiredSize"), (*nodes, "minSize"))
    assert not related(("eks-gitops:sync", "interval"), (*nodes, "minSize"))
    assert not related(("aws:region",), ("eks-gitops:environment",))
    zones = ("eks-gitops:network", "availabilityZones")
    assert related(zones, ("aws:region",)) and not related(("aws:region",), zones)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_real_stack_files_are_accepted(stack: str) -> None:
    assert isinstance(outcome(stack, stack_document(stack)["config"]), StackConfig)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        container(config, tuple(parents))[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        del container(config, tuple(parents))[last]

    return edit


def _both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        for each in edits:
            each(config)

    return edit


# The issue's examples (and one found here): the edit, and the key the error must name.
ISSUE_EXAMPLES = {
    "region mars-1": (_set("aws:region", "mars-1"), "aws:region"),
    "version 1.9": (
        _set("eks-gitops:cluster.kubernetesVersion", "1.9"),
        "eks-gitops:cluster.kubernetesVersion",
    ),
    "minSize above maxSize": (
        _both(
            _set("eks-gitops:cluster.nodes.minSize", 5), _set("eks-gitops:cluster.nodes.maxSize", 3)
        ),
        "eks-gitops:cluster.nodes.minSize",
    ),
    "interval soon": (_set("eks-gitops:sync.interval", "soon"), "eks-gitops:sync.interval"),
    "unknown component": (
        _set("eks-gitops:toolkit.components", ["source-controller", "kustomize-controler"]),
        "eks-gitops:toolkit.components",
    ),
    "missing GitHub owner": (_drop("eks-gitops:github.owner"), "eks-gitops:github.owner"),
    # Not in the issue: raised OverflowError until durations were parsed exactly.
    "interval beyond Go's int64": (
        _set("eks-gitops:sync.interval", "9" * 400 + "h"),
        "eks-gitops:sync.interval",
    ),
}


@pytest.mark.parametrize("example", ISSUE_EXAMPLES)
def test_the_issue_examples_name_their_key(example: str) -> None:
    edit, key = ISSUE_EXAMPLES[example]
    config = stack_document("dev")["config"]
    edit(config)
    result = outcome("dev", config)
    assert isinstance(result, ConfigError)
    assert named_key(result) == key


# The plan command as `make plan` runs it.
PLAN = ("-m", "tools.plan")


def run_plan_cli(
    project: Path, stack_file_text: str, command: tuple[str, ...] = PLAN
) -> subprocess.CompletedProcess[str]:
    # dev's stack file in a copy of the project: a stack is named after its environment.
    (project / "Pulumi.dev.yaml").write_text(stack_file_text)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, *command, "--stack", "dev", "--project-dir", str(project)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a speed check: a loaded 2-core runner took 2 min
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], starts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(starts), lines[0]


@pytest.mark.parametrize("example", ISSUE_EXAMPLES)
def test_the_plan_cli_reports_the_issue_examples_in_one_line(
    example: str, project_copy: Path
) -> None:
    edit, key = ISSUE_EXAMPLES[example]
    document = stack_document("dev")
    document["config"] = copy.deepcopy(document["config"])
    edit(document["config"])
    result = run_plan_cli(project_copy, yaml.safe_dump(document, sort_keys=False))
    assert_one_error_line(result, f"error: {PREFIX}{key} = ")


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        (
            "config:\n  aws:region: eu-west-1\n  eks-gitops:cluster: [\n",
            "error: Pulumi.dev.yaml line ",
        ),
        (
            "config:\n  aws:region: [eu-west-1\n  eks-gitops:environment: dev\n",
            "error: Pulumi.dev.yaml line ",
        ),
        ("just a sentence\n", "error: Pulumi.dev.yaml: "),
        ("config:\n  aws:region: eu-west-1\n  1: one\n", "error: Pulumi.dev.yaml: "),
    ],
    ids=["unclosed list", "unclosed flow sequence", "not a mapping", "non-string key"],
)
def test_a_malformed_stack_file_gives_one_error_line(
    text: str, starts: str, project_copy: Path
) -> None:
    assert_one_error_line(run_plan_cli(project_copy, text), starts)


def test_the_cli_check_sees_a_traceback(project_copy: Path) -> None:
    # The CLI check must fail on a crash: a program that raises gives exit 1 and a traceback.
    crashing = (
        "-c",
        "import sys, tools.plan as plan\n"
        "def crash(*args):\n"
        "    raise KeyError('boom')\n"
        "plan.declare = crash\n"
        "sys.exit(plan.main(sys.argv[1:]))\n",
    )
    result = run_plan_cli(project_copy, yaml.safe_dump(stack_document("dev")), crashing)
    with pytest.raises(AssertionError):
        assert_one_error_line(result, "error: ")
