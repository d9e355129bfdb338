#!/usr/bin/env python3
"""An SMTP server for the tests, on 127.0.0.1 (python3 standard library only).

    smtp_server.py --maildir D [--port-file F] [--cert C --key K] [--smtps]
                   [--require-starttls] [--auth USER:PASS] [--reject-rcpt ADDR]

Binds port 0, prints "listening on PORT" (flushed) and writes PORT to F (written to F.tmp,
then renamed). One thread per client. Each accepted message becomes D/<n>.eml (the data as
received, after dot-unstuffing) and D/<n>.json ({"from", "rcpt", "user", "tls"}), each written
to a temporary file and renamed, the .json last: a reader that sees the .json sees the whole
message. The files are in place before the reply to the final "." is sent. Ends on SIGTERM
or SIGINT.

--cert/--key: STARTTLS is offered (or, with --smtps, TLS from the first byte).
--require-starttls: MAIL before STARTTLS gets 530.
--auth USER:PASS: AUTH PLAIN and LOGIN are offered; MAIL before AUTH gets 530; wrong
credentials get 535.
--reject-rcpt ADDR (repeatable): RCPT TO that address gets 550.
"""

import argparse
import base64
import binascii
import json
import os
import signal
import socket
import ssl
import sys
import threading

MAX_LINE = 1 << 20
MAX_SIZE = 10 << 20


class Closed(Exception):
    """The client went away."""


class Session:
    def __init__(self, sock, options, tls_context, counter):
        self.sock = sock
        self.options = options
        self.tls_context = tls_context
        self.counter = counter
        self.buffer = b""
        self.tls = False
        self.reset_session()

    def reset_session(self):
        self.user = None
        self.reset_transaction()

    def reset_transaction(self):
        self.sender = None
        self.recipients = []

    # --- I/O ---------------------------------------------------------------------------------

    def reply(self, text):
        self.sock.sendall(text.encode("utf-8") + b"\r\n")

    def read_line(self):
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise Closed()
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed()
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    # --- commands ----------------------------------------------------------------------------

    def run(self):
        if self.options.smtps:
            self.sock = self.tls_context.wrap_socket(self.sock, server_side=True)
            self.tls = True
        self.reply("220 localhost ESMTP jobs test server")
        while True:
            line = self.read_line().rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            handler = getattr(self, "do_" + verb, None) if verb.isalpha() else None
            if handler is None:
                self.reply("500 5.5.2 command not recognized")
                continue
            if handler(argument.strip()) is False:
                return

    def do_HELO(self, argument):
        self.reset_transaction()
        self.reply("250 localhost")

    def do_EHLO(self, argument):
        self.reset_transaction()
        lines = ["localhost greets " + (argument or "you"), "8BITMIME", "SIZE %d" % MAX_SIZE]
        if self.tls_context is not None and not self.tls:
            lines.append("STARTTLS")
        if self.options.auth:
            lines.append("AUTH PLAIN LOGIN")
        for text in lines[:-1]:
            self.reply("250-" + text)
        self.reply("250 " + lines[-1])

    def do_STARTTLS(self, argument):
        if self.tls_context is None:
            self.reply("502 5.5.1 STARTTLS not available")
            return
        if self.tls:
            self.reply("503 5.5.1 TLS already active")
            return
        self.reply("220 2.0.0 ready to start TLS")
        # Anything the client sent before the handshake is discarded (RFC 3207).
        self.buffer = b""
        self.sock = self.tls_context.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.reset_session()

    def do_AUTH(self, argument):
        if not self.options.auth:
            self.reply("502 5.5.1 AUTH not available")
            return
        if self.user is not None:
            self.reply("503 5.5.1 already authenticated")
            return
        if self.options.require_starttls and not self.tls:
            self.reply("530 5.7.0 must issue a STARTTLS command first")
            return
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        try:
            if mechanism == "PLAIN":
                decoded = self.challenge("", initial)
                parts = decoded.split(b"\0")
                if len(parts) != 3:
                    self.reply("501 5.5.2 malformed AUTH PLAIN response")
                    return
                user, password = parts[1], parts[2]
            elif mechanism == "LOGIN":
                user = self.challenge("VXNlcm5hbWU6", initial)  # "Username:"
                password = self.challenge("UGFzc3dvcmQ6", "")  # "Password:"
            else:
                self.reply("504 5.5.4 unrecognized authentication type")
                return
        except ValueError as e:
            self.reply("501 5.5.2 " + str(e))
            return
        expected_user, _, expected_password = self.options.auth.partition(":")
        if user == expected_user.encode() and password == expected_password.encode():
            self.user = expected_user
            self.reply("235 2.7.0 authentication successful")
        else:
            self.reply("535 5.7.8 authentication credentials invalid")

    def challenge(self, prompt, initial):
        """The decoded client response: `initial` when given, else the answer to `prompt`."""
        if initial and initial != "=":
            answer = initial
        elif initial == "=":
            return b""
        else:
            self.reply("334 " + prompt)
            answer = self.read_line().strip().decode("ascii", "replace")
        if answer == "*":
            raise ValueError("authentication cancelled")
        try:
            return base64.b64decode(answer, validate=True)
        except binascii.Error:
            raise ValueError("invalid base64") from None

    def do_MAIL(self, argument):
        if not argument.upper().startswith("FROM:"):
            self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        if self.options.require_starttls and not self.tls:
            self.reply("530 5.7.0 must issue a STARTTLS command first")
            return
        if self.options.auth and self.user is None:
            self.reply("530 5.7.0 authentication required")
            return
        if self.sender is not None:
            self.reply("503 5.5.1 sender already given")
            return
        self.sender = path_of(argument[5:])
        self.recipients = []
        self.reply("250 2.1.0 ok")

    def do_RCPT(self, argument):
        if not argument.upper().startswith("TO:"):
            self.reply("501 5.5.4 syntax: RCPT TO:<address>")
            return
        if self.sender is None:
            self.reply("503 5.5.1 need MAIL before RCPT")
            return
        address = path_of(argument[3:])
        if address in (self.options.reject_rcpt or []):
            self.reply("550 5.1.1 <%s>: no such user" % address)
            return
        self.recipients.append(address)
        self.reply("250 2.1.5 ok")

    def do_DATA(self, argument):
        if self.sender is None or not self.recipients:
            self.reply("503 5.5.1 need MAIL and RCPT before DATA")
            return
        self.reply("354 end data with <CR><LF>.<CR><LF>")
        data = bytearray()
        while True:
            line = self.read_line()
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            data += line
        self.store(bytes(data))
        self.reset_transaction()
        self.reply("250 2.0.0 ok: queued")

    def do_RSET(self, argument):
        self.reset_transaction()
        self.reply("250 2.0.0 ok")

    def do_NOOP(self, argument):
        self.reply("250 2.0.0 ok")

    def do_QUIT(self, argument):
        self.reply("221 2.0.0 bye")
        return False

    def store(self, data):
        number = self.counter()
        base = os.path.join(self.options.maildir, str(number))
        write_atomically(base + ".eml", data)
        record = {"from": self.sender, "rcpt": self.recipients, "user": self.user,
                  "tls": self.tls}
        write_atomically(base + ".json", (json.dumps(record) + "\n").encode("utf-8"))


