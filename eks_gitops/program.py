"""The stack: what one `pulumi up` declares, from the stack's parsed settings, its secrets and the Flux
release manifest. `pulumi up` runs `main` (through `__main__.py`); the offline plan calls `declare`
under the mock engine with the same settings, placeholder secrets and a manifest file or none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pulumi_tls as tls

from eks_gitops import policy
from eks_gitops.aws.cluster import Cluster, ClusterArgs
from eks_gitops.aws.flux_identity import FluxIdentity, FluxIdentityArgs
from eks_gitops.aws.network import Network, NetworkArgs
from eks_gitops.aws.storage import DefaultStorageClass, DefaultStorageClassArgs
from eks_gitops.aws.versions import reported_versions
from eks_gitops.credentials import AppCredentials, AppCredentialsArgs, AppSecret
from eks_gitops.flux.commit_status import CommitStatus, CommitStatusArgs, GitHubApp
from eks_gitops.flux.instance import InstanceArgs
from eks_gitops.flux.patches import KustomizePatch, KustomizeUnavailable, PatchError
from eks_gitops.flux.release import (
    FLUX,
    FLUX_OPERATOR,
    InstallManifest,
    ManifestChecksumError,
    ManifestUnavailable,
    Release,
    default_cache_dir,
    load_install_manifest,
)
from eks_gitops.flux.sync import Sync, SyncArgs, repository_url
from eks_gitops.flux.toolkit import OperatorArgs, Toolkit, ToolkitArgs
from eks_gitops.flux.webhook import Exposure, Webhook, WebhookArgs
from eks_gitops.github.deploy_key import DeployKey, DeployKeyArgs, deploy_key_title
from eks_gitops.github.provider import github_provider
from eks_gitops.github.repository import Repository, RepositoryArgs
from eks_gitops.policy.support import enforce_support
from eks_gitops.settings.load import load
from eks_gitops.settings.model import (
    HAND_OVER_KEY,
    INSTALLER_KEY,
    MANIFESTS_FILE_KEY,
    MANIFESTS_SHA256_KEY,
    MISSING,
    OPERATOR_INSTALLER,
    OPERATOR_MANIFESTS_FILE_KEY,
    OPERATOR_MANIFESTS_SHA256_KEY,
    PATCHES_KEY,
    ConfigError,
    SecretSettings,
    StackConfig,
    sops_alias,
)


def pin_command(stack: str) -> str:
    """The command that pins a stack's Flux manifest digest (Makefile target `pin-flux`)."""
    return f"make pin-flux STACK={stack}"


def flux_manifest(
    settings: StackConfig, *, file: Path | None = None, download: bool = True
) -> InstallManifest | None:
    """The Flux release manifest the stack applies: `file`, else `toolkit.manifestsFile`, else the
    cache, else (when `download`) the release. None only without `download`, when none is at hand.

    The manifest runs with cluster-admin, so a run that may download applies on production only one
    whose SHA-256 the stack pins; dev and qa may trust an unpinned one on first use, and say so with
    the digest they trusted."""
    toolkit = settings.toolkit
    return _release_manifest(
        settings,
        _Pin(
            FLUX,
            toolkit.version,
            toolkit.manifests_file,
            toolkit.manifests_sha256,
            MANIFESTS_FILE_KEY,
            MANIFESTS_SHA256_KEY,
            "--flux-manifests",
            f"run `{pin_command(settings.stack)}` and commit the stack file",
        ),
        file=file,
        download=download,
    )


def operator_manifest(
    settings: StackConfig, *, file: Path | None = None, download: bool = True
) -> InstallManifest | None:
    """The Flux Operator's release manifest, by the same rules as Flux's (`flux_manifest`); None
    also when the stack does not install with the operator."""
    operator = settings.toolkit.operator
    if settings.toolkit.installer != OPERATOR_INSTALLER or operator is None:
        return None
    return _release_manifest(
        settings,
        _Pin(
            FLUX_OPERATOR,
            operator.version,
            operator.manifests_file,
            operator.manifests_sha256,
            OPERATOR_MANIFESTS_FILE_KEY,
            OPERATOR_MANIFESTS_SHA256_KEY,
            "--operator-manifests",
            f"run `{pin_command(settings.stack)}` (it pins {OPERATOR_MANIFESTS_SHA256_KEY} too)",
        ),
        file=file,
        download=download,
    )


@dataclass(frozen=True)
class _Pin:
    """Which release manifest a stack applies, and the settings and plan option that name it."""

    release: Release
    version: str
    configured_file: str | None
    sha256: str | None
    file_key: str
    sha256_key: str
    plan_option: str
    pin_instruction: str


