"""Authentication against the real daemon: the auth process over auth.sock, and
LOGIN / AUTHENTICATE through the imap worker.

Fixture users (tests/data/users, pymap's maildir format) are copied into a fresh base
directory per test; their passwords are listed in tests/data/users/README.md."""
import base64
import imaplib
import json
import os
import pwd
import shutil
import socket
import subprocess
import time

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "data", "users")

# user -> password, one per hash format in the fixture shadow file
USERS = {
    "testuser": "testpass",        # $pbkdf2$ (pymap's test-suite hash)
    "alice": "alicepass",          # $pbkdf2-sha256$ base64
    "bob": "bobpass",              # $pbkdf2-sha256$ passlib ab64
    "carol": "carolpass",          # $pbkdf2-sha512$
    "dave": "davepass",            # $pbkdf2$ ab64
    "erin": "erinpass",            # yescrypt
    "frank": "frankpass",          # sha512-crypt
    "grace": "gracepass",          # bcrypt
    "heidi": "heidipass",          # sha256-crypt
    "ivan": "ivanpass",            # argon2id
    "judy": "judypass",            # argon2i
}


def write_config(tmp_path, base_dir, **auth):
    lines = ["[auth]"] + ["%s = %s" % kv for kv in auth.items()]
    path = tmp_path / "auth-test.conf"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def maildir_base(tmp_path):
    base = tmp_path / "maildir"
    base.mkdir()
    for name in ("pymap-etc-passwd", "pymap-etc-shadow", "pymap-etc-group"):
        shutil.copy(os.path.join(FIXTURES, name), base / name)
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        # As root the imap worker runs as "pymap": it creates the users' maildirs here.
        import pwd
        pw = pwd.getpwnam("pymap")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    return base


def start_maildir(pymap_server, tmp_path, **auth):
    base = maildir_base(tmp_path)
    global_args = []
    if auth:
        global_args = ["-c", write_config(tmp_path, base, **auth)]
    server = pymap_server(args=["maildir", str(base)], global_args=global_args)
    return server, base


class AuthClient:
    """Speaks pymap-auth 1.0 on auth.sock directly."""

    def __init__(self, server):
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + 10
        path = str(server.run_dir / "auth.sock")
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(30)
        self.file = self.sock.makefile("rwb")
        self.file.write(b'{"hello":"pymap-auth","major":1,"minor":0}\n')
        self.file.flush()
        hello = json.loads(self.file.readline())
        assert hello == {"hello": "pymap-auth", "major": 1, "minor": 0}
        self.next_id = 1

    def call(self, **request):
        request["id"] = self.next_id
        self.next_id += 1
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        reply = json.loads(self.file.readline())
        assert reply["id"] == request["id"]
        return reply

    def login(self, user, password, remote="127.0.0.1", **extra):
        return self.call(op="auth.login", mech="PLAIN", user=user, password=password,
                         remote=remote, **extra)

    def close(self):
        self.file.close()
        self.sock.close()


# ---- the auth process itself --------------------------------------------------------

