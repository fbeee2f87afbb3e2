"""sessions.list, sessions.kick and stats: the imap workers report their sessions to
the admin service (doc/ipc.md), pymapctl shows them and ends them."""
import json
import os
import signal
import socket
import time

from adminutil import ctl, start
from rawimap import RawImap


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met within %.1f s" % timeout)


def sessions(sock):
    p = ctl(sock, "--json", "who", check=0)
    return json.loads(p.stdout)["sessions"]


def test_who_kick_stats(pymap_server, tmp_path):
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    a, b = RawImap(server.port), RawImap(server.port)
    a.login()
    a.ok("SELECT INBOX")

    def both_reported():
        s = sessions(sock)
        return s if len(s) == 2 and any(x["mailbox"] == "INBOX" for x in s) else None

    found = wait_for(both_reported)
    logged_in = [x for x in found if x["user"] == "demouser"][0]
    assert logged_in["mailbox"] == "INBOX" and logged_in["remote"] == "127.0.0.1"
    assert logged_in["tls"] is False and logged_in["worker_pid"] > 0
    assert [x for x in found if x["user"] is None][0]["mailbox"] is None
    p = ctl(sock, "who", check=0)
    assert b"demouser" in p.stdout and b"INBOX" in p.stdout

    p = ctl(sock, "--json", "stats", check=0)
    total = json.loads(p.stdout)["total"]
    assert total["connections"] == 2 and total["sessions"] == 1
    assert total["logins"] == 1 and total["commands"] >= 2

    p = ctl(sock, "kick", "demouser", check=0)
    assert p.stdout.startswith(b"Ending the sessions of demouser")
    # The logged-in client is told why and disconnected; the other stays.
    assert a.readline() == b"* BYE [UNAVAILABLE] Disconnected by the administrator.\r\n"
    assert a.file.readline() == b""
    b.ok("NOOP")
    wait_for(lambda: len(sessions(sock)) == 1)
    a.close(); b.close()


def test_worker_report_refused_from_non_worker(pymap_server, tmp_path):
    # worker.report is accepted from children of the master only.
    from adminutil import AdminClient
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    c = AdminClient(sock)
    reply = c.call("worker.report", sessions=[], stats={})
    assert reply["ok"] is False and reply["code"] == "NOTALLOWED"


def test_who_with_a_report_over_the_message_limit(pymap_server, tmp_path):
    # 300 sessions in a mailbox with a 200-byte name: the worker's report (~100 KB)
    # is over the 64 KiB IPC message limit, so it goes in parts (doc/ipc.md).
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    name = "m" * 200
    first = RawImap(server.port)
    first.login()
    first.ok("CREATE " + name)
    conns = [first]
    for _ in range(299):
        c = RawImap(server.port)
        c.login()
        conns.append(c)
    for c in conns:
        c.ok("SELECT " + name)
    # Reports follow changes within about a second: wait for the one after the SELECTs.
    def all_selected():
        s = sessions(sock)
        return s if len(s) == 300 and all(x["mailbox"] == name for x in s) else None
    found = wait_for(all_selected, timeout=30)
    assert all(x["user"] == "demouser" for x in found)
    for c in conns:
        c.close()


def test_worker_update_refused_from_non_worker(pymap_server, tmp_path):
    from adminutil import AdminClient
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    c = AdminClient(sock)
    reply = c.call("worker.update", upsert=[], remove=[], stats={})
    assert reply["ok"] is False and reply["code"] == "NOTALLOWED"


def hangup(conn):
    # close() alone leaves the socket open while its makefile() is alive
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def _admin_pid(server):
    for pid in server.children():
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() == "admin":
                return pid
    return None


def test_who_follows_changes_and_an_admin_restart(pymap_server, tmp_path):
    # After the first whole report a worker sends only what changed (worker.update,
    # doc/ipc.md): sessions that appear, select or close a mailbox, and end. When the
    # admin service restarts, the worker reports everything again.
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    a = RawImap(server.port)
    a.login()
    wait_for(lambda: len(sessions(sock)) == 1)
    b, c = RawImap(server.port), RawImap(server.port)
    c.login()
    a.ok("SELECT INBOX")

    def state():
        return sorted((x["user"] or "", x["mailbox"] or "") for x in sessions(sock))

    wait_for(lambda: state() == [("", ""), ("demouser", ""), ("demouser", "INBOX")])
    hangup(b)
    a.ok("CLOSE")
    wait_for(lambda: state() == [("demouser", ""), ("demouser", "")])
    c.ok("SELECT INBOX")
    wait_for(lambda: state() == [("demouser", ""), ("demouser", "INBOX")])

    old = _admin_pid(server)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: _admin_pid(server) not in (None, old), timeout=20)
    # the new admin service knows nothing until the worker reconnects and reports all
    wait_for(lambda: state() == [("demouser", ""), ("demouser", "INBOX")], timeout=30)
    hangup(c)
    wait_for(lambda: state() == [("demouser", "")])
    a.close()


def test_who_after_thousands_of_sessions_end_at_once(pymap_server, tmp_path):
    # 3,500 sessions ending within a second: their ids (~75 KB) do not fit one IPC
    # message, so the worker's update is split in parts; before, the one oversized
    # message was dropped and the ended sessions stayed in `who` for good.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 3500
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 500), hard))
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port))
        conns.append(s)
    for s in conns:
        assert s.recv(200).startswith(b"* OK")
    wait_for(lambda: len(sessions(sock)) == n, timeout=60)
    for s in conns:
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    wait_for(lambda: len(sessions(sock)) == 0, timeout=30)
