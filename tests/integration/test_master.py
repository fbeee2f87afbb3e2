"""The pymap master: command line, --check-config, listeners, supervision, signals,
privileges, systemd notify and socket activation.

Most tests run the master with a stand-in child (testchild.c, compiled here) as every
service, placed in a temp libexec dir named by [server] libexec_dir: it speaks a tiny
line protocol ("* OK testchild pid=N role=R gen=G uid=U", "TAG ..." -> "TAG OK"), so
the master's behaviour is tested without depending on the real imap worker. The tests
at the end run the real worker from the build and are skipped while it is missing."""
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, PYMAP, Server, free_port, proc_ids, wait_for_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
IS_ROOT = os.geteuid() == 0
REAL_IMAP = os.path.join(BUILD, "libexec", "pymap", "imap")


# ---- helpers -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def testchild(tmp_path_factory):
    """Path of the compiled stand-in child (in a world-readable directory)."""
    out = tempfile.mkdtemp(prefix="pymap-testchild-")
    os.chmod(out, 0o755)
    binary = os.path.join(out, "testchild")
    lib = os.path.join(ROOT, "src", "lib")
    sources = [os.path.join(HERE, "testchild.c")] + [
        os.path.join(lib, name + ".c")
        for name in ("master-service", "restrict", "ioloop", "log", "alloc", "strnum")]
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-I" + lib, "-o", binary,
                    *sources, "-ljansson", "-lsodium"], check=True)
    yield binary
    shutil.rmtree(out, ignore_errors=True)


def make_libexec(base, testchild, scripts=None):
    """A libexec dir where imap/auth/admin are the test child, or a shell script."""
    libexec = os.path.join(str(base), "libexec")
    os.makedirs(libexec, exist_ok=True)
    os.chmod(libexec, 0o755)
    for role in ("imap", "auth", "admin"):
        path = os.path.join(libexec, role)
        if scripts and role in scripts:
            if scripts[role] is None:
                continue
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + scripts[role] + "\n")
            os.chmod(path, 0o755)
        else:
            shutil.copy(testchild, path)
    return libexec


def child_conf(libexec, extra=""):
    conf = "[server]\nlibexec_dir = %s\ngrace_period_secs = 3\n" % libexec
    if IS_ROOT:
        # as root the default users are pymap/pymap-auth; these tests use nobody
        conf += "[users]\n" + "".join(
            "%s_%s = %s\n" % (role, kind, name)
            for role in ("imap", "auth", "admin")
            for kind, name in (("user", "nobody"), ("group", nogroup())))
    return conf + extra


def nogroup():
    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    return "65534"


