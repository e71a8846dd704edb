"""The SSH Secret the program declares, tried for real: a throwaway SSH server authorises exactly
the planned deploy key, and `git clone` over SSH uses nothing but the Secret's `identity` and
`known_hosts`.

The client side is the real OpenSSH `ssh` and `git` (Debian's openssh-client and git). The server is
asyncssh, pinned in requirements-dev.txt, so no sshd is needed; it runs `git upload-pack` or
`git receive-pack` for the exec request, as a Git host's sshd does. A missing tool or package fails
these tests rather than skipping them.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from eks_gitops.settings.model import DEPLOY_KEY_ALGORITHMS
from tests.conftest import ENVIRONMENTS, repo_plan, ssh_secret
from tools.offline.engine import RecordedResource
from tools.plan import Plan

HOST = "127.0.0.1"
SECRET_TYPE = "kubernetes:core/v1:Secret"
DEPLOY_KEY_TYPE = "github:index/repositoryDeployKey:RepositoryDeployKey"
COMMAND_TIMEOUT = 30
STARTUP_TIMEOUT = 10.0
GIT_SERVICES = ("git-upload-pack", "git-receive-pack")
CHUNK = 64 * 1024

T = TypeVar("T")


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


@dataclass
class _Connections:
    """Live client connections: closing the listener leaves them open, so teardown closes them."""

    open: set[asyncssh.SSHServerConnection] = field(default_factory=set)


class _DeployKeyAuth(asyncssh.SSHServer):
    """Public-key authentication only, for one user, against the keys in `authorized_keys` as they
    are when the client asks (the test authorises a key after the server is up)."""

    def __init__(self, user: str, authorized_keys: Path, connections: _Connections) -> None:
        self._user = user
        self._authorized_keys = authorized_keys
        self._connections = connections
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._connections.open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._connections.open.discard(self._connection)

    def begin_auth(self, username: str) -> bool:
        # False would let the client in without any authentication.
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # asyncssh checks the client's signature itself; this only says whether the key may log in.
        if username != self._user:
            return False
        lines = self._authorized_keys.read_text().splitlines()
        authorized = {
            asyncssh.import_public_key(line).public_data for line in lines if line.strip()
        }
        return key.public_data in authorized


async def _copy(read: Callable[[int], Any], write: Callable[[bytes], None], drain: Any) -> None:
    while data := await read(CHUNK):
        write(data)
        await drain()


def _git_service(repository: Path, log: logging.Logger) -> Callable[..., Coroutine[Any, Any, None]]:
    """The exec request of a Git host: `git-upload-pack '<path>'` or `git-receive-pack '<path>'`
    for the one repository served, run by git with the channel as its stdin, stdout and stderr."""

    async def serve(process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        log.info("exec %r", command)
        argv = shlex.split(command)
        if len(argv) != 2 or argv[0] not in GIT_SERVICES or Path(argv[1]) != repository:
            process.stderr.write(f"not a git command for {repository}: {command!r}\n".encode())
            process.exit(128)
            return
        environment = dict(os.environ)
        # OpenSSH sends GIT_PROTOCOL when git asks it to (SendEnv); it selects protocol v2.
        if "GIT_PROTOCOL" in process.env:
            environment["GIT_PROTOCOL"] = process.env["GIT_PROTOCOL"]
        git = await asyncio.create_subprocess_exec(
            "git",
            argv[0].removeprefix("git-"),
            str(repository),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        assert git.stdin is not None and git.stdout is not None and git.stderr is not None

        async def feed_stdin() -> None:
            assert git.stdin is not None
            try:
                await _copy(process.stdin.read, git.stdin.write, git.stdin.drain)
                git.stdin.close()
            except (OSError, asyncssh.Error):
                # git may finish without reading all of its input, or the client may hang up.
                pass

        feeding = asyncio.create_task(feed_stdin())
        try:
            # Every byte git wrote must be on the channel before the exit status closes it.
            await asyncio.gather(
                _copy(git.stdout.read, process.stdout.write, process.stdout.drain),
                _copy(git.stderr.read, process.stderr.write, process.stderr.drain),
            )
            status = await git.wait()
        finally:
            feeding.cancel()
            if git.returncode is None:
                git.kill()
                await git.wait()
        log.info("%s exited with %d", argv[0], status)
        process.exit(status)

    return serve


class _LoopThread:
    """An asyncio loop of its own on a background thread, so the server answers while the test
    blocks in subprocess.run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="git-ssh-server", daemon=True
        )
        self._thread.start()

    def call(self, awaitable: Awaitable[T], timeout: float = STARTUP_TIMEOUT) -> T:
        # asyncssh.create_server returns an awaitable that is not a coroutine object.
        async def wait() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result(timeout)

    def stop(self) -> None:
        async def cancel_leftovers() -> None:
            current = asyncio.current_task()
            leftovers = [task for task in asyncio.all_tasks() if task is not current]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

        try:
            self.call(cancel_leftovers())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(STARTUP_TIMEOUT)
            if not self._thread.is_alive():
                self.loop.close()


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    """An SSH server on a free loopback port with its own host key, letting in only the key
    `authorize` wrote, serving one bare repository; stopped when the test ends."""
    required_tool("ssh-keygen", "openssh-client")
    required_tool("git", "git")
    server_dir = tmp_path / "ssh-server"
    server_dir.mkdir()
    host_key_file, host_key = new_host_key(server_dir, "host_ed25519")
    authorized_keys = server_dir / "authorized_keys"
    authorized_keys.write_text("")
    repository, commit = bare_repository_with_one_commit(tmp_path / "origin")

    log = server_dir / "server.log"
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    server_log = logging.getLogger("tests.git_ssh_server")
    loggers = (logging.getLogger("asyncssh"), server_log)
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    connections = _Connections()
    loop = _LoopThread()
    try:
        acceptor = loop.call(
            asyncssh.create_server(
                lambda: _DeployKeyAuth(getpass.getuser(), authorized_keys, connections),
                HOST,
                0,
                server_host_keys=[str(host_key_file)],
                process_factory=_git_service(repository, server_log),
                encoding=None,
                gss_host=None,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )
        )

        async def shut_down() -> None:
            acceptor.close()
            await acceptor.wait_closed()
            for connection in list(connections.open):
                connection.close()
                await connection.wait_closed()

        try:
            yield GitServer(acceptor.get_port(), host_key, authorized_keys, repository, commit, log)
        finally:
            loop.call(shut_down(), timeout=COMMAND_TIMEOUT)
    finally:
        loop.stop()
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        handler.close()


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

    assert result.returncode == 0, f"{result.stderr}\nserver: {git_server.log.read_text()}"
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