def path_of(argument):
    """The address in "<address> PARAM=..." (or a bare address)."""
    argument = argument.strip()
    if argument.startswith("<"):
        return argument[1:].partition(">")[0]
    return argument.partition(" ")[0]


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def serve_client(sock, options, tls_context, counter):
    sock.settimeout(300)
    session = Session(sock, options, tls_context, counter)
    try:
        session.run()
    except (Closed, OSError, ssl.SSLError):
        # The client went away, timed out or refused the handshake (an untrusted certificate):
        # nothing to do but drop the connection.
        pass
    finally:
        try:
            session.sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description="SMTP server for the tests")
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--port-file")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--smtps", action="store_true")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--reject-rcpt", metavar="ADDR", action="append")
    options = parser.parse_args()
    if bool(options.cert) != bool(options.key):
        parser.error("--cert and --key go together")
    if (options.smtps or options.require_starttls) and not options.cert:
        parser.error("--smtps and --require-starttls need --cert and --key")
    if options.auth and ":" not in options.auth:
        parser.error("--auth takes USER:PASS")

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tls_context = None
    if options.cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(options.cert, options.key)

    os.makedirs(options.maildir, exist_ok=True)
    lock = threading.Lock()
    count = [0]

    def counter():
        with lock:
            count[0] += 1
            return count[0]

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    if options.port_file:
        write_atomically(options.port_file, ("%d\n" % port).encode())
    print("listening on %d" % port, flush=True)

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_client, args=(sock, options, tls_context, counter),
                         daemon=True).start()


if __name__ == "__main__":
    main()
