#!/usr/bin/env python3
"""An HTTP endpoint on 127.0.0.1 that misbehaves on purpose, for the fault tests.

    faulty_http_server.py --log FILE

Prints "listening on PORT" once it accepts connections. Each connection is read up to the end
of its request head, logged as one JSON line {"connection": N, "path": PATH} (path without the
query; "" when the client sent no request line), and then treated by the first segment of its
path, so that /reset/a and /reset/b behave alike and are counted apart:

    /hang      never answered: the connection stays open until the client closes it
    /reset     closed with SO_LINGER 0, so the client gets a TCP RST instead of a response
    /garbage   bytes that are not HTTP, then closed
    /badjson   200 with Content-Type application/json and a body that is not JSON
    /json      200 with {"name": "ok", "items": [1, 2]}
    anything else: 404

Runs until SIGTERM or SIGINT.
"""
import argparse
import itertools
import json
import signal
import socket
import struct
import sys
import threading

lock = threading.Lock()
counter = itertools.count(1)


def log(path, record):
    with lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def respond(conn, status, content_type, body):
    head = "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
        status, content_type, len(body))
    conn.sendall(head.encode() + body)


def serve(conn, log_path):
    number = next(counter)
    try:
        head = read_head(conn)
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
        log(log_path, {"connection": number, "path": path})
        kind = "/" + path.split("/")[1] if path.startswith("/") else ""
        if kind == "/hang":
            # Until the client gives up (EOF or an error).
            while conn.recv(4096):
                pass
        elif kind == "/reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "/garbage":
            conn.sendall(b"\x00\x01\xfe\xff this is not HTTP at all \x07\r\n\r\n")
        elif kind == "/badjson":
            respond(conn, "200 OK", "application/json", b'{"name": "truncated", "items": [1, 2')
        elif kind == "/json":
            respond(conn, "200 OK", "application/json", b'{"name": "ok", "items": [1, 2]}')
        else:
            respond(conn, "404 Not Found", "text/plain", b"no such path\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print("listening on %d" % server.getsockname()[1], flush=True)
    try:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn, args.log), daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
