"""Claims: one process at a time per run of a study, across invocations and hosts.

Owns DIR/.claims/<run_id> (who is running that run now: host, pid, start time), the
heartbeat that keeps a claim fresh, and the staleness rule by which a claim whose
process died (kill -9, a lost node) is taken over, so nothing blocks a restart.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

CLAIMS = ".claims"
# A claim from another host is stale when its heartbeat (the file's mtime, touched
# every HEARTBEAT_S by the process that holds it) is older than this.
STALE_AFTER_S = 600.0
HEARTBEAT_S = 30.0


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), '' where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _proc_start(pid)
    return not (start and now and now != start)  # a different start time: the pid was reused


def claim_is_live(info: dict[str, Any], mtime: float) -> bool:
    """On this host: the claiming process still exists. Elsewhere: its heartbeat is recent."""
    if info.get("host") == socket.gethostname():
        return _pid_alive(int(info.get("pid", -1)), str(info.get("start", "")))
    return time.time() - mtime < STALE_AFTER_S


class Claim:
    """DIR/.claims/<run_id>: created with O_EXCL under a short flock of DIR/.claims/.guard.

    Holds {host, pid, start, token}. A claim whose process is gone (same host: the pid
    no longer exists or was reused; another host: no heartbeat for STALE_AFTER_S) is
    stale and is taken over, so a kill -9 leaves nothing that blocks a restart.
    """

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        try:
            if json.loads(self.path.read_text()).get("token") == self.token:
                self.path.unlink()
        except (OSError, json.JSONDecodeError):
            pass

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def try_claim(root: Path, run_id: str) -> Claim | dict[str, Any]:
    """A Claim on the run, or (when a live process holds it) that holder's claim info."""
    claims = Path(root) / CLAIMS
    claims.mkdir(parents=True, exist_ok=True)
    path = claims / run_id
    with open(claims / ".guard", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # serialises inspect-break-create among claimers
        try:
            try:
                info = json.loads(path.read_text())
                if claim_is_live(info, path.stat().st_mtime):
                    return info
                path.unlink()  # stale: its process died (kill -9, node failure)
            except FileNotFoundError:
                pass
            except (OSError, json.JSONDecodeError):
                path.unlink(missing_ok=True)  # half-written by a process killed mid-write
            pid = os.getpid()
            token = f"{socket.gethostname()}:{pid}:{time.time_ns()}"
            info = {"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid), "token": token, "since": time.time()}
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            return Claim(path, token)
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


__all__ = ["CLAIMS", "HEARTBEAT_S", "STALE_AFTER_S", "Claim", "claim_is_live", "try_claim"]
