"""The redis backend through the real daemon: core IMAP behaviour, two pymap
daemons sharing one Redis (IDLE sees the other's APPEND within 1 s), Redis
restarted during a load (NO [UNAVAILABLE], then recovery, nothing acknowledged
lost) and hash-tag discipline of every key written for one user.

Each test starts its own redis-server on 127.0.0.1 (free port, temp dir, no RDB
snapshots, fsynced AOF so a restart keeps what was acknowledged) and stops it by
pid. Users are written straight into Redis in redis-users.c's record format.

Tests that log in are skipped while the auth process cannot read redis users
(it answers "redis users not implemented"): they are not counted as passing."""
import json
import re
import shutil
import socket
import threading
import time

import pytest

from rawimap import RawImap
from redis_fixtures import RedisServer, Resp, add_user

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed (make deps)")

MESSAGE = (b"From: sender@example.org\r\nTo: user@example.org\r\n"
           b"Subject: redis test\r\nMessage-ID: <1@example.org>\r\n\r\nHello redis.\r\n")


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def start_pymap(pymap_server, redis):
    return pymap_server(["redis", "--address", redis.url])


def login_or_skip(conn, user, password):
    untagged, tagged = conn.cmd("LOGIN %s %s" % (user, password))
    assert b" OK " in tagged, tagged


@pytest.fixture
def imap(pymap_server, redis):
    add_user(redis, "alice", "alicepass")
    server = start_pymap(pymap_server, redis)
    conn = RawImap(server.port)
    login_or_skip(conn, "alice", "alicepass")
    yield conn
    conn.close()


def append(conn, mailbox, data, flags=""):
    tag = conn.next_tag()
    conn.send("%s APPEND %s (%s) {%d}\r\n" % (tag, mailbox, flags, len(data)))
    line = conn.readline()
    assert line.startswith(b"+"), line
    conn.send(data + b"\r\n")
    return conn.read_until_tagged(tag)


def test_daemon_starts_with_redis_backend(pymap_server, redis):
    server = start_pymap(pymap_server, redis)
    conn = RawImap(server.port)
    assert conn.greeting.startswith(b"* OK")
    untagged, tagged = conn.cmd("CAPABILITY")
    assert b" OK " in tagged
    conn.close()


