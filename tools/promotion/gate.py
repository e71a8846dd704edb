"""Whether an environment reported success for the pins it is about to hand on.

Two signals, each a GitHub commit status (contexts from eks_gitops.flux.commit_status):
- the cluster's notification-controller posts one on the revisions its bootstrap Kustomization
  applies, `success` once the whole tree is Ready. It says nothing of the pins only `pulumi up`
  applies (Kubernetes, add-on and Flux versions): it posts for whatever revision Flux applied
  (fluxcd/notification-controller internal/notifier/github.go: the state comes from the event's
  severity, the commit from its revision);
- the pipeline's `pulumi up` job posts one on the commit it applied.
A report may sit on the commit that last changed the pins or on any later commit of the branch's
first-parent history (the tips the branch had) up to HEAD, all of which carry the same pins: Flux
applies a branch's tip, and may have skipped the commit that changed the pins. For each signal the
newest commit with a report from it decides, and both must be `success`; at most MAX_LOOKUPS
commits are asked about.
"""

from __future__ import annotations

import functools
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# One request per commit; GitHub allows 5000 an hour to a token. Twenty commits cover the reconcile
# delay of a busy branch; an older success is a reason to look, not to promote.
MAX_LOOKUPS: Final = 20
TIMEOUT_SECONDS: Final = 10
GITHUB_API: Final = "https://api.github.com/"


class GateError(Exception):
    """The environment's success could not be established; the message is one line saying why."""


def git(root: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        detail = (completed.stderr.strip().splitlines() or ["failed"])[0]
        raise GateError(f"git {' '.join(args[:2])}: {detail}")
    return completed.stdout


def committed_text(root: Path, revision: str, path: str) -> str | None:
    completed = subprocess.run(
        # `./`: the path is from root, which need not be the top of the work tree.
        ["git", "-C", str(root), "show", f"{revision}:./{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout if completed.returncode == 0 else None


PinsReader = Callable[[Callable[[str], str | None]], object]
"""Reads an environment's pins through a function giving a file's text (None when absent)."""


def commits_carrying_pins(root: Path, paths: Sequence[str], read_pins: PinsReader) -> list[str]:
    """HEAD's first-parent history back to the commit that gave the files under `paths` the pins
    they have at HEAD, newest first, at most MAX_LOOKUPS long. Refuses pins not yet committed."""
    head = read_pins(functools.partial(committed_text, root, "HEAD"))
    if read_pins(functools.partial(_working_text, root)) != head:
        raise GateError(
            "the pins in the working tree are not committed; GitHub can only vouch for a commit"
        )
    # `--first-parent` keeps to the tips the branch had; a merge that changed the pins counts as
    # the commit that changed them.
    changed = git(root, "log", "--first-parent", "--format=%H", "HEAD", "--", *paths).split()
    carrier = next(
        (
            sha
            for sha in changed
            if read_pins(functools.partial(committed_text, root, f"{sha}^")) != head
        ),
        None,
    )
    if carrier is None:
        raise GateError(f"no commit holds {', '.join(paths)}")
    history = git(root, "rev-list", "--first-parent", f"--max-count={MAX_LOOKUPS}", "HEAD").split()
    return history[: history.index(carrier) + 1] if carrier in history else history


def _working_text(root: Path, path: str) -> str | None:
    file = root / path
    return file.read_bytes().decode("utf-8") if file.is_file() else None


@dataclass(frozen=True)
class StatusSource:
    """Where an environment's commit statuses are read: the repository it syncs, on its GitHub."""

    api_url: str
    owner: str
    repository: str
    contexts: tuple[str, ...]
    """Every one must report success."""
    token: str

    def statuses_url(self, sha: str) -> str:
        # GitHub REST "List commit statuses for a reference": newest first, so the first status
        # with a context is its latest (docs.github.com/en/rest/commits/statuses).
        base = self.api_url.rstrip("/")
        return f"{base}/repos/{self.owner}/{self.repository}/commits/{sha}/statuses?per_page=100"


class _CommitNotFoundError(Exception):
    pass


def latest_states(source: StatusSource, sha: str) -> dict[str, str]:
    """The state of the newest status of each of source's contexts on sha (absent: no status)."""
    request = urllib.request.Request(
        source.statuses_url(sha),
        headers={
            "Authorization": f"Bearer {source.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "eks-gitops-promote",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            statuses = json.load(response)
    except urllib.error.HTTPError as error:
        # 404 (and 422) are GitHub's answer for a commit it does not have, such as one not pushed;
        # the same 404 hides a repository the token cannot read, so the caller reports both.
        if error.code in (404, 422):
            raise _CommitNotFoundError from error
        raise GateError(
            f"GitHub answered HTTP {error.code} {error.reason} for {source.statuses_url(sha)}"
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise GateError(f"could not reach GitHub at {source.api_url}: {reason}") from error
    except ValueError as error:
        raise GateError(f"GitHub's answer for {sha[:12]} is not JSON: {error}") from error
    if not isinstance(statuses, list):
        raise GateError(f"GitHub's answer for {sha[:12]} is not a list of statuses")
    states: dict[str, str] = {}
    for status in statuses:
        if isinstance(status, dict) and status.get("context") in source.contexts:
            states.setdefault(str(status["context"]), str(status.get("state")))
    return states


def verified_commit(source: StatusSource, commits: Sequence[str], environment: str) -> str:
    """The newest commit on which the environment reported success; GateError unless every
    context's newest report on these commits is a success."""
    newest: dict[str, tuple[str, str]] = {}
    not_found = 0
    for sha in commits:
        try:
            states = latest_states(source, sha)
        except _CommitNotFoundError:
            not_found += 1
            continue
        for context, state in states.items():
            newest.setdefault(context, (sha, state))
        if len(newest) == len(source.contexts):
            break
    for context in source.contexts:
        if context not in newest:
            span = f"{commits[-1][:12]}..{commits[0][:12]}" if len(commits) > 1 else commits[0][:12]
            missing = (
                f"; GitHub knew {len(commits) - not_found} of them (unpushed commits, or a token "
                f"that cannot read {source.owner}/{source.repository})"
                if not_found
                else ""
            )
            raise GateError(
                f"no {context} status on the {len(commits)} commit(s) carrying {environment}'s "
                f"pins ({span}){missing}"
            )
        sha, state = newest[context]
        if state != "success":
            raise GateError(
                f"{context} is {state} on {sha[:12]}, the newest commit carrying "
                f"{environment}'s pins that it reported on"
            )
    return min((newest[context][0] for context in source.contexts), key=commits.index)
