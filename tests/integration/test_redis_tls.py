"""The redis backend over rediss:// (TLS, src/lib/redis-net.c): Debian's redis-server
started with TLS only (--port 0, --tls-port) on 127.0.0.1, certificates made by the
test with openssl in a temp dir, stopped by pid. pymap reaches it only through TLS:
LOGIN, APPEND, FETCH and an IDLE push (the pub/sub listener runs over TLS too), a
client certificate, and a wrong CA: a clear error in the log, NO [UNAVAILABLE] and
NOT_SERVING at once rather than a hang."""
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest

from rawimap import RawImap
from redis_fixtures import RedisServer, Resp, add_user
from test_redis import MESSAGE, append, idle_done, idle_start, idle_until


def redis_has_tls():
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        return False
    out = subprocess.run(["redis-server", "--version"], capture_output=True).stdout
    # Debian's redis 7 is built with BUILD_TLS=yes; older ones may not be.
    return b"v=" in out and int(out.split(b"v=")[1].split(b".")[0]) >= 6


pytestmark = pytest.mark.skipif(not redis_has_tls(),
                                reason="redis-server with TLS / openssl not installed")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".crt",
            cwd=d)


def make_cert(d, ca, name, san, client=False):
    ext = d / (name + ".ext")
    # A server certificate is a client one too: cluster nodes use it on the TLS bus.
    ext.write_text("subjectAltName=%s\nextendedKeyUsage=%s\n"
                   % (san, "clientAuth" if client else "serverAuth,clientAuth"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
            "-out", name + ".crt", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("redis-tls")
    d.chmod(0o755)
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "ca", "server", "IP:127.0.0.1,DNS:redis.test")
    make_cert(d, "ca", "client", "DNS:pymap.test", client=True)
    for f in d.iterdir():
        f.chmod(0o644)   # the pymap children run as another user
    return d


class TlsResp(Resp):
    """Resp over TLS for the test's own checks and setup."""

    def __init__(self, port, certs):
        ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        ctx.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.file = self.sock.makefile("rb")


class TlsRedis(RedisServer):
    """RedisServer listening on TLS only (--port 0, --tls-port)."""

    def __init__(self, tmp_path, certs, client_auth="no"):
        super().__init__(tmp_path, durable=False)
        self.certs = certs
        self.client_auth = client_auth

    def argv(self):
        c = self.certs
        return ["redis-server", "--port", "0", "--tls-port", str(self.port),
                "--bind", "127.0.0.1", "--tls-cert-file", str(c / "server.crt"),
                "--tls-key-file", str(c / "server.key"), "--tls-ca-cert-file", str(c / "ca.crt"),
                "--tls-auth-clients", self.client_auth, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir), "--daemonize", "no"]

    def client(self):
        return TlsResp(self.port, self.certs)

    def url(self, ca="ca", client=False, host="127.0.0.1", extra=""):
        q = {"tls_ca_file": str(self.certs / (ca + ".crt")), "timeout": "2000",
             "connect_timeout": "1000"}
        if client:
            q["tls_cert_file"] = str(self.certs / "client.crt")
            q["tls_key_file"] = str(self.certs / "client.key")
        return "rediss://%s:%d?%s%s" % (host, self.port, urllib.parse.urlencode(q), extra)

    def add_user(self, name, password):
        add_user(self, name, password)


@pytest.fixture
def tls_redis(tmp_path, certs):
    server = TlsRedis(tmp_path, certs).start()
    yield server
    server.stop()


def login(conn, user, password):
    _, tagged = conn.cmd("LOGIN %s %s" % (user, password))
    assert b" OK " in tagged, tagged


def test_login_append_fetch_idle_over_tls(pymap_server, tls_redis):
    tls_redis.add_user("alice", "alicepass")
    server = pymap_server(["redis", "--address", tls_redis.url()])
    a, b = RawImap(server.port), RawImap(server.port)
    login(a, "alice", "alicepass")
    login(b, "alice", "alicepass")
    tag = idle_start(a)
    _, tagged = append(b, "INBOX", MESSAGE, r"\Flagged")
    assert b" OK " in tagged and b"APPENDUID" in tagged, tagged
    idle_until(a, rb"^\* 1 EXISTS", 5.0)   # pushed through the TLS subscriber
    idle_done(a, tag)
    untagged, _ = a.ok("FETCH 1 (FLAGS RFC822.SIZE BODY[])")
    joined = b"".join(untagged)
    assert b"\\Flagged" in joined and b"RFC822.SIZE %d" % len(MESSAGE) in joined
    assert b"Hello redis." in joined
    a.close()
    b.close()
    # The data is in the TLS-only server.
    r = TlsResp(tls_redis.port, tls_redis.certs)
    assert r.call("EXISTS", "/users/{alice}") == 1
    assert any(k.startswith(b"/mail/{alice}/") for k in r.call("KEYS", "*"))
    r.close()


def test_client_certificate(pymap_server, tmp_path, certs):
    """tls-auth-clients yes: pymap logs in only with tls_cert_file/tls_key_file."""
    server_redis = TlsRedis(tmp_path, certs, client_auth="yes").start()
    try:
        server_redis.add_user("bob", "bobpass")
        server = pymap_server(["redis", "--address", server_redis.url(client=True)])
        conn = RawImap(server.port)
        login(conn, "bob", "bobpass")
        _, tagged = append(conn, "INBOX", MESSAGE)
        assert b" OK " in tagged, tagged
        conn.close()
    finally:
        server_redis.stop()


def test_wrong_ca_is_a_clear_error_not_a_hang(pymap_server, tls_redis, tmp_path):
    from adminutil import ctl
    tls_redis.add_user("alice", "alicepass")
    sock = str(tmp_path / "admin.sock")
    server = pymap_server(["redis", "--address", tls_redis.url(ca="otherca")],
                          env={"PYMAP_ADMIN_SOCKET": sock})
    start = time.monotonic()
    p = ctl(sock, "check", "pymap.backend")
    assert p.returncode == 1 and b"NOT_SERVING" in p.stdout + p.stderr, p
    conn = RawImap(server.port, timeout=10)
    _, tagged = conn.cmd("LOGIN alice alicepass")
    assert b" NO " in tagged, tagged
    conn.close()
    assert time.monotonic() - start < 8   # bounded by timeouts, not a hang
    deadline = time.monotonic() + 5
    while "certificate verif" not in server.log_text():
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.1)


def test_wrong_server_name_is_refused(pymap_server, tls_redis, tmp_path):
    """The certificate names 127.0.0.1 and redis.test: another name fails."""
    from adminutil import ctl
    sock = str(tmp_path / "admin.sock")
    server = pymap_server(["redis", "--address",
                           tls_redis.url(extra="&tls_server_name=other.test")],
                          env={"PYMAP_ADMIN_SOCKET": sock})
    p = ctl(sock, "check", "pymap.backend")
    assert p.returncode == 1 and b"NOT_SERVING" in p.stdout + p.stderr, p
    # ... and the right name (SNI + verification by name, not by IP) works.
    sock2 = str(tmp_path / "admin2.sock")
    pymap_server(["redis", "--address", tls_redis.url(extra="&tls_server_name=redis.test")],
                 env={"PYMAP_ADMIN_SOCKET": sock2})
    p = ctl(sock2, "check", "pymap.backend", check=0)
    assert p.stdout.startswith(b"SERVING")
    assert "certificate verif" in server.log_text()
