"""IMAP4rev1 core (RFC 3501) against the real daemon with the demo data, using raw
sockets for exact bytes and imaplib as a real client. Tests that use the `server` or
`conn` fixture run on every storage backend (dict, maildir, redis: conftest.py's
demo_server gives each the same data); protocol-only tests and dict features (its
read-only demo mailbox, CRAM-MD5 with its clear-text demo password) use `dict_server`.

Expected values come from the demo files themselves (share/demo), read here
independently of the server: each file is "flags CRLF timestamp CRLF message"."""
import imaplib
import os
import re
import socket
import threading
import time

import pytest

from rawimap import RawImap

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "share", "demo")


def demo_message(mailbox, name):
    with open(os.path.join(DEMO, mailbox, name), "rb") as f:
        data = f.read()
    first = data.index(b"\n")
    second = data.index(b"\n", first + 1)
    return data[second + 1:]


@pytest.fixture
def server(demo_server):
    return demo_server()


@pytest.fixture
def conn(server):
    c = RawImap(server.port)
    yield c
    c.close()


@pytest.fixture
def dict_server(pymap_server):
    return pymap_server(["dict", "--demo-data"])


@pytest.fixture
def dict_conn(dict_server):
    c = RawImap(dict_server.port)
    yield c
    c.close()


def test_greeting_and_capability_before_login(dict_conn):
    conn = dict_conn
    # RFC 3501 7.1.1: greeting OK, here with a CAPABILITY response code.
    assert re.match(rb"^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] Server ready", conn.greeting)
    untagged, tagged = conn.ok("CAPABILITY")
    caps = untagged[0].split()
    assert caps[:2] == [b"*", b"CAPABILITY"]
    assert b"IMAP4rev1" in caps
    # Loopback, no TLS configured: plaintext allowed, STARTTLS not advertised.
    assert b"AUTH=PLAIN" in caps and b"LOGINDISABLED" not in caps
    assert b"STARTTLS" not in caps


def test_login_success_and_failure(server):
    bad = RawImap(server.port)
    untagged, tagged = bad.cmd("LOGIN demouser wrongpass")
    assert tagged.startswith(b"t1 NO [AUTHENTICATIONFAILED]")
    bad.close()
    c = RawImap(server.port)
    untagged, tagged = c.login()
    assert tagged.startswith(b"t1 OK [CAPABILITY IMAP4rev1")
    assert b"IDLE" in tagged and b"UIDPLUS" in tagged
    c.close()


def test_select_inbox_exact(conn):
    conn.login()
    untagged, tagged = conn.ok("SELECT INBOX")
    lines = [l.rstrip(b"\r\n") for l in untagged]
    assert b"* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Recent \\Seen)" in lines
    assert b"* 4 EXISTS" in lines
    assert b"* 1 RECENT" in lines
    # Messages 1 and 2 are \Seen, 3 is not: first unseen is 3.
    assert b"* OK [UNSEEN 3] First unseen message." in lines
    assert b"* OK [UIDNEXT 5] Predicted next UID." in lines
    assert any(re.match(rb"^\* OK \[UIDVALIDITY \d+\]", l) for l in lines)
    assert any(re.match(rb"^\* OK \[PERMANENTFLAGS \(\\Answered \\Deleted \\Draft \\Flagged \\Seen \\\*\)\]", l)
               for l in lines)
    assert tagged.startswith(b"t2 OK [READ-WRITE]")


def test_recent_goes_to_one_session(server):
    a, b = RawImap(server.port), RawImap(server.port)
    a.login(); b.login()
    ua, _ = a.ok("SELECT INBOX")
    ub, _ = b.ok("SELECT INBOX")
    assert b"* 1 RECENT\r\n" in ua
    assert b"* 0 RECENT\r\n" in ub  # RFC 3501 2.3.2: only one session sees \Recent
    a.close(); b.close()


def test_examine_is_readonly(conn):
    conn.login()
    untagged, tagged = conn.ok("EXAMINE INBOX")
    assert tagged.startswith(b"t2 OK [READ-ONLY]")
    untagged, tagged = conn.cmd("STORE 1 +FLAGS (\\Seen)")
    assert tagged.startswith(b"t3 NO [READ-ONLY]")


