"""Real network partitions for the cluster tests: one Linux bridge in the root namespace and one
network namespace per broker and per parley instance, each on a veth pair, all on one /24.

    root namespace:  bridge  <net>.1 (the test client)  <net>.2 (PostgreSQL listens here too)
    namespace k<N>:  eth0    <net>.1<N>   (Kafka broker N, scripts/kafka --hosts/--netns)
    namespace g<N>:  eth0    <net>.2<N>   (parley instance gN, `ip netns exec ... parley serve`)

This kernel has no netem, so a link is cut in one of two silent ways (no RST, no ICMP: what a
dead switch or a lost route looks like to the processes):
  - cut(node): the bridge side of the node's veth goes down; every frame to or from it is
    dropped, for every peer.
  - blackhole(node, ip): the node's neighbour entry for ip points at a MAC nobody has, so its
    frames to ip are dropped (the bridge floods them, every namespace ignores them). Done on
    both sides, it cuts exactly one pair of hosts and leaves the rest of the network alone.

Names carry a per-run id, so parallel runs do not collide; each run records its pid in
REGISTRY, and a later run deletes what a dead run left behind (namespaces, bridge, processes
still inside). Needs root and iproute2 (`ip`).
"""
from __future__ import annotations

import atexit
import ipaddress
import os
import random
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

REGISTRY = Path("/run/parley-netns") if os.access("/run", os.W_OK) else Path("/tmp/parley-netns")
PREFIX = "pz"  # every namespace and link of these tests starts with it
DEAD_MAC = "02:00:00:00:00:01"  # locally administered, owned by no interface


def available() -> str | None:
    """None if network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        subprocess.run(["ip", "-V"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "iproute2 (`ip`) is not installed"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _delete_run(run_id: str):
    """Everything of run `run_id`: processes left in its namespaces, the namespaces (their veths
    go with them), the bridge."""
    names = [line.split()[0] for line in ip("netns", "list", check=False).stdout.splitlines() if line.strip()]
    mine = [n for n in names if n.startswith(f"{PREFIX}{run_id}-")]
    for ns in mine:
        for pid in ip("netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for ns in mine:
        ip("netns", "del", ns, check=False)
    # A namespace goes away asynchronously; its veths and the bridge are deleted right now.
    for line in ip("-br", "link", "show", check=False).stdout.splitlines():
        link = line.split()[0].split("@")[0] if line.split() else ""
        if link.startswith(f"{PREFIX}{run_id}"):
            ip("link", "del", link, check=False)
    (REGISTRY / run_id).unlink(missing_ok=True)


def delete_stale():
    """Delete what runs whose process is gone left behind."""
    if not REGISTRY.is_dir():
        return
    for f in REGISTRY.iterdir():
        try:
            pid = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if not pid or not _alive(pid):
            _delete_run(f.name)


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that no route of this host touches."""
    used = []
    for line in ip("-4", "route", "show", "table", "all", check=False).stdout.splitlines():
        word = line.split()[0] if line.split() else ""
        try:
            used.append(ipaddress.ip_network(word if word != "default" else "0.0.0.0/32", strict=False))
        except ValueError:
            pass
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(64, 254)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise AssertionError("no free 10.x.y.0/24 for the test network")


@dataclass
class Node:
    name: str     # k1, g1, ...
    ns: str       # its network namespace
    ip: str       # its address on the bridge
    link: str     # the root-namespace end of its veth (a bridge port)

    def exec(self) -> list[str]:
        """The prefix that runs a command in this node's namespace."""
        return [shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", self.ns]


class Net:
    """The bridge and the nodes of one test run; delete() (also at exit) removes all of it."""

    def __init__(self):
        delete_stale()
        self.id = secrets.token_hex(2)
        self.net = _free_subnet()
        hosts = list(self.net.hosts())
        self.prefixlen = self.net.prefixlen
        self.gateway = str(hosts[0])   # the test client, in the root namespace
        self.pg_ip = str(hosts[1])     # PostgreSQL, in the root namespace (a second address)
        self.bridge = f"{PREFIX}{self.id}br"
        self.nodes: dict[str, Node] = {}
        self._cuts: set[str] = set()
        self._holes: set[tuple[str, str, str]] = set()  # (namespace or "", dev, ip)
        REGISTRY.mkdir(parents=True, exist_ok=True)
        (REGISTRY / self.id).write_text(f"{os.getpid()}\n")
        atexit.register(self.delete)
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/{self.prefixlen}", "dev", self.bridge)
        ip("addr", "add", f"{self.pg_ip}/{self.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add(self, name: str, host_octet: int) -> Node:
        ns = f"{PREFIX}{self.id}-{name}"
        link = f"{PREFIX}{self.id}{name}"
        addr = str(self.net.network_address + host_octet)
        ip("netns", "add", ns)
        ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", link, "master", self.bridge)
        ip("link", "set", link, "up")
        ip("-n", ns, "addr", "add", f"{addr}/{self.prefixlen}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        node = Node(name, ns, addr, link)
        self.nodes[name] = node
        return node

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    # -- silent faults ---------------------------------------------------------------------------
    def cut(self, node: Node):
        """Node off the network: its bridge port goes down, frames are dropped both ways."""
        ip("link", "set", node.link, "down")
        self._cuts.add(node.link)

    def blackhole(self, node: Node | None, ip_addr: str):
        """Node's (None: the root namespace's) frames to ip_addr go to a MAC nobody has."""
        ns, dev = (node.ns, "eth0") if node else ("", self.bridge)
        ip(*(["-n", ns] if ns else []), "neigh", "replace", ip_addr, "lladdr", DEAD_MAC, "nud", "permanent",
           "dev", dev)
        self._holes.add((ns, dev, ip_addr))

    def separate(self, a: Node, b: Node):
        """Cut a and b from each other only (both directions)."""
        self.blackhole(a, b.ip)
        self.blackhole(b, a.ip)

    def heal(self):
        """Every cut link up and every neighbour entry learnt again by ARP."""
        for link in sorted(self._cuts):
            ip("link", "set", link, "up", check=False)
        self._cuts.clear()
        for ns, dev, ip_addr in sorted(self._holes):
            ip(*(["-n", ns] if ns else []), "neigh", "del", ip_addr, "dev", dev, check=False)
        self._holes.clear()

    def delete(self):
        _delete_run(self.id)
