"""The redis backend against a Redis Cluster: three masters (Debian's redis-server with
--cluster-enabled yes on 127.0.0.1 free ports, temp dirs, joined with
`redis-cli --cluster create`, stopped by pid). pymap is given the address of one node
only and follows -MOVED / -ASK (src/lib/redis-conn.c); users are chosen so that their
hash tags land on each of the three nodes, and each one logs in, APPENDs, FETCHes and
gets an IDLE push (the subscriber sits on the first node: a PUBLISH on any node
reaches it over the cluster bus)."""
import crypt
import json
import shutil
import signal
import subprocess
import time

import pytest

from conftest import free_port
from rawimap import RawImap
from test_redis import MESSAGE, Resp, append, idle_done, idle_start, idle_until
from test_redis_tls import TlsResp, certs, redis_has_tls  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
    reason="redis-server / redis-cli not installed (make deps)")


def crc16(data):
    """CRC16/XMODEM, as Redis Cluster hashes keys (written from the cluster spec)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xffff
    return crc


def key_slot(key):
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key) % 16384


class Cluster:
    def __init__(self, tmp_path, count=3, certs=None, node_timeout=5000):
        self.ports = [free_port() for _ in range(count)]
        # The bus port defaults to port + 10000, which may not exist: pick it too.
        self.bus_ports = [free_port() for _ in range(count)]
        self.procs = []
        self.tmp = tmp_path
        self.certs = certs   # TLS only (clients and the cluster bus) when set
        self.node_timeout = node_timeout

    def start(self):
        self.start_nodes()
        return self.create()

    def start_nodes(self):
        for port, bus in zip(self.ports, self.bus_ports):
            d = self.tmp / ("node%d" % port)
            d.mkdir()
            if self.certs is None:
                listen = ["--port", str(port)]
            else:
                c = self.certs
                listen = ["--port", "0", "--tls-port", str(port), "--tls-cluster", "yes",
                          "--tls-cert-file", str(c / "server.crt"),
                          "--tls-key-file", str(c / "server.key"),
                          "--tls-ca-cert-file", str(c / "ca.crt"), "--tls-auth-clients", "no"]
            self.procs.append(subprocess.Popen(
                ["redis-server"] + listen + ["--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-port", str(bus),
                 "--cluster-node-timeout", str(self.node_timeout), "--save", "",
                 "--appendonly", "no",
                 "--dir", str(d), "--daemonize", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            self._wait_ping(port)

    def create(self, masters=None):
        """Join masters (default: every node) into a cluster sharing all slots."""
        masters = self.ports if masters is None else masters
        tls = [] if self.certs is None else ["--tls", "--cacert", str(self.certs / "ca.crt")]
        subprocess.run(["redis-cli"] + tls + ["--cluster", "create"]
                       + ["127.0.0.1:%d" % p for p in masters]
                       + ["--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        deadline = time.monotonic() + 30
        for port in masters:
            while b"cluster_state:ok" not in self.call(port, "CLUSTER", "INFO"):
                assert time.monotonic() < deadline, "cluster did not become ok"
                time.sleep(0.1)
        self.owner = {}   # slot -> port
        for start, end, master, *_ in self.call(self.ports[0], "CLUSTER", "SLOTS"):
            for slot in range(start, end + 1):
                self.owner[slot] = master[1]
        return self

    def _wait_ping(self, port):
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.call(port, "PING") == "PONG":
                    return
            except (OSError, RuntimeError):
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def call(self, port, *args):
        r = Resp(port) if self.certs is None else TlsResp(port, self.certs)
        try:
            return r.call(*args)
        finally:
            r.close()

    def call_key(self, key, *args):
        return self.call(self.owner[key_slot(key.encode())], *args)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(10)
        self.procs = []


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def add_user(cluster, name, password):
    """redis-users.c's record format, each key written on the node owning its slot."""
    record = {"password": crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)),
              "roles": [], "params": {}, "etag": "1"}
    key = "/users/{%s}" % name
    assert cluster.call_key(key, "SET", key, json.dumps(record)) == "OK"
    cluster.call_key("/users/index", "SADD", "/users/index", name)