def test_readonly_mailbox_on_dict(dict_conn):
    conn = dict_conn
    conn.login()
    untagged, tagged = conn.ok("EXAMINE INBOX")
    assert tagged.startswith(b"t2 OK [READ-ONLY]")
    untagged, tagged = conn.ok("SELECT Trash")  # marked .readonly in the demo data
    assert tagged.startswith(b"t3 OK [READ-ONLY]")
    assert b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n" in untagged
    untagged, tagged = conn.cmd("STORE 1 +FLAGS (\\Seen)")
    assert tagged.startswith(b"t4 NO [READ-ONLY]")
    untagged, tagged = conn.cmd("APPEND Trash {3+}\r\nabc")
    assert tagged.startswith(b"t5 NO [READ-ONLY]")


def test_fetch_metadata_and_body(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE FLAGS)")
    assert len(untagged) == 4
    for i, line in enumerate(untagged, start=1):
        size = len(demo_message("INBOX", str(i)))
        assert ("* %d FETCH (UID %d RFC822.SIZE %d INTERNALDATE " % (i, i, size)).encode() in line
    # INTERNALDATE of INBOX/1 is the file's timestamp 946720800 = 2000-01-01 10:00:00 UTC.
    assert b'INTERNALDATE "01-Jan-2000 10:00:00 +0000"' in untagged[0]
    untagged, _ = conn.ok("FETCH 1 BODY.PEEK[]")
    body = demo_message("INBOX", "1")
    assert untagged[0] == b"* 1 FETCH (BODY[] {%d}\r\n" % len(body) + body + b")\r\n"