def _release_manifest(
    settings: StackConfig, pin: _Pin, *, file: Path | None, download: bool
) -> InstallManifest | None:
    label = f"{pin.release.label} {pin.version}"
    if download and settings.is_production and pin.sha256 is None:
        raise ConfigError(
            pin.sha256_key,
            MISSING,
            f"the SHA-256 of the {label} install manifest: production applies no "
            f"unpinned manifest; {pin.pin_instruction}",
        )
    configured = Path(pin.configured_file) if pin.configured_file else None
    try:
        manifest = load_install_manifest(
            pin.version,
            file=file or configured,
            expected_sha256=pin.sha256,
            cache_dir=default_cache_dir(pin.release),
            allow_network=download,
            release=pin.release,
        )
    except ManifestUnavailable as error:
        if not download:
            return None
        raise pulumi.RunError(
            f"{error}. To work offline, download that file elsewhere and point "
            f"{pin.file_key} at it, or pass {pin.plan_option} FILE to the plan."
        ) from None
    except (ManifestChecksumError, OSError) as error:
        raise pulumi.RunError(f"{label} manifest: {error}") from None
    if pin.sha256 is None:
        pulumi.log.warn(
            f"{pin.sha256_key} is not set: the {label} install manifest "
            f"from {manifest.origin} has SHA-256 {manifest.sha256}, trusted on first use. "
            f"To pin it, {pin.pin_instruction}."
        )
    return manifest


def declare(
    settings: StackConfig,
    secrets: SecretSettings,
    manifest: InstallManifest | None,
    operator: InstallManifest | None = None,
) -> None:
    """Declare the stack. Guardrails first: a stack that breaks one declares nothing."""
    policy.enforce(settings)
    namespace = settings.toolkit.namespace
    github = settings.github
    aws_provider = aws.Provider(
        "aws", region=settings.region, default_tags={"tags": dict(settings.tags)}
    )
    github_provider_ = github_provider("github", owner=github.owner, base_url=github.api_url)
    # Default providers are disabled (Pulumi.yaml); TLS and random need no configuration, only a name.
    tls_provider = tls.Provider("tls")
    # The versions the stack pins, judged by what EKS reports today, before anything else is declared.
    enforce_support(
        settings,
        *reported_versions(settings.cluster, pulumi.InvokeOptions(provider=aws_provider)),
    )

    network = Network(
        "network",
        NetworkArgs(cluster_name=settings.cluster.name, config=settings.network),
        pulumi.ResourceOptions(providers=[aws_provider]),
    )
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            config=settings.cluster, region=settings.region, network=network, tags=settings.tags
        ),
        pulumi.ResourceOptions(providers=[aws_provider]),
    )
    # Before the toolkit: EKS gives a pod its Pod Identity credentials when the pod is created, so
    # the controllers must start with their associations in place; and on destroy the associations
    # outlive the controllers and the sync (Flux still decrypts while it prunes).
    flux_identity = (
        FluxIdentity(
            "flux-identity",
            FluxIdentityArgs(
                cluster_name=cluster.cluster_name,
                namespace=namespace,
                sops=settings.sops,
                ecr=settings.ecr,
                key_administrators=(
                    settings.cluster.deployer_role_arn,
                    *settings.cluster.admin_role_arns,
                ),
                alias_name=sops_alias(settings.cluster.name),
                protect=settings.cluster.protect,
            ),
            pulumi.ResourceOptions(
                providers=[aws_provider], depends_on=[cluster.pod_identity_agent]
            ),
        )
        if settings.sops.enabled or settings.ecr.enabled
        else None
    )
    identities = [flux_identity] if flux_identity else []
    on_cluster = pulumi.ResourceOptions(providers=[cluster.kubernetes_provider])
    storage = DefaultStorageClass(
        "storage",
        DefaultStorageClassArgs(),
        pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[cluster.storage_driver])
        ),
    )
    toolkit = _toolkit(
        settings,
        manifest,
        operator,
        pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[cluster.node_group, *identities])
        ),
    )
    in_namespace = pulumi.ResourceOptions.merge(
        on_cluster, pulumi.ResourceOptions(depends_on=toolkit.namespaces)
    )
    after_toolkit = pulumi.ResourceOptions.merge(
        on_cluster, pulumi.ResourceOptions(depends_on=toolkit.ready)
    )
    repository = Repository(
        "repository",
        RepositoryArgs(config=github, branch=settings.sync.branch, path=settings.sync.path),
        pulumi.ResourceOptions(providers=[github_provider_]),
    )
    deploy_key = DeployKey(
        "deploy-key",
        DeployKeyArgs(
            config=settings.deploy_key,
            github=github,
            repository=repository.name,
            title=deploy_key_title(
                settings.cluster.name,
                namespace,
                settings.sync.branch,
                settings.sync.path,
                settings.deploy_key.generation,
            ),
            namespace=namespace,
        ),
        pulumi.ResourceOptions.merge(
            in_namespace,
            pulumi.ResourceOptions(
                providers=[github_provider_, tls_provider, cluster.kubernetes_provider]
            ),
        ),
    )
    credentials = AppCredentials(
        "app-credentials",
        AppCredentialsArgs(
            secrets={
                secret.name: AppSecret(secret.namespace, secrets.app_secrets[secret.name])
                for secret in settings.app_secrets
            }
        ),
        in_namespace,
    )
    # Declared before the sync so the Alert is in place for the first revision the cluster applies.
    # The settings hand over a credential exactly when notifications.commitStatuses is on.
    commit_status = (
        CommitStatus(
            "commit-status",
            CommitStatusArgs(
                environment=settings.environment,
                namespace=namespace,
                repository_url=github.web_url,
                credential=secrets.commit_status_credential,
                github_app=GitHubApp(app.app_id, app.installation_id, github.api_url)
                if (app := settings.notifications.github_app)
                else None,
            ),
            after_toolkit,
        )
        if secrets.commit_status_credential is not None
        else None
    )
    sync = Sync(
        "sync",
        SyncArgs(
            namespace=namespace,
            url=repository_url(github.ssh_authority, github.owner, github.repository),
            branch=settings.sync.branch,
            path=settings.sync.path,
            interval=settings.sync.interval,
            kustomization_interval=settings.sync.kustomization_interval,
            timeout=settings.sync.timeout,
            ready_timeout_seconds=settings.sync.ready_timeout_seconds,
            secret_name=deploy_key.secret_name,
        ),
        pulumi.ResourceOptions.merge(
            on_cluster,
            pulumi.ResourceOptions(
                depends_on=[
                    *toolkit.ready,
                    # A created repository's branch and path: the sync has nothing to apply before.
                    repository,
                    *identities,
                    deploy_key,
                    credentials,
                    *([commit_status] if commit_status else []),
                    # A claim without storageClassName needs the default class to be bound; and on
                    # destroy, what Flux prunes (volumes among it) goes while the storage driver and
                    # everything workloads authenticate with still work.
                    storage,
                    *cluster.workload_identity,
                ]
            ),
        ),
    )

    if settings.webhook.enabled:
        webhook = Webhook(
            "webhook",
            WebhookArgs(
                namespace=namespace,
                repository=repository.name,
                exposure=Exposure(settings.webhook.hostname, settings.webhook.certificate_arn),
            ),
            pulumi.ResourceOptions.merge(
                after_toolkit,
                pulumi.ResourceOptions(
                    providers=[
                        random.Provider("random"),
                        github_provider_,
                        cluster.kubernetes_provider,
                    ]
                ),
            ),
        )
        pulumi.export("webhookUrl", webhook.url)

    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("endpoint", cluster.endpoint)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
    pulumi.export("nodeRoleArn", cluster.node_role_arn)
    pulumi.export("deployKeyPublicKey", deploy_key.public_key)
    if flux_identity is not None and flux_identity.sops_key_arn is not None:
        pulumi.export("sopsKeyArn", flux_identity.sops_key_arn)
        pulumi.export("kustomizeControllerRoleArn", flux_identity.kustomize_controller_role_arn)
    pulumi.export("syncPath", sync.path)
    pulumi.export("syncedRevision", sync.synced_revision)


