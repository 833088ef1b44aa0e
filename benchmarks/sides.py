"""The two sides of a comparison: a commit, checked out into a cached worktree, or a source tree timed as it is; and
their names (a commit, a commit plus a hash of its uncommitted change, or a hash of a tree git cannot name).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from rounds import CompareError, Side

ROOT = Path(__file__).resolve().parents[1]
WORKTREES = Path(os.environ.get("WGAN_WORKTREES", Path.home() / ".cache" / "wgan-suite" / "worktrees"))


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    except OSError:
        raise CompareError("git is not available here: give source trees instead of commits") from None
    if out.returncode:
        raise CompareError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"git {' '.join(args)} failed")
    return out.stdout.strip()


def tree_name(folder: Path, paths: tuple[str, ...] = ("wgan_core",)) -> str:
    """A checkout's short commit, plus `+` and a hash of its uncommitted changes under `paths` (a content name: a changed
    tree measured twice with different changes is two sides, not one)."""
    name = _git("rev-parse", "--short=7", "HEAD", cwd=folder)
    diff = subprocess.run(["git", "-C", str(folder), "diff", "HEAD", "--", *paths], capture_output=True).stdout
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", *paths, cwd=folder).split()
    for path in sorted(untracked):
        diff += path.encode() + (folder / path).read_bytes()
    return name + (f"+{hashlib.sha1(diff).hexdigest()[:7]}" if diff else "")


def content_hash(folder: Path) -> str:
    """A hash of every file under folder/wgan_core (paths and bytes): the name of a tree git cannot name."""
    h = hashlib.sha1()
    for path in sorted(p for p in (folder / "wgan_core").rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:7]


def resolve(ref: str, repo: Path = ROOT) -> Side:
    """A commit (checked out into a cached worktree) or a folder holding wgan_core/ (timed as it is)."""
    folder = Path(ref)
    if folder.is_dir() and folder.resolve() == ROOT and os.environ.get("WGAN_GIT_COMMIT"):  # gpu.py's --commit: a copy's .git may lie
        commit = os.environ["WGAN_GIT_COMMIT"]
        if "+" in commit or commit == "unknown":  # a changed or unnamed tree: named by its content, not by a shared word
            commit = commit.split("+")[0] + "+" + content_hash(ROOT)
        return Side(commit, ROOT)
    if folder.is_dir():
        if not (folder / "wgan_core" / "__init__.py").is_file():
            raise CompareError(f"--compare: {ref} is a folder without wgan_core/; give a commit or a source tree")
        try:
            if Path(_git("rev-parse", "--show-toplevel", cwd=folder)).resolve() != folder.resolve():
                raise CompareError("a folder inside another checkout: not that checkout's commit")
            name = tree_name(folder)
        except (CompareError, OSError):  # not a checkout of its own: named by its folder and its content
            name = f"{folder.resolve().name}+{content_hash(folder)}"
        return Side(name, folder.resolve())
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo)
    except CompareError:
        raise CompareError(f"--compare: unknown commit {ref!r} (not in {repo}'s git history, and no such folder)") from None
    tree = WORKTREES / sha[:12]
    if not (tree / "wgan_core" / "__init__.py").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        _git("worktree", "add", "--detach", "--force", str(tree), sha, cwd=repo)
        if not (tree / "wgan_core" / "__init__.py").is_file():
            raise CompareError(f"--compare: commit {ref} has no wgan_core/ to time")
    return Side(sha[:7], tree)


__all__ = ["WORKTREES", "content_hash", "resolve", "tree_name"]