class Client:
    def __init__(self, server, port=None, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port or server.port),
                                                     timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline()
        fields = dict(f.split("=", 1) for f in self.greeting.split() if "=" in f)
        self.pid = int(fields.get("pid", 0))
        self.gen = int(fields.get("gen", 0))

    def readline(self):
        return self.file.readline().decode()

    def command(self, tag="a"):
        self.sock.sendall(tag.encode() + b" NOOP\r\n")
        return self.readline()

    def close(self):
        self.file.close()
        self.sock.close()


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def children_by_role(server):
    roles = {}
    for pid in server.children():
        try:
            with open("/proc/%d/exe" % pid, "rb"):
                pass
            role = os.path.basename(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            continue
        roles.setdefault(role, []).append(pid)
    return roles


def wait_children(server, counts, timeout=10.0):
    def check():
        roles = children_by_role(server)
        if all(len(roles.get(r, [])) == n for r, n in counts.items()):
            return roles
        return None
    return wait_until(check, timeout, "children %r (have %r)" % (counts, children_by_role(server)))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_pymap(*args, env=None):
    return subprocess.run([PYMAP, *args], capture_output=True, text=True, timeout=30,
                          env=env)


# ---- command line and --check-config -------------------------------------------------

def test_version_and_usage_errors():
    out = run_pymap("--version")
    assert out.returncode == 0 and out.stdout.startswith("pymap ")
    out = run_pymap("--no-such-flag", "dict")
    assert out.returncode == 2
    assert "unrecognized argument: --no-such-flag" in out.stderr
    out = run_pymap("dict", "--bogus")
    assert out.returncode == 2 and "unrecognized argument: --bogus" in out.stderr
    out = run_pymap("sql")
    assert out.returncode == 2 and "invalid backend 'sql'" in out.stderr
    out = run_pymap("maildir")
    assert out.returncode == 2 and "required: DIR" in out.stderr


def test_check_config_good(tmp_path):
    conf = tmp_path / "pymap.conf"
    (tmp_path / "extra.conf").write_text("[imap]\nbad_command_limit = 9\n")
    conf.write_text("# test\n[server]\nport = 2143\nworkers = 3\n"
                    "include extra.conf\n[backend]\ntype = maildir\n"
                    "[maildir]\nbase_dir = /srv/mail\n[users]\n"
                    "imap_user = root\nimap_group = root\nauth_user = root\n"
                    "auth_group = root\nadmin_user = root\nadmin_group = root\n")
    out = run_pymap("-c", str(conf), "--check-config", "--port", "3143", "--host", "::1",
                    "--host", "127.0.0.1")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "[server]\nhost = ::1, 127.0.0.1\nport = 3143\n" in text   # flags win
    assert "\nworkers = 3\n" in text
    assert "[imap]\n" in text and "\nbad_command_limit = 9\n" in text
    assert "[maildir]\nbase_dir = /srv/mail\n" in text
    # the backend sub-command overrides the file's backend
    out = run_pymap("-c", str(conf), "--check-config", "dict", "--demo-user", "bob")
    assert out.returncode == 0, out.stderr
    assert "[backend]\ntype = dict\n" in out.stdout
    assert "demo_user = bob\n" in out.stdout
    assert "\nworkers = 1\n" in out.stdout           # dict: exactly one worker


def test_check_config_bad(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nport = 99999\nnope = 1\n[imap]\nmax_line_bytes = big\n"
                    "[tls]\ncert = /nonexistent.pem\n")
    out = run_pymap("-c", str(conf), "--check-config")
    assert out.returncode == 1
    errors = out.stderr.splitlines()
    assert "%s:2: [server] port: 99999 is out of range 1..65535" % conf in errors
    assert "%s:3: unknown key 'nope' in [server]" % conf in errors
    assert "%s:5: [imap] max_line_bytes: not a non-negative decimal number" % conf in errors
    assert "%s:7: [tls] cert: /nonexistent.pem: No such file or directory" % conf in errors
    assert out.stdout == ""
    out = run_pymap("-c", str(tmp_path / "missing.conf"), "--check-config")
    assert out.returncode == 1
    assert "missing.conf: No such file or directory" in out.stderr


def test_port_in_use(tmp_path, testchild, pymap_server):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        libexec = make_libexec(tmp_path, testchild)
        server = pymap_server(args=["dict"], config=child_conf(libexec), port=port,
                              wait=False)
        assert server.proc.wait(10) == 1
        errors = [l for l in server.log_text().splitlines() if "error" in l]
        assert len(errors) == 1
        assert "listen 127.0.0.1:%d: Address already in use" % port in errors[0]
    finally:
        busy.close()


# ---- processes -----------------------------------------------------------------------

def test_start_as_user_children_run_as_that_user(testchild):
    """Started by an ordinary user, every child runs as that user."""
    base = tempfile.mkdtemp(prefix="pymap-user-")
    os.chmod(base, 0o755)
    uid, gid = (65534, grp.getgrnam(nogroup()).gr_gid) if IS_ROOT else (os.getuid(), os.getgid())
    libexec = make_libexec(base, testchild)
    conf = "[server]\nlibexec_dir = %s\n" % libexec
    server = Server(__import__("pathlib").Path(base), ["maildir", base + "/mail"],
                    global_args=["--workers", "2"], config=conf,
                    user=(uid, gid) if IS_ROOT else None)
    try:
        server.start()
        roles = wait_children(server, {"imap": 2, "auth": 1, "admin": 1})
        for pids in roles.values():
            for pid in pids:
                assert proc_ids(pid)[:2] == (uid, gid)
        assert proc_ids(server.pid)[:2] == (uid, gid)
        c = Client(server)
        assert c.greeting.startswith("* OK testchild") and "uid=%d" % uid in c.greeting
        c.close()
        sock_mode = os.stat(os.path.join(server.run_dir, "auth.sock")).st_mode & 0o777
        assert sock_mode == 0o600
        assert server.stop() == 0
    finally:
        if server.proc and server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def ensure_system_users():
    for name in ("pymap", "pymap-auth"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", name], check=True)


@pytest.mark.skipif(not IS_ROOT, reason="privilege separation needs root")
def test_root_privilege_separation(tmp_path, testchild, pymap_server):
    ensure_system_users()
    libexec = make_libexec(tmp_path, testchild)
    os.chmod(tmp_path, 0o755)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")],
                          global_args=["--workers", "2"],
                          config="[server]\nlibexec_dir = %s\n" % libexec)
    roles = wait_children(server, {"imap": 2, "auth": 1, "admin": 1})
    pymap_ids = (pwd.getpwnam("pymap").pw_uid, grp.getgrnam("pymap").gr_gid)
    auth_ids = (pwd.getpwnam("pymap-auth").pw_uid, grp.getgrnam("pymap-auth").gr_gid)
    for pid in roles["imap"] + roles["admin"]:
        assert proc_ids(pid)[:2] == pymap_ids
    assert proc_ids(roles["auth"][0])[:2] == auth_ids
    assert proc_ids(server.pid)[0] == 0
    # supplementary groups are dropped too
    with open("/proc/%d/status" % roles["imap"][0]) as f:
        groups = [l for l in f if l.startswith("Groups:")][0].split()[1:]
    assert groups in ([], [str(pymap_ids[1])])
    # auth.sock: root:pymap 0660 so imap workers can connect
    st = os.stat(os.path.join(server.run_dir, "auth.sock"))
    assert st.st_mode & 0o777 == 0o660 and st.st_gid == pymap_ids[1]
    assert server.stop() == 0


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_child_refuses_root(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["dict"], global_args=["--set-uid", "root", "--set-gid", "root"],
                          config="[server]\nlibexec_dir = %s\n" % libexec, wait=False)
    assert server.proc.wait(15) == 1
    log = server.log_text()
    assert "refusing to run as root" in log
    assert "configuration error, not restarted" in log
    # allowed explicitly (tests only)
    server = pymap_server(args=["dict"], global_args=["--set-uid", "root", "--set-gid", "root"],
                          config="[server]\nlibexec_dir = %s\nallow_root = yes\n" % libexec)
    roles = wait_children(server, {"imap": 1, "auth": 1, "admin": 1})
    assert proc_ids(roles["imap"][0])[0] == 0
    assert server.stop() == 0


def connect_two_workers(server):
    """Two clients served by different workers. Each worker has its own SO_REUSEPORT
    socket and the kernel picks one by a hash of the client's address, so a few
    connections find both (the chance that 40 all land on one is 2**-39)."""
    clients = [Client(server)]
    while len(clients) < 40 and clients[-1].pid == clients[0].pid:
        clients.append(Client(server))
    first, second = clients[0], clients[-1]
    for c in clients[1:-1]:
        c.close()
    assert second.pid != first.pid
    return [first, second]


def test_kill_worker(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")],
                          global_args=["--workers", "2"], config=child_conf(libexec))
    roles = wait_children(server, {"imap": 2})
    a, b = connect_two_workers(server)
    assert sorted([a.pid, b.pid]) == sorted(roles["imap"])
    os.kill(a.pid, signal.SIGKILL)
    assert a.file.readline() == b""                      # its client sees the close
    assert b.command("b1") == "b1 OK pid=%d\r\n" % b.pid   # the other one is untouched
    server.wait_log("service imap: pid %d killed by signal 9" % a.pid)
    roles = wait_children(server, {"imap": 2}, timeout=5)
    assert a.pid not in roles["imap"] and b.pid in roles["imap"]
    c = Client(server)                                   # a new connection works
    assert c.greeting.startswith("* OK testchild")
    assert c.command("c1").startswith("c1 OK")
    assert b.command("b2").startswith("b2 OK")
    for cl in (a, b, c):
        cl.close()
    assert server.stop() == 0


def test_sigterm_sends_bye_and_leaves_nothing(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")],
                          global_args=["--workers", "2"], config=child_conf(libexec))
    roles = wait_children(server, {"imap": 2, "auth": 1, "admin": 1})
    pids = [p for ps in roles.values() for p in ps]
    clients = connect_two_workers(server)
    pid_file = os.path.join(server.run_dir, "pymap.pid")
    assert open(pid_file).read().strip() == str(server.pid)
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for c in clients:
        assert c.readline().startswith("* BYE")
    assert server.proc.wait(10) == 0
    assert time.monotonic() - start < 3
    assert not any(alive(p) for p in pids)
    assert not os.path.exists(pid_file)
    assert not os.path.exists(os.path.join(server.run_dir, "auth.sock"))


def test_second_master_refused(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    first = pymap_server(args=["dict"], config=child_conf(libexec))
    (tmp_path / "second").mkdir()
    second = Server(tmp_path / "second", ["dict"], config=child_conf(libexec))
    second.run_dir = first.run_dir
    second.cmd[second.cmd.index("--run-dir") + 1] = str(first.run_dir)
    second.start(wait=False)
    assert second.proc.wait(10) == 1
    assert "already running (pid %d)" % first.pid in second.log_text()
    assert first.proc.poll() is None
    assert first.stop() == 0


def test_sighup_reload(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")],
                          global_args=["--workers", "2"], config=child_conf(libexec))
    wait_children(server, {"imap": 2})
    old = Client(server)
    assert old.gen == 1
    # changed config: new generation with one worker, the old ones retire
    server.config_path.write_text(child_conf(libexec, "[imap]\nbad_command_limit = 3\n")
                                  .replace("grace_period_secs = 3", "grace_period_secs = 2"))
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log("generation 2: all")
    new = wait_until(lambda: (lambda c: c if c.gen == 2 else c.close())(Client(server)),
                     what="a generation 2 worker")
    assert new.command("n1").startswith("n1 OK")
    assert old.command("o1").startswith("o1 OK")     # the retiring worker still serves
    old_pid = old.pid
    # the old worker with a session is killed after the grace period (2 s)
    server.wait_log("pid %d still running after the grace period" % old_pid, timeout=6)
    wait_until(lambda: not alive(old_pid), what="old worker gone")
    new.close()
    old.close()
    # broken config: keeps running on the old one and says why
    server.config_path.write_text(child_conf(libexec, "[imap]\nbogus = 1\n"))
    server.proc.send_signal(signal.SIGHUP)
    log = server.wait_log("reload failed: keeping the old configuration")
    assert "%s:" % server.config_path in log and "unknown key 'bogus' in [imap]" in log
    c = Client(server)
    assert c.gen == 2 and c.command("x").startswith("x OK")
    c.close()
    assert server.proc.poll() is None
    assert server.stop() == 0


def test_sigusr1_reopens_log_file(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    log_file = tmp_path / "master.log"
    server = pymap_server(args=["dict"], config=child_conf(libexec).replace(
        "[server]\n", "[server]\nlog_file = %s\n" % log_file, 1))
    wait_until(lambda: "children ready" in log_file.read_text(), what="log in log_file")
    os.rename(log_file, str(log_file) + ".1")
    server.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: log_file.exists() and "log reopened" in log_file.read_text(),
               what="reopened log")
    assert "log reopened" not in open(str(log_file) + ".1").read()
    assert server.stop() == 0


# ---- supervision details ---------------------------------------------------------------

def test_exit_config_not_respawned(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild, {"admin": "exit 78"})
    server = pymap_server(args=["dict"], config=child_conf(libexec))
    server.wait_log("service admin: configuration error, not restarted")
    time.sleep(1.5)
    assert server.log_text().count("service admin: pid") == 1
    assert server.proc.poll() is None                 # admin is not required
    assert server.stop() == 0
    # a required service with a config error stops the master
    libexec = make_libexec(tmp_path / "b", testchild, {"auth": "exit 78"})
    server = pymap_server(args=["dict"], config=child_conf(libexec), wait=False)
    assert server.proc.wait(10) == 1


def test_crash_loop_backoff(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild, {"admin": "exit 3"})
    server = pymap_server(args=["dict"], config=child_conf(libexec))
    log = server.wait_log("service admin: restarting in 4 s", timeout=10)
    assert "service admin: pid" in log and "exited with status 3" in log
    lines = [l for l in log.splitlines() if "service admin: restarting" in l]
    assert [l.split("restarting in ")[1] for l in lines[:3]] == ["1 s", "2 s", "4 s"]
    assert server.stop() == 0


def test_silent_child_killed(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild, {"admin": "exec /bin/sleep 100"})
    server = pymap_server(args=["dict"],
                          config=child_conf(libexec).replace(
                              "[server]\n", "[server]\nready_timeout_secs = 1\n", 1))
    server.wait_log("sent no status within 1 s: killing", timeout=5)
    server.wait_log("killed by signal 9")
    assert server.stop() == 0


def test_missing_and_disabled_services(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild, {"admin": None})
    server = pymap_server(args=["dict"], global_args=["--no-service", "auth"],
                          config=child_conf(libexec))
    log = server.wait_log("generation 1: all 1 children ready")
    assert "service admin: %s/admin not installed, not started" % libexec in log
    assert "service auth: disabled" in log
    assert sorted(children_by_role(server)) == ["imap"]
    assert server.stop() == 0


# ---- systemd ----------------------------------------------------------------------------

def recv_all(sock, want, timeout=10.0):
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg:
            return got
    raise AssertionError("no %r in %r" % (want, got))


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_socket(tmp_path, testchild, pymap_server, abstract):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "pymap-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        notify.bind("\0" + name)
        address = "@" + name
    else:
        address = str(tmp_path / "notify.sock")
        notify.bind(address)
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["dict"], config=child_conf(libexec),
                          env={"NOTIFY_SOCKET": address})
    got = recv_all(notify, "READY=1")
    got += recv_all(notify, "STATUS=1 imap workers, 0 sessions")
    c = Client(server)
    recv_all(notify, "STATUS=1 imap workers, 1 sessions")
    c.close()
    server.proc.send_signal(signal.SIGHUP)
    got = recv_all(notify, "RELOADING=1")
    assert "MONOTONIC_USEC=" in got[-1]
    recv_all(notify, "READY=1")
    server.proc.send_signal(signal.SIGTERM)
    recv_all(notify, "STOPPING=1")
    assert server.proc.wait(10) == 0
    notify.close()


def socket_activation_wrapper(fd):
    """A wrapper command passing fd to the master as systemd does: exec keeps the
    pid, so LISTEN_PID is the master's; the socket moves to fd 3."""
    return ["/usr/bin/python3", "-c",
            "import os, sys; os.dup2(%d, 3); os.environ.update(LISTEN_PID=str(os.getpid()),"
            " LISTEN_FDS='1', LISTEN_FDNAMES='imap'); os.execv(sys.argv[1], sys.argv[1:])"
            % fd]


def activated_listener():
    """A listening socket on 127.0.0.1 as systemd would pass it: (socket, port, fd,
    the wrapper command that hands fd to the master)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    fd = listener.fileno()
    return listener, listener.getsockname()[1], fd, socket_activation_wrapper(fd)


def test_socket_activation(tmp_path, testchild, pymap_server):
    listener, port, fd, wrapper = activated_listener()
    libexec = make_libexec(tmp_path, testchild)
    unused_port = free_port()
    server = pymap_server(args=["dict"], config=child_conf(libexec), wrapper=wrapper,
                          pass_fds=[fd], port=unused_port, wait=False)
    listener.close()
    wait_for_port(port, proc=server.proc)
    wait_children(server, {"imap": 1})
    c = Client(server, port=port)
    assert c.greeting.startswith("* OK testchild")
    c.close()
    assert "(imap, from systemd)" in server.log_text()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", unused_port), timeout=2).close()
    assert server.stop() == 0


# ---- per-worker sockets (SO_REUSEPORT) --------------------------------------------------

def listening_sockets(ports):
    """{inode: (local address, port)} of the sockets listening on these ports."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                addr, port = fields[1].rsplit(":", 1)
                if fields[3] == "0A" and int(port, 16) in ports:
                    out[fields[9]] = (addr, int(port, 16))
    return out


def socket_inodes(pid):
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def spread(pids, owners):
    """Assert that every pid got between 30% and 70% of owners (a list of pids)."""
    counts = {pid: owners.count(pid) for pid in pids}
    assert sum(counts.values()) == len(owners), counts
    for pid, n in counts.items():
        assert 0.3 * len(owners) <= n <= 0.7 * len(owners), counts
    return counts


def test_workers_get_own_sockets(tmp_path, testchild, pymap_server):
    """Each of 2 workers gets its own socket of every TCP listener (IPv4, IPv6 and the
    implicit-TLS port); a worker restarted after kill -9 gets fresh ones while the
    other keeps its own."""
    from test_tls import make_cert
    cert, key = make_cert(tmp_path, "cert", "localhost")
    tls_port = free_port()
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")], config=child_conf(libexec),
                          global_args=["--workers", "2", "--host", "::1", "--cert", cert,
                                       "--key", key, "--tls-port", str(tls_port)])
    pids = wait_children(server, {"imap": 2})["imap"]
    ports = {server.port, tls_port}

    def layout(pids):
        listening = listening_sockets(ports)
        addrs = sorted(set(listening.values()))
        assert len(addrs) == 4      # imap and imaps on 127.0.0.1 and ::1
        # two sockets on each address, one per worker
        assert sorted(listening.values()) == sorted(addrs * 2)
        held = {pid: socket_inodes(pid) & set(listening) for pid in pids}
        for pid in pids:
            assert sorted(listening[i] for i in held[pid]) == addrs, held
        assert not held[pids[0]] & held[pids[1]]
        return held

    held = layout(pids)
    # the master keeps them too (for the worker's successor), but no other child has them
    assert set(listening_sockets(ports)) <= socket_inodes(server.pid)
    others = [p for p in server.children() if p not in pids]
    assert all(not socket_inodes(p) & set(held[pids[0]]) for p in others)

    os.kill(pids[0], signal.SIGKILL)
    server.wait_log("service imap: pid %d killed by signal 9" % pids[0])
    new = wait_children(server, {"imap": 2})["imap"]
    assert pids[1] in new and pids[0] not in new
    held2 = layout(new)
    assert held2[pids[1]] == held[pids[1]]
    assert not set(listening_sockets(ports)) & held[pids[0]]   # closed, bound afresh
    assert server.stop() == 0


