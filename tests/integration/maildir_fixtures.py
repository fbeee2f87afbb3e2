"""Helpers for the maildir integration tests (test_maildir.py, test_dovecot_compat.py):
a base directory with users files in the Python pymap's format, file ownership for the
unprivileged imap worker, and small IMAP response parsers."""
import crypt
import os
import pwd
import re
import shutil

MAIL_USER = "pymap"   # the worker's user when the master runs as root


def mail_ids():
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


def chown_tree(path):
    uid, gid = mail_ids()
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def make_base(tmp_path, users=(("demouser", "demopass", ""),)):
    """A maildir base dir with pymap-etc-passwd/-shadow (pymap's format, CRLF)."""
    base = tmp_path / "maildir"
    base.mkdir()
    passwd, shadow = [], []
    for name, password, mailbox_path in users:
        passwd.append("%s:x::::%s:\r\n" % (name, mailbox_path))
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
        shadow.append("%s:%s:::::::\r\n" % (name, hashed))
    (base / "pymap-etc-passwd").write_text("".join(passwd))
    (base / "pymap-etc-shadow").write_text("".join(shadow))
    os.chmod(tmp_path, 0o755)
    chown_tree(base)
    return base


def fetch_flags(conn):
    """{uid: set(flags)} of the selected mailbox via FETCH 1:* (UID FLAGS)."""
    typ, data = conn.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK"
    result = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            item = item[0]
        m = re.search(rb"UID (\d+)", item)
        f = re.search(rb"FLAGS \(([^)]*)\)", item)
        if m and f:
            result[int(m.group(1))] = set(f.group(1).decode().split()) - {"\\Recent"}
    return result


def list_names(conn):
    typ, data = conn.list()
    assert typ == "OK"
    names = {}
    for line in data:
        m = re.match(rb'\(([^)]*)\) "(.)" (.*)$', line)
        name = m.group(3).decode()
        if name.startswith('"'):
            name = name[1:-1]
        names[name] = set(m.group(1).decode().split())
    return names


def select_info(conn, mailbox):
    typ, data = conn.select(mailbox)
    assert typ == "OK", data
    uidvalidity = int(conn.response("UIDVALIDITY")[1][0])
    uidnext = int(conn.response("UIDNEXT")[1][0])
    return int(data[0]), uidvalidity, uidnext


def copy_tree(src, dest):
    shutil.copytree(src, dest, symlinks=True)
    chown_tree(dest)