def test_auth_sock_every_hash_format(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    auth = AuthClient(server)
    for user, password in USERS.items():
        reply = auth.login(user, password)
        assert reply["ok"] is True, (user, reply)
        assert reply["user"]["name"] == user
        assert "hash" not in json.dumps(reply)
        reply = auth.login(user, password + "x")
        assert reply == {"id": reply["id"], "ok": False, "code": "AUTHENTICATIONFAILED",
                         "message": "Invalid authentication credentials."}
    # SASLprep: NO-BREAK SPACE maps to a space, U+2168 to "IX"
    assert auth.login("nbsp", "pass\u00a0word")["ok"] is True
    assert auth.login("nfkc", "\u2168")["ok"] is True
    # disabled, unusable or missing hashes, unknown users
    for user in ("locked", "nopass", "badhash", "noshadow", "nobody", "too"):
        assert auth.login(user, "testpass")["code"] == "AUTHENTICATIONFAILED", user
    auth.close()
    log = server.log_text()
    assert "pymap-etc-passwd:19: malformed line skipped" in log
    assert "pymap-etc-shadow:19: malformed line skipped" in log
    assert "pymap-etc-shadow:17" in log          # badhash: logged by file:line
    assert "$unknown$" not in log                 # never the hash itself


def test_auth_sock_user_roles_authzid_hash(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    auth = AuthClient(server)
    reply = auth.call(op="auth.user", user="weird")
    assert reply["user"] == {"name": "weird", "mailbox_path": "mail:box",
                             "params": {"mailbox_path": "mail:box"}, "roles": ["sudo"]}
    assert auth.call(op="auth.user", user="root")["user"]["roles"] == ["admin"]
    assert auth.call(op="auth.user", user="nobody")["code"] == "NOTFOUND"
    # authzid: needs admin or sudo
    assert auth.login("alice", "alicepass", authzid="bob")["user"]["name"] == "bob"
    assert auth.login("bob", "bobpass", authzid="alice")["code"] == "AUTHORIZATIONFAILED"
    assert auth.login("alice", "alicepass", authzid="nobody")["code"] == "AUTHORIZATIONFAILED"
    h = auth.call(op="auth.hash", password="newpass")["hash"]
    assert h.startswith("$y$")
    assert auth.call(op="auth.hash", password="x", scheme="md5")["code"] == "BADREQUEST"
    assert auth.call(op="auth.nope")["code"] == "BADREQUEST"
    auth.close()


def test_auth_sock_users_file_reload(pymap_server, tmp_path):
    server, base = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    auth = AuthClient(server)
    assert auth.login("newbie", "newpass")["ok"] is False
    # what pymap (or pymapctl set-user) writes: whole files, CRLF, replaced by rename
    h = auth.call(op="auth.hash", password="newpass", scheme="pbkdf2-sha256")["hash"]
    for name, line in (("pymap-etc-passwd", "newbie:x::::newbie:"),
                       ("pymap-etc-shadow", "newbie:%s:::::::" % h)):
        with open(base / name, newline="") as f:  # keep CRLF (Python 3.11: no read_text newline)
            text = f.read() + line + "\r\n"
        with open(base / (name + ".tmp"), "w", newline="") as f:
            f.write(text)
        os.rename(base / (name + ".tmp"), base / name)
    assert auth.login("newbie", "newpass")["ok"] is True
    auth.close()


def test_auth_sock_failure_delay_does_not_block(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=1000)
    slow, fast = AuthClient(server), AuthClient(server)
    start = time.monotonic()
    slow.file.write(json.dumps({"id": 1, "op": "auth.login", "mech": "PLAIN",
                                "user": "alice", "password": "wrong",
                                "remote": "127.0.0.1"}).encode() + b"\n")
    slow.file.flush()
    # another client is served while the failure is being delayed
    assert fast.login("testuser", "testpass")["ok"] is True
    assert time.monotonic() - start < 0.8
    reply = json.loads(slow.file.readline())
    assert reply["code"] == "AUTHENTICATIONFAILED"
    assert time.monotonic() - start >= 0.95
    slow.close()
    fast.close()


def test_auth_sock_lockout(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0,
                              lockout_threshold=3, lockout_window_secs=60)
    auth = AuthClient(server)
    for _ in range(3):
        assert auth.login("alice", "wrong", remote="192.0.2.1")["code"] == "AUTHENTICATIONFAILED"
    # the right password is refused now, for this IP and for this user
    reply = auth.login("alice", "alicepass", remote="192.0.2.1")
    assert reply["ok"] is False and reply["temp"] is True and reply["code"] == "UNAVAILABLE"
    assert auth.login("alice", "alicepass", remote="192.0.2.2")["temp"] is True
    assert auth.login("bob", "bobpass", remote="192.0.2.1")["temp"] is True
    assert auth.login("bob", "bobpass", remote="192.0.2.2")["ok"] is True
    auth.close()
    assert server.log_text().count("locked out for 60 s") == 2   # ip and user, once each


def test_dict_demo_user(pymap_server, tmp_path):
    server = pymap_server(global_args=["-c", write_config(tmp_path, None, failure_delay_ms=700)])
    auth, other = AuthClient(server), AuthClient(server)
    assert auth.login("demouser", "demopass")["user"] == {"name": "demouser", "params": {},
                                                          "roles": []}
    assert auth.call(op="auth.user", user="demouser")["ok"] is True
    assert auth.call(op="auth.user", user="x")["code"] == "NOTFOUND"
    # the failure delay is a timer: the other connection is answered meanwhile
    start = time.monotonic()
    auth.file.write(b'{"id":99,"op":"auth.login","mech":"PLAIN","user":"demouser",'
                    b'"password":"wrong","remote":"127.0.0.1"}\n')
    auth.file.flush()
    assert other.login("demouser", "demopass")["ok"] is True
    assert time.monotonic() - start < 0.5
    assert json.loads(auth.file.readline())["code"] == "AUTHENTICATIONFAILED"
    assert time.monotonic() - start >= 0.65
    # unknown user: same answer, same delay
    start = time.monotonic()
    assert auth.login("nobody", "demopass")["code"] == "AUTHENTICATIONFAILED"
    assert time.monotonic() - start >= 0.65
    auth.close()
    other.close()


def cram_response(user, secret, challenge):
    import hmac
    return hmac.new(secret.encode(), challenge.encode(), "md5").hexdigest()


def test_dict_cram_md5(pymap_server, tmp_path):
    server = pymap_server(global_args=["-c", write_config(tmp_path, None, failure_delay_ms=0)])
    auth = AuthClient(server)
    ch = "<1896.697170952@postoffice.example.net>"
    reply = auth.call(op="auth.cram", user="demouser", challenge=ch,
                      response=cram_response("demouser", "demopass", ch), remote="::1")
    assert reply["ok"] is True and reply["user"]["name"] == "demouser"
    reply = auth.call(op="auth.cram", user="demouser", challenge=ch,
                      response=cram_response("demouser", "wrong", ch), remote="::1")
    assert reply["code"] == "AUTHENTICATIONFAILED"
    auth.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run children as other users")
def test_worker_cannot_read_shadow(pymap_server, tmp_path):
    server, base = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    auth_user = pwd.getpwnam("pymap-auth")
    os.chown(base / "pymap-etc-shadow", auth_user.pw_uid, auth_user.pw_gid)
    os.chmod(base / "pymap-etc-shadow", 0o600)
    auth = AuthClient(server)
    assert auth.login("alice", "alicepass")["ok"] is True   # auth can still read it
    auth.close()
    pids = subprocess.run(["pgrep", "-f", "libexec/pymap/imap", "-s", str(server.proc.pid)],
                          capture_output=True, text=True).stdout.split()
    assert pids, "no imap worker found"
    for pid in pids:
        uid = int(open("/proc/%s/status" % pid).read().split("Uid:")[1].split()[1])
        # the worker's uid, trying to open the shadow file as that uid
        probe = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                                "--clear-groups", "cat", str(base / "pymap-etc-shadow")],
                               capture_output=True)
        assert uid != 0 and probe.returncode != 0


