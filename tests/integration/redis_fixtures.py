"""A private redis-server for the integration tests (test_redis.py and the demo_server
fixture of conftest.py that runs the IMAP suite on every backend): 127.0.0.1, a free
port, a temp dir, no RDB snapshots, stopped by pid. durable=True (the default) keeps an
fsynced append-only file so a restart keeps what was acknowledged. Resp is a minimal
RESP client (no redis-py on Debian's python3 here); add_user writes a user record in
redis-users.c's format."""
import crypt
import json
import signal
import socket
import subprocess
import time

from conftest import free_port


class Resp:
    """A minimal RESP client for checks (no redis-py on Debian's python3 here)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.file.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


class RedisServer:
    def __init__(self, tmp_path, durable=True):
        self.dir = tmp_path / "redis"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.durable = durable

    def argv(self):
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", str(self.dir), "--daemonize", "no",
                *(["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                  else ["--appendonly", "no"])]

    def client(self):
        """A Resp connection for the test's own checks and setup."""
        return Resp(self.port)

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "redis-server exited: %s" % self.argv()
            try:
                r = self.client()
                if r.call("PING") == "PONG":
                    r.close()
                    return self
            except (OSError, RuntimeError):
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port


def add_user(redis, name, password):
    record = {"password": crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)),
              "roles": [], "params": {}, "etag": "1"}
    r = redis.client()
    r.call("SET", "/users/{%s}" % name, json.dumps(record))
    r.call("SADD", "/users/index", name)
    r.close()
