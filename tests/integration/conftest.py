"""Fixtures that run the real pymap daemon on free 127.0.0.1 ports.

PYMAP_BUILD (set by `make check`) is the build directory holding sbin/pymap,
libexec/pymap/* and bin/*. Each server gets its own temp directory (run dir, config,
log file); its log is printed when a test fails.

Extensions for the master's tests: Server(config="...") writes a pymap.conf and passes
-c; user=(uid, gid) runs the master as that user; wrapper=[...] and pass_fds=[...] wrap
the command (socket activation); port= picks the IMAP port. children() lists the
master's child pids; proc_ids(pid) reads a process's uid and gid from /proc.

The IMAP suite on every storage backend: a test that takes demo_server (and through
it the `backend` parameter: dict, maildir, redis) runs once per backend; each server's
demouser/demopass holds share/demo's mailboxes (dict: --demo-data; maildir and redis:
the same messages, flags, dates and \\Recent loaded through IMAP by load_demo; redis
tests get their own redis-server from redis_fixtures.py)."""
import os
import shutil
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


# ---- the IMAP suite on every storage backend ------------------------------------------

STORE_BACKENDS = ("dict", "maildir", "redis")
DEMO_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "share", "demo")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def demo_folders():
    """share/demo as [(mailbox, [(flags, unix time, message bytes, recent)])], INBOX
    first, in the order the dict backend's --demo-data loads it."""
    names = sorted(n for n in os.listdir(DEMO_DIR) if os.path.isdir(os.path.join(DEMO_DIR, n)))
    names.sort(key=lambda n: n != "INBOX")
    folders = []
    for name in names:
        path = os.path.join(DEMO_DIR, name)
        msgs = []
        for entry in sorted(e for e in os.listdir(path) if not e.startswith(".")):
            with open(os.path.join(path, entry), "rb") as f:
                data = f.read()
            first = data.index(b"\n")
            second = data.index(b"\n", first + 1)
            flags = data[:first].decode().split()
            recent = any(f.lower() == "\\recent" for f in flags)
            flags = [f for f in flags if f.lower() != "\\recent"]
            msgs.append((flags, int(float(data[first + 1:second])), data[second + 1:], recent))
        folders.append((name, msgs))
    return folders


def _imap_date(stamp):
    t = time.gmtime(stamp)
    return "%02d-%s-%04d %02d:%02d:%02d +0000" % (t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year,
                                                 t.tm_hour, t.tm_min, t.tm_sec)


def load_demo(port, user="demouser", password="demopass"):
    """Give a maildir or redis server the dict backend's demo data through IMAP: the
    same mailboxes, UIDs, flags and INTERNALDATEs; \\Recent only where the demo file
    says so (the others are claimed by a SELECT before the recent ones are appended).
    The dict backend's per-mailbox read-only marker has no equivalent elsewhere."""
    from rawimap import RawImap
    c = RawImap(port)
    c.login(user, password)
    for name, msgs in demo_folders():
        if name != "INBOX":
            c.ok('CREATE "%s"' % name)
        assert [m[3] for m in msgs] == sorted(m[3] for m in msgs), \
            "demo data: recent messages must come last in " + name
        claimed = False
        for flags, stamp, data, recent in msgs:
            if recent and not claimed:
                c.ok('SELECT "%s"' % name)
                c.ok("UNSELECT")
                claimed = True
            tag = c.next_tag()
            c.send(b'%s APPEND "%s" (%s) "%s" {%d+}\r\n' % (
                tag.encode(), name.encode(), " ".join(flags).encode(),
                _imap_date(stamp).encode(), len(data)) + data + b"\r\n")
            untagged, tagged = c.read_until_tagged(tag)
            assert b" OK " in tagged, (name, tagged)
        if not claimed:
            c.ok('SELECT "%s"' % name)
            c.ok("UNSELECT")
    c.ok("LOGOUT")
    c.close()


@pytest.fixture(params=STORE_BACKENDS)
def backend(request):
    """The storage backend a parametrised test runs on."""
    if request.param == "redis" and shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (make deps)")
    return request.param


@pytest.fixture
def _redis_servers():
    """redis-servers started by demo_server: stopped after the pymap servers."""
    servers = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def demo_server(_redis_servers, pymap_server, tmp_path, backend):
    """Factory: demo_server(**kwargs) -> a started Server on the `backend` parameter
    whose user demouser/demopass holds share/demo's mailboxes (dict: --demo-data;
    maildir and redis: loaded through IMAP by load_demo). kwargs go to pymap_server."""
    count = [0]

    def start(**kwargs):
        count[0] += 1
        tmp = tmp_path / ("b%d" % count[0])
        tmp.mkdir()
        if backend == "dict":
            return pymap_server(["dict", "--demo-data"], **kwargs)
        if backend == "maildir":
            from maildir_fixtures import make_base
            server = pymap_server(["maildir", str(make_base(tmp))], **kwargs)
        else:
            from redis_fixtures import RedisServer, add_user
            redis = RedisServer(tmp, durable=False).start()
            _redis_servers.append(redis)
            add_user(redis, "demouser", "demopass")
            server = pymap_server(["redis", "--address", redis.url], **kwargs)
        load_demo(server.port)
        return server

    return start
