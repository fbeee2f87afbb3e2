"""pymap side by side with Dovecot: starts both servers on the same generated data, runs
imapbench scenarios against each in alternating order, samples CPU and memory of every
server process from /proc, and prints a table (figure, pymap, Dovecot, ratio).
Started by tests/bench/run, which builds imapbench/genmail first. See doc/bench.md."""
import argparse
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "build", "bench")
IMAPBENCH = os.path.join(BENCH, "imapbench")
GENMAIL = os.path.join(BENCH, "genmail")
DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "demouser", "demopass"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")

# figures: (label, key function over a run result, unit, higher is better)
QUICK = dict(rounds=2, login=(8, 2), mixed=(8, 3), fetch=(1, 2), append=(2, 2),
             big_count=2000, idle=200, dovecot_idle=200, deliveries=3, idle_timeout=90)
# dovecot_idle: Dovecot runs an imap process per session (~0.5 MiB PSS, ~5 MiB RSS each);
# 10,000 of them do not fit on a 2-CPU machine (the load average reached 3,300 and the
# run never finished), so its idle-fleet is capped; pymap runs the full 10,000.
FULL = dict(rounds=3, login=(16, 8), mixed=(50, 10), fetch=(2, 20), append=(4, 8),
            big_count=100000, idle=10000, dovecot_idle=2000, deliveries=20, idle_timeout=240)


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                s.recv(100)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen on %d" % port)


