"""The maildir scenario of issue 8: on a generated N-message maildir (default 100,000),
time SELECT, FETCH 1:* (FLAGS), UID SEARCH of a header and STATUS, cold (first
session after start, no index yet) and warm (a later session), for pymap's maildir
backend and the reference Dovecot, each on its own copy of the same files. Prints a
table with the ratio. Figures only: no timed assertion.

Then the write phase (doc/bench.md, same section): on the same server, one session
times single APPENDs, single-UID STOREs and single-UID expunges, and reads what the
server's processes wrote (/proc/PID/io) around each command; the same again on a small
folder (--small) so that the tables show whether a change costs O(1) or O(folder size).

    /usr/bin/python3 tests/bench/maildir-ops.py [--count 100000] [--warm-runs 2]
        [--small 1000] [--writes 200] [--literal plus|sync] [--json FILE] [--keep]
    smoke: --count 5000 --small 500 --writes 50
"""
import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the side-by-side runner: Pymap, Dovecot, users)

CORPUS = os.path.join(HERE, "..", "data", "mail")
COMMANDS = [
    ("SELECT INBOX", "SELECT INBOX"),
    ("FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)"),
    ("UID SEARCH HEADER", 'UID SEARCH HEADER Subject "needle-not-there"'),
    ("STATUS", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)"),
]


