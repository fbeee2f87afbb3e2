"""A small raw IMAP client for tests that need the exact bytes on the wire.

Each call sends one command and returns the untagged lines and the tagged line, so a
test can assert on both. Literals in responses are read by their announced size."""
import re
import socket

LITERAL = re.compile(rb"[~]?\{(\d+)\}\r\n$")


class RawImap:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline()
        self.counter = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        """One response line; a line ending in a literal includes the literal and
        the rest of the line after it."""
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed")
        while True:
            m = LITERAL.search(line)
            if not m:
                return line
            line += self.file.read(int(m.group(1)))
            line += self.file.readline()

    def read_until_tagged(self, tag):
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag.encode() + b" "):
                return untagged, line
            untagged.append(line)

    def next_tag(self):
        self.counter += 1
        return "t%d" % self.counter

    def cmd(self, text):
        """Send 'TAG text' and return (untagged lines, tagged line)."""
        tag = self.next_tag()
        self.send("%s %s\r\n" % (tag, text))
        return self.read_until_tagged(tag)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert b" OK " in tagged, (text, untagged, tagged)
        return untagged, tagged

    def login(self, user="demouser", password="demopass"):
        return self.ok("LOGIN %s %s" % (user, password))
