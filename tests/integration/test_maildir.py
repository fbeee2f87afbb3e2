"""The maildir backend through the real daemon: persistence, the Python pymap's own
files opening unchanged, names that would leave the maildir, other sessions' changes,
and crash safety (SIGKILL of the worker during large APPENDs)."""
import imaplib
import os
import re
import signal
import socket
import time

import pytest

from rawimap import RawImap
from maildir_fixtures import chown_tree, fetch_flags, list_names, make_base, select_info


def connect(server):
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    c.login("demouser", "demopass")
    return c


def two_sessions(tmp_path, pymap_server, count):
    """A server on a fresh maildir, count messages appended to INBOX, and two sessions
    with INBOX selected: (root, server, a, b)."""
    base = make_base(tmp_path)
    s = pymap_server(["maildir", str(base)])
    a, b = connect(s), connect(s)
    for i in range(count):
        assert a.append("INBOX", None, None, b"Subject: %d\r\n\r\nx\r\n" % i)[0] == "OK"
    select_info(a, "INBOX")
    select_info(b, "INBOX")
    return base / "demouser", s, a, b


def mta_deliver(root, name, data, delay=0):
    """Deliver as an MTA does: write into tmp/ (owned by the mail user), then after
    delay seconds rename into new/."""
    tmp = root / "tmp" / name
    tmp.write_bytes(data)
    os.chown(tmp, os.stat(root).st_uid, os.stat(root).st_gid)
    time.sleep(delay)
    os.rename(tmp, root / "new" / name)


def test_persists_across_restart(tmp_path, pymap_server):
    base = make_base(tmp_path)
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    assert c.append("INBOX", r"(\Flagged Work)", None, b"Subject: a\r\n\r\nA\r\n")[0] == "OK"
    assert c.create("Keep")[0] == "OK"
    _, uidvalidity, _ = select_info(c, "INBOX")
    c.logout()
    s.stop()
    s2 = pymap_server(["maildir", str(base)])
    c = connect(s2)
    assert select_info(c, "INBOX")[1] == uidvalidity
    assert fetch_flags(c) == {1: {"\\Flagged", "Work"}}
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == b"Subject: a\r\n\r\nA\r\n"
    assert "Keep" in list_names(c)
    c.logout()


def test_python_pymap_files_open_unchanged(tmp_path, pymap_server):
    """A maildir as the Python pymap writes it: CRLF uidlist with E/T fields and
    'key:info' names, ':2,' suffixes already in new/, subscriptions in UTF-8."""
    base = make_base(tmp_path)
    root = base / "demouser"
    for d in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        (root / d).mkdir(parents=True)
    (root / ".Sent" / "maildirfolder").write_bytes(b"")
    (root / "cur" / "1600000000.M1P1Q1.host:2,RS").write_bytes(b"Subject: one\n\n1\n")
    (root / "new" / "1600000001.M2P1Q2.host:2,").write_bytes(b"Subject: two\n\n2\n")
    (root / "dovecot-uidlist").write_bytes(
        b"3 V1234 N5 G0123456789abcdef0123456789abcdef\r\n"
        b"3 Emsg3 Tthr3 :1600000000.M1P1Q1.host:2,RS\r\n"
        b"4 Emsg4 Tthr4 :1600000001.M2P1Q2.host:2,\r\n")
    (root / "subscriptions").write_bytes(b"Sent\r\n")
    chown_tree(base)
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    exists, uidvalidity, uidnext = select_info(c, "INBOX")
    assert (exists, uidvalidity, uidnext) == (2, 1234, 5)
    assert fetch_flags(c) == {3: {"\\Answered", "\\Seen"}, 4: set()}
    typ, data = c.fetch("1", "(EMAILID THREADID)")
    assert b"EMAILID (msg3)" in data[0] and b"THREADID (thr3)" in data[0]
    lsub = c.lsub()[1]
    assert len(lsub) == 1 and lsub[0].endswith(b'"/" Sent')
    assert select_info(c, "Sent")[0] == 0
    c.logout()