def sha512_crypt(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", "benchsaltbench", password],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def mail_ids():
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    pw = pwd.getpwnam("pymap")
    return pw.pw_uid, pw.pw_gid


def chown_tree(path, uid, gid):
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


# ---- /proc sampling --------------------------------------------------------------------
def proc_table():
    """{pid: (ppid, cpu_ticks_incl_reaped_children, rss_bytes)} for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(")") + 2:].split()
        ppid = int(rest[1])
        cpu = sum(int(x) for x in rest[11:15])   # utime stime cutime cstime
        rss = int(rest[21]) * PAGE
        table[int(name)] = (ppid, cpu, rss)
    return table


def tree(table, root):
    pids, todo = [], [root]
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in table:
            pids.append(pid)
            todo.extend(children.get(pid, []))
    return pids


def pss_total(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    """Samples a server's process tree: CPU ticks (with reaped children), total RSS,
    largest single process RSS, process count."""

    def __init__(self, root_pids, interval):
        super().__init__(daemon=True)
        self.roots, self.interval = root_pids, interval
        self.stop_ev = threading.Event()
        self.peak_total = self.peak_proc = self.peak_procs = 0
        self.cpu0 = self.cpu1 = None

    def snapshot(self):
        table = proc_table()
        pids = [p for root in self.roots for p in tree(table, root)]
        cpu = sum(table[p][1] for p in pids)
        total = sum(table[p][2] for p in pids)
        biggest = max((table[p][2] for p in pids), default=0)
        self.peak_total = max(self.peak_total, total)
        self.peak_proc = max(self.peak_proc, biggest)
        self.peak_procs = max(self.peak_procs, len(pids))
        return pids, cpu, total

    def run(self):
        _, self.cpu0, _ = self.snapshot()
        while not self.stop_ev.wait(self.interval):
            self.snapshot()

    def finish(self):
        self.stop_ev.set()
        self.join()
        _, self.cpu1, _ = self.snapshot()
        return (self.cpu1 - self.cpu0) / TICK


# ---- servers ---------------------------------------------------------------------------
class Server:
    name = "?"

    def pids(self):
        """Roots of the process trees that do this server's work (CPU, memory)."""
        return [self.proc.pid]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


class RedisServer(Server):
    """pymap's Redis for --backend redis: 127.0.0.1, a free port, its own temp dir, no
    RDB snapshots; append-only file fsynced as --redis-fsync says. Stopped by pid."""
    name = "redis"

    def __init__(self, tmp, fsync):
        self.dir = os.path.join(tmp, "redis")
        os.makedirs(self.dir)
        self.port, self.fsync, self.proc = free_port(), fsync, None

    def start(self):
        aof = ["--appendonly", "no"] if self.fsync == "off" else [
            "--appendonly", "yes", "--appendfsync", self.fsync]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--dir", self.dir, "--daemonize", "no",
             "--logfile", os.path.join(self.dir, "redis.log")] + aof,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 15
        while True:
            try:
                if self.call("PING") == b"PONG":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > end:
                raise RuntimeError("redis-server did not start (see %s/redis.log)"
                                   % self.dir)
            time.sleep(0.05)

    def call(self, *args):
        """One command over RESP; the reply (simple/bulk string as bytes, integer)."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(b"".join(out))
            f = sock.makefile("rb")
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"-":
                raise RuntimeError("redis: %s" % rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2]
            return rest

    def add_user(self, user, hashed):
        """The record format of src/lib/redis-users.h (default users prefix and
        separator: "/users/{user}" and the "/users/index" set)."""
        record = {"password": hashed, "roles": [], "params": {}, "etag": "1"}
        self.call("SET", "/users/{%s}" % user, json.dumps(record))
        self.call("SADD", "/users/index", user)


class Pymap(Server):
    name = "pymap"

    def __init__(self, tmp, backend, maildir_src, clients, hashed, redis_fsync="everysec"):
        self.dir = os.path.join(tmp, "pymap")
        os.makedirs(self.dir)
        self.port, self.backend, self.proc = free_port(), backend, None
        self.hashed, self.redis = hashed, None
        conf = os.path.join(self.dir, "pymap.conf")
        with open(conf, "w") as f:
            f.write("[server]\nallow_root = yes\nlog_file = %s/pymap.log\n"
                    "[imap]\nclient_limit = %d\n[auth]\nhash_scheme = sha512-crypt\n"
                    % (self.dir, clients + 1000))
        args = [os.environ.get("PYMAP", os.path.join(
                    os.environ.get("PYMAP_BUILD", os.path.join(ROOT, "build", "release")),
                    "sbin", "pymap")),
                "-c", conf, "--host", "127.0.0.1", "--port", str(self.port),
                "--run-dir", os.path.join(self.dir, "run"), "--no-tls"]
        if backend == "dict":
            args += ["dict", "--demo-user", USER, "--demo-password", PASSWORD]
        elif backend == "redis":
            self.redis = RedisServer(tmp, redis_fsync)
            args += ["redis", "--address", "redis://127.0.0.1:%d" % self.redis.port]
        else:
            base = os.path.join(self.dir, "base")
            os.makedirs(base)
            with open(os.path.join(base, "pymap-etc-passwd"), "w") as f:
                f.write("%s:x::::%s:\r\n" % (USER, USER))
            with open(os.path.join(base, "pymap-etc-shadow"), "w") as f:
                f.write("%s:%s:::::::\r\n" % (USER, hashed))
            shutil.copytree(maildir_src, os.path.join(base, USER), symlinks=True)
            chown_tree(base, *mail_ids())
            args += ["maildir", base]
        self.args = args

    def pids(self):
        return [self.proc.pid] + ([self.redis.proc.pid] if self.redis else [])

    def stop(self):
        super().stop()
        if self.redis:
            self.redis.stop()

    def start(self):
        if self.redis:
            self.redis.start()
            self.redis.add_user(USER, self.hashed)
        self.log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(self.port, self.proc)
        time.sleep(0.3)   # all children ready

    def describe(self):
        if self.backend == "redis":
            out = subprocess.run(["redis-server", "--version"], capture_output=True,
                                 text=True)
            return ("pymap redis backend, %s on 127.0.0.1 (appendfsync %s; its CPU and "
                    "memory counted as pymap's)" % (
                        " ".join(out.stdout.split()[:3]), self.redis.fsync))
        return "pymap %s backend, %s" % (
            self.backend, "memory" if self.backend == "dict" else "maildir on disk")


class Dovecot(Server):
    name = "Dovecot"

    def __init__(self, tmp, maildir_src, clients, hashed):
        self.dir = os.path.join(tmp, "dovecot")
        run, home = os.path.join(self.dir, "run"), os.path.join(self.dir, "home")
        for d in (run, home, os.path.join(self.dir, "state"), os.path.join(self.dir, "index")):
            os.makedirs(d)
        self.port, self.proc = free_port(), None
        uid, gid = mail_ids()
        mail = os.path.join(self.dir, "Maildir")
        shutil.copytree(maildir_src, mail, symlinks=True)
        chown_tree(self.dir, uid, gid)
        for d in (self.dir, run):
            os.chown(d, 0, 0) if os.geteuid() == 0 else None
            os.chmod(d, 0o755)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("%s:{SHA512-CRYPT}%s\n" % (USER, hashed))
        procs = clients + 100
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(
                run=run, dir=self.dir, mail=mail, uid=uid, gid=gid, port=self.port,
                procs=procs, clients=max(1000, 2 * procs + 1000), userip=procs))

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(self.port, self.proc)

    def describe(self):
        out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True)
        return "Dovecot %s, maildir on disk, one imap process per session" % (
            out.stdout.strip())


DOVECOT_CONF = """
base_dir = {run}
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}:INDEX={dir}/index
first_valid_uid = 1
mail_max_userip_connections = {userip}
default_process_limit = {procs}
default_client_limit = {clients}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service imap {{
  process_limit = {procs}
}}
service anvil {{
  chroot =
}}
"""


# ---- running a scenario ---------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.failures = []

    def imapbench(self, server, argv, on_ready=None, label="", timeout=None):
        cmd = [IMAPBENCH, "-q", "-p", str(server.port), "-u", USER, "-w", PASSWORD] + argv
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler = Sampler(server.pids(), self.args.sample_interval)
        sampler.start()
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        # A server that cannot keep up must not hold the whole bench: stop imapbench
        # after `timeout` seconds (it reports what it measured until then); figures
        # measured before (idle memory) are kept.
        stopped = threading.Event()

        def stop():
            stopped.set()
            proc.terminate()
        killer = threading.Timer(timeout, stop) if timeout else None
        if killer:
            killer.start()
        result, ready_mem, table_lines = None, None, []
        err_lines = []
        t_err = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
        t_err.start()
        for line in proc.stdout:
            if line.startswith("READY") and on_ready:
                ready_mem = on_ready(server, sampler)
            elif line.startswith("RESULT "):
                result = json.loads(line[7:])
            else:
                table_lines.append(line.rstrip())
        proc.wait()
        if killer:
            killer.cancel()
        t_err.join(5)
        cpu = sampler.finish()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if stopped.is_set():
            err_lines.append("imapbench stopped after %d s (the server did not finish the "
                             "scenario in time)\n" % timeout)
            if result is not None:
                result["timed_out"] = True
            elif ready_mem:
                result = {"scenario": label, "secs": time.time() - t0, "sessions": 0,
                          "errors": 1, "timed_out": True, "cmds": {},
                          "idle_sessions": ready_mem.get("idle_sessions")}
        if proc.returncode != 0 or result is None:
            self.failures.append("%s %s: imapbench exit %s" % (server.name, label,
                                                              proc.returncode))
            log("  !! %s %s failed (exit %s):\n%s" % (
                server.name, label, proc.returncode, "".join(err_lines[-15:])))
        if result is None:
            return None
        result["server_cpu_s"] = cpu
        result["client_cpu_s"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        result["peak_rss_total"] = sampler.peak_total
        result["peak_rss_proc"] = sampler.peak_proc
        result["peak_procs"] = sampler.peak_procs
        if ready_mem:
            result.update(ready_mem)
        if self.args.verbose:
            log("\n".join("    " + line for line in table_lines))
        return result


def idle_memory(baseline):
    def on_ready(server, sampler):
        pids, _, total = sampler.snapshot()
        return {"idle_sessions": server.idle_target, "idle_rss_total": total, "idle_rss_base": baseline[server.name][0],
                "idle_pss_total": pss_total(pids), "idle_pss_base": baseline[server.name][1],
                "idle_procs": len(pids)}
    return on_ready


def mem_baseline(server):
    table = proc_table()
    pids = [p for root in server.pids() for p in tree(table, root)]
    return sum(table[p][2] for p in pids), pss_total(pids)


# ---- figures ---------------------------------------------------------------------------
def cmd(r, name, field):
    return r["cmds"].get(name, {}).get(field)


def per_s(r, name):
    return cmd(r, name, "rate")


FIGURES = {
    "login": [
        ("logins/s", lambda r: r["sessions"] / r["secs"], True),
        ("LOGIN p50 ms", lambda r: cmd(r, "LOGIN", "p50"), False),
        ("LOGIN p99 ms", lambda r: cmd(r, "LOGIN", "p99"), False),
        ("connect+greeting p99 ms", lambda r: cmd(r, "connect", "p99"), False),
        ("server CPU ms/login", lambda r: 1000 * r["server_cpu_s"] / max(1, r["sessions"]),
         False),
    ],
    "mixed": [
        ("sessions/s", lambda r: r["sessions"] / r["secs"], True),
        ("commands/s", lambda r: sum(v["rate"] for k, v in r["cmds"].items()
                                     if k not in ("session", "setup", "connect")), True),
        ("session p99 ms", lambda r: cmd(r, "session", "p99"), False),
    ] + [("%s p99 ms" % k, (lambda k: lambda r: cmd(r, k, "p99"))(k), False)
         for k in ("LOGIN", "SELECT", "FETCH-flags", "FETCH-body", "STORE", "APPEND",
                   "EXPUNGE", "IDLE", "DONE", "LOGOUT")] + [
        ("server CPU ms/session",
         lambda r: 1000 * r["server_cpu_s"] / max(1, r["sessions"]), False),
        ("peak RSS all procs MiB", lambda r: r["peak_rss_total"] / 2**20, False),
    ],
    "fetch-big": [
        ("messages in mailbox", lambda r: r.get("mailbox_messages"), None),
        ("FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)/s", lambda r: per_s(r, "FETCH-all"), True),
        ("  that many messages/s", lambda r: (per_s(r, "FETCH-all") or 0) *
         r.get("mailbox_messages", 0), True),
        ("FETCH 1:* first (cold) ms", lambda r: cmd(r, "FETCH-all-cold", "max"), False),
        ("FETCH 1:* warm p50 ms", lambda r: cmd(r, "FETCH-all", "p50"), False),
        ("FETCH 1:* warm p99 ms", lambda r: cmd(r, "FETCH-all", "p99"), False),
        ("FETCH bodies p50 ms", lambda r: cmd(r, "FETCH-body", "p50"), False),
        ("server CPU s", lambda r: r["server_cpu_s"], False),
        ("peak RSS all procs MiB", lambda r: r["peak_rss_total"] / 2**20, False),
    ],
    "append": [
        ("APPEND/s (4 KiB-1 MiB)", lambda r: per_s(r, "APPEND"), True),
        ("MiB/s appended", lambda r: r.get("append_bytes", 0) / 2**20 / r["secs"], True),
        ("APPEND p50 ms", lambda r: cmd(r, "APPEND", "p50"), False),
        ("APPEND p99 ms", lambda r: cmd(r, "APPEND", "p99"), False),
        ("server CPU ms/APPEND", lambda r: 1000 * r["server_cpu_s"] /
         max(1, cmd(r, "APPEND", "n") or 1), False),
        ("peak RSS all procs MiB", lambda r: r["peak_rss_total"] / 2**20, False),
    ],
    "idle-fleet": [
        ("idle sessions", lambda r: r.get("idle_sessions"), None),
        ("server processes while idle", lambda r: r.get("idle_procs"), None),
        ("RSS per idle session KiB", lambda r: (r["idle_rss_total"] - r["idle_rss_base"]) /
         1024 / max(1, r["idle_sessions"]) if "idle_rss_total" in r else None, False),
        ("PSS per idle session KiB", lambda r: (r["idle_pss_total"] - r["idle_pss_base"]) /
         1024 / max(1, r["idle_sessions"]) if "idle_pss_total" in r else None, False),
        ("total RSS while idle MiB", lambda r: r.get("idle_rss_total", 0) / 2**20, False),
        ("push latency p50 ms", lambda r: cmd(r, "push", "p50"), False),
        ("push latency p99 ms", lambda r: cmd(r, "push", "p99"), False),
        ("push latency max ms", lambda r: cmd(r, "push", "max"), False),
        ("pushed before APPEND OK", lambda r: r.get("push_before_append_ok"), None),
        # late pushes enter the percentiles at the 5 s wait (a lower bound)
        ("pushes later than 5 s", lambda r: r.get("push_late"), False),
        ("LOGIN p99 ms (ramp)", lambda r: cmd(r, "LOGIN", "p99"), False),
    ],
}


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def table(scenario, runs):
    rows = []
    for label, fn, higher in FIGURES[scenario]:
        vals = {}
        for name in ("pymap", "Dovecot"):
            xs = []
            for r in runs.get(name, []):
                try:
                    x = fn(r)
                except (KeyError, TypeError, ZeroDivisionError):
                    x = None
                if x is not None:
                    xs.append(x)
            vals[name] = statistics.median(xs) if xs else None
        p, d = vals["pymap"], vals["Dovecot"]
        ratio = "-" if p is None or d is None or d == 0 else "%.2f" % (p / d)
        bad = {n: any(r["errors"] for r in runs.get(n, [])) for n in ("pymap", "Dovecot")}
        arrow = "" if higher is None else (" (higher is better)" if higher
                                           else " (lower is better)")
        rows.append((label + arrow, fmt(p) + ("!" if bad["pymap"] else ""),
                     fmt(d) + ("!" if bad["Dovecot"] else ""), ratio))
    w = max(len(r[0]) for r in rows)
    out = ["%-*s %12s %12s %7s" % (w, scenario, "pymap", "Dovecot", "ratio")]
    out += ["%-*s %12s %12s %7s" % (w, *r) for r in rows]
    if any("!" in r[1] + r[2] for r in rows):
        out.append("! = that server gave wrong or failed answers in this scenario: "
                   "its figures are not valid")
    return "\n".join(out)


# ---- main ------------------------------------------------------------------------------
def ensure_dovecot():
    if os.path.exists(DOVECOT):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing dovecot-imapd (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", "dovecot-imapd"], env=env)
        subprocess.run(["systemctl", "stop", "dovecot"], stderr=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
    return os.path.exists(DOVECOT)


def raise_inotify(needed):
    """Dovecot's IDLE takes an inotify instance per session (default limit 128 per
    user); without more it falls back to polling. pymap's maildir backend takes one per
    worker process (it polls once a second when it gets none). Returns the value to
    restore."""
    path = "/proc/sys/fs/inotify/max_user_instances"
    try:
        old = int(open(path).read())
        if old < needed and os.geteuid() == 0:
            with open(path, "w") as f:
                f.write(str(needed))
            return old
    except OSError:
        pass
    return None


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="CI smoke run (under 2 minutes)")
    ap.add_argument("--backend", choices=("maildir", "dict", "redis"), default="maildir",
                    help="pymap's backend (Dovecot always runs maildir)")
    ap.add_argument("--redis-fsync", choices=("always", "everysec", "no", "off"),
                    default="everysec",
                    help="--backend redis: appendfsync of the bench's redis-server "
                         "(off: no append-only file)")
    ap.add_argument("--only", default="login,mixed,fetch-big,append,idle-fleet")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--idle", type=int, help="idle-fleet sessions (pymap)")
    ap.add_argument("--dovecot-idle", type=int,
                    help="idle-fleet sessions for Dovecot (full run: 2000, a process each)")
    ap.add_argument("--big-count", type=int, help="messages in the fetch-big mailbox")
    ap.add_argument("--login-conns", type=int,
                    help="connections of the login scenario (quick: 8, full: 16)")
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--json", help="write all runs to this file")
    ap.add_argument("--sample-interval", type=float, default=0.25)
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap.parse_args()


def main():
    args = parse_args()
    p = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "idle", "dovecot_idle", "big_count"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    if args.login_conns is not None:
        p["login"] = (args.login_conns, p["login"][1])
    if args.idle is not None and args.dovecot_idle is None:
        p["dovecot_idle"] = min(args.idle, FULL["dovecot_idle"])
    p["dovecot_idle"] = min(p["dovecot_idle"], p["idle"])
    scenarios = [s for s in args.only.split(",") if s]
    t0 = time.time()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if "idle-fleet" in scenarios and hard < p["idle"] + 500:
        log("note: RLIMIT_NOFILE hard limit %d; idle-fleet reduced to %d sessions"
            % (hard, hard - 500))
        p["idle"] = hard - 500
        p["dovecot_idle"] = min(p["dovecot_idle"], p["idle"])
    clients = max(p["idle"] if "idle-fleet" in scenarios else 0, 300)
    use_dovecot = not args.no_dovecot and ensure_dovecot()

    tmp = tempfile.mkdtemp(prefix="pymap-bench-")
    os.chmod(tmp, 0o755)
    restore_inotify = None
    servers = []
    bench = Bench(args)
    try:
        src = os.path.join(tmp, "src")
        if "fetch-big" in scenarios:
            log("genmail: %d messages into the bigbox maildir" % p["big_count"])
            subprocess.run([GENMAIL, "--maildir", src, "--mailbox", "bigbox",
                            "-n", str(p["big_count"]), "--max-size", "32768"], check=True)
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(src, d), exist_ok=True)
        hashed = sha512_crypt(PASSWORD)
        if args.backend == "redis" and shutil.which("redis-server") is None:
            raise SystemExit("--backend redis needs redis-server (make deps)")
        pym = Pymap(tmp, args.backend, src, clients, hashed, args.redis_fsync)
        servers.append(pym)
        if use_dovecot:
            dov = Dovecot(tmp, src, max(p["dovecot_idle"] if "idle-fleet" in scenarios
                                        else 0, 300), hashed)
            servers.append(dov)
        if "idle-fleet" in scenarios and use_dovecot:
            # Dovecot takes an inotify instance per IDLE session (pymap: one per worker)
            restore_inotify = raise_inotify(p["dovecot_idle"] + 1000)
        header(args, p, servers, restore_inotify)
        for s in servers:
            s.start()
        if args.backend in ("dict", "redis") and "fetch-big" in scenarios:
            log("loading %d messages into pymap's %s through APPEND (imapbench -s load)"
                % (p["big_count"], args.backend))
            subprocess.run([IMAPBENCH, "-q", "-s", "load", "-p", str(pym.port), "-u", USER,
                            "-w", PASSWORD, "-c", "2", "--msgs", str(p["big_count"]),
                            "--max-size", "32768", "-m", "bigbox"], check=True,
                           stdout=subprocess.DEVNULL)
        runs = run_all(bench, servers, scenarios, p)
        log("")
        for sc in scenarios:
            if runs.get(sc):
                log(table(sc, runs[sc]))
                for name, rs in runs[sc].items():
                    if any(r.get("timed_out") for r in rs):
                        log("note: %s's %s run was stopped after %d s; the figures are "
                            "those measured until then" % (name, sc, p["idle_timeout"]))
                if sc == "idle-fleet" and p["dovecot_idle"] < p["idle"]:
                    log("note: Dovecot's idle-fleet capped at %d sessions (a process per "
                        "session; %d do not fit on this machine), pymap ran %d"
                        % (p["dovecot_idle"], p["idle"], p["idle"]))
                log("")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(runs, f, indent=1)
    finally:
        for s in servers:
            s.stop()
        if restore_inotify is not None:
            with open("/proc/sys/fs/inotify/max_user_instances", "w") as f:
                f.write(str(restore_inotify))
        if args.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log("bench took %.0f s" % (time.time() - t0))
    if bench.failures:
        log("FAILED: " + "; ".join(bench.failures))
        return 1
    return 0


def header(args, p, servers, inotify_old):
    log("=" * 78)
    for s in servers:
        log("%-8s %s" % (s.name, s.describe()))
    if len(servers) == 1:
        log("!! Dovecot is not available: pymap figures only")
    log("password scheme: SHA512-CRYPT (rounds=5000) on both sides, user %s" % USER)
    if args.backend == "dict":
        log("!" * 78)
        log("!! NOT LIKE FOR LIKE: pymap keeps mail in MEMORY (dict backend),")
        log("!! Dovecot keeps it in a MAILDIR ON DISK. Compare with --backend maildir.")
        log("!" * 78)
    if args.backend == "redis":
        log("pymap keeps mail in Redis (in memory; append-only file with appendfsync %s),"
            % args.redis_fsync)
        log("Dovecot in a maildir on disk. redis-server's CPU and memory count as pymap's.")
    log("machine: %d CPUs; client and servers share them. rounds %d (alternating order)"
        % (os.cpu_count(), p["rounds"]))
    if inotify_old is not None:
        log("fs.inotify.max_user_instances raised from %d for Dovecot's IDLE (one per "
            "session) (restored at the end)" % inotify_old)
    log("=" * 78)


def run_all(bench, servers, scenarios, p):
    runs = {}
    baseline = {}
    for sc in scenarios:
        rounds = 1 if sc == "idle-fleet" else p["rounds"]
        for rnd in range(rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for s in order:
                argv, on_ready = scenario_args(sc, p, s.name)
                if sc == "idle-fleet":
                    baseline[s.name] = mem_baseline(s)
                    on_ready = idle_memory(baseline)
                    s.idle_target = p["dovecot_idle"] if s.name == "Dovecot" else p["idle"]
                log("%-10s round %d/%d  %-7s ..." % (sc, rnd + 1, rounds, s.name))
                r = bench.imapbench(s, argv, on_ready, sc,
                                    p["idle_timeout"] if sc == "idle-fleet" else None)
                if r is not None:
                    runs.setdefault(sc, {}).setdefault(s.name, []).append(r)
                    log("           %s" % one_line(sc, r))
    return runs


def scenario_args(sc, p, server="pymap"):
    if sc == "login":
        c, d = p["login"]
        return ["-s", "login", "-c", str(c), "-d", str(d)], None
    if sc == "mixed":
        c, d = p["mixed"]
        return ["-s", "mixed", "-c", str(c), "-d", str(d), "--ramp", "50"], None
    if sc == "fetch-big":
        c, d = p["fetch"]
        return ["-s", "fetch-big", "-c", str(c), "-d", str(d), "-m", "bigbox"], None
    if sc == "append":
        c, d = p["append"]
        return ["-s", "append", "-c", str(c), "-d", str(d)], None
    if sc == "idle-fleet":
        k = p["dovecot_idle"] if server == "Dovecot" else p["idle"]
        return ["-s", "idle-fleet", "-c", str(k), "--deliveries",
                str(p["deliveries"]), "--interval-ms", "200", "--settle", "2",
                "--ramp", "100"], None
    raise ValueError(sc)


def one_line(sc, r):
    base = "%.1f s, %d sessions, errors %d, server CPU %.2f s, peak RSS %.1f MiB (%d procs)" % (
        r["secs"], r["sessions"], r["errors"], r["server_cpu_s"],
        r["peak_rss_total"] / 2**20, r["peak_procs"])
    if r.get("timed_out"):
        base += ", STOPPED (timeout)"
    if sc == "idle-fleet" and "idle_rss_total" in r:
        base += ", idle RSS %.1f MiB, push p99 %s ms, %s pushes later than 5 s" % (
            r["idle_rss_total"] / 2**20, fmt(cmd(r, "push", "p99")), r.get("push_late", "?"))
    return base


if __name__ == "__main__":
    sys.exit(main())
