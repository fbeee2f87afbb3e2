"""pymap-lda against the real daemon (maildir): parallel deliveries, binary-safe
content, exit codes per sysexits, the server down, and an IDLE client seeing a
delivery."""
import glob
import os
import subprocess
import time

from adminutil import LDA, ctl, lda, start
from rawimap import RawImap


def add_user(sock, tmp_path, name="alice", password="pw"):
    f = tmp_path / ("pw-" + name)
    f.write_text(password + "\n")
    ctl(sock, "set-user", name, "--password-file", str(f), check=0)


def stored_messages(base, user="alice"):
    out = []
    for sub in ("new", "cur"):
        for path in glob.glob(os.path.join(str(base), user, sub, "*")):
            with open(path, "rb") as f:
                out.append(f.read())
    return out


def test_deliver_exit_codes(pymap_server, tmp_path):
    server, sock, base = start(pymap_server, tmp_path,
                               config="[imap]\nmax_append_bytes = 1000\n")
    add_user(sock, tmp_path)
    # binary-safe, no line-ending rewriting: NUL, lone CR, lone LF, 8-bit
    msg = b"Subject: bin\r\n\r\nline\rcr\nlf\x00nul\xff\xfe\r\n"
    p = lda(sock, "--from", "bob@example.org", "alice", input=msg)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == b"2.0.0 Message delivered: INBOX, UID 1\n"
    assert stored_messages(base) == [msg]
    p = lda(sock, "nobody", input=b"x\r\n")
    assert p.returncode == 67 and p.stdout == b"5.1.1 User unknown: User not found.\n"
    p = lda(sock, "alice", input=b"x" * 1001)
    assert p.returncode == 65 and p.stdout.startswith(b"5.3.4 ")
    p = lda(sock, "--mailbox", "Missing", "alice", input=b"x\r\n")
    assert p.returncode == 75 and p.stdout.startswith(b"4.2.0 Mailbox does not exist")
    p = lda(sock, "--flag", "\\Bogus", "alice", input=b"x\r\n")
    assert p.returncode == 75
    # stdin as a regular file is passed as it is
    f = tmp_path / "m.eml"
    f.write_bytes(b"Subject: file\r\n\r\nfrom a file\r\n")
    with open(f, "rb") as stdin:
        p = subprocess.run([LDA, "alice"], stdin=stdin, capture_output=True,
                           env=dict(os.environ, PYMAP_ADMIN_SOCKET=sock), timeout=30)
    assert p.returncode == 0 and p.stdout.endswith(b", UID 2\n")
    assert len(stored_messages(base)) == 2


def test_usage_error_keeps_mail(tmp_path):
    p = lda(str(tmp_path / "x.sock"), input=b"x")
    assert p.returncode == 75 and p.stdout.startswith(b"4.3.5 ")


def test_server_down(pymap_server, tmp_path):
    server, sock, base = start(pymap_server, tmp_path)
    add_user(sock, tmp_path)
    server.stop()
    p = lda(sock, "alice", input=b"Subject: lost?\r\n\r\nx\r\n")
    assert p.returncode == 75
    assert p.stdout.startswith(b"4.3.0 Connection failed: connect(%s)" % sock.encode())
    assert stored_messages(base) == []


def test_dict_refuses_delivery(pymap_server, tmp_path):
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    p = lda(sock, "demouser", input=b"x\r\n")
    assert p.returncode == 75 and b"dict backend" in p.stdout


def test_parallel_deliveries(pymap_server, tmp_path):
    server, sock, base = start(pymap_server, tmp_path)
    add_user(sock, tmp_path)
    env = dict(os.environ, PYMAP_ADMIN_SOCKET=sock)
    procs = []
    bodies = []
    for i in range(100):
        body = (b"Subject: msg %d\r\n\r\n" % i) + os.urandom(2000 + i) + b"\r\n"
        bodies.append(body)
        p = subprocess.Popen([LDA, "--from", "s%d@x" % i, "alice"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        procs.append(p)
    for p, body in zip(procs, bodies):
        p.stdin.write(body)
        p.stdin.close()
    uids = []
    for p in procs:
        out = p.stdout.read()
        assert p.wait(60) == 0, (out, p.stderr.read())
        uids.append(int(out.rsplit(b"UID ", 1)[1]))
    assert sorted(uids) == list(range(1, 101))
    assert sorted(stored_messages(base)) == sorted(bodies)
    imap = RawImap(server.port)
    imap.login("alice", "pw")
    untagged, _ = imap.ok("SELECT INBOX")
    assert b"* 100 EXISTS\r\n" in untagged
    imap.close()


def test_idle_sees_delivery(pymap_server, tmp_path):
    server, sock, base = start(pymap_server, tmp_path)
    add_user(sock, tmp_path)
    imap = RawImap(server.port)
    imap.login("alice", "pw")
    untagged, _ = imap.ok("SELECT INBOX")
    assert b"* 0 EXISTS\r\n" in untagged
    imap.send("i1 IDLE\r\n")
    assert imap.readline().startswith(b"+ ")
    p = lda(sock, "alice", input=b"Subject: ping\r\n\r\nhello\r\n")
    assert p.returncode == 0
    deadline = time.monotonic() + 10
    lines = []
    while time.monotonic() < deadline:
        line = imap.readline()
        lines.append(line)
        if line == b"* 1 EXISTS\r\n":
            break
    assert b"* 1 EXISTS\r\n" in lines
    imap.send("DONE\r\n")
    _, tagged = imap.read_until_tagged("i1")
    assert b" OK " in tagged
    imap.close()
