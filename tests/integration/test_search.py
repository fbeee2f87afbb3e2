"""SEARCH on message content and dates (RFC 3501 6.4.4) with the demo messages:
encoded words decoded (RFC 2047), transfer encodings decoded (RFC 2045), Date header
for SENT*, RFC 8474 EMAILID. Expected results come from reading share/demo. Every
test runs on each storage backend (dict, maildir, redis; conftest.py's demo_server)."""
import re

import pytest

from rawimap import RawImap


@pytest.fixture
def inbox(demo_server):
    server = demo_server()
    c = RawImap(server.port)
    c.login()
    c.ok("EXAMINE INBOX")
    yield c
    c.close()


def search(c, criteria):
    untagged, _ = c.ok("SEARCH " + criteria)
    assert len(untagged) == 1 and untagged[0].startswith(b"* SEARCH")
    return [int(x) for x in untagged[0].split()[2:]]


def test_subject_encoded_word_is_decoded(inbox):
    # INBOX/3 Subject is =?UTF-8?B?...?= for "Réunion de l'équipe".
    word = "équipe".encode()
    inbox.send(b"s1 SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n" % len(word) + word + b"\r\n")
    untagged, tagged = inbox.read_until_tagged("s1")
    assert tagged.startswith(b"s1 OK")
    assert untagged == [b"* SEARCH 3\r\n"]
    assert search(inbox, 'FROM "Dupr"') == [3]  # Q-encoded display name "Renée Dupré"


def test_body_base64_part_is_decoded(inbox):
    # The csv attachment of INBOX/2 is base64; its decoded text has "Q3,140".
    assert search(inbox, 'BODY "Q3,140"') == [2]
    # The raw base64 text is not what BODY searches.
    assert search(inbox, 'BODY "cXVhcnRlcix"') == []


def test_text_includes_headers(inbox):
    assert search(inbox, 'TEXT "report-2@example.net"') == [2]
    assert search(inbox, 'BODY "report-2@example.net"') == []


def test_header_key(inbox):
    assert search(inbox, 'HEADER Message-ID "<welcome-4@"') == [4]
    assert search(inbox, 'HEADER Content-Transfer-Encoding ""') == [3]


def test_sent_dates(inbox):
    # Date headers: 2000-01-01, 2010-01-01, 2015-01-01, 2020-01-01 (10:00 +0000).
    assert search(inbox, "SENTON 1-Jan-2010") == [2]
    assert search(inbox, "SENTBEFORE 1-Jan-2015") == [1, 2]
    assert search(inbox, "SENTSINCE 1-Jan-2015") == [3, 4]


def test_emailid(inbox):
    untagged, _ = inbox.ok("FETCH 2 EMAILID")
    emailid = re.search(rb"EMAILID \((M[0-9a-f]+)\)", untagged[0]).group(1).decode()
    assert search(inbox, "EMAILID " + emailid) == [2]
    assert search(inbox, "EMAILID Mnothere") == []


def test_threadid_links_replies(demo_server):
    # RFC 8474: Sent/1 answers INBOX/1 (In-Reply-To: <lunch-1@example.org>), so they
    # share a THREADID; INBOX/2 starts its own thread.
    server = demo_server()
    c = RawImap(server.port)
    c.login()
    c.ok("EXAMINE INBOX")
    untagged, _ = c.ok("FETCH 1:2 THREADID")
    ids = [re.search(rb"THREADID \((T[0-9a-f]{32})\)", l).group(1) for l in untagged]
    assert ids[0] != ids[1]
    c.ok("EXAMINE Sent")
    untagged, _ = c.ok("FETCH 1 THREADID")
    assert re.search(rb"THREADID \((T[0-9a-f]{32})\)", untagged[0]).group(1) == ids[0]
    assert search(c, "THREADID " + ids[0].decode()) == [1]
    # A new reply appended later joins the same thread, and a COPY keeps it.
    msg = b"Subject: Re: Lunch\r\nIn-Reply-To: <lunch-reply@example.com>\r\n\r\nOk.\r\n"
    c.ok("APPEND Sent {%d+}\r\n" % len(msg) + msg.decode())
    c.ok("EXAMINE Sent")
    untagged, _ = c.ok("UID FETCH 3 THREADID")
    assert ids[0] in untagged[0]
    c.ok("UID COPY 3 INBOX")
    c.ok("EXAMINE INBOX")
    untagged, _ = c.ok("UID FETCH 5 (THREADID EMAILID)")
    assert ids[0] in untagged[0]
    c.close()


def _append_many(c, mailbox, count, body):
    """count messages, pipelined; body(i) -> (subject, text) for message i (1-based)."""
    out = []
    for i in range(1, count + 1):
        subject, text = body(i)
        msg = ("Subject: %s\r\nMessage-ID: <m%d@example.org>\r\n\r\n%s\r\n"
               % (subject, i, text)).encode()
        out.append(b"a%d APPEND %s {%d+}\r\n%s\r\n" % (i, mailbox.encode(), len(msg), msg))
    c.send(b"".join(out))
    for i in range(1, count + 1):
        _, tagged = c.read_until_tagged("a%d" % i)
        assert tagged.startswith(b"a%d OK" % i), tagged


def _selected_mailbox(server, mailbox, count, body):
    """A logged-in connection with mailbox created, filled by _append_many(count, body)
    and selected."""
    c = RawImap(server.port)
    c.login()
    c.ok("CREATE " + mailbox)
    _append_many(c, mailbox, count, body)
    c.ok("SELECT " + mailbox)
    return c


