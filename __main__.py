"""eks-gitops: reads the stack's settings and wires the components together. No logic lives here."""

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pulumi_tls as tls

import guardrails
import providers
from blueprints.deploy_key import deploy_key_title
from components.app_credentials import SUMOLOGIC_SECRET, AppCredentials, AppCredentialsArgs
from components.cluster import Cluster, ClusterArgs
from components.commit_status import CommitStatus, CommitStatusArgs
from components.deploy_key import DeployKey, DeployKeyArgs
from components.network import Network, NetworkArgs
from components.repository import Repository, RepositoryArgs
from components.sync import Sync, SyncArgs
from components.toolkit import Toolkit, ToolkitArgs
from components.webhook import Webhook, WebhookArgs
from flux.release import obtain_manifest
from settings.load import load as load_settings

loaded = load_settings()
settings = loaded.settings
guardrails.enforce(settings)
namespace = settings.toolkit.namespace
# Before anything is declared: an unpinned manifest on prod stops the run with nothing changed.
flux_manifest = obtain_manifest(
    settings.toolkit,
    stack=settings.stack,
    production=settings.is_production,
    offline=loaded.runtime.offline,
    cache_dir=loaded.runtime.flux_cache_dir,
)

aws_provider = aws.Provider(
    "aws", region=settings.region, default_tags={"tags": dict(settings.tags)}
)
github_provider = providers.github_provider(
    "github", owner=settings.github.owner, base_url=settings.github.api_url
)
# Default providers are disabled (Pulumi.yaml); TLS needs no configuration, only a name.
tls_provider = tls.Provider("tls")

network = Network(
    "network",
    NetworkArgs(
        cluster_name=settings.cluster.name, config=settings.network, aws_provider=aws_provider
    ),
)
cluster = Cluster(
    "cluster",
    ClusterArgs(
        config=settings.cluster,
        region=settings.region,
        network=network,
        aws_provider=aws_provider,
        tags=settings.tags,
    ),
)
toolkit = Toolkit(
    "toolkit",
    ToolkitArgs(
        config=settings.toolkit,
        manifest=flux_manifest,
        kubernetes_provider=cluster.kubernetes_provider,
        depends_on=[cluster.node_group],
    ),
)
repository = Repository(
    "repository", RepositoryArgs(config=settings.github, github_provider=github_provider)
)
deploy_key = DeployKey(
    "deploy-key",
    DeployKeyArgs(
        config=settings.deploy_key,
        github=settings.github,
        repository=repository.name,
        title=deploy_key_title(
            settings.cluster.name,
            namespace,
            settings.sync.branch,
            settings.sync.path,
            settings.deploy_key.generation,
        ),
        namespace=namespace,
        github_provider=github_provider,
        tls_provider=tls_provider,
        kubernetes_provider=cluster.kubernetes_provider,
        depends_on=toolkit.namespaces,
    ),
)
credentials = AppCredentials(
    "app-credentials",
    AppCredentialsArgs(
        namespace=namespace,
        secrets={
            SUMOLOGIC_SECRET: {
                "accessId": loaded.secrets.sumologic_access_id,
                "accessKey": loaded.secrets.sumologic_access_key,
            }
        },
        kubernetes_provider=cluster.kubernetes_provider,
        depends_on=toolkit.namespaces,
    ),
)
# Declared before the sync so the Alert is in place for the first revision the cluster applies.
# The settings loader hands over a credential exactly when notifications.commitStatuses is on.
commit_status = (
    CommitStatus(
        "commit-status",
        CommitStatusArgs(
            config=settings.notifications,
            github=settings.github,
            environment=settings.environment,
            namespace=namespace,
            credential=loaded.secrets.commit_status_credential,
            kubernetes_provider=cluster.kubernetes_provider,
            depends_on=toolkit.ready,
        ),
    )
    if loaded.secrets.commit_status_credential is not None
    else None
)
sync = Sync(
    "sync",
    SyncArgs(
        config=settings.sync,
        github=settings.github,
        namespace=namespace,
        secret_name=deploy_key.secret_name,
        kubernetes_provider=cluster.kubernetes_provider,
        depends_on=[
            *toolkit.ready,
            deploy_key.secret,
            deploy_key.deploy_key,
            *credentials.secrets,
            *(commit_status.resources if commit_status else []),
        ],
    ),
)

if settings.webhook.enabled:
    webhook = Webhook(
        "webhook",
        WebhookArgs(
            config=settings.webhook,
            namespace=namespace,
            repository=repository.name,
            # Like TLS, random needs no configuration, only a name.
            random_provider=random.Provider("random"),
            github_provider=github_provider,
            kubernetes_provider=cluster.kubernetes_provider,
            depends_on=toolkit.ready,
            service_depends_on=[network, *toolkit.namespaces],
        ),
    )
    pulumi.export("webhookUrl", webhook.url)

pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("endpoint", cluster.endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("nodeRoleArn", cluster.node_role_arn)
pulumi.export("deployKeyPublicKey", deploy_key.public_key)
pulumi.export("syncPath", sync.path)
pulumi.export("syncedRevision", sync.synced_revision)
