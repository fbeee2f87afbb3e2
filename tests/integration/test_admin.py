"""The admin service against the real daemon: every op through pymapctl and as raw
JSON on admin.sock, error paths, and permissions of an unprivileged local user."""
import json
import os
import pwd
import subprocess

import pytest

from adminutil import AdminClient, ctl, memfd, start
from rawimap import RawImap


def test_dict_ops(pymap_server, tmp_path):
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    p = ctl(sock, "ping", check=0)
    assert p.stdout.startswith(b"pymap 0.1.0, protocol pymap-admin 1.0, backend dict")
    p = ctl(sock, "check", check=0)
    assert p.stdout.splitlines()[0] == b"SERVING"
    ctl(sock, "check", "pymap.backend", check=0)
    ctl(sock, "check", "auth", check=0)
    p = ctl(sock, "check", "nosuch", check=1)
    assert p.stderr == b"pymapctl: Unknown service. (NOTFOUND)\n"
    p = ctl(sock, "--json", "get-user", "demouser", check=0)
    assert json.loads(p.stdout) == {"ok": True, "user": "demouser",
                                    "data": {"roles": [], "params": {}}}
    p = ctl(sock, "get-user", "alice", check=1)
    assert p.stderr == b"pymapctl: User not found. (NOTFOUND)\n"
    p = ctl(sock, "set-user", "demouser", "--no-password", check=1)
    assert p.stderr == b"pymapctl: dict users are fixed (CANNOT)\n"
    ctl(sock, "delete-user", "demouser", check=1)
    p = ctl(sock, "list-users", check=0)
    assert p.stdout == b"demouser\n"
    p = ctl(sock, "kick", check=1)  # the user is required
    assert len(p.stderr.splitlines()) == 1
    p = ctl(sock, "login", "demouser", "--password", "demopass", check=0)
    assert p.stdout.startswith(b"MDAw")
    p = ctl(sock, "login", "demouser", "--password", "wrong", check=1)
    assert p.stderr == b"pymapctl: Invalid credentials. (AUTHENTICATIONFAILED)\n"
    p = ctl(sock, "append", "demouser", input=b"Subject: x\r\n\r\nhi\r\n", check=1)
    assert b"(NOTIMPLEMENTED)" in p.stderr
    # Through the admin service's status pipe: works also when the master runs as
    # root and the admin child as "pymap" (a signal would be refused).
    p = ctl(sock, "reload")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"Reload requested (master pid %d)\n" % server.pid
    server.wait_log("reload requested by the admin service")
    server.wait_log("SIGHUP: reloading the configuration")


def test_dict_raw_json(pymap_server, tmp_path):
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    c = AdminClient(sock)
    r = c.call("ping")
    assert r["ok"] is True and r["protocol"] == {"name": "pymap-admin", "major": 1, "minor": 0}
    r = c.call("health", service="")
    assert r["status"] == "SERVING" and r["services"]["pymap.backend"] == "SERVING"
    assert c.call("user.get", user="demouser")["user"] == "demouser"
    r = c.call("user.get", user="nobody")
    assert r == {"id": r["id"], "ok": False, "code": "NOTFOUND", "message": "User not found.",
                 "key": "UserNotFound"}
    assert c.call("user.get")["code"] == "BADREQUEST"
    assert c.call("no.such.op")["code"] == "BADREQUEST"
    assert c.call("user.set", user="demouser", overwrite=True)["code"] == "CANNOT"
    assert c.call("user.set", user="x", overwrite=True, previous_entity_tag=1)["code"] == "BADREQUEST"
    assert c.call("user.list")["users"] == ["demouser"]
    assert isinstance(c.call("sessions.list")["sessions"], list)
    assert "total" in c.call("stats")
    assert c.call("sessions.kick")["code"] == "BADREQUEST"  # no user
    r = c.call("login", user="demouser", password="demopass")
    assert r["ok"] and r["bearer_token"].startswith("MDAw")
    fd = memfd(b"Subject: x\r\n\r\nhi\r\n")
    assert c.call("mail.append", fd=fd, user="demouser")["code"] == "NOTIMPLEMENTED"
    os.close(fd)
    assert c.call("mail.append", user="demouser")["code"] == "BADREQUEST"
    # a malformed line closes the connection; the service goes on
    c.sock.sendall(b"{not json\n")
    assert c.file.readline() == b""
    c.close()
    assert AdminClient(sock).call("ping")["ok"]


