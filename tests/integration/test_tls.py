"""TLS against the real daemon: implicit TLS (RFC 8314, port 993 style) and STARTTLS
(RFC 3501 6.2.1), with Python's ssl module and `openssl s_client -starttls imap`.

Certificates are generated per test session with the openssl command into a temp
directory (never a committed private key)."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from conftest import PYMAP, free_port, wait_for_port

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")

AUTH_BIN = os.path.join(os.path.dirname(PYMAP), "..", "libexec", "pymap", "auth")


def make_cert(directory, name, cn):
    cert = os.path.join(str(directory), name + ".pem")
    key = os.path.join(str(directory), name + ".key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    out = {name: make_cert(d, name, cn) for name, cn in
           (("localhost", "localhost"), ("other", "other.test"), ("renewed", "localhost"))}
    garbage = d / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n"
                       "-----END CERTIFICATE-----\n")
    out["garbage"] = str(garbage)
    out["dir"] = d
    return out


def tls_args(certs, tls_port, name="localhost"):
    cert, key = certs[name]
    return ["--cert", cert, "--key", key, "--tls-port", str(tls_port)]


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Imap:
    """Line-oriented IMAP client over a plain or TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self, timeout=10):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def command(self, tag, text):
        """Send a command, return (untagged lines, tagged line)."""
        self.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def capabilities(self, tag="c1"):
        untagged, tagged = self.command(tag, "CAPABILITY")
        assert tagged.startswith(tag + " OK"), tagged
        caps = [l for l in untagged if l.upper().startswith("* CAPABILITY ")]
        assert len(caps) == 1, untagged
        return caps[0].split()[2:]

    def starttls(self, ctx, tag="s1", server_hostname="localhost"):
        untagged, tagged = self.command(tag, "STARTTLS")
        assert tagged.startswith(tag + " OK"), tagged
        assert self.buf == b"", "server sent data after the STARTTLS OK: %r" % self.buf
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)


def connect_plain(server):
    imap = Imap(server.connect())
    greeting = imap.readline()
    assert greeting.startswith("* OK"), greeting
    return imap, greeting