def test_connections_spread_over_workers(tmp_path, testchild, pymap_server):
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")],
                          global_args=["--workers", "2"], config=child_conf(libexec))
    pids = wait_children(server, {"imap": 2})["imap"]
    owners = []
    for _ in range(200):
        c = Client(server)
        owners.append(c.pid)
        c.close()
    spread(pids, owners)
    assert server.stop() == 0


def test_socket_activation_shared_by_workers(tmp_path, testchild, pymap_server):
    """A socket from systemd is one socket: every worker accepts on it."""
    listener, port, fd, wrapper = activated_listener()
    libexec = make_libexec(tmp_path, testchild)
    server = pymap_server(args=["maildir", str(tmp_path / "mail")], config=child_conf(libexec),
                          global_args=["--workers", "2"], wrapper=wrapper, pass_fds=[fd],
                          port=free_port(), wait=False)
    listener.close()
    wait_for_port(port, proc=server.proc)
    pids = wait_children(server, {"imap": 2})["imap"]
    listening = set(listening_sockets({port}))
    assert len(listening) == 1
    assert all(listening <= socket_inodes(pid) for pid in pids)
    c = Client(server, port=port)
    assert c.pid in pids
    c.close()
    assert server.stop() == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_units_verify(tmp_path):
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for name in ("pymap.service", "pymap.socket"):
        text = open(os.path.join(ROOT, "conf", name)).read()
        # point ExecStart at the build so verify finds the binary
        text = text.replace("/usr/local/sbin/pymap", os.path.abspath(PYMAP))
        (unit_dir / name).write_text(text)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(unit_dir / "pymap.service"), str(unit_dir / "pymap.socket")],
                         capture_output=True, text=True, timeout=60)
    problems = [l for l in (out.stdout + out.stderr).splitlines()
                if "pymap" in l and "Failed to" not in l]
    assert out.returncode == 0 or not problems, out.stdout + out.stderr