def test_core_mailbox_and_messages(imap):
    imap.ok("CREATE Archive/2024")
    imap.ok("CREATE Archive")
    untagged, _ = imap.ok('LIST "" "*"')
    names = [l.rstrip(b"\r\n").rsplit(b" ", 1)[1].strip(b'"') for l in untagged]
    assert names[0] == b"INBOX" and b"Archive" in names and b"Archive/2024" in names
    _, tagged = append(imap, "INBOX", MESSAGE, r"\Flagged")
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert m and m.group(2) == b"1", tagged
    untagged, _ = imap.ok("SELECT INBOX")
    assert b"* 1 EXISTS\r\n" in untagged and b"* 1 RECENT\r\n" in untagged
    untagged, _ = imap.ok("FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    joined = b"".join(untagged)
    assert b"\\Flagged" in joined and b"RFC822.SIZE %d" % len(MESSAGE) in joined
    assert b"Subject: redis test" in joined
    untagged, _ = imap.ok("FETCH 1 BODY[TEXT]")
    assert b"Hello redis." in b"".join(untagged)
    untagged, _ = imap.ok("STORE 1 +FLAGS (\\Seen $Work)")
    assert b"$Work" in b"".join(untagged)
    _, tagged = imap.ok("COPY 1 Archive/2024")
    assert b"COPYUID" in tagged
    imap.ok("STORE 1 +FLAGS (\\Deleted)")
    untagged, _ = imap.ok("EXPUNGE")
    assert b"* 1 EXPUNGE\r\n" in untagged
    untagged, _ = imap.ok("STATUS Archive/2024 (MESSAGES UNSEEN UIDNEXT)")
    assert b"MESSAGES 1" in untagged[0] and b"UNSEEN 0" in untagged[0]
    imap.ok("RENAME Archive Old")
    untagged, _ = imap.ok("STATUS Old/2024 (MESSAGES)")
    assert b"MESSAGES 1" in untagged[0]
    imap.ok("DELETE Old/2024")
    _, tagged = imap.cmd("SELECT Old/2024")
    assert b" NO " in tagged


def test_fetch_reads_ahead_in_batches(imap, redis):
    """FETCH over more messages than one read-ahead batch (128), with a message over
    the batch's 4 MiB budget in the middle (read on its own) and one expunged after
    the session's last sync: every answer has the right bytes and structure, and the
    number of scripts Redis ran is the number of batches, not of messages."""
    msgs = [b"From: u%d@example.org\r\nSubject: n%d\r\n\r\nbody %d\r\n" % (i, i, i)
            for i in range(1, 301)]
    msgs[149] = (b"From: big@example.org\r\nSubject: n150\r\n\r\n" +
                 b"x" * 78 + b"\r\n") * 65536
    for m in msgs:
        imap.send(b"a APPEND INBOX {%d+}\r\n" % len(m) + m + b"\r\n")
        untagged, tagged = imap.read_until_tagged("a")
        assert b" OK " in tagged, tagged
    imap.ok("EXAMINE INBOX")
    r = Resp(redis.port)
    r.call("CONFIG", "RESETSTAT")
    untagged, _ = imap.ok("FETCH 1:* (ENVELOPE BODY.PEEK[TEXT])")
    stats = r.call("INFO", "commandstats").decode()
    assert len(untagged) == 300
    for i, line in enumerate(untagged, start=1):
        assert line.startswith(b"* %d FETCH (ENVELOPE (NIL \"n%d\"" % (i, i)), line[:80]
        text = msgs[i - 1].split(b"\r\n\r\n", 1)[1]
        assert line.endswith(b"BODY[TEXT] {%d}\r\n" % len(text) + text + b")\r\n"), i
    scripts = sum(int(n) for n in re.findall(r"cmdstat_eval(?:sha)?:calls=(\d+)", stats))
    # 3 batches; the big one alone; NOSCRIPT retries of the first use of each
    # script; the sync at the end. One per message would be 300.
    assert scripts <= 12, stats
    # Structure only, with an expunge by another session meanwhile (RFC 2180: the
    # message is still answered from what is left, or EXPUNGEISSUED).
    other = RawImap(imap.sock.getpeername()[1])
    other.ok("LOGIN alice alicepass")
    other.ok("SELECT INBOX")
    other.ok("STORE 200 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    other.close()
    untagged, tagged = imap.cmd("FETCH 1:* (BODYSTRUCTURE)")
    assert b" OK " in tagged, tagged
    # The expunged one's content is gone: "* 200 FETCH ()" (cmd-fetch.c) or left out.
    fetched = [l for l in untagged if b" FETCH (" in l and not l.endswith(b"FETCH ()\r\n")]
    assert len(fetched) == 299
    assert [l for l in fetched if b'BODYSTRUCTURE ("text" "plain"' not in l] == []
    r.close()


def idle_start(conn):
    """SELECT INBOX and enter IDLE; the tag for idle_done."""
    conn.ok("SELECT INBOX")
    tag = conn.next_tag()
    conn.send("%s IDLE\r\n" % tag)
    assert conn.readline().startswith(b"+")
    return tag


def idle_done(conn, tag):
    conn.send("DONE\r\n")
    conn.read_until_tagged(tag)


def idle_until(conn, pattern, timeout):
    conn.sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    seen = []
    try:
        while time.monotonic() < deadline:
            line = conn.readline()
            seen.append(line)
            if re.search(pattern, line):
                return seen
    except (socket.timeout, TimeoutError):
        pass
    raise AssertionError("%r not seen in %r" % (pattern, seen))


def test_two_daemons_share_one_redis(pymap_server, redis):
    add_user(redis, "alice", "alicepass")
    one, two = start_pymap(pymap_server, redis), start_pymap(pymap_server, redis)
    a, b = RawImap(one.port), RawImap(two.port)
    login_or_skip(a, "alice", "alicepass")
    login_or_skip(b, "alice", "alicepass")
    tag = idle_start(a)
    start = time.monotonic()
    append(b, "INBOX", MESSAGE)
    idle_until(a, rb"^\* 1 EXISTS", 1.0)
    assert time.monotonic() - start < 1.0
    idle_done(a, tag)
    a.close()
    b.close()


def test_redis_restart_during_load(pymap_server, redis):
    add_user(redis, "alice", "alicepass")
    server = start_pymap(pymap_server, redis)
    conn = RawImap(server.port, timeout=20)
    login_or_skip(conn, "alice", "alicepass")
    acked, unavailable, acked_after = 0, 0, 0
    stopper = threading.Timer(0.5, redis.stop)
    stopper.start()
    restarted = False
    deadline = time.monotonic() + 30
    # Append until Redis went away, came back and five more appends went through.
    while time.monotonic() < deadline and acked_after < 5:
        _, tagged = append(conn, "INBOX", MESSAGE)
        if b" OK " in tagged:
            acked += 1
            acked_after += 1 if restarted else 0
        else:
            assert b"[UNAVAILABLE]" in tagged, tagged
            unavailable += 1
            if not restarted:
                stopper.join()   # the old server has exited
                redis.start()
                restarted = True
    stopper.join()
    assert unavailable >= 1 and restarted and acked_after == 5
    untagged, _ = conn.ok("STATUS INBOX (MESSAGES)")
    stored = int(re.search(rb"MESSAGES (\d+)", untagged[0]).group(1))
    # Every acknowledged APPEND is there; an APPEND whose reply was lost when Redis
    # went down may have landed too (the client was told NO, it may retry).
    assert acked <= stored <= acked + unavailable, (acked, stored, unavailable)
    conn.close()


def test_every_key_of_a_user_shares_one_hash_tag(imap, redis):
    imap.ok("CREATE Other")
    append(imap, "INBOX", MESSAGE)
    imap.ok("SUBSCRIBE Other")
    imap.ok("SELECT INBOX")
    imap.ok("COPY 1 Other")
    r = Resp(redis.port)
    cursor, keys = b"0", []
    while True:
        cursor, batch = r.call("SCAN", cursor, "COUNT", "1000")
        keys += batch
        if cursor == b"0":
            break
    r.close()
    mail = [k for k in keys if k.startswith(b"/mail/")]
    assert len(mail) >= 10
    for key in mail:
        assert re.search(rb"\{([^}]*)\}", key).group(1) == b"alice", key
    assert b"/users/{alice}" in keys


def test_admin_users_and_delivery(pymap_server, redis, tmp_path):
    """pymapctl manages redis users, the user logs in over IMAP at once, and
    pymap-lda delivers into Redis (exit 0 only after Redis confirmed the write)."""
    from adminutil import ctl, lda
    sock = str(tmp_path / "admin.sock")
    server = pymap_server(["redis", "--address", redis.url],
                          env={"PYMAP_ADMIN_SOCKET": sock})
    pw = tmp_path / "pw"
    pw.write_text("bobpass\n")
    ctl(sock, "set-user", "bob", "--password-file", str(pw), check=0)
    p = ctl(sock, "--json", "get-user", "bob", check=0)
    record = json.loads(p.stdout)
    assert record["user"] == "bob" and record["data"]["password"].startswith("$")
    assert ctl(sock, "list-users", check=0).stdout == b"bob\n"
    p = ctl(sock, "set-user", "bob", "--password-file", str(pw), "--no-overwrite", check=1)
    assert b"CANNOTREPLACE" in p.stderr
    p = lda(sock, "bob", input=b"Subject: via lda\r\n\r\nhello\r\n")
    assert p.returncode == 0, p
    conn = RawImap(server.port)
    login_or_skip(conn, "bob", "bobpass")
    untagged, _ = conn.ok("SELECT INBOX")
    assert b"* 1 EXISTS\r\n" in untagged
    untagged, _ = conn.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert b"Subject: via lda" in untagged[0]
    conn.close()
    assert lda(sock, "nobody", input=b"x\r\n").returncode == 67
    ctl(sock, "delete-user", "bob", check=0)
    ctl(sock, "get-user", "bob", check=1)


def test_health_follows_redis(pymap_server, redis, tmp_path):
    """pymapctl check: NOT_SERVING while Redis is down, SERVING again after."""
    from adminutil import ctl
    sock = str(tmp_path / "admin.sock")
    pymap_server(["redis", "--address", redis.url], env={"PYMAP_ADMIN_SOCKET": sock})
    p = ctl(sock, "check", "pymap.backend", check=0)
    assert p.stdout.startswith(b"SERVING")
    redis.stop()
    p = ctl(sock, "check", "pymap.backend")
    assert p.returncode == 1 and b"NOT_SERVING" in p.stdout + p.stderr, p
    redis.start()
    deadline = time.monotonic() + 15
    while True:
        p = ctl(sock, "check", "pymap.backend")
        if p.stdout.startswith(b"SERVING"):
            break
        assert time.monotonic() < deadline, (p.stdout, p.stderr)
        time.sleep(0.3)


def threadids(conn, command):
    untagged, _ = conn.ok(command)
    return [re.search(rb"THREADID \((T[0-9a-f]{32})\)", l).group(1).decode()
            for l in untagged if b"THREADID" in l]


def test_threadid_links_replies(imap, redis):
    """RFC 8474 THREADID as the dict backend's test_threadid_links_replies: a reply
    joins the thread of the message it names in In-Reply-To/References, a message
    named by an earlier reply joins that reply's thread, COPY keeps it, and the
    index is the user's threads hash in Redis (shared by every pymap machine)."""
    lunch = (b"Subject: Lunch\r\nMessage-ID: <lunch-1@example.org>\r\n\r\nNoon?\r\n")
    other = (b"Subject: Other\r\nMessage-ID: <other@example.org>\r\n\r\nHi.\r\n")
    reply = (b"Subject: Re: Lunch\r\nMessage-ID: <lunch-reply@example.com>\r\n"
             b"In-Reply-To: <lunch-1@example.org>\r\n\r\nYes.\r\n")
    imap.ok("CREATE Sent")
    append(imap, "INBOX", lunch)
    append(imap, "INBOX", other)
    append(imap, "Sent", reply)
    imap.ok("EXAMINE INBOX")
    ids = threadids(imap, "FETCH 1:2 THREADID")
    assert len(ids) == 2 and ids[0] != ids[1]
    imap.ok("EXAMINE Sent")
    assert threadids(imap, "FETCH 1 THREADID") == [ids[0]]
    untagged, _ = imap.ok("SEARCH THREADID " + ids[0])
    assert untagged[0].split()[2:] == [b"1"]
    # A reply to the reply (References, folded over two lines) joins too.
    later = (b"Subject: Re: Re: Lunch\r\nReferences: <lunch-1@example.org>\r\n"
             b" <lunch-reply@example.com>\r\n\r\nOk.\r\n")
    _, tagged = append(imap, "Sent", later)
    imap.ok("EXAMINE Sent")
    assert threadids(imap, "UID FETCH 2 THREADID") == [ids[0]]
    # COPY keeps the THREADID (and the EMAILID).
    _, tagged = imap.ok("UID COPY 2 INBOX")
    assert b"COPYUID" in tagged
    imap.ok("EXAMINE INBOX")
    assert threadids(imap, "UID FETCH 3 THREADID") == [ids[0]]
    # A reply that arrives before its parent: the parent, named by the reply's
    # References, joins the reply's thread.
    early = (b"Subject: Re: Plan\r\nMessage-ID: <plan-2@example.org>\r\n"
             b"References: <plan-1@example.org>\r\n\r\nAgreed.\r\n")
    parent = b"Subject: Plan\r\nMessage-ID: <plan-1@example.org>\r\n\r\nPlan.\r\n"
    append(imap, "INBOX", early)
    append(imap, "INBOX", parent)
    # MULTIAPPEND: the second message answers the first of the same command.
    first = b"Subject: M\r\nMessage-ID: <multi-1@example.org>\r\n\r\nA.\r\n"
    second = b"Subject: Re: M\r\nIn-Reply-To: <multi-1@example.org>\r\n\r\nB.\r\n"
    imap.ok("APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s" % (len(first), first.decode(),
                                                     len(second), second.decode()))
    imap.ok("EXAMINE INBOX")
    got = threadids(imap, "UID FETCH 4:7 THREADID")
    assert got[0] == got[1] and got[2] == got[3] and got[0] != got[2]
    assert len({ids[0], ids[1], got[0], got[2]}) == 4
    # The index lives in Redis under the user's hash tag.
    r = Resp(redis.port)
    stored = r.call("HGETALL", "/mail/{alice}/threads")
    r.close()
    index = dict(zip(stored[::2], stored[1::2]))
    assert index[b"<lunch-1@example.org>"] == ids[0].encode()
    assert index[b"<lunch-reply@example.com>"] == ids[0].encode()
    assert index[b"<other@example.org>"] == ids[1].encode()
    assert index[b"<plan-1@example.org>"] == got[0].encode()
    assert len(index) == 6  # lunch-1, other, lunch-reply, plan-2, plan-1, multi-1


def test_threadid_agrees_across_two_daemons(pymap_server, redis):
    """Two pymap machines on one Redis: a reply appended through the second joins
    the thread of a message appended through the first."""
    add_user(redis, "alice", "alicepass")
    one, two = start_pymap(pymap_server, redis), start_pymap(pymap_server, redis)
    a, b = RawImap(one.port), RawImap(two.port)
    login_or_skip(a, "alice", "alicepass")
    login_or_skip(b, "alice", "alicepass")
    append(a, "INBOX", b"Subject: Q\r\nMessage-ID: <q@example.org>\r\n\r\n?\r\n")
    append(b, "INBOX", b"Subject: Re: Q\r\nIn-Reply-To: <q@example.org>\r\n\r\n!\r\n")
    b.ok("EXAMINE INBOX")
    got = threadids(b, "FETCH 1:2 THREADID")
    assert len(got) == 2 and got[0] == got[1]
    a.close()
    b.close()