def generate(src, count):
    """count messages from the corpus, cyclically, in cur/ with Dovecot-style names
    (,S= file size, ,W= size with CRLF line ends), a third of them \\Seen."""
    corpus = []
    for name in sorted(os.listdir(CORPUS)):
        data = open(os.path.join(CORPUS, name), "rb").read()
        bare = data.count(b"\n") - data.count(b"\r\n")
        corpus.append((data, len(data), len(data) + bare))
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(src, d))
    now = int(time.time()) - 86400
    for i in range(count):
        data, size, vsize = corpus[i % len(corpus)]
        flags = "S" if i % 3 == 0 else ""
        name = "%d.M%dP1.bench,S=%d,W=%d:2,%s" % (now + i // 100, i, size, vsize, flags)
        path = os.path.join(src, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (now + i, now + i))


class Conn:
    """A raw client that looks only at the end of each answer (so reading a 100k-line
    FETCH costs the client little)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.n = 0
        data = b""
        while b"\r\n" not in data:
            data += self.sock.recv(4096)

    def cmd(self, text):
        self.n += 1
        tag = b"b%d" % self.n
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        marker = b"\r\n" + tag + b" "
        tail = b"\r\n"
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            data = tail + chunk
            i = data.find(marker)
            if i >= 0:
                while data.find(b"\r\n", i + 2) < 0:
                    data += self.sock.recv(4096)
                line = data[i + 2:data.find(b"\r\n", i + 2)]
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError("%s: %r" % (text, line))
                return
            tail = data[-(len(marker) + 1):]

    def query(self, text):
        """A command with a short answer: all of it (untagged lines and the tagged one)."""
        self.n += 1
        tag = b"b%d" % self.n
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        return self.check(text, tag, self.read_until(b"\r\n" + tag + b" ", b"\r\n"))

    def read_until(self, marker, data):
        """Reads until marker and the end of its line; data: what was read before (a
        leading CRLF, so that the first line can match)."""
        while True:
            i = data.find(marker)
            if i >= 0 and data.find(b"\r\n", i + 2) >= 0:
                return data
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed")
            data += chunk

    @staticmethod
    def check(text, tag, data):
        i = data.rfind(b"\r\n" + tag + b" ")
        line = data[i + 2:data.find(b"\r\n", i + 2)]
        if not line.startswith(tag + b" OK"):
            raise RuntimeError("%s: %r" % (text, line))
        return data

    def append(self, mailbox, msg, plus):
        """APPEND of one literal: {n+} and the data in one send (LITERAL+), or {n}, the
        server's continuation request, then the data."""
        self.n += 1
        tag = b"b%d" % self.n
        head = b"%s APPEND %s {%d%s}\r\n" % (tag, mailbox.encode(), len(msg),
                                              b"+" if plus else b"")
        if plus:
            self.sock.sendall(head + msg + b"\r\n")
        else:
            self.sock.sendall(head)
            data = b"\r\n"
            while b"\r\n+" not in data:
                data = self.read_until(b"\r\n", data + self.sock.recv(4096))
                if b"\r\n" + tag + b" " in data:
                    self.check("APPEND", tag, data)   # refused before the literal
            self.sock.sendall(msg + b"\r\n")
        self.check("APPEND", tag, self.read_until(b"\r\n" + tag + b" ", b"\r\n"))


def session(port):
    """One session: the time of each command in seconds."""
    c = Conn(port)
    c.cmd("LOGIN %s %s" % (bench.USER, bench.PASSWORD))
    times = {}
    for label, text in COMMANDS:
        if label == "STATUS":
            c.cmd("UNSELECT")   # STATUS of a mailbox that is not selected
        start = time.monotonic()
        c.cmd(text)
        times[label] = time.monotonic() - start
    c.cmd("LOGOUT")
    return times


# ---- write phase -------------------------------------------------------------------------
WRITE_OPS = ["APPEND", "STORE +\\Flagged", "STORE +\\Deleted", "UID EXPUNGE"]
IO_FIELDS = ("wchar", "syscw", "write_bytes", "rchar")


def message(i):
    """The i-th APPENDed message: 2 KiB (a little more), CRLF line ends, its own
    Subject and Message-ID."""
    head = ("From: Bench Writer <writer@example.org>\r\nTo: demouser@example.org\r\n"
            "Subject: write scaling %d\r\nMessage-ID: <ws-%d@bench.example.org>\r\n"
            "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (i, i))
    line = "The quick brown fox jumps over the lazy dog, message %06d.\r\n" % i
    return (head + line * ((2048 - len(head)) // len(line) + 1)).encode()


def io_read(pids):
    """{pid: {field: value}} from /proc/PID/io (root reads every process's)."""
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/io" % pid) as f:
                out[pid] = {k: int(v) for k, v in (ln.split(": ") for ln in f)}
        except OSError:
            pass
    return out


def io_delta(before, after):
    """Per field, summed over the processes (one that appeared counts from 0)."""
    return {k: sum(a[k] - before.get(pid, {}).get(k, 0) for pid, a in after.items())
            for k in IO_FIELDS}


class Writer:
    """One session's write phase: every command timed, and the server's /proc/PID/io
    read just before it is sent and just after its tagged answer."""

    def __init__(self, server, plus):
        self.server, self.plus = server, plus
        self.c = Conn(server.port)
        self.c.cmd("LOGIN %s %s" % (bench.USER, bench.PASSWORD))
        caps = self.c.query("CAPABILITY")
        if plus and b" LITERAL+" not in caps:
            raise SystemExit("%s does not announce LITERAL+: use --literal sync (for both)"
                             % server.name)
        # every process of the server: its master and all descendants
        self.pids = bench.tree(bench.proc_table(), server.proc.pid)
        self.rec = {op: [] for op in WRITE_OPS}   # (seconds, io delta) per command
        self.late = {}                            # op: io written after the last OK

    def run(self, op, fn):
        io0 = io_read(self.pids)
        t = time.monotonic()
        fn()
        dt = time.monotonic() - t
        self.rec[op].append((dt, io_delta(io0, io_read(self.pids))))

    def settle(self, op):
        """What the server writes within 0.5 s after a batch's last answer (deferred
        work), kept apart: the per-command figures do not include it."""
        io0 = io_read(self.pids)
        time.sleep(0.5)
        self.late[op] = io_delta(io0, io_read(self.pids))

    def uids(self, seqs):
        """UIDs of these sequence numbers (FETCH seqs (UID), 100 at a time)."""
        out = {}
        for k in range(0, len(seqs), 100):
            data = self.c.query("FETCH %s (UID)" % ",".join(map(str, seqs[k:k + 100])))
            for line in data.split(b"\r\n"):
                f = line.split()
                if len(f) >= 5 and f[0] == b"*" and f[2] == b"FETCH" and b"(UID" in f:
                    out[int(f[1])] = int(f[f.index(b"(UID") + 1].rstrip(b")"))
        return [out[s] for s in seqs]

    def phase(self, writes):
        for i in range(writes):   # not selected, as a delivery would
            self.run("APPEND", lambda: self.c.append("INBOX", message(i), self.plus))
        self.settle("APPEND")
        exists = [ln for ln in self.c.query("SELECT INBOX").split(b"\r\n")
                  if ln.endswith(b" EXISTS")]
        n = int(exists[0].split()[1]) - writes   # the generated messages come first
        ne = writes // 2
        total = writes + ne
        if n < total:
            raise SystemExit("folder of %d messages is too small for --writes %d (needs "
                             "%d)" % (n, writes, total))
        # distinct messages spread over the whole folder; every third one is expunged
        uids = self.uids([1 + j * (n - 1) // max(1, total - 1) for j in range(total)])
        gone = uids[2::3][:ne]
        flagged = [u for j, u in enumerate(uids) if j % 3 != 2][:writes]
        for uid in flagged:
            self.run("STORE +\\Flagged", lambda: self.c.cmd(
                "UID STORE %d +FLAGS (\\Flagged)" % uid))
        self.settle("STORE +\\Flagged")
        for uid in gone:
            self.run("STORE +\\Deleted", lambda: self.c.cmd(
                "UID STORE %d +FLAGS (\\Deleted)" % uid))
            self.run("UID EXPUNGE", lambda: self.c.cmd("UID EXPUNGE %d" % uid))
        self.settle("UID EXPUNGE")
        if set(self.pids) != set(io_read(self.pids)):   # before LOGOUT ends Dovecot's imap
            print("note: %s: a server process exited during the write phase (its writes "
                  "are not counted)" % self.server.name)
        self.c.cmd("LOGOUT")
        return self.summary()

    def summary(self):
        out = {}
        for op, rec in self.rec.items():
            secs = sorted(dt for dt, _ in rec)
            k = len(rec)
            fig = {"n": k, "ops_s": k / sum(secs), "p50_ms": 1000 * pct(secs, 50),
                   "p99_ms": 1000 * pct(secs, 99)}
            for f in IO_FIELDS:
                fig[f] = sum(io[f] for _, io in rec) / k
                fig[f + "_p50"] = pct(sorted(io[f] for _, io in rec), 50)
            fig["commands"] = [[round(dt * 1000, 3), io["wchar"], io["rchar"]]
                               for dt, io in rec]   # for --json: ms, wchar, rchar
            out[op] = fig
        out["late"] = self.late
        return out


def pct(xs, p):
    """Nearest-rank percentile of a sorted list."""
    return xs[min(len(xs) - 1, max(0, -(-p * len(xs) // 100) - 1))]


def write_phase(server, args):
    w = Writer(server, args.literal == "plus")
    return w.phase(args.writes)


# ---- tables ------------------------------------------------------------------------------
def num(v):
    return "-" if v is None else "{:,.0f}".format(v)


def ratio(a, b):
    return "-" if not b else "%.2f" % (a / b)


def print_writes(res, sizes, args):
    names = ("pymap", "Dovecot")
    print("\nwrite phase: %d APPENDs (%d bytes, %s), %d single-UID STOREs, %d single-UID "
          "\\Deleted STORE + UID EXPUNGE;\none session per folder; ops/s = commands / the "
          "sum of their times" % (
              args.writes, len(message(0)), "LITERAL+" if args.literal == "plus"
              else "literal with continuation", args.writes, args.writes // 2))
    print("%-8s %-17s %11s %13s %16s %18s" % ("size", "op", "pymap ops/s", "Dovecot ops/s",
                                               "pymap p50/p99 ms", "Dovecot p50/p99 ms"))
    for size in sizes:
        for op in WRITE_OPS:
            p, d = (res[n][size][op] for n in names)
            print("%-8d %-17s %11.0f %13.0f %16s %18s" % (
                size, op, p["ops_s"], d["ops_s"], "%.2f/%.2f" % (p["p50_ms"], p["p99_ms"]),
                "%.2f/%.2f" % (d["p50_ms"], d["p99_ms"])))
    print("\nbytes per op, all server processes (/proc/PID/io), mean over the commands "
          "[median]:\nwchar = bytes passed to write() and friends (files, sockets, pipes: "
          "exact); rchar = bytes read;\nwrite_bytes = page cache bytes dirtied (4 KiB pages, "
          "depends on writeback)")
    print("%-8s %-17s %22s %22s %10s %10s %14s %14s %14s %14s" % (
        "size", "op", "pymap wchar/op", "Dovecot wchar/op", "pymap sysc", "Dov. sysc",
        "pymap wbytes", "Dov. wbytes", "pymap rchar", "Dov. rchar"))
    for size in sizes:
        for op in WRITE_OPS:
            p, d = (res[n][size][op] for n in names)
            print("%-8d %-17s %22s %22s %10.1f %10.1f %14s %14s %14s %14s" % (
                size, op, "%s [%s]" % (num(p["wchar"]), num(p["wchar_p50"])),
                "%s [%s]" % (num(d["wchar"]), num(d["wchar_p50"])), p["syscw"], d["syscw"],
                num(p["write_bytes"]), num(d["write_bytes"]), num(p["rchar"]),
                num(d["rchar"])))
    for n in names:
        for size in sizes:
            late = {op: io["wchar"] for op, io in res[n][size]["late"].items()
                    if io["wchar"] >= 1024}
            if late:
                print("note: %s at %d wrote after the last answer of a batch (wchar within "
                      "0.5 s, not in the figures above): %s" % (n, size, late))
    if len(sizes) == 2:
        small, big = sizes
        print("\nscaling %d / %d messages (1.00 = O(1); %.0f = O(folder size))" % (
            big, small, big / small))
        print("%-17s %12s %14s %12s %14s %12s %14s" % (
            "op", "pymap wchar", "Dovecot wchar", "pymap rchar", "Dovecot rchar",
            "pymap p50", "Dovecot p50"))
        for op in WRITE_OPS:
            row = []
            for f in ("wchar", "rchar", "p50_ms"):
                for n in names:
                    row.append(ratio(res[n][big][op][f], res[n][small][op][f]))
            print("%-17s %12s %14s %12s %14s %12s %14s" % (op, *row))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--warm-runs", type=int, default=2)
    ap.add_argument("--small", type=int, default=1000,
                    help="messages of the second folder of the write phase (0: none)")
    ap.add_argument("--writes", type=int, default=200,
                    help="APPENDs and STOREs of the write phase (expunges: half; 0: none)")
    ap.add_argument("--literal", choices=("plus", "sync"), default="plus",
                    help="APPEND with LITERAL+ {n+} or with the continuation round trip")
    ap.add_argument("--json", help="write all figures to this file")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    bench.ensure_dovecot()
    tmp = tempfile.mkdtemp(prefix="pymap-maildir-ops-")
    os.chmod(tmp, 0o755)
    src = os.path.join(tmp, "src")
    t = time.monotonic()
    generate(src, args.count)
    print("generated %d messages in %.1f s" % (args.count, time.monotonic() - t))
    hashed = bench.sha512_crypt(bench.PASSWORD)
    results = {}
    writes = {"pymap": {}, "Dovecot": {}}
    sizes = []
    servers = []
    try:
        servers += [bench.Pymap(tmp, "maildir", src, 10, hashed),
                    bench.Dovecot(tmp, src, 10, hashed)]
        for server in servers:
            server.start()
            cold = session(server.port)
            warm = [session(server.port) for _ in range(args.warm_runs)]
            results[server.name] = (cold, {k: min(w[k] for w in warm) for k in cold})
            if args.writes:
                writes[server.name][args.count] = write_phase(server, args)
            server.stop()
            print("%s: %s" % (server.name, server.describe()))
        if args.writes:
            sizes.append(args.count)
        if args.writes and args.small:
            small_tmp = os.path.join(tmp, "small")
            os.makedirs(small_tmp)
            small_src = os.path.join(small_tmp, "src")
            generate(small_src, args.small)
            small = [bench.Pymap(small_tmp, "maildir", small_src, 10, hashed),
                     bench.Dovecot(small_tmp, small_src, 10, hashed)]
            servers += small
            for server in small:
                server.start()
                session(server.port)   # as on the big folder: indexes built before
                writes[server.name][args.small] = write_phase(server, args)
                server.stop()
            sizes.insert(0, args.small)
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n%d messages, seconds (lower is better)   pymap   Dovecot   ratio" % args.count)
    for phase, idx in (("cold", 0), ("warm", 1)):
        for label, _ in COMMANDS:
            p = results["pymap"][idx][label]
            d = results["Dovecot"][idx][label]
            print("%-5s %-22s %12.3f %9.3f %7.2f" % (phase, label, p, d, p / d if d else 0))
    if sizes:
        print_writes(writes, sorted(sizes), args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"read": results, "write": writes, "args": vars(args)}, f, indent=1)


if __name__ == "__main__":
    main()