# ---- through the imap worker ----------------------------------------------------------

def imap(server):
    return imaplib.IMAP4("127.0.0.1", server.port, timeout=30)


def test_imap_login_each_hash_format(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    for user, password in USERS.items():
        m = imap(server)
        typ, _ = m.login(user, password)
        assert typ == "OK", user
        m.logout()


def test_imap_authenticate_plain_and_login(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0)
    m = imap(server)
    # without SASL-IR: the client waits for the empty "+ " challenge first
    m._mode_utf8 = False
    caps = m.capabilities
    assert "AUTH=PLAIN" in caps and "AUTH=LOGIN" in caps
    typ, _ = m.authenticate("PLAIN", lambda challenge: b"\0alice\0alicepass")
    assert typ == "OK"
    m.logout()
    # with SASL-IR (RFC 4959): the response goes on the command line
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    f = raw.makefile("rwb")
    f.readline()
    ir = base64.b64encode(b"\0bob\0bobpass").decode()
    f.write(("a AUTHENTICATE PLAIN %s\r\n" % ir).encode())
    f.flush()
    line = f.readline()
    while line.startswith(b"*"):
        line = f.readline()
    assert line.startswith(b"a OK"), line
    raw.close()
    # LOGIN mechanism: Username: / Password: challenges
    m = imap(server)
    answers = iter([b"carol", b"carolpass"])
    typ, _ = m.authenticate("LOGIN", lambda challenge: next(answers))
    assert typ == "OK"
    m.logout()


def test_imap_failure_delay_and_lockout(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=1000,
                              lockout_threshold=3, lockout_window_secs=60)
    m = imap(server)
    start = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error) as exc:
        m.login("alice", "wrong")
    assert time.monotonic() - start >= 0.95
    assert "AUTHENTICATIONFAILED" in str(exc.value)
    for _ in range(2):
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice", "wrong")
    with pytest.raises(imaplib.IMAP4.error) as exc:
        m.login("alice", "alicepass")
    assert "UNAVAILABLE" in str(exc.value)


