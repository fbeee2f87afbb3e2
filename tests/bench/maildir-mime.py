"""FETCH 1:* (ENVELOPE BODYSTRUCTURE) on a large maildir through the real daemon, run
several times: the first run parses every message (and fills the maildir backend's
MIME cache, doc/maildir-index.md), the later ones should be served from the cache.

Prints the time of each run and, with --strace, what the imap workers did during one
more run (openat/mmap/read/pread64 counts from `strace -c`). Not a test: no timed
assertion, just figures.

    /usr/bin/python3 tests/bench/maildir-mime.py [--count 10000] [--runs 3]
        [--build build/release] [--strace] [--keep DIR]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, chown_tree, free_port, mail_ids, sha512_crypt, wait_port  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "data", "mail")
USER, PASSWORD = "benchuser", "benchpass"


def make_maildir(base, count):
    """Users files in pymap's format and count messages from the corpus, cyclically,
    straight into cur/ (as an MTA + MUA would have left them)."""
    os.makedirs(base)
    with open(os.path.join(base, "pymap-etc-passwd"), "w") as f:
        f.write("%s:x::::%s:\r\n" % (USER, USER))
    with open(os.path.join(base, "pymap-etc-shadow"), "w") as f:
        f.write("%s:%s:::::::\r\n" % (USER, sha512_crypt(PASSWORD)))
    corpus = [open(os.path.join(CORPUS, n), "rb").read()
              for n in sorted(os.listdir(CORPUS)) if n.endswith(".eml")]
    root = os.path.join(base, USER)
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d))
    now = int(time.time()) - 86400
    for i in range(count):
        data = corpus[i % len(corpus)]
        name = "%d.M%dP1.bench,S=%d:2,S" % (now + i, i, len(data))
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (now + i, now + i))
    chown_tree(base, *mail_ids())
    return len(corpus)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buf = b""
        self.tag = 0
        self.readline()

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, text):
        """Send a command, read to its tagged reply; returns (tagged line, untagged
        line count, bytes)."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        lines = total = 0
        while True:
            line = self.readline()
            total += len(line) + 2
            if line.endswith(b"}"):   # a literal: read it whole
                n = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                while len(self.buf) < n:
                    self.buf += self.sock.recv(1 << 20)
                self.buf = self.buf[n:]
                total += n
                continue
            if line.startswith(tag + b" "):
                return line, lines, total
            lines += 1

    def command_bulk(self, text):
        """Like command() for a large response, without parsing it line by line (so
        the client is not what is measured): reads until the tagged line, counts the
        FETCH responses."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        chunks, total, tail = [self.buf], len(self.buf), self.buf
        self.buf = b""
        end = b"\r\n" + tag + b" "
        while True:
            pos = tail.find(end)
            if pos >= 0 and tail.endswith(b"\r\n"):
                break
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            chunks.append(chunk)
            total += len(chunk)
            tail = tail[-200:] + chunk
        data = b"".join(chunks)
        tagged = data[data.rindex(end) + 2:-2]
        return tagged, data.count(b" FETCH ("), total

    def close(self):
        try:
            self.command("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


def imap_children(master_pid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % entry).read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if int(fields[1]) == master_pid and "imap" in comm:
            pids.append(int(entry))
    return pids


def cpu_seconds(pids):
    """(user, system) CPU time of these processes so far."""
    user = system = 0
    for pid in pids:
        try:
            fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def run_fetch(port, count, workers):
    c = Conn(port)
    assert c.command("LOGIN %s %s" % (USER, PASSWORD))[0].split()[1] == b"OK"
    t0 = time.monotonic()
    tagged, _, _ = c.command("SELECT INBOX")
    t_select = time.monotonic() - t0
    assert tagged.split()[1] == b"OK", tagged
    cpu0 = cpu_seconds(workers)
    t0 = time.monotonic()
    tagged, lines, size = c.command_bulk("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
    t_fetch = time.monotonic() - t0
    cpu1 = cpu_seconds(workers)
    cpu = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])
    assert tagged.split()[1] == b"OK", tagged
    assert lines == count, (lines, count)
    c.close()
    return t_select, t_fetch, cpu, size


def strace_start(pids, out):
    args = ["strace", "-c", "-f", "-o", out, "-e", "trace=openat,mmap,read,pread64,fstat"]
    for pid in pids:
        args += ["-p", str(pid)]
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    time.sleep(1.0)    # let strace attach
    return proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--keep", help="reuse/keep this directory")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="maildir-mime-")
    os.chmod(tmp, 0o755)
    base = os.path.join(tmp, "maildir")
    if not os.path.exists(base):
        n = make_maildir(base, args.count)
        print("generated %d messages (corpus of %d, cyclic) in %s" % (args.count, n, base))
    else:   # a fresh start: no index, no MIME cache
        for name in ("pymap-index", "pymap-mime"):
            p = os.path.join(base, USER, name)
            if os.path.exists(p):
                os.unlink(p)
    run_dir = os.path.join(tmp, "run")
    os.makedirs(run_dir, exist_ok=True)
    os.chmod(run_dir, 0o755)
    port = free_port()
    log = open(os.path.join(tmp, "pymap.log"), "ab")
    server = subprocess.Popen([os.path.join(args.build, "sbin", "pymap"), "--host", "127.0.0.1",
                               "--port", str(port), "--run-dir", run_dir, "maildir", base],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, server, timeout=10)
        print("build %s, %d messages, FETCH 1:* (ENVELOPE BODYSTRUCTURE)" % (args.build, args.count))
        for run in range(args.runs + (1 if args.strace else 0)):
            tracer = None
            if run == args.runs:
                trace_out = os.path.join(tmp, "strace.txt")
                tracer = strace_start(imap_children(server.pid), trace_out)
            t_select, t_fetch, cpu, size = run_fetch(port, args.count, imap_children(server.pid))
            print("%s %d: SELECT %.3f s, FETCH %.3f s, imap worker CPU user %.2f s + sys %.2f s (%d bytes)"
                  % ("traced run" if tracer else "run", run + 1, t_select, t_fetch, cpu[0], cpu[1],
                     size))
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)
                tracer.wait()
                print("strace -c of the imap workers during run %d:" % (run + 1))
                sys.stdout.write(open(trace_out).read())
        cache = os.path.join(base, USER, "pymap-mime")
        if os.path.exists(cache):
            print("pymap-mime: %d bytes" % os.path.getsize(cache))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