def test_search_over_several_steps(demo_server):
    # A SEARCH yields to the worker's other sessions every 128 messages when it reads
    # content (4096 otherwise) and resumes where it stopped: the answer must be the
    # same as in one go, across the step boundaries (127/128/129, 256/257, ...).
    n = 300
    c = _selected_mailbox(demo_server(), "Many", n, lambda i: (
        "item %d" % i, "every seventh" if i % 7 == 0 else "plain"))
    assert search(c, 'BODY "every seventh"') == [i for i in range(1, n + 1) if i % 7 == 0]
    assert search(c, 'SUBJECT "item 129"') == [129]
    assert search(c, 'OR SUBJECT "item 128" HEADER Message-ID "<m257@"') == [128, 257]
    untagged, _ = c.ok('UID SEARCH NOT BODY "plain"')
    uids = [int(x) for x in untagged[0].split()[2:]]
    assert len(uids) == n // 7
    c.close()


def test_metadata_search_over_several_steps(pymap_server):
    # 4,100 messages: a metadata SEARCH takes two steps of 4,096 (dict backend).
    n = 4100
    c = _selected_mailbox(pymap_server(), "Big", n, lambda i: ("s", "x"))
    c.ok("STORE 4095:4098 +FLAGS (\\Flagged)")
    assert search(c, "FLAGGED") == [4095, 4096, 4097, 4098]
    assert search(c, "4090:*  UNFLAGGED") == [4090, 4091, 4092, 4093, 4094, 4099, 4100]
    assert search(c, "ALL")[-3:] == [4098, 4099, 4100] and len(search(c, "ALL")) == n
    c.close()


def _fetch_ids(c, mailbox, uid):
    """(THREADID, EMAILID) of one message (UID) of mailbox."""
    c.ok("EXAMINE " + mailbox)
    untagged, _ = c.ok("UID FETCH %d (THREADID EMAILID)" % uid)
    thread = re.search(rb"THREADID \((T[0-9a-f]{32})\)", untagged[0]).group(1)
    email = re.search(rb"EMAILID \((\S+)\)", untagged[0]).group(1)
    return thread, email


def _append(c, mailbox, msg):
    _, tagged = c.ok("APPEND %s {%d+}\r\n" % (mailbox, len(msg)) + msg)
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


def test_maildir_threadids_agree_across_processes_and_restarts(tmp_path, pymap_server):
    # The maildir backend keeps the thread index in a file of the user's maildir
    # (pymap-threads), read and appended under a lock by every process: two pymap
    # daemons on the same maildir (each caching the index in memory) link each
    # other's replies, and a third one after both stopped still does.
    from maildir_fixtures import make_base
    base = make_base(tmp_path)
    a_srv = pymap_server(["maildir", str(base)])
    b_srv = pymap_server(["maildir", str(base)])
    a, b = RawImap(a_srv.port), RawImap(b_srv.port)
    a.login(); b.login()
    a.ok("CREATE Sent")
    first = _append(a, "INBOX", "Message-ID: <root@example.org>\r\nSubject: q\r\n\r\n?\r\n")
    other = _append(a, "INBOX", "Message-ID: <other@example.org>\r\nSubject: o\r\n\r\n.\r\n")
    root_thread, _ = _fetch_ids(a, "INBOX", first)
    other_thread, _ = _fetch_ids(a, "INBOX", other)
    assert root_thread != other_thread
    # b (which has not loaded the index yet) answers a's message
    reply = _append(b, "Sent", "Message-ID: <reply-b@example.org>\r\n"
                    "In-Reply-To: <root@example.org>\r\nSubject: Re: q\r\n\r\n!\r\n")
    assert _fetch_ids(b, "Sent", reply)[0] == root_thread
    assert _fetch_ids(a, "Sent", reply)[0] == root_thread
    # a (index in memory since its first APPEND) must read what b appended since
    again = _append(a, "INBOX", "References: <reply-b@example.org>\r\nSubject: Re: Re: q\r\n\r\n.\r\n")
    assert _fetch_ids(a, "INBOX", again)[0] == root_thread
    # COPY and MOVE by one process keep the ids the other one sees
    _, email = _fetch_ids(a, "INBOX", other)
    b.ok("SELECT INBOX")
    untagged, tagged = b.ok("UID MOVE %d Sent" % other)
    moved = int(re.search(rb"COPYUID \d+ \d+ (\d+)", b"".join(untagged) + tagged).group(1))
    assert _fetch_ids(a, "Sent", moved) == (other_thread, email)
    a.close(); b.close()
    a_srv.stop(); b_srv.stop()
    c_srv = pymap_server(["maildir", str(base)])
    c = RawImap(c_srv.port)
    c.login()
    late = _append(c, "Sent", "In-Reply-To: <other@example.org>\r\nSubject: late\r\n\r\n.\r\n")
    assert _fetch_ids(c, "Sent", late)[0] == other_thread
    assert _fetch_ids(c, "Sent", moved) == (other_thread, email)
    assert _fetch_ids(c, "INBOX", first)[0] == root_thread
    c.close()
    # a rebuilt state (the pymap-index cache deleted) reads the ids from the
    # dovecot-uidlist records
    for index in base.rglob("pymap-index"):
        index.unlink()
    d_srv = pymap_server(["maildir", str(base)])
    d = RawImap(d_srv.port)
    d.login()
    assert _fetch_ids(d, "Sent", moved) == (other_thread, email)
    assert _fetch_ids(d, "Sent", reply)[0] == root_thread
    d.close()