@pytest.mark.parametrize("layout", ["++", "fs"])
def test_names_outside_the_maildir_are_refused(tmp_path, pymap_server, layout):
    base = make_base(tmp_path)
    s = pymap_server(["maildir", str(base), "--layout", layout])
    c = connect(s)
    for name in ["../escape", "a/../../escape", ".hidden", "x/.y", "x" * 300]:
        typ, _ = c.create(name)
        assert typ == "NO", name
        assert c.rename("INBOX", name)[0] == "NO"
    assert not (tmp_path / "escape").exists()
    # a symlinked folder pointing out of the maildir is not followed
    outside = tmp_path / "outside"
    (outside / "cur").mkdir(parents=True)
    link = base / "demouser" / (".Link" if layout == "++" else "Link")
    os.symlink(outside, link)
    assert "Link" not in list_names(c)
    assert c.select("Link")[0] == "NO"
    c.logout()


def test_other_sessions_see_changes(tmp_path, pymap_server):
    _, _, a, b = two_sessions(tmp_path, pymap_server, 0)
    assert a.append("INBOX", None, None, b"Subject: x\r\n\r\nx\r\n")[0] == "OK"
    assert a.noop()[0] == "OK"
    assert a.store("1", "+FLAGS", r"(\Seen)")[0] == "OK"
    typ, data = b.noop()  # NOOP polls the store: no waiting for inotify (RFC 3501 6.1.2)
    untagged = b.response("EXISTS")
    assert untagged[1][-1] == b"1"
    assert fetch_flags(b) == {1: {"\\Seen"}}
    a.logout()
    b.logout()


def test_reading_others_changes_writes_nothing(tmp_path, pymap_server):
    """A session that only reads another session's change (its index already says it)
    neither rewrites pymap-index nor dovecot-uidlist; a file an MTA drops into new/
    behind pymap's back, and a flag rename by another program, are still seen (the
    stamps of new/ and cur/ changed: checked against the files, then a locked rescan
    gives the new file its UID)."""
    root, _, a, b = two_sessions(tmp_path, pymap_server, 0)
    base = root.parent
    assert a.append("INBOX", None, None, b"Subject: x\r\n\r\nx\r\n")[0] == "OK"
    assert a.store("1", "+FLAGS", r"(\Seen)")[0] == "OK"
    index, uidlist = root / "pymap-index", root / "dovecot-uidlist"

    def written():
        """Both files as they are: replaced (inode) or appended to (size, mtime)."""
        return [(st.st_ino, st.st_size, st.st_mtime_ns)
                for st in (os.stat(index), os.stat(uidlist))]
    before = written()
    assert b.noop()[0] == "OK"
    assert fetch_flags(b) == {1: {"\\Seen"}}
    assert a.noop()[0] == "OK"
    assert fetch_flags(a) == {1: {"\\Seen"}}
    assert written() == before
    # once the directories' mtimes are old enough to trust, the check is redone
    # without the lock, and still writes nothing
    time.sleep(2.2)
    assert b.noop()[0] == "OK" and a.noop()[0] == "OK"
    assert written() == before
    assert sorted(p.name for p in root.glob("*.lock")) == []

    # an MTA delivery: a file in new/ without a uidlist record
    (root / "new" / "1700000000.M1P1.mta").write_bytes(b"Subject: mta\n\nm\n")
    chown_tree(base)
    assert b.noop()[0] == "OK"
    assert fetch_flags(b) == {1: {"\\Seen"}, 2: set()}
    assert b"1700000000.M1P1.mta" in uidlist.read_bytes()
    # another program renames a file for a flag change (no uidlist change)
    path = [p for p in root.glob("*/1700000000.M1P1.mta*")][0]
    os.rename(path, root / "cur" / "1700000000.M1P1.mta:2,F")
    assert a.noop()[0] == "OK"
    assert fetch_flags(a) == {1: {"\\Seen"}, 2: {"\\Flagged"}}
    assert b.noop()[0] == "OK"
    assert fetch_flags(b) == {1: {"\\Seen"}, 2: {"\\Flagged"}}
    a.logout()
    b.logout()


def test_mta_deliveries_during_own_changes_are_never_missed(tmp_path, pymap_server):
    """An MTA delivering into new/ while a session changes flags (the writer takes its
    post-change stamps; readers check without the lock): in each round one file
    arrives during a STORE, and right after it every session must see it (a file
    hidden by trusting the writer's stamps would stay unseen until the next change)."""
    import random
    import threading
    root, s, a, b = two_sessions(tmp_path, pymap_server, 5)
    rng = random.Random(8)
    rounds = 150
    for i in range(rounds):
        t = threading.Thread(target=mta_deliver,
                             args=(root, "1700000000.M%dP7.mta" % i,
                                   b"Subject: mta %d\n\nm\n" % i, rng.random() * 0.002))
        t.start()
        assert a.store("1:5", "+FLAGS" if i % 2 else "-FLAGS", r"(\Flagged)")[0] == "OK"
        t.join()
        assert b.noop()[0] == "OK"
        assert len(fetch_flags(b)) == 5 + i + 1, i
    uidlist = (root / "dovecot-uidlist").read_bytes()
    for i in range(rounds):
        assert b"1700000000.M%dP7.mta" % i in uidlist
    a.logout()
    b.logout()

