"""Fixtures that run the real pymap daemon on free 127.0.0.1 ports.

PYMAP_BUILD (set by `make check`) is the build directory holding sbin/pymap,
libexec/pymap/* and bin/*. Each server gets its own temp directory (run dir, config,
log file); its log is printed when a test fails.

Extensions for the master's tests: Server(config="...") writes a pymap.conf and passes
-c; user=(uid, gid) runs the master as that user; wrapper=[...] and pass_fds=[...] wrap
the command (socket activation); port= picks the IMAP port. children() lists the
master's child pids; proc_ids(pid) reads a process's uid and gid from /proc."""
import os
import signal
import socket
import subprocess
import time

import pytest

BUILD = os.environ.get("PYMAP_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build", "release"))
PYMAP = os.path.join(BUILD, "sbin", "pymap")


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("pymap exited with %d before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listening on port %d" % port)


def make_traversable(path):
    """As root the children run as other users: they must be able to reach the run
    directory (auth.sock) through pytest's 0700 temp directories."""
    if os.geteuid() != 0:
        return
    path = os.path.abspath(path)
    while path not in ("/", "/tmp"):
        mode = os.stat(path).st_mode & 0o7777
        os.chmod(path, mode | 0o011)
        path = os.path.dirname(path)


class Server:
    """One running pymap master. args are the command line after the global flags."""

    def __init__(self, tmp_path, args, global_args=(), env=None, config=None, user=None,
                 wrapper=(), pass_fds=(), port=None):
        self.tmp = tmp_path
        self.port = port or free_port()
        self.run_dir = tmp_path / "run"
        self.run_dir.mkdir(exist_ok=True)
        make_traversable(self.run_dir)
        self.log_path = tmp_path / "pymap.log"
        self.config_path = None
        conf_args = []
        if config is not None:
            self.config_path = tmp_path / "pymap.conf"
            self.config_path.write_text(config)
            conf_args = ["-c", str(self.config_path)]
        self.cmd = [*wrapper, PYMAP, *conf_args, "--debug", "--host", "127.0.0.1",
                    "--port", str(self.port), "--run-dir", str(self.run_dir),
                    *global_args, *args]
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.user = user
        self.pass_fds = tuple(pass_fds)
        self.proc = None
        if user is not None:
            for path in (tmp_path, self.run_dir):
                os.chown(path, user[0], user[1])
                os.chmod(path, 0o755)

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        kwargs = {}
        if self.user is not None:
            kwargs = dict(user=self.user[0], group=self.user[1], extra_groups=[])
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True,
                                     pass_fds=self.pass_fds, **kwargs)
        if wait:
            wait_for_port(self.port, proc=self.proc)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def children(self):
        """Pids of the master's children (from /proc)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                pids.append(int(entry))
        return sorted(pids)

    def wait_log(self, text, timeout=10.0):
        """Wait until text appears in the log; return the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_text()
            if text in log:
                return log
            time.sleep(0.05)
        raise TimeoutError("%r not in the log:\n%s" % (text, self.log_text()))

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def proc_ids(pid):
    """(real uid, real gid, comm) of a process, from /proc/PID/status."""
    uid = gid = name = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Uid":
                uid = int(value.split()[0])
            elif key == "Gid":
                gid = int(value.split()[0])
            elif key == "Name":
                name = value.strip()
    return uid, gid, name


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def pymap_server(tmp_path, request):
    """Factory: pymap_server(args=[...], global_args=[...]) -> started Server."""
    servers = []

    def start(args=("dict", "--demo-data"), global_args=(), env=None, wait=True, **kwargs):
        tmp = tmp_path / ("s%d" % len(servers))
        tmp.mkdir(parents=True, exist_ok=True)
        server = Server(tmp, list(args), global_args, env, **kwargs)
        servers.append(server)
        return server.start(wait=wait)

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    reports = []
    for server in servers:
        try:
            server.stop()
        finally:
            text = server.log_text()
            found = [m for m in SANITIZER_MARKERS if m in text]
            if found:
                reports.append("%s: %s" % (server.log_path, ", ".join(found)))
            if failed or found:
                print("---- pymap log (%s) ----\n%s" % (server.log_path, text))
    if reports:
        # A sanitizer build reports memory errors, undefined behaviour and leaks in
        # any pymap process into the log: each one fails the test that caused it.
        pytest.fail("sanitizer reports in the server log: " + "; ".join(reports))


@pytest.fixture(autouse=True)
def _traversable_tmp(tmp_path):
    """pytest makes its temp directories 0700; as root the children (pymap, pymap-auth,
    dovecot) run as other users and must reach files the tests put there."""
    make_traversable(tmp_path)
