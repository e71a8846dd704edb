"""The estimated `pulumi up` critical path: the longest-path function on graphs small enough to
check by hand, and the chain the dev stack's real dependency graph gives."""

from __future__ import annotations

import graphlib

import pytest

from tests.conftest import FLUX_V294, repo_plan
from tools.critical_path import (
    CLUSTER,
    CONTROLLERS_READY,
    FIGURES,
    FIRST_SYNC,
    NETWORK,
    NODE_GROUP,
    STEP_OF_TYPE,
    CriticalPath,
    UnknownResourceTypeError,
    critical_path,
    figure_for,
    is_off_cluster,
    longest_path,
    main,
    minutes,
    sequential_seconds,
)


def test_longest_path_follows_the_slowest_branch_not_the_longest_one() -> None:
    # a -> b -> c -> e is four hops of 1 s each; a -> d -> e passes through a 10 s node.
    durations = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 10.0, "e": 1.0}
    prerequisites = {"b": {"a"}, "c": {"b"}, "d": {"a"}, "e": {"c", "d"}}
    assert longest_path(durations, prerequisites) == (12.0, ["a", "d", "e"])


def test_longest_path_ends_at_the_latest_finish_even_without_dependents() -> None:
    # The isolated slow node beats the chain.
    durations = {"a": 2.0, "b": 2.0, "slow": 5.0}
    assert longest_path(durations, {"b": {"a"}}) == (5.0, ["slow"])


def test_longest_path_breaks_ties_by_name_whatever_the_insertion_order() -> None:
    forward = {"root": 1.0, "x": 3.0, "y": 3.0, "end": 1.0}
    backward = dict(reversed(list(forward.items())))
    prerequisites = {"x": {"root"}, "y": {"root"}, "end": {"y", "x"}}
    assert longest_path(forward, prerequisites) == longest_path(backward, prerequisites)
    assert longest_path(forward, prerequisites) == (5.0, ["root", "x", "end"])


def test_longest_path_of_nothing_is_empty() -> None:
    assert longest_path({}, {}) == (0.0, [])


def test_longest_path_refuses_a_cycle() -> None:
    with pytest.raises(graphlib.CycleError):
        longest_path({"a": 1.0, "b": 1.0}, {"a": {"b"}, "b": {"a"}})


def test_a_type_without_a_figure_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownResourceTypeError, match=r"aws:rds/instance:Instance"):
        figure_for("aws:rds/instance:Instance")


def test_every_figure_says_where_it_comes_from() -> None:
    for type_token, figure in FIGURES.items():
        assert figure.seconds >= 0, type_token
        assert figure.source.strip(), type_token


@pytest.fixture(scope="module")
def dev_path() -> CriticalPath:
    return critical_path(repo_plan("dev").run.resources)


def test_dev_chain_is_network_cluster_node_group_controllers_sync(dev_path: CriticalPath) -> None:
    assert dev_path.steps() == [NETWORK, CLUSTER, NODE_GROUP, CONTROLLERS_READY, FIRST_SYNC]


def test_dev_chain_holds_nothing_that_does_not_need_the_cluster(dev_path: CriticalPath) -> None:
    assert [link.type for link in dev_path.links if is_off_cluster(link.type)] == []


def test_dev_estimate_is_within_ten_percent_of_cluster_node_group_and_sync(
    dev_path: CriticalPath,
) -> None:
    dominant = sum(
        FIGURES[type_token].seconds
        for type_token, step in STEP_OF_TYPE.items()
        if step in (CLUSTER, NODE_GROUP, FIRST_SYNC)
    )
    assert abs(dev_path.seconds - dominant) <= 0.1 * dominant


def test_dev_chain_starts_each_link_when_the_previous_one_ends(dev_path: CriticalPath) -> None:
    ends = [link.start_seconds + link.figure.seconds for link in dev_path.links]
    assert [link.start_seconds for link in dev_path.links[1:]] == ends[:-1]
    assert ends[-1] == dev_path.seconds


def test_cli_prints_the_chain_and_the_sequential_flow_it_beats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--stack", "dev", "--flux-manifests", str(FLUX_V294)]) == 0
    out = capsys.readouterr().out
    steps_line = next(line for line in out.splitlines() if line.strip().startswith("steps:"))
    assert steps_line.split("steps:")[1].strip().split(" -> ") == [
        NETWORK,
        CLUSTER,
        NODE_GROUP,
        CONTROLLERS_READY,
        FIRST_SYNC,
    ]
    assert f"{minutes(sequential_seconds())} (estimate)" in out
    assert sequential_seconds() > critical_path(repo_plan("dev").run.resources).seconds


def test_cli_refuses_to_estimate_without_the_controllers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The session's Flux cache is empty, so without a manifest file the toolkit is not expanded.
    assert main(["--stack", "dev"]) == 2
    assert "--flux-manifests" in capsys.readouterr().err