def test_mta_delivery_joins_its_thread(tmp_path, pymap_server):
    """A reply an MTA drops into new/ of a folder pymap already knows gets the THREADID
    of the message it answers (RFC 8474 5.2: messages of one thread share it), read
    from its header when the rescan gives it a UID; an unrelated one a thread of its
    own. The THREADID is kept in the file's dovecot-uidlist record (T field)."""
    base = make_base(tmp_path)
    root = base / "demouser"
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    first = b"Message-ID: <t1@example.org>\r\nSubject: start\r\n\r\nhi\r\n"
    assert c.append("INBOX", None, None, first)[0] == "OK"
    select_info(c, "INBOX")
    for i, data in enumerate([
            b"Message-ID: <t2@example.org>\nIn-Reply-To: <t1@example.org>\n"
            b"Subject: Re: start\n\nreply\n",
            b"Message-ID: <u1@example.org>\nSubject: other\n\nx\n"]):
        mta_deliver(root, "1700000000.M%dP9.mta" % i, data)
    assert c.noop()[0] == "OK"
    typ, data = c.fetch("1:3", "(THREADID)")
    assert typ == "OK"
    tids = [re.search(rb"THREADID (\(([^)]*)\)|NIL)", item).group(1) for item in data]
    assert len(tids) == 3 and b"NIL" not in tids
    assert tids[0] == tids[1] != tids[2]
    uidlist = (root / "dovecot-uidlist").read_bytes()
    assert b" T%s :1700000000.M0P9.mta" % tids[1][1:-1] in uidlist
    c.logout()


def test_same_tick_change_in_cur_is_seen_within_a_second(tmp_path, pymap_server):
    """After its own change in cur/, pymap lists cur/ again only once its mtime is a
    second old (as Dovecot's MAILDIR_SYNC_SECS; listing after every change would cost
    O(folder) per change). A flag change by someone else in the same clock tick --
    made here by restoring cur/'s mtime after the rename -- is therefore pushed to an
    IDLE session about a second later without any command (the change feed looks
    again after a change in cur/), and seen by the next command, not lost until the
    next change."""
    root, s, a, b = two_sessions(tmp_path, pymap_server, 3)
    assert fetch_flags(b) == {1: set(), 2: set(), 3: set()}
    idler = RawImap(s.port)
    idler.login()
    idler.ok("SELECT INBOX")
    idler.send("i1 IDLE\r\n")
    assert idler.readline().startswith(b"+ ")
    assert a.store("1", "+FLAGS", r"(\Flagged)")[0] == "OK"
    cur = root / "cur"
    mtime = os.stat(cur).st_mtime_ns
    victim = sorted(p for p in cur.iterdir() if p.name.endswith(":2,"))[-1]
    os.rename(victim, cur / (victim.name + "S"))
    os.utime(cur, ns=(mtime, mtime))
    deadline = time.monotonic() + 9   # expected after about 1.1 s
    pushed = []
    while time.monotonic() < deadline and not any(b"\\Seen" in line for line in pushed):
        pushed.append(idler.readline())
    seen = [int(m.group(1)) for m in
            (re.match(rb"\* (\d+) FETCH \(FLAGS \(\\Seen\)\)\r\n$", line) for line in pushed)
            if m]
    assert len(seen) == 1 and seen[0] in (2, 3), pushed   # 1 is \Flagged: not renamed
    idler.send("DONE\r\n")
    idler.read_until_tagged("i1")
    idler.close()
    assert b.noop()[0] == "OK"
    other = 5 - seen[0]
    assert fetch_flags(b) == {1: {"\\Flagged"}, seen[0]: {"\\Seen"}, other: set()}
    a.logout()
    b.logout()


def connect_retry(server, timeout=60):
    """Connect once the master has restarted a killed worker (it backs off)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(server)
        except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def raw_login(port):
    """A logged-in raw connection (for an APPEND cut off in its literal)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(b"a LOGIN demouser demopass\r\n")
    while True:
        line = f.readline()
        if not line:
            raise ConnectionResetError("closed before the LOGIN reply")
        if line.startswith(b"a "):
            return sock, f


