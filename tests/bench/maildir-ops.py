"""The maildir scenario of issue 8: on a generated N-message maildir (default 100,000),
time SELECT, FETCH 1:* (FLAGS), UID SEARCH of a header and STATUS, cold (first
session after start, no index yet) and warm (a later session), for pymap's maildir
backend and the reference Dovecot, each on its own copy of the same files. Prints a
table with the ratio. Figures only: no timed assertion.

    /usr/bin/python3 tests/bench/maildir-ops.py [--count 100000] [--warm-runs 2]
"""
import argparse
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--warm-runs", type=int, default=2)
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
    servers = [bench.Pymap(tmp, "maildir", src, 10, hashed), bench.Dovecot(tmp, src, 10, hashed)]
    try:
        for server in servers:
            server.start()
            cold = session(server.port)
            warm = [session(server.port) for _ in range(args.warm_runs)]
            results[server.name] = (cold, {k: min(w[k] for w in warm) for k in cold})
            server.stop()
            print("%s: %s" % (server.name, server.describe()))
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n%d messages, seconds (lower is better)   pymap   Dovecot   ratio" % args.count)
    for phase, idx in (("cold", 0), ("warm", 1)):
        for label, _ in COMMANDS:
            p = results["pymap"][idx][label]
            d = results["Dovecot"][idx][label]
            print("%-5s %-22s %12.3f %9.3f %7.2f" % (phase, label, p, d, p / d if d else 0))


if __name__ == "__main__":
    main()