def test_server_not_running(tmp_path):
    path = str(tmp_path / "nothing" / "admin.sock")
    p = ctl(path, "ping", check=1)
    assert p.stderr.count(b"\n") == 1
    assert path.encode() in p.stderr
    assert p.stdout == b""


def test_maildir_users(pymap_server, tmp_path):
    server, sock, base = start(pymap_server, tmp_path)
    pwfile = tmp_path / "pw"
    pwfile.write_text("s3cret\n")
    p = ctl(sock, "set-user", "alice", "--password-file", str(pwfile), "--role", "sudo",
            check=0)
    assert p.stdout == b"User set: alice\n"
    assert (base / "pymap-etc-passwd").read_bytes() == b"alice:x::::alice:\r\n"
    assert (base / "pymap-etc-group").read_bytes() == b"sudo:x::alice\r\n"
    p = ctl(sock, "--json", "get-user", "alice", check=0)
    rec = json.loads(p.stdout)
    assert rec["data"]["roles"] == ["sudo"]
    assert rec["data"]["params"] == {"mailbox_path": "alice"}
    assert rec["data"]["password"].startswith("$")
    tag = rec["entity_tag"]
    # the new user logs in over IMAP at once
    imap = RawImap(server.port)
    imap.login("alice", "s3cret")
    imap.close()
    # create-only refuses an existing user
    p = ctl(sock, "set-user", "alice", "--no-password", "--no-overwrite", check=1)
    assert p.stderr == b"pymapctl: Cannot replace user. (CANNOTREPLACE)\n"
    # entity tags, raw
    c = AdminClient(sock)
    r = c.call("user.set", user="alice", password="x", previous_entity_tag=tag + 1)
    assert r["code"] == "CANNOTREPLACE" and r["key"] == "CannotReplaceUser"
    r = c.call("user.set", user="alice", password="n3w", roles=["sudo"],
               previous_entity_tag=tag)
    assert r["ok"] and r["entity_tag"] != tag
    imap = RawImap(server.port)
    imap.login("alice", "n3w")
    imap.close()
    assert c.call("user.set", user="bad,name", overwrite=True)["code"] == "BADREQUEST"
    assert c.call("user.set", user="bob", params={"color": "red"})["code"] == "BADREQUEST"
    # change-password keeps the roles
    pwfile.write_text("third\n")
    ctl(sock, "change-password", "alice", "--password-file", str(pwfile), check=0)
    rec2 = json.loads(ctl(sock, "--json", "get-user", "alice", check=0).stdout)
    assert rec2["data"]["roles"] == ["sudo"] and rec2["data"]["password"] != rec["data"]["password"]
    RawImap(server.port).login("alice", "third")
    ctl(sock, "set-user", "bob", "--no-password", "--param", "mailbox_path=bobmail", check=0)
    assert ctl(sock, "list-users", check=0).stdout == b"alice\nbob\n"
    assert c.call("user.list")["users"] == ["alice", "bob"]
    p = ctl(sock, "delete-user", "bob", check=0)
    assert p.stdout == b"User deleted: bob\n"
    ctl(sock, "get-user", "bob", check=1)
    assert c.call("user.delete", user="bob")["code"] == "NOTFOUND"
    # append through pymapctl with flags, then see it over IMAP
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: flagged\r\n\r\nbody\r\n")
    p = ctl(sock, "append", "alice", "--data", str(msg), "--seen", "--flag", "$Work",
            "--timestamp", "1700000000", check=0)
    assert p.stdout.startswith(b"Delivered to INBOX: UIDVALIDITY ")
    assert p.stdout.endswith(b", UID 1\n")
    imap = RawImap(server.port)
    imap.login("alice", "third")
    imap.ok("SELECT INBOX")
    untagged, _ = imap.ok("UID FETCH 1 (FLAGS INTERNALDATE)")
    assert b"\\Seen" in untagged[0] and b"$Work" in untagged[0]
    assert b'"14-Nov-2023 22:13:20 +0000"' in untagged[0]
    imap.close()
    p = ctl(sock, "append", "alice", "--mailbox", "Nope", "--data", str(msg), check=1)
    assert p.stderr == b"pymapctl: Mailbox Nope does not exist. (NONEXISTENT)\n"
    fd = memfd(b"x")
    assert c.call("mail.append", fd=fd, user="alice", flags=["\\Bogus"])["code"] == "BADREQUEST"
    assert c.call("mail.append", fd=fd, user="zed")["code"] == "NOTFOUND"
    os.close(fd)
    assert c.call("health", service="pymap.backend")["status"] == "SERVING"


TEST_USER = "pymaptest"


