"""The SSH Secret the program declares, tried for real: a throwaway OpenSSH server authorises exactly
the planned deploy key, and `git clone` over SSH uses nothing but the Secret's `identity` and
`known_hosts`.

sshd, ssh and git are Debian's openssh-server, openssh-client and git; CI installs them, and a
missing one fails these tests rather than skipping them.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from settings.model import DEPLOY_KEY_ALGORITHMS
from tests.conftest import ENVIRONMENTS, repo_plan, ssh_secret
from tools.mocks import RecordedResource
from tools.plan import Plan

SSHD = Path("/usr/sbin/sshd")
# sshd started as root drops privileges into this empty directory; Debian's service unit creates it.
PRIVSEP_DIR = Path("/run/sshd")
HOST = "127.0.0.1"
SECRET_TYPE = "kubernetes:core/v1:Secret"
DEPLOY_KEY_TYPE = "github:index/repositoryDeployKey:RepositoryDeployKey"
COMMAND_TIMEOUT = 30
STARTUP_TIMEOUT = 10.0


def required_tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: apt-get install -y {package}")
    return found


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False, **kwargs
    )


def checked(command: list[str], **kwargs: Any) -> str:
    result = run(command, **kwargs)
    assert result.returncode == 0, f"{command} failed: {result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def new_host_key(directory: Path, name: str) -> tuple[Path, str]:
    """A fresh Ed25519 host key pair: the private key file and the public key as `TYPE BASE64`."""
    private = directory / name
    checked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(private)])
    key_type, key_base64 = Path(f"{private}.pub").read_text().split()[:2]
    return private, f"{key_type} {key_base64}"


@dataclass(frozen=True)
class GitServer:
    port: int
    host_key: str
    """The server's public host key, `TYPE BASE64` as the `github.knownHosts` config takes it."""
    authorized_keys: Path
    repository: Path
    commit: str
    log: Path

    def authorize(self, public_key: str) -> None:
        self.authorized_keys.write_text(public_key + "\n")


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sshd exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(
        f"sshd did not listen on {HOST}:{port} within {STARTUP_TIMEOUT}s: {log.read_text()}"
    )


def bare_repository_with_one_commit(directory: Path) -> tuple[Path, str]:
    work = directory / "work"
    checked(["git", "init", "-q", "-b", "main", str(work)])
    (work / "README").write_text("synced by Flux\n")
    checked(["git", "-C", str(work), "add", "README"])
    author = ("-c", "user.name=Test", "-c", "user.email=test@example.com")
    checked(["git", "-C", str(work), *author, "commit", "-q", "-m", "first"])
    commit = checked(["git", "-C", str(work), "rev-parse", "HEAD"]).strip()
    bare = directory / "repository.git"
    checked(["git", "clone", "-q", "--bare", str(work), str(bare)])
    return bare, commit


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    """sshd on a free loopback port with its own host key, letting in only the key `authorize` wrote,
    serving one bare repository; killed when the test ends."""
    if not SSHD.exists():
        pytest.fail(f"{SSHD} is missing: apt-get install -y openssh-server")
    required_tool("ssh-keygen", "openssh-client")
    required_tool("git", "git")
    server_dir = tmp_path / "sshd"
    server_dir.mkdir()
    host_key_file, host_key = new_host_key(server_dir, "host_ed25519")
    authorized_keys = server_dir / "authorized_keys"
    authorized_keys.write_text("")
    repository, commit = bare_repository_with_one_commit(tmp_path / "origin")
    port = free_port()
    config = server_dir / "sshd_config"
    config.write_text(
        "\n".join(
            (
                f"ListenAddress {HOST}",
                f"Port {port}",
                f"HostKey {host_key_file}",
                f"AuthorizedKeysFile {authorized_keys}",
                f"PidFile {server_dir / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                # The files live in pytest's temporary directory, not in a home sshd would check.
                "StrictModes no",
                "UsePAM no",
                f"AllowUsers {getpass.getuser()}",
                "",
            )
        )
    )
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    log = server_dir / "sshd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log_file, stderr=log_file
        )
    try:
        wait_until_listening(process, port, log)
        yield GitServer(port, host_key, authorized_keys, repository, commit, log)
    finally:
        process.kill()
        process.wait(timeout=COMMAND_TIMEOUT)


def secret_data(plan: Plan) -> dict[str, str]:
    data: dict[str, str] = ssh_secret(plan).plain_inputs["stringData"]
    return data


def deploy_key(plan: Plan) -> RecordedResource:
    [key] = plan.run.of_type(DEPLOY_KEY_TYPE)
    return key