def _toolkit(
    settings: StackConfig,
    manifest: InstallManifest | None,
    operator: InstallManifest | None,
    opts: pulumi.ResourceOptions,
) -> Toolkit:
    toolkit = settings.toolkit
    patches = tuple(KustomizePatch(patch.patch, patch.target) for patch in toolkit.patches)
    args = ToolkitArgs(
        namespace=toolkit.namespace,
        components=toolkit.components,
        manifest=manifest,
        patches=patches,
        operator=OperatorArgs(
            manifest=operator,
            instance=InstanceArgs(
                flux_version=toolkit.version,
                components=toolkit.components,
                patches=patches,
                reconcile_timeout=settings.sync.timeout,
                suspended=toolkit.hand_over,
            ),
            ready_timeout_seconds=settings.sync.ready_timeout_seconds,
        )
        if toolkit.installer == OPERATOR_INSTALLER
        else None,
        retain_on_delete=toolkit.hand_over,
    )
    if toolkit.hand_over:
        pulumi.log.warn(
            f"{HAND_OVER_KEY} is on: the {toolkit.installer} installer's objects are recorded "
            f"retain-on-delete, ready for the next run to switch {INSTALLER_KEY}; turn it off after "
            "that run (docs/installers.md)"
        )
    try:
        return Toolkit("toolkit", args, opts)
    except PatchError as error:
        raise ConfigError(
            f"{PATCHES_KEY}[{error.index}]",
            dict(toolkit.patches[error.index].target),
            f"a patch kustomize can apply to a toolkit object and that changes it ({error.reason})",
        ) from None
    except KustomizeUnavailable as error:
        raise pulumi.RunError(str(error)) from None


def main() -> None:
    """`pulumi up`: the running stack's settings and secrets, the manifests (downloaded if need be)."""
    loaded = load()
    declare(
        loaded.settings,
        loaded.secrets,
        flux_manifest(loaded.settings),
        operator_manifest(loaded.settings),
    )
