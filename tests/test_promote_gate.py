"""`make promote` writes nothing until GitHub says the source environment reported success on a
commit carrying the pins it hands on, both from its cluster's Flux and from its `pulumi up`. Run against a throwaway git repository and a fake GitHub
REST API on 127.0.0.1.

What the fake answers follows GitHub's REST reference, "List commit statuses for a reference"
(docs.github.com/en/rest/commits/statuses): GET /repos/{owner}/{repo}/commits/{ref}/statuses, a JSON
list newest first, each status with `state` (error, failure, pending or success) and `context`.
Flux's notification-controller posts `success` for an info event and `failure` for an error one,
and nothing for Progressing (fluxcd/notification-controller internal/notifier/github.go).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.gitops_support import commit, copy_project, edit, git, snapshot
from tools.paths import REPO_ROOT
from tools.promotion.command import main

TOKEN = "github_pat_fake_for_tests"
OWNER, REPOSITORY = "acme-platform", "eks-gitops"  # what Pulumi.dev.yaml names
DEV = "eks-gitops/dev/Kustomization/gitops-system"
# What the pipeline's `pulumi up` job for dev posts on the commit it applied.
DEV_UP = "eks-gitops/dev/pulumi"
QA = "eks-gitops/qa/Kustomization/gitops-system"
STATUSES = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([0-9a-f]{40})/statuses\?per_page=100$")


@dataclass
class FakeGitHub:
    """Statuses by commit, newest first. Commits not in `pushed` are unknown to it (HTTP 404)."""

    url: str = ""
    pushed: set[str] = field(default_factory=set)
    statuses: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    fail_with: int | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def post(self, sha: str, context: str, state: str) -> None:
        status = {"state": state, "context": context, "description": f"{state} from the test"}
        self.statuses.setdefault(sha, []).insert(0, status)

    def requested_commits(self) -> list[str]:
        return [match[3] for path, _ in self.requests if (match := STATUSES.match(path))]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append((self.path, self.headers.get("Authorization")))
            match = STATUSES.match(self.path)
            if fake.fail_with is not None:
                self.answer(fake.fail_with, {"message": "Bad credentials"})
            elif match is None or (match[1], match[2]) != (OWNER, REPOSITORY):
                self.answer(404, {"message": "Not Found"})
            elif match[3] not in fake.pushed:
                self.answer(404, {"message": f"No commit found for SHA: {match[3]}"})
            else:
                self.answer(200, fake.statuses.get(match[3], []))

        def answer(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass(frozen=True)
class Repo:
    root: Path
    base: str  # dev and qa on Flux v2.9.4
    pin: str  # dev moves to Flux v2.10.0
    later: str  # dev's node group grows; its pins stay


@pytest.fixture
def repo(tmp_path: Path, github: FakeGitHub) -> Repo:
    root = copy_project(tmp_path / "repo")
    git(root, "init", "-q", "-b", "main")
    base = commit(root, "base")
    edit(root / "Pulumi.dev.yaml", "    version: v2.9.4\n", "    version: v2.10.0\n")
    pin = commit(root, "dev: Flux v2.10.0")
    edit(root / "Pulumi.dev.yaml", "      maxSize: 3\n", "      maxSize: 5\n")
    later = commit(root, "dev: one more node")
    github.pushed.update((base, pin, later))
    return Repo(root, base, pin, later)


def promote(repo: Repo, api_url: str, monkeypatch: pytest.MonkeyPatch, token: str = TOKEN) -> int:
    if token:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    else:
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    argv = ["--from", "dev", "--to", "qa", "--root", str(repo.root), "--github-api-url", api_url]
    return main(argv)


def qa_flux_version(repo: Repo) -> str:
    text = (repo.root / "Pulumi.qa.yaml").read_text()
    return re.findall(r"^    version: (\S+)$", text, re.M)[0]


def test_success_on_the_commit_that_changed_the_pins_promotes(
    repo: Repo, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.post(repo.pin, DEV_UP, "success")
    github.post(repo.pin, DEV, "success")
    assert promote(repo, github.url, monkeypatch) == 0
    assert qa_flux_version(repo) == "v2.10.0"
    # Newest first, down to the commit that changed the pins, with the token as a bearer token.
    assert github.requested_commits() == [repo.later, repo.pin]
    assert {auth for _, auth in github.requests} == {f"Bearer {TOKEN}"}
    # dev's node group is dev's own.
    assert "      maxSize: 5\n" not in (repo.root / "Pulumi.qa.yaml").read_text()


def test_success_on_a_later_commit_with_the_same_pins_promotes(
    repo: Repo, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dev applied only the tip: Flux posts on the revisions a cluster applies; `pulumi up` ran on
    # the commit that changed the pins.
    github.post(repo.pin, DEV_UP, "success")
    github.post(repo.later, QA, "failure")
    github.post(repo.later, DEV, "failure")
    github.post(repo.later, DEV, "success")
    assert promote(repo, github.url, monkeypatch) == 0
    assert qa_flux_version(repo) == "v2.10.0"
    assert github.requested_commits() == [repo.later, repo.pin]


def test_flux_success_without_the_up_status_is_refused(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Flux posts success for whatever revision it applied, whether or not `pulumi up -s dev` ever
    # applied the Kubernetes, add-on and Flux versions that revision pins.
    github.post(repo.later, DEV, "success")
    before = snapshot(repo.root)
    assert promote(repo, github.url, monkeypatch) == 2
    assert snapshot(repo.root) == before
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"refused: cannot verify dev: no {DEV_UP} status on the 2 commit(s)")


def test_up_success_with_a_flux_failure_is_refused(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.post(repo.pin, DEV_UP, "success")
    github.post(repo.later, DEV, "failure")
    before = snapshot(repo.root)
    assert promote(repo, github.url, monkeypatch) == 2
    assert snapshot(repo.root) == before
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"refused: cannot verify dev: {DEV} is failure on {repo.later[:12]}")


def test_an_up_failure_after_its_success_is_refused(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.post(repo.pin, DEV_UP, "success")
    github.post(repo.later, DEV_UP, "failure")
    github.post(repo.later, DEV, "success")
    assert promote(repo, github.url, monkeypatch) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert f"{DEV_UP} is failure on {repo.later[:12]}" in line


def refuse_cases() -> Iterator[object]:
    def failure(repo: Repo, github: FakeGitHub) -> None:
        github.post(repo.pin, DEV, "success")
        github.post(repo.later, DEV, "failure")

    def error(repo: Repo, github: FakeGitHub) -> None:
        github.post(repo.later, DEV, "error")

    def pending(repo: Repo, github: FakeGitHub) -> None:
        github.post(repo.later, DEV, "success")
        github.post(repo.later, DEV, "pending")

    def other_contexts_only(repo: Repo, github: FakeGitHub) -> None:
        github.post(repo.later, QA, "success")
        github.post(repo.pin, "ci/build", "success")

    def success_before_the_pins(repo: Repo, github: FakeGitHub) -> None:
        github.post(repo.base, DEV, "success")

    def not_pushed(repo: Repo, github: FakeGitHub) -> None:
        github.pushed.clear()

    def bad_credentials(repo: Repo, github: FakeGitHub) -> None:
        github.fail_with = 401

    yield pytest.param((failure, "is failure on"), id="failure")
    yield pytest.param((error, "is error on"), id="error")
    yield pytest.param((pending, "is pending on"), id="pending")
    yield pytest.param((other_contexts_only, f"no {DEV} status on the 2 commit(s)"), id="missing")
    yield pytest.param((success_before_the_pins, f"no {DEV} status"), id="older-pins")
    yield pytest.param((not_pushed, "GitHub knew 0 of them"), id="not-pushed")
    yield pytest.param((bad_credentials, "HTTP 401"), id="http-401")


@pytest.mark.parametrize("case", list(refuse_cases()))
def test_refuses_in_one_line_and_writes_nothing(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[Callable[[Repo, FakeGitHub], None], str],
) -> None:
    arrange, reason = case
    github.post(repo.pin, DEV_UP, "success")
    arrange(repo, github)
    before = snapshot(repo.root / "gitops"), (repo.root / "Pulumi.qa.yaml").read_bytes()
    assert promote(repo, github.url, monkeypatch) == 2
    assert (snapshot(repo.root / "gitops"), (repo.root / "Pulumi.qa.yaml").read_bytes()) == before
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("refused: cannot verify dev: ")
    assert reason in lines[0]
    # Never further back than the commit that changed the pins.
    assert repo.base not in github.requested_commits()


def test_unreachable_github_refuses(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    before = snapshot(repo.root)
    assert promote(repo, closed, monkeypatch) == 2
    assert snapshot(repo.root) == before
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"refused: cannot verify dev: could not reach GitHub at {closed}")


def test_without_a_token_it_refuses_before_asking(
    repo: Repo, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command line `make promote FROM=dev TO=qa` runs, as a process, with GITHUB_TOKEN unset.
    github.post(repo.pin, DEV_UP, "success")
    github.post(repo.pin, DEV, "success")
    before = snapshot(repo.root)
    environment = dict(os.environ)
    environment.pop("GITHUB_TOKEN", None)
    command = ["-m", "tools.promotion", "--from", "dev", "--to", "qa", "--root", str(repo.root)]
    completed = subprocess.run(
        [sys.executable, *command, "--github-api-url", github.url],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("refused: GITHUB_TOKEN is not set")
    assert snapshot(repo.root) == before
    assert git(repo.root, "status", "--porcelain") == ""
    assert github.requests == []


def test_unverified_asks_nothing_and_says_so(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    argv = ["--from", "dev", "--to", "qa", "--root", str(repo.root), "--unverified"]
    assert main([*argv, "--github-api-url", github.url]) == 0
    assert github.requests == []
    assert qa_flux_version(repo) == "v2.10.0"
    assert "UNVERIFIED" in capsys.readouterr().err


def test_uncommitted_source_pins_are_refused_before_asking(
    repo: Repo,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What GitHub vouches for is a commit; an edit in the working tree was neither reviewed nor
    # applied anywhere.
    github.post(repo.later, DEV_UP, "success")
    github.post(repo.later, DEV, "success")
    edit(repo.root / "Pulumi.dev.yaml", "    version: v2.10.0\n", "    version: v2.11.0\n")
    before = snapshot(repo.root)
    assert promote(repo, github.url, monkeypatch) == 2
    assert snapshot(repo.root) == before
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "refused: Pulumi.dev.yaml has changes that are not committed; promotion hands on only "
        "what is committed: commit or stash them first"
    )
    assert github.requests == []
