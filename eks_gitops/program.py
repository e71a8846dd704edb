"""The stack: what one `pulumi up` declares, from the stack's parsed settings, its secrets and the Flux
release manifest. `pulumi up` runs `main` (through `__main__.py`); the offline plan calls `declare`
under the mock engine with the same settings, placeholder secrets and a manifest file or none."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pulumi_tls as tls

from eks_gitops import policy
from eks_gitops.aws.cluster import Cluster, ClusterArgs
from eks_gitops.aws.flux_identity import FluxIdentity, FluxIdentityArgs
from eks_gitops.aws.network import Network, NetworkArgs
from eks_gitops.credentials import AppCredentials, AppCredentialsArgs, AppSecret
from eks_gitops.flux.commit_status import CommitStatus, CommitStatusArgs, GitHubApp
from eks_gitops.flux.release import (
    InstallManifest,
    ManifestChecksumError,
    ManifestUnavailable,
    default_cache_dir,
    load_install_manifest,
)
from eks_gitops.flux.sync import Sync, SyncArgs, repository_url
from eks_gitops.flux.toolkit import Toolkit, ToolkitArgs
from eks_gitops.flux.webhook import Exposure, Webhook, WebhookArgs
from eks_gitops.github.deploy_key import DeployKey, DeployKeyArgs, deploy_key_title
from eks_gitops.github.provider import github_provider
from eks_gitops.github.repository import Repository, RepositoryArgs
from eks_gitops.settings.load import load
from eks_gitops.settings.model import (
    MANIFESTS_FILE_KEY,
    MANIFESTS_SHA256_KEY,
    MISSING,
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
    pinned = toolkit.manifests_sha256 is not None
    if download and settings.is_production and not pinned:
        raise ConfigError(
            MANIFESTS_SHA256_KEY,
            MISSING,
            f"the SHA-256 of the Flux {toolkit.version} install manifest: production applies no "
            f"unpinned manifest; run `{pin_command(settings.stack)}` and commit the stack file",
        )
    configured = Path(toolkit.manifests_file) if toolkit.manifests_file else None
    try:
        manifest = load_install_manifest(
            toolkit.version,
            file=file or configured,
            expected_sha256=toolkit.manifests_sha256,
            cache_dir=default_cache_dir(),
            allow_network=download,
        )
    except ManifestUnavailable as error:
        if not download:
            return None
        raise pulumi.RunError(
            f"{error}. To work offline, download that file elsewhere and point "
            f"{MANIFESTS_FILE_KEY} at it, or pass --flux-manifests FILE to the plan."
        ) from None
    except (ManifestChecksumError, OSError) as error:
        raise pulumi.RunError(f"Flux {toolkit.version} manifest: {error}") from None
    if not pinned:
        pulumi.log.warn(
            f"{MANIFESTS_SHA256_KEY} is not set: the Flux {toolkit.version} install manifest "
            f"from {manifest.origin} has SHA-256 {manifest.sha256}, trusted on first use. "
            f"Pin it with `{pin_command(settings.stack)}`."
        )
    return manifest


def declare(
    settings: StackConfig, secrets: SecretSettings, manifest: InstallManifest | None
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
    toolkit = Toolkit(
        "toolkit",
        ToolkitArgs(namespace=namespace, components=settings.toolkit.components, manifest=manifest),
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


def main() -> None:
    """`pulumi up`: the running stack's settings and secrets, the manifest (downloaded if need be)."""
    loaded = load()
    declare(loaded.settings, loaded.secrets, flux_manifest(loaded.settings))
