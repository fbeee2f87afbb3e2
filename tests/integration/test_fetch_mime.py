"""FETCH of message structure and sections (RFC 3501 6.4.5 and 7.4.2, RFC 3516) on the
demo messages. Every expected value below was written by hand from the RFC and the
demo files in share/demo (sizes and line counts counted from those files), not
copied from the server's output. Every test runs on each storage backend (dict,
maildir, redis; conftest.py's demo_server)."""
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


ALICE = b'(("Alice Example" NIL "alice" "example.org"))'
DEMO = b'(("Demo User" NIL "demouser" "example.com"))'


def test_envelope_plain_message(inbox):
    untagged, _ = inbox.ok("FETCH 1 ENVELOPE")
    # date, subject, from, sender, reply-to (both default to From), to, cc, bcc,
    # in-reply-to, message-id
    assert untagged == [b'* 1 FETCH (ENVELOPE ("Sat, 01 Jan 2000 10:00:00 +0000" '
                        b'"Lunch on Friday?" ' + ALICE + b" " + ALICE + b" " + ALICE +
                        b" " + DEMO + b' NIL NIL NIL "<lunch-1@example.org>"))\r\n']


def test_envelope_keeps_encoded_words(inbox):
    # RFC 3501 7.4.2: envelope strings are the raw header values.
    untagged, _ = inbox.ok("FETCH 3 ENVELOPE")
    assert b'"=?UTF-8?B?UsOpdW5pb24gZGUgbCfDqXF1aXBl?=" ' in untagged[0]
    assert b'(("=?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?=" NIL "renee" "example.fr"))' in untagged[0]


def test_bodystructure_single_part(inbox):
    # Body of INBOX/1: 99 octets, 6 line breaks; no MIME headers: text/plain
    # us-ascii 7BIT (RFC 2045 5.2 defaults).
    untagged, _ = inbox.ok("FETCH 1 BODYSTRUCTURE")
    assert untagged == [b'* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") '
                        b'NIL NIL "7BIT" 99 6 NIL NIL NIL NIL))\r\n']


def test_bodystructure_and_body_multipart(inbox):
    # Part 1: "Please find the quarterly report attached." CRLF CRLF "Bob" = 49
    # octets, 3 lines (the CRLF before the boundary belongs to the boundary).
    # Part 2: 60 base64 octets on one line.
    untagged, _ = inbox.ok("FETCH 2 (BODYSTRUCTURE BODY)")
    part1 = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 49 3'
    part2 = b'("text" "csv" ("name" "report.csv") NIL NIL "base64" 60 1'
    assert untagged == [
        b"* 2 FETCH (BODYSTRUCTURE (" + part1 + b" NIL NIL NIL NIL)" + part2 +
        b' NIL ("attachment" ("filename" "report.csv")) NIL NIL) "mixed" '
        b'("boundary" "=_demo_boundary_42") NIL NIL NIL) '
        b"BODY (" + part1 + b")" + part2 + b') "mixed"))\r\n']


def test_part_sections(inbox):
    untagged, _ = inbox.ok("FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME])")
    mime = (b'Content-Type: text/csv; name="report.csv"\r\n'
            b'Content-Disposition: attachment; filename="report.csv"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    body1 = b"Please find the quarterly report attached.\r\n\r\nBob"
    assert untagged == [b"* 2 FETCH (BODY[1] {%d}\r\n" % len(body1) + body1 +
                        b" BODY[2.MIME] {%d}\r\n" % len(mime) + mime + b")\r\n"]


def test_header_fields(inbox):
    untagged, _ = inbox.ok("FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
    fields = b"From: Bob Builder <bob@example.net>\r\nSubject: Quarterly report\r\n\r\n"
    assert untagged == [b"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n" % len(fields)
                        + fields + b")\r\n"]
    untagged, _ = inbox.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date)]")
    rest = b"Message-ID: <lunch-1@example.org>\r\n\r\n"
    assert untagged[0].endswith(b"{%d}\r\n" % len(rest) + rest + b")\r\n")


def test_binary_decodes_base64(inbox):
    decoded = b"quarter,revenue\nQ1,100\nQ2,120\nQ3,140\nQ4,160\n"
    # RFC 3516 4.3: without NUL bytes the decoded data is a plain literal. Base64 data
    # is sent as decoded (as Dovecot does; see doc/mime-differences.md).
    untagged, _ = inbox.ok("FETCH 2 (BINARY.SIZE[2] BINARY.PEEK[2])")
    assert untagged == [b"* 2 FETCH (BINARY.SIZE[2] %d BINARY[2] {%d}\r\n" %
                        (len(decoded), len(decoded)) + decoded + b")\r\n"]
    untagged, _ = inbox.ok("FETCH 2 BINARY.PEEK[2]<8.7>")
    assert untagged == [b"* 2 FETCH (BINARY[2]<8> {7}\r\n" + decoded[8:15] + b")\r\n"]


def test_nul_bytes_never_in_a_plain_literal(demo_server):
    # RFC 3501 9: a {n} literal holds CHAR8 (no NUL). BODY[] sends NUL as 0x80; BINARY
    # uses a ~{n} literal8 for data with NUL (RFC 3516 4.3).
    server = demo_server()
    c = RawImap(server.port)
    c.login()
    msg = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
    c.ok("APPEND INBOX ~{%d+}\r\n" % len(msg) + msg.decode("latin-1"))
    c.ok("EXAMINE INBOX")
    untagged, _ = c.ok("FETCH 5 (BODY.PEEK[TEXT] BINARY.PEEK[1])")
    assert untagged == [b"* 5 FETCH (BODY[TEXT] {5}\r\na\x80b\r\n BINARY[1] ~{5}\r\na\x00b\r\n)\r\n"]
    c.close()


def test_fetch_macros(inbox):
    untagged, _ = inbox.ok("FETCH 1 ALL")
    assert untagged[0].startswith(b'* 1 FETCH (FLAGS (\\Seen) INTERNALDATE "01-Jan-2000 10:00:00 +0000" '
                                  b"RFC822.SIZE 281 ENVELOPE (")
    untagged, _ = inbox.ok("FETCH 1 FULL")
    assert b" BODY (\"text\" \"plain\"" in untagged[0]


def test_bad_fetch_attributes(inbox):
    for bad in ("FETCH 1 (FLAGS", "FETCH 1 BODY[4.X]", "FETCH 1 BINARY[HEADER]",
                "FETCH 1 BODY[]<1>", "FETCH 1 NOPE"):
        untagged, tagged = inbox.cmd(bad)
        assert b" BAD " in tagged, (bad, tagged)
