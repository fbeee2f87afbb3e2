"""Helpers for the admin service tests: run pymapctl / pymap-lda, speak pymap-admin
raw JSON on admin.sock (passing a descriptor), start a maildir server whose admin
socket sits in a directory every local user can reach."""
import array
import json
import os
import socket
import subprocess
import tempfile
import time

from conftest import BUILD

PYMAPCTL = os.path.join(BUILD, "bin", "pymapctl")
LDA = os.path.join(BUILD, "bin", "pymap-lda")


def public_dir():
    """A fresh directory under /tmp that every user can traverse."""
    d = tempfile.mkdtemp(prefix="pymap-admin-test-")
    os.chmod(d, 0o755)
    return d


def wait_socket(path, timeout=10.0):
    # Until a connect succeeds: the file appears at bind(), before listen().
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise TimeoutError(path)


def start(pymap_server, tmp_path, backend="maildir", config=None):
    """A server with admin.sock at a public path; returns (server, sock, base)."""
    sockdir = public_dir()
    sock = os.path.join(sockdir, "admin.sock")
    global_args = []
    base = None
    if os.geteuid() == 0:
        global_args = ["--set-uid", "pymap", "--set-gid", "pymap"]
    if backend == "maildir":
        base = tmp_path / "mail"
        base.mkdir()
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("pymap")
            os.chown(base, pw.pw_uid, pw.pw_gid)
        args = ["maildir", str(base)]
    else:
        args = ["dict", "--demo-data"]
    server = pymap_server(args=args, global_args=global_args,
                          env={"PYMAP_ADMIN_SOCKET": sock}, config=config)
    wait_socket(sock)
    return server, sock, base


def ctl(sock, *args, input=None, env=None, user=None, check=None):
    e = dict(os.environ)
    e.pop("PYMAP_ADMIN_TOKEN", None)
    e["PYMAP_ADMIN_SOCKET"] = sock
    e["HOME"] = e.get("PYMAP_TEST_HOME", "/nonexistent")
    e.update(env or {})
    kwargs = {}
    if user is not None:
        kwargs = dict(user=user, group=user, extra_groups=[])
    p = subprocess.run([PYMAPCTL, *args], input=input, capture_output=True, env=e,
                       timeout=60, **kwargs)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def lda(sock, *args, input=b"", env=None):
    e = dict(os.environ)
    e.pop("PYMAP_ADMIN_TOKEN", None)
    e["PYMAP_ADMIN_SOCKET"] = sock
    e.update(env or {})
    return subprocess.run([LDA, *args], input=input, capture_output=True, env=e, timeout=60)


class AdminClient:
    """pymap-admin 1.0 as raw JSON lines; call() may pass one descriptor."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b'{"hello":"pymap-admin","major":1,"minor":0}\n')
        hello = json.loads(self.file.readline())
        assert hello["hello"] == "pymap-admin" and hello["major"] == 1
        self.next_id = 0

    def call(self, op, fd=None, **fields):
        self.next_id += 1
        msg = dict(fields, op=op, id=self.next_id)
        data = json.dumps(msg).encode() + b"\n"
        if fd is None:
            self.sock.sendall(data)
        else:
            fds = array.array("i", [fd])
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("admin closed the connection")
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                return reply

    def close(self):
        self.sock.close()


def memfd(data):
    fd = os.memfd_create("msg")
    os.write(fd, data)
    return fd