# ---- password hashing in the auth process's thread pool ----------------------------

def send_requests(auth, requests):
    """Write all requests at once (pipelined), then read one reply per request;
    returns {id: reply}."""
    data = b""
    for request in requests:
        request["id"] = auth.next_id
        auth.next_id += 1
        data += json.dumps(request).encode() + b"\n"
    auth.file.write(data)
    auth.file.flush()
    replies = {}
    for _ in requests:
        reply = json.loads(auth.file.readline())
        assert reply["id"] not in replies
        replies[reply["id"]] = reply
    assert set(replies) == {r["id"] for r in requests}
    return replies


def login_request(user, password, remote="127.0.0.1"):
    return dict(op="auth.login", mech="PLAIN", user=user, password=password, remote=remote)


# (user, password, expected ok) for a mix of schemes, unknown and disabled users
MIXED = [("frank", "frankpass", True), ("frank", "frankpasx", False),
         ("erin", "erinpass", True), ("erin", "", False),
         ("alice", "alicepass", True), ("alice", "wrong", False),
         ("ivan", "ivanpass", True), ("nobody", "testpass", False),
         ("locked", "testpass", False), ("nbsp", "pass\u00a0word", True),
         ("testuser", "testpass\u0007", False)]


def check_mixed_replies(requests, replies):
    for request, (user, _, ok) in requests:
        reply = replies[request["id"]]
        if ok:
            assert reply["ok"] is True and reply["user"]["name"] == user, (user, reply)
        else:
            assert reply == {"id": request["id"], "ok": False,
                             "code": "AUTHENTICATIONFAILED",
                             "message": "Invalid authentication credentials."}, (user, reply)


def test_auth_sock_concurrent_logins_every_answer_right(pymap_server, tmp_path):
    import threading
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0,
                              lockout_threshold=0, hash_threads=2)
    errors = []

    def client(n):
        try:
            auth = AuthClient(server)
            cases = [MIXED[(n + i) % len(MIXED)] for i in range(60)]
            requests = [(login_request(u, p), (u, p, ok)) for u, p, ok in cases]
            hashes = [dict(op="auth.hash", password="pw%d" % i, scheme="sha512-crypt")
                      for i in range(3)]
            replies = send_requests(auth, [r for r, _ in requests] + hashes)
            check_mixed_replies(requests, replies)
            for h in hashes:
                assert replies[h["id"]]["hash"].startswith("$6$")
            auth.close()
        except Exception as e:   # reported from the main thread
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    log = server.log_text()
    assert log.count("auth: login failed") == sum(
        1 for n in range(6) for i in range(60) if not MIXED[(n + i) % len(MIXED)][2])
    for secret in ("frankpasx", "alicepass", "ivanpass"):
        assert secret not in log