# ---- with the real imap worker ----------------------------------------------------------

needs_worker = pytest.mark.skipif(not os.path.exists(REAL_IMAP),
                                  reason="the imap worker is not built yet")


def real_conf():
    conf = "[server]\nallow_root = no\n"
    if IS_ROOT:
        ensure_system_users()
    return conf


@needs_worker
def test_real_worker_kill_one(tmp_path, pymap_server):
    server, workers = start_real(tmp_path, pymap_server, 2)
    dead, live = connect_two_real_workers(server, workers)
    dead_pid = owner_of(dead, workers)
    live_pid = owner_of(live, workers)
    assert None not in (dead_pid, live_pid) and dead_pid != live_pid
    os.kill(dead_pid, signal.SIGKILL)
    dead.settimeout(5)
    assert dead.recv(4096) == b""
    live.sendall(b"a1 NOOP\r\n")
    assert b"a1 OK" in live.recv(4096)
    wait_children(server, {"imap": 2})
    s = server.connect()
    assert s.recv(4096).startswith(b"* OK")
    s.close()
    live.close()
    assert server.stop() == 0


def owner_of(sock, pids):
    """The worker pid holding the server side of sock (from /proc/PID/fd)."""
    local, remote = sock.getsockname(), sock.getpeername()
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(remote[0]), "little"), remote[1])
    peer = "%08X:%04X" % (int.from_bytes(socket.inet_aton(local[0]), "little"), local[1])
    inode = None
    deadline = time.monotonic() + 5
    while inode is None and time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[2] == peer:
                    inode = fields[9]
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                    return pid
        except OSError:
            pass
    return None


