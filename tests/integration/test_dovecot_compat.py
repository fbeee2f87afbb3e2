"""The maildir backend against a real Dovecot (Debian's dovecot-imapd) on the same
directory: what pymap writes, Dovecot must show (folders, UIDs, UIDVALIDITY, flags,
keywords), and the other way round. Dovecot is started by the test with a temporary
configuration on 127.0.0.1 and a free port, in the foreground, and stopped by pid."""
import imaplib
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import free_port, wait_for_port
from maildir_fixtures import (MAIL_USER, chown_tree, fetch_flags, list_names, make_base,
                              mail_ids, select_info)

DOVECOT = "/usr/sbin/dovecot"

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot not installed")


class Dovecot:
    def __init__(self, tmp, mail_dir, layout):
        self.tmp = tmp
        self.port = free_port()
        run = tmp / "run"
        run.mkdir(parents=True)
        os.chmod(tmp, 0o755)
        os.chmod(run, 0o755)
        (tmp / "passwd").write_text("demouser:{PLAIN}demopass\n")
        uid, gid = mail_ids()
        location = "maildir:%s" % mail_dir
        if layout == "fs":
            location += ":LAYOUT=fs"
        # Dovecot's own index files go elsewhere so that only the maildir is shared.
        location += ":INDEX=%s/index" % tmp
        (tmp / "index").mkdir()
        os.chown(tmp / "index", uid, gid)
        self.conf = tmp / "dovecot.conf"
        self.conf.write_text("""
base_dir = {run}
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = {location}
first_valid_uid = 1
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""".format(run=run, tmp=tmp, location=location, uid=uid, gid=gid, port=self.port))
        (tmp / "state").mkdir()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for_port(self.port, proc=self.proc)

    def connect(self):
        c = imaplib.IMAP4("127.0.0.1", self.port)
        c.login("demouser", "demopass")
        return c

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            return (self.tmp / "dovecot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


@pytest.fixture
def dovecot_factory(tmp_path, request):
    started = []

    def start(mail_dir, layout="++"):
        d = Dovecot(tmp_path / ("dovecot%d" % len(started)), mail_dir, layout)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print("---- dovecot log ----\n" + d.log())


def pymap_connect(server):
    c = imaplib.IMAP4("127.0.0.1", server.port)
    c.login("demouser", "demopass")
    return c


def state_of(conn, names):
    """{mailbox: (uidvalidity, {uid: flags})} for the given mailboxes."""
    result = {}
    for name in names:
        exists, uidvalidity, _ = select_info(conn, name)
        result[name] = (uidvalidity, fetch_flags(conn) if exists else {})
    conn.close()
    return result


MSG = b"From: a@example.com\r\nSubject: %d\r\n\r\nbody %d\r\n"


@pytest.mark.parametrize("layout", ["++", "fs"])
def test_pymap_writes_dovecot_reads(tmp_path, pymap_server, dovecot_factory, layout):
    base = make_base(tmp_path)
    server = pymap_server(["maildir", str(base), "--layout", layout])
    c = pymap_connect(server)
    for i in range(1, 5):
        typ, _ = c.append("INBOX", r"(\Seen $Forwarded)" if i == 2 else None, None, MSG % (i, i))
        assert typ == "OK"
    assert c.create("Work/Projects")[0] == "OK"
    assert c.create("Old")[0] == "OK"
    assert c.create("Gone")[0] == "OK"
    assert c.create("Caf\u00e9".encode("utf-7").replace(b"+", b"&").decode())[0] == "OK"
    assert c.rename("Old", "Archive/2024")[0] == "OK"
    assert c.delete("Gone")[0] == "OK"
    select_info(c, "INBOX")
    assert c.store("1", "+FLAGS", r"(\Flagged $Important)")[0] == "OK"
    assert c.store("3", "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert c.expunge()[0] == "OK"
    assert c.copy("1:2", "Work/Projects")[0] == "OK"
    c.close()
    names = ["INBOX", "Work/Projects", "Archive/2024"]
    mine = state_of(c, names)
    my_list = list_names(c)
    c.logout()
    assert mine["INBOX"][1] == {1: {"\\Flagged", "$Important"},
                                2: {"\\Seen", "$Forwarded"}, 4: set()}

    dov = dovecot_factory(base / "demouser", layout)
    d = dov.connect()
    their_list = list_names(d)
    for name in ["INBOX", "Work", "Work/Projects", "Archive", "Archive/2024", "Caf&AOk-"]:
        assert name in their_list, their_list
    assert "Gone" not in their_list and "Old" not in their_list
    assert set(my_list) == set(their_list)
    assert state_of(d, names) == mine
    d.logout()


@pytest.mark.parametrize("layout", ["++", "fs"])
def test_dovecot_writes_pymap_reads(tmp_path, pymap_server, dovecot_factory, layout):
    base = make_base(tmp_path)
    root = base / "demouser"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    chown_tree(base)
    dov = dovecot_factory(root, layout)
    d = dov.connect()
    for i in range(1, 5):
        assert d.append("INBOX", None, None, MSG % (i, i))[0] == "OK"
    assert d.create("Lists/Dev")[0] == "OK"
    assert d.create("Tmp")[0] == "OK"
    assert d.rename("Tmp", "Kept")[0] == "OK"
    select_info(d, "INBOX")
    assert d.store("1", "+FLAGS", r"(\Answered $Label1 Custom)")[0] == "OK"
    assert d.store("2", "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert d.expunge()[0] == "OK"
    assert d.copy("1", "Lists/Dev")[0] == "OK"
    d.close()
    names = ["INBOX", "Lists/Dev", "Kept"]
    theirs = state_of(d, names)
    their_list = list_names(d)
    d.logout()
    assert theirs["INBOX"][1] == {1: {"\\Answered", "$Label1", "Custom"}, 3: set(), 4: set()}

    server = pymap_server(["maildir", str(base), "--layout", layout])
    c = pymap_connect(server)
    assert set(list_names(c)) == set(their_list)
    assert state_of(c, names) == theirs
    # and pymap's own changes on top are visible to the running Dovecot
    select_info(c, "INBOX")
    assert c.store("3", "+FLAGS", r"(\Seen Custom)")[0] == "OK"
    assert c.append("INBOX", None, None, MSG % (9, 9))[0] == "OK"
    c.close()
    mine = state_of(c, ["INBOX"])
    c.logout()
    d = dov.connect()
    assert state_of(d, ["INBOX"]) == mine
    d.logout()


def test_mta_delivery_and_concurrent_dovecot(tmp_path, pymap_server, dovecot_factory):
    """Files dropped into new/ by an 'MTA' get the same UIDs in pymap and Dovecot."""
    base = make_base(tmp_path)
    server = pymap_server(["maildir", str(base)])
    c = pymap_connect(server)
    select_info(c, "INBOX")
    root = base / "demouser"
    uid, gid = mail_ids()
    for i in range(3):
        name = "%d.M%dP%d.mta,S=%d" % (1700000000 + i, i, 4242, len(MSG % (i, i)))
        tmp = root / "tmp" / name
        tmp.write_bytes(MSG % (i, i))
        os.chown(tmp, uid, gid)
        os.rename(tmp, root / "new" / name)
    time.sleep(0.3)   # the inotify feed is asynchronous
    c.noop()
    mine = fetch_flags(c)
    assert sorted(mine) == [1, 2, 3]
    c.close()
    c.logout()
    dov = dovecot_factory(root)
    d = dov.connect()
    _, uidvalidity, uidnext = select_info(d, "INBOX")
    assert sorted(fetch_flags(d)) == [1, 2, 3]
    assert uidnext == 4
    d.logout()


def fetch_items(conn, mailbox, items, pattern):
    """{uid: tuple of pattern's groups} of FETCH 1:* (UID <items>) in mailbox."""
    select_info(conn, mailbox)
    typ, data = conn.fetch("1:*", "(UID %s)" % items)
    assert typ == "OK", data
    result = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not line or not re.match(rb"\d+ \(", line):
            continue
        uid = int(re.search(rb"UID (\d+)", line).group(1))
        result[uid] = re.search(pattern, line).groups()
    return result


def bodies(conn, mailbox):
    select_info(conn, mailbox)
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert typ == "OK", data
    return sorted(item[1] for item in data if isinstance(item, tuple))


def test_copy_keeps_ids_and_dovecot_reads_it(tmp_path, pymap_server, dovecot_factory):
    """After pymap's COPY and MOVE, Dovecot sees the same messages (UIDs, flags, bytes)
    and the same message GUIDs (X-GUID) for a copy as for its source, because the
    copy's dovecot-uidlist record carries G<source guid> as Dovecot's own copies do;
    pymap's EMAILID/THREADID (record fields E and T) survive Dovecot rewriting the
    uidlist, and are read back from it when pymap's index cache is gone."""
    base = make_base(tmp_path)
    root = base / "demouser"
    server = pymap_server(["maildir", str(base)])
    c = pymap_connect(server)
    msgs = [b"Message-ID: <c1@example.org>\r\nSubject: one\r\n\r\n1\r\n",
            b"Message-ID: <c2@example.org>\r\nIn-Reply-To: <c1@example.org>\r\n"
            b"Subject: Re: one\r\n\r\n2\r\n",
            b"Message-ID: <c3@example.org>\r\nSubject: three\r\n\r\n3\r\n"]
    for i, msg in enumerate(msgs):
        assert c.append("INBOX", r"(\Seen)" if i == 1 else None, None, msg)[0] == "OK"
    assert c.create("Archive")[0] == "OK"
    c.logout()
    dov = dovecot_factory(root)
    d = dov.connect()
    source_guids = fetch_items(d, "INBOX", "X-GUID", rb"X-GUID ([^\s)]+)")
    assert len(source_guids) == 3
    d.logout()

    c = pymap_connect(server)
    ids_pattern = rb"EMAILID \(([^\s)]+)\) THREADID \(([^\s)]+)\)"
    source_ids = fetch_items(c, "INBOX", "EMAILID THREADID", ids_pattern)
    assert source_ids[1][1] == source_ids[2][1] != source_ids[3][1]
    select_info(c, "INBOX")
    assert c.copy("1:2", "Archive")[0] == "OK"
    assert c.uid("MOVE", "3", "Archive")[0] == "OK"
    c.close()
    copy_ids = fetch_items(c, "Archive", "EMAILID THREADID", ids_pattern)
    assert copy_ids == source_ids
    mine = state_of(c, ["INBOX", "Archive"])
    my_bodies = bodies(c, "Archive")
    c.logout()
    assert sorted(my_bodies) == sorted(msgs)

    d = dov.connect()
    assert state_of(d, ["INBOX", "Archive"]) == mine
    assert bodies(d, "Archive") == my_bodies
    assert fetch_items(d, "Archive", "X-GUID", rb"X-GUID ([^\s)]+)") == source_guids
    # Dovecot rewrites Archive's uidlist (a new message and a flag change)
    assert d.append("Archive", None, None, MSG % (7, 7))[0] == "OK"
    select_info(d, "Archive")
    assert d.store("1", "+FLAGS", r"(\Flagged)")[0] == "OK"
    d.close()
    d.logout()
    uidlist = (root / ".Archive" / "dovecot-uidlist").read_text()
    for emailid, threadid in source_ids.values():
        assert (" E%s " % emailid.decode()) in uidlist
        assert (" T%s " % threadid.decode()) in uidlist
    for index in root.rglob("pymap-index"):
        index.unlink()
    server2 = pymap_server(["maildir", str(base)])
    c = pymap_connect(server2)
    # (Dovecot's message has no T field: THREADID NIL, see doc/maildir-index.md)
    again = fetch_items(c, "Archive", "EMAILID THREADID",
                        rb"EMAILID \(([^\s)]+)\) THREADID (?:\(([^\s)]+)\)|NIL)")
    assert {uid: again[uid] for uid in (1, 2, 3)} == source_ids
    assert again[4][0] not in {e for e, _ in source_ids.values()}
    c.logout()