def message(index, size):
    head = b"Subject: big %d\r\n\r\n" % index
    line = (b"%08d" % index) * 9 + b"\r\n"   # 74 bytes
    body = line * ((size - len(head)) // len(line))
    return head + body


def test_sigkill_during_large_appends(tmp_path, pymap_server):
    """Kill the worker in the middle of large APPENDs, again and again: every
    acknowledged message is there and intact, no partial message is ever visible."""
    base = make_base(tmp_path)
    s = pymap_server(["maildir", str(base)])
    acked = {}
    for round_ in range(3):
        c = connect_retry(s)
        for i in range(2):
            idx = round_ * 10 + i
            msg = message(idx, 400000)
            typ, data = c.append("INBOX", None, None, msg)
            assert typ == "OK"
            acked[idx] = msg
        c.logout()
        # a large APPEND, killed half-way through the literal
        deadline = time.monotonic() + 60
        while True:
            try:
                sock, f = raw_login(s.port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        msg = message(round_ * 10 + 9, 3000000)
        sock.sendall(b"b APPEND INBOX {%d}\r\n" % len(msg))
        f.readline()
        sock.sendall(msg[:len(msg) // 2 + round_ * 1000])
        time.sleep(0.1)
        for pid in s.children():
            with open("/proc/%d/comm" % pid) as fh:
                comm = fh.read().strip()
            if comm == "imap":
                os.kill(pid, signal.SIGKILL)
        sock.close()
        time.sleep(0.5)
    c = connect_retry(s)
    exists, _, _ = select_info(c, "INBOX")
    assert exists == len(acked)
    typ, data = c.fetch("1:*", "(BODY.PEEK[])")
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    assert sorted(bodies) == sorted(acked.values())
    c.logout()
    for sub in ("new", "cur"):
        for name in os.listdir(base / "demouser" / sub):
            assert os.path.getsize(base / "demouser" / sub / name) in {len(m) for m in acked.values()}


MIME_MSG = (b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: first\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\n")
PLAIN_MSG = b"From: c@example.org\r\nSubject: second\r\n\r\nplain body\r\n"


def fetch_structure(c, seqs="1:*"):
    typ, data = c.fetch(seqs, "(ENVELOPE BODYSTRUCTURE)")
    assert typ == "OK", data
    return [item if isinstance(item, bytes) else b"".join(
        part if isinstance(part, bytes) else b"".join(part) for part in item)
        for item in data if item is not None and item != b")"]


def message_file(root, uid):
    """Path of the message file of a UID, by its dovecot-uidlist record. (Not by sorting
    file names: the microseconds in a maildir name are not zero-padded, as in Dovecot's
    names, so "1.M99999..." sorts after "1.M100000..." and name order is not UID order.)"""
    lines = (root / "dovecot-uidlist").read_bytes().decode().splitlines()[1:]
    bases = {int(line.split(None, 1)[0]): line.rsplit(":", 1)[1] for line in lines if line}
    base = bases[uid]
    files = [root / d / n for d in ("cur", "new") for n in os.listdir(root / d)
             if n == base or n.startswith(base + ":")]
    assert len(files) == 1, files
    return files[0]


def test_mime_cache_serves_fetch_without_reparsing(tmp_path, pymap_server):
    """After one FETCH, ENVELOPE/BODYSTRUCTURE come from pymap-mime: a message file
    rewritten in place with the same size (something maildir never does) still shows
    its old envelope, while BODY[...] reads the new bytes. A file under another name
    (size), or a damaged cache file, is parsed again."""
    base = make_base(tmp_path)
    root = base / "demouser"
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    assert c.append("INBOX", None, None, MIME_MSG)[0] == "OK"
    assert c.append("INBOX", None, None, PLAIN_MSG)[0] == "OK"
    select_info(c, "INBOX")
    first = fetch_structure(c)
    assert b'"first"' in first[0] and b'"second"' in first[1]
    assert b'("text" "plain"' in first[0] and b'"application" "octet-stream"' in first[0]
    c.logout()
    cache = root / "pymap-mime"
    assert cache.read_bytes()[:8] == b"PYMAPMC1"

    # same size, same name, new content: served from the cache
    path = message_file(root, 1)
    assert path.read_bytes() == MIME_MSG
    changed = MIME_MSG.replace(b"Subject: first", b"Subject: FIRST")
    with open(path, "r+b") as f:
        f.write(changed)
    c = connect(s)
    select_info(c, "INBOX")
    assert fetch_structure(c) == first
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: FIRST\r\n\r\n"

    # another size under a name saying so (",S=" is part of a maildir name, and maildir
    # files are never rewritten in place): a new message, parsed again
    longer = MIME_MSG.replace(b"Subject: first", b"Subject: rewritten")
    with open(path, "wb") as f:
        f.write(longer)
    import re as _re
    os.rename(path, path.with_name(_re.sub(r",S=\d+", ",S=%d" % len(longer), path.name)))
    c.noop()
    again = fetch_structure(c)
    assert any(b'"rewritten"' in item for item in again), again
    assert any(b'"second"' in item for item in again), again
    c.logout()

    # a torn / corrupt cache file is never trusted: detected and rebuilt
    data = bytearray(cache.read_bytes())
    for i in range(20, len(data), 7):
        data[i] ^= 0x5a
    cache.write_bytes(bytes(data[:len(data) - 3]))
    c = connect(s)
    select_info(c, "INBOX")
    assert fetch_structure(c) == again
    assert fetch_structure(c) == again
    c.logout()
    assert cache.read_bytes()[:8] == b"PYMAPMC1"

    # a cache of another UIDVALIDITY (the folder was recreated) is replaced
    data = bytearray(cache.read_bytes())
    data[8] ^= 1
    cache.write_bytes(bytes(data))
    c = connect(s)
    select_info(c, "INBOX")
    assert fetch_structure(c) == again
    c.logout()


def test_mime_cache_gives_the_same_answers_for_the_corpus(tmp_path, pymap_server):
    """Every message of tests/data/mail, FETCHed cold (parsed, then cached) and warm
    (from pymap-mime) in a new session: the same bytes for structure and sections."""
    corpus = os.path.join(os.path.dirname(__file__), "..", "data", "mail")
    base = make_base(tmp_path)
    root = base / "demouser"
    for d in ("cur", "new", "tmp"):
        (root / d).mkdir(parents=True)
    names = sorted(n for n in os.listdir(corpus) if n.endswith(".eml"))
    for i, name in enumerate(names):
        with open(os.path.join(corpus, name), "rb") as f:
            (root / "cur" / ("170000%04d.M%dP1.test:2,S" % (i, i))).write_bytes(f.read())
    chown_tree(base)
    s = pymap_server(["maildir", str(base)])
    items = "(ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[TEXT])"
    answers = []
    for _ in range(2):
        c = connect(s)
        select_info(c, "INBOX")
        typ, data = c.fetch("1:*", items)
        assert typ == "OK"
        answers.append(data)
        c.logout()
    assert len([d for d in answers[0] if d != b")"]) >= len(names)
    assert answers[1] == answers[0]
    raw = (root / "pymap-mime").read_bytes()
    assert raw[:8] == b"PYMAPMC1" and raw.count(b"PMR1") >= len(names)


def test_bare_lf_files_are_served_with_crlf(tmp_path, pymap_server):
    # An MTA writes maildir files with LF line ends; IMAP sends CRLF (RFC 3501 2.3.4:
    # RFC822.SIZE counts what is sent). pymap stores APPENDed bytes as given and names
    # files with ,W=<size with CRLF> when it differs, as Dovecot does.
    base = make_base(tmp_path)
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    select_info(c, "INBOX")
    c.logout()
    lf = b"From: mta@example.org\nSubject: lf\n\nline one\nline two\n"
    crlf = lf.replace(b"\n", b"\r\n")
    inbox = base / "demouser"
    (inbox / "new" / "1700000000.M1P1.mta").write_bytes(lf)
    chown_tree(inbox)
    from rawimap import RawImap   # imaplib would turn every LF into CRLF itself
    raw = RawImap(s.port)
    raw.login()
    mixed = b"Subject: mixed\n\nbare\r\nlf\n"
    raw.ok("APPEND INBOX {%d+}\r\n" % len(mixed) + mixed.decode())
    raw.close()
    c = connect(s)
    select_info(c, "INBOX")
    typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert b"RFC822.SIZE %d" % len(crlf) in data[0][0]
    assert data[0][1] == crlf
    typ, data = c.fetch("2", "(RFC822.SIZE BODY.PEEK[])")
    assert data[0][1] == b"Subject: mixed\r\n\r\nbare\r\nlf\r\n"
    assert b"RFC822.SIZE %d" % len(data[0][1]) in data[0][0]
    names = os.listdir(inbox / "new") + os.listdir(inbox / "cur")
    assert any(",W=%d" % len(data[0][1]) in n for n in names), names
    c.logout()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_and_read_only(tmp_path, pymap_server):
    """ENOSPC: the APPEND fails with NO [OVERQUOTA], nothing half-written stays, the
    session goes on. A read-only file system: a NO, and nothing changes."""
    import subprocess
    from rawimap import RawImap
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mnt)],
                   check=True)
    try:
        base = make_base(mnt)
        s = pymap_server(["maildir", str(base)])
        c = RawImap(s.port)
        c.login()
        c.ok("SELECT INBOX")
        big = b"Subject: big\r\n\r\n" + b"x" * (2 * 1024 * 1024) + b"\r\n"
        c.send(b"a1 APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\n")
        untagged, tagged = c.read_until_tagged("a1")
        assert tagged.startswith(b"a1 NO [OVERQUOTA]"), tagged
        inbox = base / "demouser"
        for sub in ("tmp", "new", "cur"):
            assert os.listdir(inbox / sub) == [], (sub, os.listdir(inbox / sub))
        c.ok("NOOP")
        c.ok("APPEND INBOX {13+}\r\nSubject: ok\r\n")
        untagged, _ = c.ok("STATUS INBOX (MESSAGES)")
        assert untagged == [b"* STATUS INBOX (MESSAGES 1)\r\n"]
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        untagged, tagged = c.cmd("APPEND INBOX {13+}\r\nSubject: ro\r\n")
        assert tagged.startswith(b"t6 NO"), tagged
        untagged, _ = c.ok("STATUS INBOX (MESSAGES)")
        assert untagged == [b"* STATUS INBOX (MESSAGES 1)\r\n"]
        c.close()
        s.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_warm_fetch_of_structure_does_not_open_message_files(tmp_path, pymap_server):
    # With the parse cached (pymap-mime), FETCH ENVELOPE/BODYSTRUCTURE needs no message
    # bytes: after the first FETCH the files can be unreadable and the answers stay.
    base = make_base(tmp_path)
    root = base / "demouser"
    s = pymap_server(["maildir", str(base)])
    c = connect(s)
    for i in range(3):
        msg = b"From: a%d@example.org\r\nSubject: s%d\r\n\r\nbody %d\r\n" % (i, i, i)
        assert c.append("INBOX", None, None, msg)[0] == "OK"
    select_info(c, "INBOX")
    first = fetch_structure(c)
    c.logout()
    files = [root / d / n for d in ("cur", "new") for n in os.listdir(root / d)]
    for f in files:
        os.chmod(f, 0)
    try:
        c = connect(s)
        select_info(c, "INBOX")
        assert fetch_structure(c) == first
        # Bytes are needed for BODY[]: that fails as a clear NO, not a crash.
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        c.logout()
    finally:
        for f in files:
            os.chmod(f, 0o600)


def test_first_append_after_login_on_fresh_users(tmp_path, pymap_server):
    """Fresh users' maildirs are made at LOGIN, by whichever worker the session lands
    on, while other sessions of the same user log in on the other worker: the first
    APPEND to INBOX right after LOGIN must always find INBOX (never NO [TRYCREATE]),
    and every message must be there afterwards."""
    import threading
    users = [("u%d" % i, "pw%d" % i, "") for i in range(12)]
    base = make_base(tmp_path, users=users)
    s = pymap_server(["maildir", str(base)])
    sessions_per_user = 4
    failures = []

    def session(name, password, n):
        try:
            c = imaplib.IMAP4("127.0.0.1", s.port, timeout=30)
            c.login(name, password)
            msg = b"From: a@example.org\r\nSubject: %d\r\n\r\nbody\r\n" % n
            typ, data = c.append("INBOX", None, None, msg)
            if typ != "OK":
                failures.append((name, n, typ, data))
            c.logout()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append((name, n, repr(exc)))

    threads = [threading.Thread(target=session, args=(name, pw, n))
               for n in range(sessions_per_user) for name, pw, _ in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for name, password, _ in users:
        c = imaplib.IMAP4("127.0.0.1", s.port, timeout=30)
        c.login(name, password)
        assert select_info(c, "INBOX")[0] == sessions_per_user
        c.logout()