def clone(
    server: GitServer, secret: dict[str, str], directory: Path
) -> subprocess.CompletedProcess[str]:
    """`git clone` over SSH with the Secret's identity and known_hosts and nothing else."""
    required_tool("ssh", "openssh-client")
    directory.mkdir()
    identity = directory / "identity"
    identity.write_text(secret["identity"])
    identity.chmod(0o600)
    host_file = directory / "known_hosts"
    host_file.write_text(secret["known_hosts"])
    ssh_command = " ".join(
        (
            "ssh -F /dev/null",
            f"-i {identity} -o IdentitiesOnly=yes",
            f"-o UserKnownHostsFile={host_file} -o GlobalKnownHostsFile=/dev/null",
            "-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10",
            f"-p {server.port} -l {getpass.getuser()}",
        )
    )
    environment = {
        key: value for key, value in os.environ.items() if key not in ("SSH_AUTH_SOCK", "GIT_SSH")
    }
    environment["GIT_SSH_COMMAND"] = ssh_command
    return run(
        ["git", "clone", f"{HOST}:{server.repository}", str(directory / "clone")], env=environment
    )


def serve_repository_from(
    port: int, host_key: str, algorithm: str
) -> Callable[[dict[str, Any]], None]:
    """Point the stack's Git host at the test server: its address, port and host key."""

    def edit(document: dict[str, Any]) -> None:
        config = document["config"]
        config["eks-gitops:github"]["host"] = HOST
        config["eks-gitops:github"]["sshPort"] = port
        config["eks-gitops:github"]["knownHosts"] = [host_key]
        config["eks-gitops:deployKey"]["algorithm"] = algorithm

    return edit


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_repository_stacks_register_a_read_only_deploy_key(stack: str) -> None:
    key = deploy_key(repo_plan(stack)).plain_inputs
    assert key["readOnly"] is True
    assert key["key"] == secret_data(repo_plan(stack))["identity.pub"].strip()


@pytest.mark.parametrize("algorithm", DEPLOY_KEY_ALGORITHMS)
def test_secret_clones_over_ssh_with_the_deploy_key(
    algorithm: str, git_server: GitServer, plan_edited: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = plan_edited(
        "dev", serve_repository_from(git_server.port, git_server.host_key, algorithm)
    )
    git_server.authorize(deploy_key(plan).plain_inputs["key"])
    secret = secret_data(plan)
    [source] = plan.run.of_type("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")
    assert (
        source.plain_inputs["spec"]["url"]
        == f"ssh://git@{HOST}:{git_server.port}/acme-platform/eks-gitops"
    )

    result = clone(git_server, secret, tmp_path / "client")

    assert result.returncode == 0, f"{result.stderr}\nsshd: {git_server.log.read_text()}"
    clone_dir = tmp_path / "client" / "clone"
    assert checked(["git", "-C", str(clone_dir), "rev-parse", "HEAD"]).strip() == git_server.commit
    assert (clone_dir / "README").read_text() == "synced by Flux\n"


def test_secret_for_another_host_key_is_refused(
    git_server: GitServer, plan_edited: Callable[..., Plan], tmp_path: Path
) -> None:
    _, impostor_key = new_host_key(tmp_path, "impostor_ed25519")
    plan = plan_edited("dev", serve_repository_from(git_server.port, impostor_key, "ecdsa-p384"))
    git_server.authorize(deploy_key(plan).plain_inputs["key"])
    secret = secret_data(plan)

    result = clone(git_server, secret, tmp_path / "client")

    assert result.returncode != 0
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr
    assert "Host key verification failed" in result.stderr
    assert not (tmp_path / "client" / "clone").exists()


def test_secret_of_a_key_github_does_not_hold_is_refused(
    git_server: GitServer, plan_edited: Callable[..., Plan], tmp_path: Path
) -> None:
    # The server holds generation 1's deploy key; a Secret of generation 2 carries another key.
    def serve_generation(generation: int) -> Callable[[dict[str, Any]], None]:
        def edit(document: dict[str, Any]) -> None:
            serve_repository_from(git_server.port, git_server.host_key, "ecdsa-p384")(document)
            document["config"]["eks-gitops:deployKey"]["generation"] = generation

        return edit

    git_server.authorize(deploy_key(plan_edited("dev", serve_generation(1))).plain_inputs["key"])
    secret = secret_data(plan_edited("dev", serve_generation(2)))

    result = clone(git_server, secret, tmp_path / "client")

    assert result.returncode != 0
    assert "Permission denied (publickey)" in result.stderr


def test_another_clusters_secret_is_refused(
    git_server: GitServer, plan_edited: Callable[..., Plan], tmp_path: Path
) -> None:
    # Two clusters on one repository hold two keys: qa's Secret cannot pull with dev's deploy key.
    serve = serve_repository_from(git_server.port, git_server.host_key, "ecdsa-p384")
    git_server.authorize(deploy_key(plan_edited("dev", serve)).plain_inputs["key"])

    result = clone(git_server, secret_data(plan_edited("qa", serve)), tmp_path / "client")

    assert result.returncode != 0
    assert "Permission denied (publickey)" in result.stderr