def connect_two_real_workers(server, pids):
    """Two greeted connections held by different workers (see connect_two_workers)."""
    socks = []
    for _ in range(40):
        s = server.connect()
        assert s.recv(4096).startswith(b"* OK")
        socks.append(s)
        if owner_of(s, pids) != owner_of(socks[0], pids):
            break
    for s in socks[1:-1]:
        s.close()
    return socks[0], socks[-1]


def established_per_worker(port, pids):
    """{pid: number of established connections to port it holds} (from /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    established.add(fields[9])
    return {pid: len(socket_inodes(pid) & established) for pid in pids}


def start_real(tmp_path, pymap_server, workers):
    mail = tmp_path / "mail"
    mail.mkdir()
    if IS_ROOT:
        ensure_system_users()
        shutil.chown(mail, "pymap", "pymap")
        os.chmod(tmp_path, 0o755)
    server = pymap_server(args=["maildir", str(mail)],
                          config=real_conf() + "workers = %d\n" % workers, wait=False)
    wait_until(lambda: server.proc.poll() is not None or "children ready" in server.log_text(),
               what="workers ready or master gone")
    return server, wait_children(server, {"imap": workers})["imap"]


def open_sessions(server, count):
    socks = []
    for _ in range(count):
        s = server.connect()
        assert s.recv(4096).startswith(b"* OK")
        socks.append(s)
    return socks


def noop_all(socks):
    for i, s in enumerate(socks):
        s.sendall(b"n%d NOOP\r\n" % i)
    for i, s in enumerate(socks):
        data = b""
        while b"n%d OK" % i not in data:
            chunk = s.recv(4096)
            assert chunk, "connection %d closed" % i
            data += chunk


def assert_fair(counts, total):
    assert sum(counts.values()) == total, counts
    share = total / len(counts)
    for n in counts.values():
        assert 0.6 * share <= n <= 1.4 * share, counts


@needs_worker
def test_real_workers_share_connections(tmp_path, pymap_server):
    """400 held connections end up about evenly in 2 workers (each 30%..70%: the
    binomial spread is 5% here, so this bound does not flake); a worker killed with
    -9 takes only its own clients; new connections succeed while it is down and
    after its restart, and reach the new worker too."""
    server, pids = start_real(tmp_path, pymap_server, 2)
    socks = open_sessions(server, 400)
    counts = established_per_worker(server.port, pids)
    assert_fair(counts, 400)
    owners = {s: owner_of(s, pids) for s in socks[:60]}
    dead_pid = pids[0]
    os.kill(dead_pid, signal.SIGKILL)
    server.wait_log("service imap: pid %d killed by signal 9" % dead_pid)
    for s, pid in owners.items():
        if pid == dead_pid:
            s.settimeout(5)
            assert s.recv(4096) == b""
    live = [s for s, pid in owners.items() if pid != dead_pid]
    assert live
    noop_all(live)
    more = open_sessions(server, 30)      # while the worker is down or just restarted
    noop_all(more)
    new_pids = wait_children(server, {"imap": 2})["imap"]
    assert dead_pid not in new_pids and pids[1] in new_pids
    (new_pid,) = [p for p in new_pids if p != pids[1]]
    for s in socks + more:
        s.close()
    wait_until(lambda: sum(established_per_worker(server.port, new_pids).values()) == 0,
               what="sessions closed")
    socks = open_sessions(server, 200)
    assert_fair(established_per_worker(server.port, new_pids), 200)
    noop_all(socks)
    for s in socks:
        s.close()
    assert server.stop() == 0


@needs_worker
def test_real_workers_reload_keeps_accepting(tmp_path, pymap_server):
    """SIGHUP while clients connect all the time: every connection is greeted. The
    new worker count (2 -> 3) gets its sockets and shares the load; back to 1, the
    single worker takes everything."""
    import threading
    server, pids = start_real(tmp_path, pymap_server, 2)
    results = {"ok": 0, "errors": []}
    stop = threading.Event()

    def connector():
        while not stop.is_set():
            try:
                s = server.connect()
                s.settimeout(10)
                greeting = s.recv(4096)
                s.close()
                if greeting.startswith(b"* OK"):
                    results["ok"] += 1
                else:
                    results["errors"].append(greeting)
            except OSError as e:
                results["errors"].append(e)
            time.sleep(0.005)

    thread = threading.Thread(target=connector)
    thread.start()
    try:
        wait_until(lambda: results["ok"] >= 20, what="connections before the reload")
        server.config_path.write_text(real_conf() + "workers = 3\n")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_log("generation 2: all 5 children ready")
        before = results["ok"]
        wait_until(lambda: results["ok"] >= before + 50, what="connections after the reload")
    finally:
        stop.set()
        thread.join()
    assert results["errors"] == []
    new = wait_children(server, {"imap": 3})["imap"]
    assert not set(new) & set(pids)
    socks = open_sessions(server, 300)
    assert_fair(established_per_worker(server.port, new), 300)
    for s in socks:
        s.close()
    server.config_path.write_text(real_conf() + "workers = 1\n")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log("generation 3: all 3 children ready")
    (single,) = wait_children(server, {"imap": 1})["imap"]
    assert len(listening_sockets({server.port})) == 1
    socks = open_sessions(server, 20)
    assert established_per_worker(server.port, [single]) == {single: 20}
    for s in socks:
        s.close()
    assert server.stop() == 0


@needs_worker
def test_real_worker_sigterm_bye(tmp_path, pymap_server):
    server = pymap_server(args=["dict", "--demo-data"], config=real_conf())
    wait_children(server, {"imap": 1})
    s = server.connect()
    assert s.recv(4096).startswith(b"* OK")
    pids = server.children()
    server.proc.send_signal(signal.SIGTERM)
    s.settimeout(10)
    data = b""
    while b"\r\n" not in data or not data.startswith(b"* BYE"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"* BYE")
    assert server.proc.wait(15) == 0
    assert not any(alive(p) for p in pids)


def test_example_config_and_docs_cover_every_key(tmp_path):
    """conf/pymap.conf shows every key and parses when uncommented; the reference
    documents every key."""
    import re
    example = open(os.path.join(ROOT, "conf", "pymap.conf")).read()
    doc = open(os.path.join(ROOT, "doc", "pymap.conf.md")).read()
    out = run_pymap("--check-config", "--set-uid", "root", "--set-gid", "root")
    assert out.returncode == 0, out.stderr
    section = None
    for line in out.stdout.splitlines():
        if line.startswith("["):
            section = line
            continue
        if not line:
            continue
        key = line.split(" = ")[0]
        assert re.search(r"^#%s = " % re.escape(key), example, re.M), (section, key)
        assert "`%s`" % key in doc, (section, key)
    uncommented = re.sub(r"^#(\w+ = )", r"\1", example, flags=re.M)
    uncommented = re.sub(r"^(\w+_(user|group)) = .*$", r"\1 = root", uncommented, flags=re.M)
    # No certificate: the TLS files are loaded (and must be real) when one is set.
    uncommented = re.sub(r"^(cert|key) = .*$", r"\1 = ", uncommented, flags=re.M)
    conf = tmp_path / "all.conf"
    conf.write_text(uncommented)
    out = run_pymap("-c", str(conf), "--check-config")
    assert out.returncode == 0, out.stderr
    assert "\nmax_append_bytes = 1000000000\n" in out.stdout
