"""The offline engine: runs a Pulumi program file under Pulumi's mock engine and records everything
the program asked the engine for (type, name, parent, inputs with secrets marked, dependencies,
options). All use of the SDK's private runtime modules is here. Nothing here knows the program."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from eks_gitops.urns import type_and_name
from tools.offline.outputs import RecordingMocks
from tools.offline.wire import from_struct, redact, unwrap


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    """As sent to the engine: secrets still wrapped, so `redacted_inputs` and `plain_inputs` agree."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    provider: str | None
    ignore_changes: list[str]
    replace_on_changes: list[str]
    custom_timeouts: dict[str, str]
    deleted_with: str | None
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    """Earlier URNs of this resource, which the engine treats as the same resource."""

    @property
    def redacted_inputs(self) -> Any:
        return redact(self.inputs)

    @property
    def plain_inputs(self) -> Any:
        return unwrap(self.inputs)

    @property
    def type_and_name(self) -> str:
        return f"{self.type}::{self.name}"


DISABLE_DEFAULT_PROVIDERS_KEY = "pulumi:disable-default-providers"


class DefaultProviderDenied(pulumi.RunError):
    """A resource or invoke of a package whose default provider the stack disabled names no provider."""


def disabled_default_providers(config: Mapping[str, str]) -> frozenset[str]:
    """The packages `pulumi:disable-default-providers` names (`*`: every package)."""
    raw = config.get(DISABLE_DEFAULT_PROVIDERS_KEY)
    packages = json.loads(raw) if raw else []
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise pulumi.RunError(f"{DISABLE_DEFAULT_PROVIDERS_KEY}: expected a list of package names")
    return frozenset(packages)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(
        self, mocks: RecordingMocks, denied_defaults: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self.denied_defaults = denied_defaults

    def _deny_default_provider(self, token: str, provider: str) -> None:
        # What the engine does with the setting: pulumi/pulumi pkg/resource/deploy,
        # `defaultProviders.handleRequest` answers a denied package with a deny reference, and
        # step_generator.go `loadResourceProvider` fails the resource that carries one. A resource or
        # invoke naming no provider fails instead of using one configured from the environment.
        package = token.split(":", maxsplit=1)[0]
        if provider or package == "pulumi":
            return
        if "*" in self.denied_defaults or package in self.denied_defaults:
            raise DefaultProviderDenied(
                f"default provider for '{package}' disabled: '{token}' must name an explicit provider"
            )

    def Invoke(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self._deny_default_provider(request.tok, request.provider)
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's qualified types; so do we.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.custom:
            self._deny_default_provider(request.type, request.provider)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=from_struct(request.object),
                    dependencies=sorted(request.dependencies),
                    property_dependencies={
                        key: sorted(deps.urns)
                        for key, deps in sorted(request.propertyDependencies.items())
                    },
                    protect=bool(request.protect),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    provider=type_and_name(request.provider.rsplit("::", 1)[0])
                    if request.provider
                    else None,
                    ignore_changes=sorted(request.ignoreChanges),
                    replace_on_changes=sorted(request.replaceOnChanges),
                    custom_timeouts=from_struct(request.customTimeouts)
                    if request.HasField("customTimeouts")
                    else {},
                    deleted_with=request.deletedWith or None,
                    additional_secret_outputs=sorted(request.additionalSecretOutputs),
                    aliases=sorted(self._alias_urns(request)),
                )
            )
        return response

    def _alias_urns(self, request: Any) -> list[str]:
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return urns

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.urn.split("::")[-2] == "pulumi:pulumi:Stack":
            self.stack_outputs = from_struct(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    stack_outputs: dict[str, Any]
    logs: list[str] = field(default_factory=list)
    made_up: frozenset[str] = frozenset()
    """Every id and output string the mock engine invented rather than received."""

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == type_token]


class _LogCollector(logging.Handler):
    """Keeps what the program logs (info and above; the SDK's own debug chatter is dropped)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    material_seed: str | None = None,
) -> ProgramRun:
    """Run a Pulumi program (a function that declares resources) under the mock engine with the
    engine-level `config` (`pulumi:disable-default-providers`, `aws:region`), and return what it
    declared. Each run gets a fresh context so runs in one process do not share the SDK's ambient
    state. Generated ids, ARNs and keys derive from the stack name, as real ones differ per stack,
    or from `material_seed`, so that two stacks' runs differ only where their programs do."""
    region = (
        json.loads(config["aws:region"])
        if config.get("aws:region", "").startswith('"')
        else config.get("aws:region", "us-east-1")
    )
    mocks = RecordingMocks(region, material_seed or stack)
    monitor = RecordingMonitor(mocks, disabled_default_providers(config))
    logs = _LogCollector()
    logger = logging.Logger(f"eks-gitops.{stack}")
    logger.addHandler(logs)

    def execute() -> None:
        # A loop of its own: a program that fails leaves registrations pending, and on a shared
        # loop they would go on in the next run, registering with that run's monitor.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_all_config(dict(config))
            pulumi_mocks.set_mocks(
                mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
            )
            # set_mocks opens a root stack of its own; the program gets the one run_in_stack
            # opens, as under the real language host, so its exports are registered as outputs.
            pulumi_settings.ROOT.set(None)
            _sync_await(run_in_stack(program))
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            # The SDK keeps the run's outstanding outputs in its settings, which the next run's
            # wait would otherwise find, bound to this closed loop.
            with pulumi_settings.SETTINGS.lock:
                pulumi_settings.SETTINGS.outputs.clear()
            asyncio.set_event_loop(None)
            loop.close()

    contextvars.Context().run(execute)
    return ProgramRun(
        stack, monitor.recorded, monitor.stack_outputs, logs.lines, frozenset(mocks.made_up)
    )