def connect_tls(port, ctx, server_hostname="localhost"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    imap = Imap(ctx.wrap_socket(raw, server_hostname=server_hostname))
    greeting = imap.readline()
    assert greeting.startswith("* OK"), greeting
    return imap, greeting


def start_tls_server(pymap_server, certs, extra_global=(), name="localhost"):
    tls_port = free_port()
    server = pymap_server(global_args=[*tls_args(certs, tls_port, name), *extra_global])
    wait_for_port(tls_port, proc=server.proc)
    server.tls_port = tls_port
    return server


def worker_pids(master_pid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            pids.append(int(entry))
    return pids


def cpu_secs(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- implicit TLS ----

def test_implicit_tls_handshake_and_capability(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    imap, _ = connect_tls(server.tls_port, client_context(certs["localhost"][0]))
    assert imap.sock.version() in ("TLSv1.2", "TLSv1.3")
    caps = imap.capabilities()
    assert "IMAP4rev1" in caps
    assert "STARTTLS" not in caps
    assert "AUTH=PLAIN" in caps
    assert "LOGINDISABLED" not in caps
    untagged, tagged = imap.command("z", "LOGOUT")
    assert tagged.startswith("z OK"), tagged
    assert any(l.startswith("* BYE") for l in untagged)


def test_implicit_tls_refuses_tls_1_1(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    raw = socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionResetError, EOFError)):
        ctx.wrap_socket(raw).recv(100)
    raw.close()
    # The server saw the ClientHello and refused it (not a client-side failure).
    deadline = time.monotonic() + 5
    while "unsupported protocol" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "unsupported protocol" in server.log_text()


def test_no_tls_configured_means_no_starttls(pymap_server):
    server = pymap_server()
    imap, _ = connect_plain(server)
    assert "STARTTLS" not in imap.capabilities()
    _, tagged = imap.command("s", "STARTTLS")
    assert tagged.startswith("s NO") or tagged.startswith("s BAD"), tagged
    # the connection still works in clear text
    _, tagged = imap.command("n", "NOOP")
    assert tagged.startswith("n OK"), tagged


# ---- STARTTLS ----

def test_starttls_python(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    imap, _ = connect_plain(server)
    caps = imap.capabilities("c1")
    assert "STARTTLS" in caps
    imap.starttls(client_context(certs["localhost"][0]))
    assert imap.sock.version() in ("TLSv1.2", "TLSv1.3")
    caps = imap.capabilities("c2")
    assert "STARTTLS" not in caps
    assert "AUTH=PLAIN" in caps
    # a second STARTTLS is refused, the session goes on
    _, tagged = imap.command("s2", "STARTTLS")
    assert tagged.startswith("s2 NO") or tagged.startswith("s2 BAD"), tagged
    _, tagged = imap.command("n", "NOOP")
    assert tagged.startswith("n OK"), tagged


@pytest.mark.skipif(not os.path.exists(AUTH_BIN), reason="auth service not built yet")
def test_login_after_starttls(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    imap, _ = connect_plain(server)
    imap.starttls(client_context(certs["localhost"][0]))
    _, tagged = imap.command("l", "LOGIN demouser demopass")
    assert tagged.startswith("l OK"), tagged


def test_starttls_openssl_s_client(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    cert = certs["localhost"][0]
    proc = subprocess.run(
        [OPENSSL, "s_client", "-starttls", "imap", "-connect", "127.0.0.1:%d" % server.port,
         "-CAfile", cert, "-verify_return_error", "-servername", "localhost",
         "-crlf", "-quiet"],
        input=b"x1 CAPABILITY\nx2 LOGOUT\n", capture_output=True, timeout=20)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    assert "x1 OK" in out, (out, err)
    cap = [l for l in out.splitlines() if l.startswith("* CAPABILITY")]
    assert cap, out
    assert "STARTTLS" not in cap[-1]
    assert "AUTH=PLAIN" in cap[-1]
    assert "x2 OK" in out
    assert "verify error" not in err


def test_starttls_command_injection_is_discarded(pymap_server, certs):
    server = start_tls_server(pymap_server, certs)
    imap, _ = connect_plain(server)
    # Both commands in one packet: b must never be answered (CVE-2011-0411 class).
    imap.sock.sendall(b"a STARTTLS\r\nb CAPABILITY\r\n")
    tagged = imap.readline()
    assert tagged.startswith("a OK"), tagged
    assert imap.buf == b""
    imap.sock = client_context(certs["localhost"][0]).wrap_socket(
        imap.sock, server_hostname="localhost")
    untagged, tagged = imap.command("c", "NOOP")
    assert tagged.startswith("c OK"), tagged
    assert not any(l.startswith("b ") for l in untagged), untagged
    # nothing else is waiting either
    imap.sock.settimeout(0.5)
    with pytest.raises((socket.timeout, ssl.SSLWantReadError)):
        imap.sock.recv(100)


# ---- stalled handshakes ----

def write_config(tmp_path, text):
    path = tmp_path / "tls-test.conf"
    path.write_text(text)
    return str(path)


@pytest.mark.skipif(not os.path.exists(AUTH_BIN), reason="auth service not built yet")
def test_stalled_handshake_times_out_without_affecting_others(pymap_server, certs, tmp_path):
    conf = write_config(tmp_path, "[imap]\nlogin_timeout_secs = 3\n")
    server = start_tls_server(pymap_server, certs, ["-c", conf, "--workers", "1"])
    ctx = client_context(certs["localhost"][0])
    # A: half a TLS record header on the TLS port, then silence.
    stalled = socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
    stalled.sendall(b"\x16\x03\x01")
    # B: STARTTLS stalled after the OK.
    b_imap, _ = connect_plain(server)
    _, tagged = b_imap.command("s", "STARTTLS")
    assert tagged.startswith("s OK"), tagged
    start = time.monotonic()
    # Another client on the same (only) worker is served right away.
    imap, _ = connect_tls(server.tls_port, ctx)
    assert "IMAP4rev1" in imap.capabilities()
    _, tagged = imap.command("l", "LOGIN demouser demopass")
    assert tagged.startswith("l OK"), tagged  # no login timeout for this one
    assert time.monotonic() - start < 2.0
    # The stalled ones are dropped by the timeout.
    for sock in (stalled, b_imap.sock):
        sock.settimeout(15)
        try:
            data = sock.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b"" or data.startswith(b"\x15"), data  # EOF or a TLS alert
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 12.0, elapsed
    # and the good client is still fine
    _, tagged = imap.command("n", "NOOP")
    assert tagged.startswith("n OK"), tagged


def test_stalled_handshake_does_not_spin(pymap_server, certs):
    server = start_tls_server(pymap_server, certs, ["--workers", "1"])
    stalled = [socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
               for _ in range(3)]
    time.sleep(0.5)
    pids = worker_pids(server.proc.pid)
    assert pids, "no child processes found"
    before = sum(cpu_secs(p) for p in pids)
    time.sleep(2.0)
    used = sum(cpu_secs(p) for p in pids) - before
    for s in stalled:
        s.close()
    assert used < 0.5, "children used %.2f s of CPU in 2 s while handshakes stalled" % used


# ---- certificates: errors, SNI, reload ----

def run_check_config(args):
    return subprocess.run([PYMAP, "--check-config", *args, "dict", "--demo-data"],
                          capture_output=True, timeout=20)


def test_missing_certificate_fails_check_config(certs, tmp_path):
    missing = str(tmp_path / "no-such-cert.pem")
    proc = run_check_config(["--cert", missing, "--key", certs["localhost"][1]])
    assert proc.returncode != 0
    assert missing in (proc.stdout + proc.stderr).decode()


def test_bad_certificate_fails_check_config(certs):
    proc = run_check_config(["--cert", certs["garbage"], "--key", certs["localhost"][1]])
    assert proc.returncode != 0
    assert certs["garbage"] in (proc.stdout + proc.stderr).decode()


def test_mismatched_key_fails_check_config(certs):
    proc = run_check_config(["--cert", certs["localhost"][0], "--key", certs["other"][1]])
    assert proc.returncode != 0
    assert certs["other"][1] in (proc.stdout + proc.stderr).decode()


def test_bad_certificate_fails_start_up(pymap_server, certs):
    tls_port = free_port()
    server = pymap_server(global_args=["--cert", certs["garbage"], "--key",
                                       certs["localhost"][1], "--tls-port", str(tls_port)],
                          wait=False)
    try:
        rc = server.proc.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc is not None and rc != 0, "pymap kept running with a bad certificate"
    assert certs["garbage"] in server.log_text()


def test_sni_selects_certificate(pymap_server, certs, tmp_path):
    other_cert, other_key = certs["other"]
    conf = write_config(tmp_path, "[tls]\nsni = other.test:%s:%s\n" % (other_cert, other_key))
    server = start_tls_server(pymap_server, certs, ["-c", conf])
    # Verification with check_hostname proves which certificate was sent.
    imap, _ = connect_tls(server.tls_port, client_context(other_cert), "other.test")
    assert "IMAP4rev1" in imap.capabilities()
    imap, _ = connect_tls(server.tls_port, client_context(certs["localhost"][0]), "localhost")
    assert "IMAP4rev1" in imap.capabilities()


def test_sighup_reloads_certificate_without_dropping_sessions(pymap_server, certs, tmp_path):
    cert = str(tmp_path / "live.pem")
    key = str(tmp_path / "live.key")
    shutil.copy(certs["localhost"][0], cert)
    shutil.copy(certs["localhost"][1], key)
    tls_port = free_port()
    server = pymap_server(global_args=["--cert", cert, "--key", key,
                                       "--tls-port", str(tls_port)])
    wait_for_port(tls_port, proc=server.proc)
    old_ctx = client_context(certs["localhost"][0])
    old, _ = connect_tls(tls_port, old_ctx)
    shutil.copy(certs["renewed"][0], cert)
    shutil.copy(certs["renewed"][1], key)
    os.kill(server.proc.pid, signal.SIGHUP)
    new_ctx = client_context(certs["renewed"][0])
    deadline = time.monotonic() + 10
    while True:
        try:
            imap, _ = connect_tls(tls_port, new_ctx)
            break
        except ssl.SSLCertVerificationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert "IMAP4rev1" in imap.capabilities()
    # the session opened before the reload is still alive
    _, tagged = old.command("n", "NOOP")
    assert tagged.startswith("n OK"), tagged