def test_fetch_header_text_partial(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    msg = demo_message("INBOX", "1")
    split = msg.index(b"\r\n\r\n") + 4
    untagged, _ = conn.ok("FETCH 1 (BODY.PEEK[HEADER])")
    assert untagged[0] == b"* 1 FETCH (BODY[HEADER] {%d}\r\n" % split + msg[:split] + b")\r\n"
    untagged, _ = conn.ok("FETCH 1 (BODY.PEEK[TEXT]<4.10>)")
    assert untagged[0] == b"* 1 FETCH (BODY[TEXT]<4> {10}\r\n" + msg[split + 4:split + 14] + b")\r\n"


def test_fetch_body_sets_seen(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("FETCH 3 (FLAGS)")
    assert b"\\Seen" not in untagged[0]
    untagged, _ = conn.ok("FETCH 3 BODY[TEXT]")
    # RFC 3501 6.4.5: \Seen is set and the new flags are reported.
    assert b"FLAGS (\\Flagged \\Seen)" in untagged[0]
    untagged, _ = conn.ok("FETCH 3 (FLAGS)")
    assert b"FLAGS (\\Flagged \\Seen)" in untagged[0]


def test_list_create_rename_delete(conn):
    conn.login()
    untagged, _ = conn.ok('LIST "" *')
    names = [l.rstrip(b"\r\n") for l in untagged]
    assert names == [b'* LIST (\\HasNoChildren) "/" INBOX',
                     b'* LIST (\\HasNoChildren) "/" Sent',
                     b'* LIST (\\HasNoChildren) "/" Trash']
    untagged, tagged = conn.ok('CREATE "A New Folder"')
    # RFC 8474 4: an objectid is 1-255 of [A-Za-z0-9_-] (dict and redis prefix "F").
    assert re.match(rb"t3 OK \[MAILBOXID \([A-Za-z0-9_-]{1,255}\)\]", tagged)
    untagged, tagged = conn.cmd('CREATE "A New Folder"')
    assert tagged.startswith(b"t4 NO [ALREADYEXISTS]")
    conn.ok('CREATE "Work/Projects"')
    untagged, _ = conn.ok('LIST "" "*"')
    text = b"".join(untagged)
    assert b'* LIST (\\HasNoChildren) "/" "A New Folder"\r\n' in text
    assert b'* LIST (\\Noselect \\HasChildren) "/" Work\r\n' in text
    assert b'* LIST (\\HasNoChildren) "/" Work/Projects\r\n' in text
    untagged, _ = conn.ok('LIST "" %')  # % does not cross the delimiter
    assert not any(b"Work/Projects" in l for l in untagged)
    conn.ok('RENAME "A New Folder" Renamed')
    untagged, _ = conn.ok('LIST "" Renamed')
    assert untagged == [b'* LIST (\\HasNoChildren) "/" Renamed\r\n']
    conn.ok("DELETE Renamed")
    untagged, tagged = conn.cmd("DELETE Renamed")
    assert tagged.startswith(b"t11 NO [NONEXISTENT]")


def test_modified_utf7_round_trip(conn):
    conn.login()
    # RFC 3501 5.1.3 example: "&ZeVnLIqe-" is the modified UTF-7 of a Japanese name.
    conn.ok('CREATE "&ZeVnLIqe-"')
    untagged, _ = conn.ok('LIST "" "&ZeVnLIqe-"')
    assert untagged == [b'* LIST (\\HasNoChildren) "/" &ZeVnLIqe-\r\n']
    untagged, tagged = conn.cmd('CREATE "&Jjo!"')  # unterminated / invalid base64
    assert tagged.startswith(b"t4 BAD")


def test_status(conn):
    conn.login()
    untagged, _ = conn.ok("STATUS INBOX (MESSAGES UIDNEXT UNSEEN RECENT)")
    assert untagged == [b"* STATUS INBOX (MESSAGES 4 UIDNEXT 5 UNSEEN 2 RECENT 1)\r\n"]
    untagged, tagged = conn.cmd("STATUS Nope (MESSAGES)")
    assert tagged.startswith(b"t3 NO [NONEXISTENT]")


def test_store_expunge(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("STORE 4 +FLAGS (\\Deleted)")
    assert untagged == [b"* 4 FETCH (FLAGS (\\Deleted \\Recent))\r\n"]
    untagged, _ = conn.ok("STORE 4 -FLAGS.SILENT (\\Deleted)")
    assert untagged == []
    conn.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = conn.ok("EXPUNGE")
    # Descending order keeps the numbers valid as they are sent.
    assert untagged == [b"* 3 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"]
    untagged, _ = conn.ok("UID FETCH 1:* (FLAGS)")
    assert [re.search(rb"UID (\d+)", l).group(1) for l in untagged] == [b"1", b"4"]


def test_keywords(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("STORE 1 +FLAGS ($Important)")
    assert untagged == [b"* 1 FETCH (FLAGS (\\Seen $Important))\r\n"]
    untagged, _ = conn.ok("SEARCH KEYWORD $Important")
    assert untagged == [b"* SEARCH 1\r\n"]


def test_append_literal_plus_and_appenduid(conn):
    conn.login()
    msg = b"Subject: appended\r\n\r\nHello, world!\r\n"
    conn.send(b"a1 APPEND INBOX (\\Flagged) {%d+}\r\n" % len(msg) + msg + b"\r\n")
    untagged, tagged = conn.read_until_tagged("a1")
    m = re.match(rb"a1 OK \[APPENDUID (\d+) 5\]", tagged)
    assert m, tagged
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("UID FETCH 5 (FLAGS BODY.PEEK[])")
    assert b"FLAGS (\\Flagged \\Recent)" in untagged[0]
    assert msg in untagged[0]


def test_append_synchronizing_literal(conn):
    conn.login()
    msg = b"Subject: sync\r\n\r\nbody\r\n"
    conn.send(b"a1 APPEND Sent {%d}\r\n" % len(msg))
    assert conn.readline().startswith(b"+ ")
    conn.send(msg + b"\r\n")
    untagged, tagged = conn.read_until_tagged("a1")
    assert tagged.startswith(b"a1 OK [APPENDUID")


def test_append_to_missing_mailbox(conn):
    conn.login()
    untagged, tagged = conn.cmd("APPEND Nope {3+}\r\nabc")
    assert tagged.startswith(b"t2 NO [TRYCREATE]")


def test_multiappend_is_atomic_on_bad_flag(conn):
    conn.login()
    # RFC 3502: the second message has an invalid flag: nothing is appended.
    untagged, tagged = conn.cmd("APPEND Sent {3+}\r\nabc (\\Bogus) {3+}\r\ndef")
    assert tagged.startswith(b"t2 BAD")
    untagged, _ = conn.ok("STATUS Sent (MESSAGES)")
    assert untagged == [b"* STATUS Sent (MESSAGES 2)\r\n"]
    untagged, tagged = conn.ok("APPEND Sent {3+}\r\nabc {3+}\r\ndef")
    assert re.search(rb"\[APPENDUID \d+ 3:4\]", tagged)


def test_copy_and_move(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    untagged, tagged = conn.ok("COPY 1:2 Sent")
    assert re.match(rb"t3 OK \[COPYUID \d+ 1:2 3:4\]", tagged)
    untagged, tagged = conn.ok("UID MOVE 1 Sent")
    assert any(re.match(rb"\* OK \[COPYUID \d+ 1 5\]", l) for l in untagged)
    assert b"* 1 EXPUNGE\r\n" in untagged
    untagged, tagged = conn.cmd("COPY 1 Nope")
    assert tagged.startswith(b"t5 NO [TRYCREATE]")


def test_search(conn):
    conn.login()
    conn.ok("SELECT INBOX")
    assert conn.ok("SEARCH UNSEEN")[0] == [b"* SEARCH 3 4\r\n"]
    assert conn.ok("SEARCH FLAGGED")[0] == [b"* SEARCH 3\r\n"]
    assert conn.ok("SEARCH FROM alice")[0] == [b"* SEARCH 1\r\n"]
    assert conn.ok('SEARCH SUBJECT "quarterly"')[0] == [b"* SEARCH 2\r\n"]
    assert conn.ok("SEARCH BODY Friday")[0] == [b"* SEARCH 1\r\n"]
    assert conn.ok("SEARCH OR SEEN FLAGGED")[0] == [b"* SEARCH 1 2 3\r\n"]
    assert conn.ok("SEARCH NOT (SEEN)")[0] == [b"* SEARCH 3 4\r\n"]
    assert conn.ok("SEARCH SINCE 1-Jan-2015")[0] == [b"* SEARCH 3 4\r\n"]
    assert conn.ok("SEARCH BEFORE 1-Jan-2010")[0] == [b"* SEARCH 1\r\n"]
    assert conn.ok("UID SEARCH 2:3")[0] == [b"* SEARCH 2 3\r\n"]
    assert conn.ok("SEARCH LARGER 500")[0] == [b"* SEARCH 2\r\n"]
    untagged, tagged = conn.cmd("SEARCH CHARSET KOI8-R FROM x")
    assert tagged.startswith(b"t14 NO [BADCHARSET")
    untagged, tagged = conn.cmd("SEARCH FROBNICATE")
    assert tagged.startswith(b"t15 BAD")


def test_state_and_syntax_errors(conn):
    untagged, tagged = conn.cmd("SELECT INBOX")
    assert tagged.startswith(b"t1 BAD")  # not authenticated
    untagged, tagged = conn.cmd("FROBNICATE")
    assert tagged.startswith(b"t2 BAD")
    conn.login()
    untagged, tagged = conn.cmd("FETCH 1 FLAGS")
    assert tagged.startswith(b"t4 BAD")  # nothing selected
    untagged, tagged = conn.cmd("SELECT Nope")
    assert tagged.startswith(b"t5 NO [NONEXISTENT]")
    untagged, tagged = conn.cmd('SELECT "unterminated')
    assert tagged.startswith(b"t6 BAD")
    untagged, tagged = conn.cmd("LOGIN demouser demopass")
    assert tagged.startswith(b"t7 BAD")  # already authenticated


def test_literal_too_big_is_refused_before_data(pymap_server, tmp_path):
    server = pymap_server(["dict", "--demo-data"], config="[imap]\nmax_append_bytes = 100\n")
    c = RawImap(server.port)
    c.login()
    # RFC 7889: a synchronizing literal over the limit is refused without "+".
    c.send(b"a1 APPEND INBOX {1000}\r\n")
    line = c.readline()
    assert line.startswith(b"a1 NO [TOOBIG]"), line
    # The session is still usable.
    c.ok("NOOP")
    c.close()


def test_two_sessions_see_each_others_changes(server):
    a, b = RawImap(server.port), RawImap(server.port)
    a.login(); b.login()
    a.ok("SELECT INBOX"); b.ok("SELECT INBOX")
    a.ok("APPEND INBOX {5+}\r\nhello")
    untagged, _ = b.ok("NOOP")
    assert b"* 5 EXISTS\r\n" in untagged
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    untagged, _ = b.ok("NOOP")
    assert b"* 1 FETCH (FLAGS (\\Flagged \\Seen))\r\n" in untagged
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    # RFC 3501 7.4.1: no EXPUNGE during FETCH by sequence number; it waits.
    untagged, tagged = b.ok("FETCH 2 (FLAGS)")
    assert not any(b"EXPUNGE" in l for l in untagged)
    untagged, _ = b.ok("NOOP")
    assert b"* 2 EXPUNGE\r\n" in untagged
    a.close(); b.close()


def test_idle_push(server):
    a, b = RawImap(server.port), RawImap(server.port)
    a.login(); b.login()
    a.ok("SELECT INBOX"); b.ok("SELECT INBOX")
    b.send("i1 IDLE\r\n")
    assert b.readline().startswith(b"+ ")
    start = time.monotonic()
    a.ok("APPEND INBOX {5+}\r\nhello")
    line = b.readline()
    elapsed = time.monotonic() - start
    assert line == b"* 5 EXISTS\r\n"
    assert elapsed < 1.0  # pushed, not polled
    b.send("DONE\r\n")
    untagged, tagged = b.read_until_tagged("i1")
    assert tagged.startswith(b"i1 OK")
    a.close(); b.close()


def test_bad_command_limit_disconnects(dict_server):
    c = RawImap(dict_server.port)
    for i in range(20):
        try:
            c.send("x%d FROBNICATE\r\n" % i)
            line = c.readline()
        except (EOFError, ConnectionError):
            break
        if line.startswith(b"* BYE"):
            break
    else:
        pytest.fail("never disconnected after repeated BAD commands")
    c.close()


def test_logout(dict_conn):
    conn = dict_conn
    untagged, tagged = conn.ok("LOGOUT")
    assert untagged == [b"* BYE Logging out.\r\n"]
    assert conn.file.readline() == b""  # closed by the server


def test_imaplib_session(server):
    m = imaplib.IMAP4("127.0.0.1", server.port)
    m.login("demouser", "demopass")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"4"]
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK" and len(data) == 4
    typ, data = m.list()
    assert typ == "OK" and len(data) == 3
    # imaplib sends mailbox names as given: quoting is the caller's job.
    m.create('"Imaplib Folder"')
    typ, data = m.append('"Imaplib Folder"', "(\\Seen)", None, b"Subject: x\r\n\r\nbody\r\n")
    assert typ == "OK"
    typ, data = m.status('"Imaplib Folder"', "(MESSAGES)")
    assert data == [b'"Imaplib Folder" (MESSAGES 1)']
    m.logout()


def test_pipelined_commands_with_large_output(server):
    # 200 pipelined FETCHes of every body, sent in one write, read only afterwards:
    # the server pauses on its output queue and must still answer every one, in order.
    c = RawImap(server.port)
    c.login()
    c.ok("EXAMINE INBOX")
    sizes = [len(demo_message("INBOX", str(i))) for i in range(1, 5)]
    n = 200
    c.send(b"".join(b"p%d FETCH 1:* BODY.PEEK[]\r\n" % i for i in range(n)))
    time.sleep(0.5)
    for i in range(n):
        untagged, tagged = c.read_until_tagged("p%d" % i)
        assert tagged.startswith(b"p%d OK" % i)
        assert [int(re.search(rb"\{(\d+)\}", l).group(1)) for l in untagged] == sizes
    c.close()


def test_authenticate_cram_md5_on_dict(dict_server):
    server = dict_server
    # RFC 2195: offered with the dict backend, whose demo user has a clear-text secret.
    import base64
    import hmac
    c = RawImap(server.port)
    assert b"AUTH=CRAM-MD5" in c.greeting
    c.send("a1 AUTHENTICATE CRAM-MD5\r\n")
    line = c.readline()
    assert line.startswith(b"+ ")
    challenge = base64.b64decode(line[2:].strip())
    assert challenge.startswith(b"<") and challenge.endswith(b">")
    digest = hmac.new(b"demopass", challenge, "md5").hexdigest()
    c.send(base64.b64encode(b"demouser " + digest.encode()) + b"\r\n")
    untagged, tagged = c.read_until_tagged("a1")
    assert tagged.startswith(b"a1 OK")
    c.close()
    bad = RawImap(server.port)
    bad.send("a1 AUTHENTICATE CRAM-MD5\r\n")
    bad.readline()
    bad.send(base64.b64encode(b"demouser " + b"0" * 32) + b"\r\n")
    untagged, tagged = bad.read_until_tagged("a1")
    assert tagged.startswith(b"a1 NO [AUTHENTICATIONFAILED]")
    bad.close()


def test_authenticate_plain_with_initial_response(server):
    # RFC 4959 SASL-IR and RFC 4616 PLAIN.
    import base64
    c = RawImap(server.port)
    ir = base64.b64encode(b"\0demouser\0demopass").decode()
    untagged, tagged = c.cmd("AUTHENTICATE PLAIN " + ir)
    assert tagged.startswith(b"t1 OK [CAPABILITY IMAP4rev1")
    c.close()
    c = RawImap(server.port)
    c.send("a1 AUTHENTICATE PLAIN\r\n")
    assert c.readline() == b"+ \r\n"
    c.send("*\r\n")  # cancelled by the client
    untagged, tagged = c.read_until_tagged("a1")
    assert tagged.startswith(b"a1 BAD")
    c.close()


def test_object_ids_stable(conn, backend):
    # RFC 8474: MAILBOXID survives RENAME; EMAILID survives COPY and MOVE (5.1: "MUST
    # return the same EMAILID as the source message ... after a COPY or MOVE").
    conn.login()
    untagged, tagged = conn.ok("CREATE Projects")
    mailboxid = re.search(rb"MAILBOXID \((\S+)\)", tagged).group(1)
    conn.ok("RENAME Projects Archive")
    untagged, _ = conn.ok("STATUS Archive (MAILBOXID)")
    assert untagged == [b"* STATUS Archive (MAILBOXID (%s))\r\n" % mailboxid]
    conn.ok("SELECT INBOX")
    untagged, _ = conn.ok("FETCH 1:2 EMAILID")
    ids = [re.search(rb"EMAILID \((\S+)\)", l).group(1) for l in untagged]
    assert ids[0] != ids[1]
    conn.ok("COPY 1 Archive")
    conn.ok("MOVE 2 Archive")
    conn.ok("SELECT Archive")
    untagged, _ = conn.ok("FETCH 1:2 EMAILID")
    assert [re.search(rb"EMAILID \((\S+)\)", l).group(1) for l in untagged] == ids


def test_concurrent_large_appends_keep_their_spool_files(server):
    # Literals over 256 KiB are spooled to a file per client: one client finishing a
    # command must not close another client's spool file mid-literal.
    a, b = RawImap(server.port), RawImap(server.port)
    a.login(); b.login()
    big_a = b"Subject: a\r\n\r\n" + b"A" * (600 * 1024) + b"\r\n"
    big_b = b"Subject: b\r\n\r\n" + b"B" * (600 * 1024) + b"\r\n"
    a.send(b"a1 APPEND INBOX {%d+}\r\n" % len(big_a) + big_a[:300 * 1024])
    b.send(b"b1 APPEND INBOX {%d+}\r\n" % len(big_b) + big_b + b"\r\n")
    untagged, tagged = b.read_until_tagged("b1")
    assert tagged.startswith(b"b1 OK [APPENDUID"), tagged
    b.ok("NOOP")
    a.send(big_a[300 * 1024:] + b"\r\n")
    untagged, tagged = a.read_until_tagged("a1")
    assert tagged.startswith(b"a1 OK [APPENDUID"), tagged
    a.ok("SELECT INBOX")
    untagged, _ = a.ok("FETCH 5:6 RFC822.SIZE")
    assert sorted(int(re.search(rb"RFC822.SIZE (\d+)", l).group(1)) for l in untagged) == \
        sorted([len(big_a), len(big_b)])
    untagged, _ = a.ok("UID FETCH 5:6 BODY.PEEK[]")
    bodies = {re.search(rb"Subject: (\w)", l).group(1): l for l in untagged}
    assert big_a in bodies[b"a"] and big_b in bodies[b"b"]
    a.close(); b.close()