def users_on_every_node(cluster):
    """One user name per node (by the slot of its hash tag {name})."""
    chosen = {}
    for i in range(1000):
        name = "user%d" % i
        port = cluster.owner[key_slot(name.encode())]
        chosen.setdefault(port, name)
        if len(chosen) == len(cluster.ports):
            return chosen
    raise AssertionError("no user for some node")


def test_crc16_matches_the_cluster(cluster):
    """The test's own slot function agrees with the servers (CLUSTER KEYSLOT)."""
    for key in ("foo", "/mail/{user1}/mailboxes", "{}x", "a{b}c"):
        assert cluster.call(cluster.ports[0], "CLUSTER", "KEYSLOT", key) == key_slot(key.encode())


def check_users_on_every_node(pymap_server, cluster, address):
    users = users_on_every_node(cluster)
    for name in users.values():
        add_user(cluster, name, name + "pw")
    # Only the first node's address: everything else is found by redirection.
    server = pymap_server(["redis", "--address", address])
    for port, name in sorted(users.items()):
        watcher, writer = RawImap(server.port), RawImap(server.port)
        for conn in (watcher, writer):
            _, tagged = conn.cmd("LOGIN %s %spw" % (name, name))
            assert b" OK " in tagged, (name, port, tagged)
        writer.ok("CREATE Work")
        tag = idle_start(watcher)
        _, tagged = append(writer, "INBOX", MESSAGE, r"\Flagged")
        assert b" OK " in tagged and b"APPENDUID" in tagged, (name, tagged)
        idle_until(watcher, rb"^\* 1 EXISTS", 5.0)
        idle_done(watcher, tag)
        untagged, _ = watcher.ok("FETCH 1 (FLAGS BODY[])")
        joined = b"".join(untagged)
        assert b"\\Flagged" in joined and b"Hello redis." in joined, joined
        _, tagged = watcher.ok("COPY 1 Work")
        assert b"COPYUID" in tagged
        untagged, _ = watcher.ok("STATUS Work (MESSAGES)")
        assert b"MESSAGES 1" in untagged[0]
        watcher.close()
        writer.close()
        # The user's mail lives on the node that owns the user's hash tag.
        mail = cluster.call(port, "KEYS", "/mail/{%s}/*" % name)
        assert len(mail) >= 5, (name, port, mail)
        for other in cluster.ports:
            if other != port:
                assert cluster.call(other, "KEYS", "/mail/{%s}/*" % name) == []


def test_users_on_three_nodes(pymap_server, cluster):
    check_users_on_every_node(pymap_server, cluster,
                              "redis://127.0.0.1:%d" % cluster.ports[0])


@pytest.mark.skipif(not redis_has_tls(), reason="redis-server with TLS / openssl not installed")
def test_users_on_three_nodes_over_tls(pymap_server, tmp_path, certs):
    """The same over rediss://: nodes learnt from MOVED inherit the CA file; the
    server certificate names 127.0.0.1, the address the nodes announce."""
    tls_cluster = Cluster(tmp_path, certs=certs)
    try:
        tls_cluster.start()
        check_users_on_every_node(
            pymap_server, tls_cluster, "rediss://127.0.0.1:%d?tls_ca_file=%s"
            % (tls_cluster.ports[0], certs / "ca.crt"))
    finally:
        tls_cluster.stop()


