"""The recorded resource graph of a plan, reduced to what the Pulumi engine orders steps by.

The engine treats a resource as depending on its explicit and property dependencies, its parent,
its provider and its `deletedWith` target. It creates and updates a resource only after everything
it depends on, deletes it before anything it depends on, and, in an update, runs the deletes of
resources that left the program (and of replaced originals, create-before-delete being the default)
after every create and update. The helpers here answer "is A guaranteed to happen before B" from
that, rather than picking one of the many valid orders and reading positions off it.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.offline.wire import is_secret
from tools.plan import Plan


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    """Plain inputs (secrets unwrapped): what the provider diffs."""
    depends_on: frozenset[str]
    """URNs of dependencies, parent, provider and deletedWith target: every edge the engine orders by."""
    delete_before_replace: bool
    secret_inputs: frozenset[str]
    """Top-level input names the engine holds as secrets."""


@dataclass(frozen=True)
class Graph:
    nodes: Mapping[str, Node]

    def find(self, type_token: str, name: str) -> Node:
        matches = [n for n in self.nodes.values() if n.type == type_token and n.name == name]
        assert len(matches) == 1, f"{len(matches)} resources {type_token}::{name}"
        return matches[0]

    def of_type(self, type_token: str) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.type == type_token), key=lambda n: n.urn)

    def reaches(self, start: str, target: str) -> bool:
        """Whether `start` depends on `target`, directly or through other resources."""
        seen: set[str] = set()
        pending = [start]
        while pending:
            for dependency in self.nodes[pending.pop()].depends_on:
                if dependency == target:
                    return True
                if dependency not in seen and dependency in self.nodes:
                    seen.add(dependency)
                    pending.append(dependency)
        return False

    def without_edge(self, urn: str, dependency: str) -> Graph:
        """A copy with one edge taken away, everywhere it came from (for deliberately broken graphs)."""
        node = self.nodes[urn]
        assert dependency in node.depends_on, f"{urn} has no edge to {dependency}"
        changed = dataclasses.replace(node, depends_on=node.depends_on - {dependency})
        return Graph({**self.nodes, urn: changed})

    def replacing(self, node: Node) -> Graph:
        return Graph({**self.nodes, node.urn: node})


def _secret_input_names(inputs: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(key for key, value in inputs.items() if is_secret(value))


def graph_of(plan: Plan) -> Graph:
    resources = plan.run.resources
    urn_of = {resource.type_and_name: resource.urn for resource in resources}
    nodes: dict[str, Node] = {}
    for resource in resources:
        edges = set(resource.dependencies)
        for extra in (resource.parent, resource.deleted_with):
            if extra:
                edges.add(extra)
        if resource.provider:
            edges.add(urn_of[resource.provider])
        known = {urn for urn in edges if urn in urn_of.values()}
        nodes[resource.urn] = Node(
            urn=resource.urn,
            type=resource.type,
            name=resource.name,
            inputs=resource.plain_inputs,
            depends_on=frozenset(known),
            delete_before_replace=resource.delete_before_replace,
            secret_inputs=_secret_input_names(resource.inputs),
        )
    return Graph(nodes)


def destroy_order(graph: Graph) -> list[str]:
    """One order `pulumi destroy` may take: a resource only after everything that depends on it.

    Ties are broken by URN so the order is reproducible; tests assert `must_delete_before`, which
    holds for every valid order, not positions in this one."""
    dependents: dict[str, set[str]] = {urn: set() for urn in graph.nodes}
    for node in graph.nodes.values():
        for dependency in node.depends_on:
            dependents[dependency].add(node.urn)
    waiting = {urn: len(users) for urn, users in dependents.items()}
    ready = [urn for urn, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        urn = heapq.heappop(ready)
        order.append(urn)
        for dependency in graph.nodes[urn].depends_on:
            waiting[dependency] -= 1
            if waiting[dependency] == 0:
                heapq.heappush(ready, dependency)
    assert len(order) == len(graph.nodes), "the dependency graph has a cycle"
    return order


def must_delete_before(graph: Graph, first: str, then: str) -> bool:
    """Whether every destroy deletes `first` before `then` (`first` depends on `then`)."""
    return graph.reaches(first, then)


@dataclass(frozen=True)
class UpdateSteps:
    """What `pulumi up` does to go from one recorded graph to the next, and in which order."""

    before: Graph
    after: Graph
    creates: frozenset[str]
    updates: frozenset[str]
    deletes: frozenset[str]

    def guaranteed_before(self, first: tuple[str, str], then: tuple[str, str]) -> bool:
        """Whether step `first` = (operation, urn) always finishes before step `then` starts."""
        first_op, first_urn = first
        then_op, then_urn = then
        live = ("create", "update")
        assert first_urn in self._steps(first_op) and then_urn in self._steps(then_op), (
            first,
            then,
        )
        if first_op in live and then_op in live:
            return self.after.reaches(then_urn, first_urn)
        if first_op in live and then_op == "delete":
            return True
        if first_op == "delete" and then_op == "delete":
            return self.before.reaches(first_urn, then_urn)
        return False

    def _steps(self, operation: str) -> frozenset[str]:
        return {"create": self.creates, "update": self.updates, "delete": self.deletes}[operation]


def update_steps(before: Graph, after: Graph) -> UpdateSteps:
    common = before.nodes.keys() & after.nodes.keys()
    return UpdateSteps(
        before=before,
        after=after,
        creates=frozenset(after.nodes.keys() - before.nodes.keys()),
        updates=frozenset(
            urn for urn in common if before.nodes[urn].inputs != after.nodes[urn].inputs
        ),
        deletes=frozenset(before.nodes.keys() - after.nodes.keys()),
    )