@pytest.fixture
def unprivileged_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second local user")
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", TEST_USER], check=True)
    return TEST_USER


def test_permissions(pymap_server, tmp_path, unprivileged_user):
    server, sock, base = start(pymap_server, tmp_path)
    pwfile = tmp_path / "pw"
    pwfile.write_text("alicepw\n")
    ctl(sock, "set-user", "alice", "--password-file", str(pwfile), check=0)
    ctl(sock, "set-user", "bob", "--password-file", str(pwfile), check=0)
    # let every local user reach the socket (the admin's choice; 0660 by default)
    os.chmod(sock, 0o666)
    os.chmod(pwfile, 0o644)
    uid = pwd.getpwnam(unprivileged_user).pw_uid
    u = unprivileged_user
    ctl(sock, "ping", user=u, check=0)
    p = ctl(sock, "list-users", user=u, check=1)
    assert p.stderr == b"pymapctl: Not allowed: not an admin, and no token. (NOTALLOWED)\n"
    ctl(sock, "get-user", "alice", user=u, check=1)
    ctl(sock, "reload", user=u, check=1)
    token = ctl(sock, "login", "alice", "--password-file", str(pwfile), user=u,
                check=0).stdout.strip().decode()
    env = {"PYMAP_ADMIN_TOKEN": token}
    ctl(sock, "get-user", "alice", user=u, env=env, check=0)
    p = ctl(sock, "get-user", "bob", user=u, env=env, check=1)
    assert p.stderr == (b"pymapctl: Not allowed: the token is for another user. "
                        b"(AUTHORIZATIONFAILED)\n")
    ctl(sock, "list-users", user=u, env=env, check=1)
    p = ctl(sock, "set-user", "alice", "--password-file", str(pwfile), "--role", "admin",
            user=u, env=env, check=1)
    assert p.stderr == b"pymapctl: Cannot assign roles or mailbox_path. (NOTALLOWED)\n"
    # its own password: allowed
    ctl(sock, "change-password", "alice", "--password-file", str(pwfile), user=u, env=env,
        check=0)
    # a token login refreshes the token; a forged token is refused
    ctl(sock, "login", "alice", "-t", user=u, env=env, check=0)
    p = ctl(sock, "get-user", "alice", user=u, env={"PYMAP_ADMIN_TOKEN": token[:-4] + "AAAA"},
            check=1)
    assert b"(AUTHENTICATIONFAILED)" in p.stderr
    # pymap's test admin token is signed with another key: refused
    pymap_token = ("MDAwZWxvY2F0aW9uIAowMDEwaWRlbnRpZmllciAKMDAxNWNpZCByb2xlID0gYWRtaW4KMDAy"
                   "ZnNpZ25hdHVyZSDND4TS4f6mH9ty0DHCwqB0IIuk_IqIUFgse0OVeHT7cAo")
    ctl(sock, "list-users", user=u, env={"PYMAP_ADMIN_TOKEN": pymap_token}, check=1)
    log = server.log_text()
    assert "admin: refused user.list from uid %d" % uid in log
    assert "admin: refused user.get from uid %d" % uid in log


def test_login_does_not_block_the_admin_service(pymap_server, tmp_path):
    # A wrong password waits out the auth service's failure delay (2 s by default):
    # meanwhile the admin service answers others (a delivery must not wait behind a
    # local user guessing passwords), then sends the failure; a caller that hangs up
    # while waiting costs nothing.
    import select
    server, sock, _ = start(pymap_server, tmp_path, backend="dict")
    guesser, other = AdminClient(sock), AdminClient(sock)
    guesser.sock.sendall(json.dumps({"op": "login", "id": 7, "user": "demouser",
                                     "password": "wrong"}).encode() + b"\n")
    quitter = AdminClient(sock)
    quitter.sock.sendall(json.dumps({"op": "login", "id": 1, "user": "demouser",
                                     "password": "wrong"}).encode() + b"\n")
    quitter.close()
    for _ in range(3):
        assert other.call("ping")["ok"] is True
    # the guesser's answer is still being delayed
    ready, _, _ = select.select([guesser.sock], [], [], 0)
    assert ready == []
    reply = json.loads(guesser.file.readline())
    assert (reply["id"], reply["ok"], reply["code"], reply["message"]) == \
        (7, False, "AUTHENTICATIONFAILED", "Invalid credentials.")
    r = other.call("login", user="demouser", password="demopass")
    assert r["ok"] is True and r["bearer_token"].startswith("MDAw")
    guesser.close(); other.close()
    assert server.proc.poll() is None