def test_ask_while_a_slot_migrates(pymap_server, cluster):
    """A slot being migrated from A to B: keys not yet on A are answered with -ASK,
    and pymap sends ASKING plus the command to B (the slot map keeps saying A)."""
    a, b = cluster.ports[0], cluster.ports[1]
    name = next("mover%d" % i for i in range(1000)
                if cluster.owner[key_slot(b"mover%d" % i)] == a)
    slot = key_slot(name.encode())
    add_user(cluster, name, "moverpw")          # the record stays on A
    a_id = cluster.call(a, "CLUSTER", "MYID").decode()
    b_id = cluster.call(b, "CLUSTER", "MYID").decode()
    assert cluster.call(b, "CLUSTER", "SETSLOT", slot, "IMPORTING", a_id) == "OK"
    assert cluster.call(a, "CLUSTER", "SETSLOT", slot, "MIGRATING", b_id) == "OK"
    # Start at B so the first command to the slot is a MOVED to A, then ASK to B.
    server = pymap_server(["redis", "--address", "redis://127.0.0.1:%d" % b])
    conn = RawImap(server.port)
    _, tagged = conn.cmd("LOGIN %s moverpw" % name)
    assert b" OK " in tagged, tagged
    _, tagged = append(conn, "INBOX", MESSAGE)
    assert b" OK " in tagged, tagged
    untagged, _ = conn.ok("SELECT INBOX")
    assert b"* 1 EXISTS\r\n" in untagged
    untagged, _ = conn.ok("FETCH 1 BODY[TEXT]")
    assert b"Hello redis." in b"".join(untagged)
    conn.close()
    assert cluster.call(a, "KEYS", "/mail/{%s}/*" % name) == []
    assert len(cluster.call(b, "KEYS", "/mail/{%s}/*" % name)) >= 5
    assert cluster.call(a, "EXISTS", "/users/{%s}" % name) == 1


def info_field(cluster, port, section, field):
    for line in cluster.call(port, "INFO", section).decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def test_fail_over_to_a_replica(pymap_server, tmp_path):
    """A master with a user's slot dies and its replica takes over: pymap's commands
    fail (NO [UNAVAILABLE]) while the old node is unreachable, the slot goes back to
    the configured node, whose MOVED names the new master, and mail written before the
    fail-over is still there."""
    cluster = Cluster(tmp_path, count=4, node_timeout=1000)
    a, b, spare = cluster.ports[0], cluster.ports[1], cluster.ports[3]
    try:
        # Three masters; the fourth node becomes B's replica.
        cluster.start_nodes()
        cluster.create(cluster.ports[:3])
        b_id = cluster.call(b, "CLUSTER", "MYID").decode()
        # MEET needs the bus port: ours are not port + 10000.
        cluster.call(spare, "CLUSTER", "MEET", "127.0.0.1", a, cluster.bus_ports[0])
        deadline = time.monotonic() + 30
        while True:
            try:
                if cluster.call(spare, "CLUSTER", "REPLICATE", b_id) == "OK":
                    break
            except RuntimeError:   # B not known to the spare yet
                pass
            assert time.monotonic() < deadline, "replica did not attach"
            time.sleep(0.1)
        while info_field(cluster, spare, "replication", "master_link_status") != "up":
            assert time.monotonic() < deadline, "replica did not sync"
            time.sleep(0.1)
        name = next("fo%d" % i for i in range(1000)
                    if cluster.owner[key_slot(b"fo%d" % i)] == b)
        add_user(cluster, name, "fopw")
        server = pymap_server(["redis", "--address",
                               "redis://127.0.0.1:%d?timeout=1000&connect_timeout=500" % a])
        conn = RawImap(server.port, timeout=20)
        _, tagged = conn.cmd("LOGIN %s fopw" % name)
        assert b" OK " in tagged, tagged
        _, tagged = append(conn, "INBOX", MESSAGE)
        assert b" OK " in tagged, tagged
        # Wait until the replica has everything B has, then kill B.
        while True:
            offset = info_field(cluster, b, "replication", "master_repl_offset")
            if info_field(cluster, spare, "replication", "slave_repl_offset") == offset:
                break
            assert time.monotonic() < deadline, "replica did not catch up"
            time.sleep(0.05)
        victim = cluster.procs[1]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        deadline = time.monotonic() + 60
        unavailable = 0
        while True:
            _, tagged = append(conn, "INBOX", MESSAGE)
            if b" OK " in tagged:
                break
            assert b"[UNAVAILABLE]" in tagged, tagged
            unavailable += 1
            assert time.monotonic() < deadline, "no fail-over seen by pymap"
            time.sleep(0.2)
        assert unavailable >= 1
        assert info_field(cluster, spare, "replication", "role") == "master"
        untagged, _ = conn.ok("SELECT INBOX")
        assert b"* 2 EXISTS\r\n" in untagged, untagged
        untagged, _ = conn.ok("FETCH 1:2 BODY[TEXT]")
        assert b"".join(untagged).count(b"Hello redis.") == 2
        conn.close()
    finally:
        cluster.stop()