def test_auth_sock_disconnect_with_hashes_in_flight(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=300,
                              lockout_threshold=0, hash_threads=1)
    for _ in range(3):
        auth = AuthClient(server)
        data = b"".join(json.dumps(dict(login_request(u, p), id=i)).encode() + b"\n"
                        for i, (u, p, _) in enumerate(MIXED * 5, 1))
        data += json.dumps({"op": "auth.hash", "password": "x", "id": 999}).encode() + b"\n"
        auth.file.write(data)
        auth.file.flush()
        auth.close()           # gone while its hashes are queued or running
    # the auth process is still there and right
    auth = AuthClient(server)
    assert auth.login("frank", "frankpass")["ok"] is True
    assert auth.login("erin", "erinpas")["code"] == "AUTHENTICATIONFAILED"
    auth.close()
    # (the sanitizer build reports leaks of the dropped jobs at exit: the fixture fails
    # the test on any report in the log)


def test_auth_sock_lockout_with_pipelined_guesses(pymap_server, tmp_path):
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0,
                              lockout_threshold=3, lockout_window_secs=60, hash_threads=2)
    auth = AuthClient(server)
    # ten guesses and then the right password, all sent before any answer: the
    # guesses lock the user and the IP, so the right one is not let in either
    requests = [login_request("frank", "guess%d" % i, remote="192.0.2.9") for i in range(10)]
    requests.append(login_request("frank", "frankpass", remote="192.0.2.9"))
    replies = send_requests(auth, requests)
    for r in requests[:10]:
        reply = replies[r["id"]]
        assert reply["ok"] is False
        assert reply.get("code") in ("AUTHENTICATIONFAILED", "UNAVAILABLE"), reply
    last = replies[requests[10]["id"]]
    assert last["ok"] is False and last["temp"] is True and last["code"] == "UNAVAILABLE"
    assert auth.login("frank", "frankpass", remote="192.0.2.10")["code"] == "UNAVAILABLE"
    assert auth.login("alice", "alicepass", remote="192.0.2.10")["ok"] is True
    auth.close()


def test_imap_many_concurrent_logins(pymap_server, tmp_path):
    import threading
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=200,
                              lockout_threshold=0)
    results = {}
    cases = [c for c in MIXED if c[1].isascii() and c[1].isprintable()]   # imaplib: ASCII

    def client(n):
        user, password, ok = cases[n % len(cases)]
        try:
            m = imap(server)
            try:
                typ, _ = m.login(user, password)
                results[n] = ("OK" if typ == "OK" else typ, ok)
                m.logout()
            except imaplib.IMAP4.error as e:
                results[n] = (str(e), ok)
        except Exception as e:
            results[n] = ("exception %r" % e, ok)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 40
    for n, (got, ok) in results.items():
        if ok:
            assert got == "OK", (n, cases[n % len(cases)], got)
        else:
            assert "AUTHENTICATIONFAILED" in got, (n, cases[n % len(cases)], got)


def test_auth_sock_busy_beyond_the_bound(pymap_server, tmp_path):
    # 80 passwords of 60,000 bytes: more than the 4 MiB of passwords the pool may hold,
    # so the last ones are refused at once as busy, the others checked as usual
    server, _ = start_maildir(pymap_server, tmp_path, failure_delay_ms=0,
                              lockout_threshold=0, hash_threads=1)
    auth = AuthClient(server)
    requests = [login_request("nobody", "%02d" % i + "a" * 59998) for i in range(80)]
    replies = send_requests(auth, requests)
    busy = [r for r in replies.values() if r.get("temp")]
    failed = [r for r in replies.values() if r.get("code") == "AUTHENTICATIONFAILED"]
    assert len(busy) + len(failed) == 80
    assert 1 <= len(busy) <= 80 - 69, len(busy)   # 69 x 60,000 bytes fit in 4 MiB
    for r in busy:
        assert r == {"id": r["id"], "ok": False, "temp": True, "code": "UNAVAILABLE",
                     "reason": "auth: too many password hashes in progress"}
    # once the queue has drained, logins work again
    assert auth.login("frank", "frankpass")["ok"] is True
    auth.close()
