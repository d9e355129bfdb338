#!/usr/bin/env python3
"""An HTTP server on 127.0.0.1 that records what clients really sent, for integration tests.

    raw_http_server.py --log FILE

Prints "listening on PORT" once it accepts connections. Every connection is logged as one JSON
line {"connection": N} when it opens, and every request as {"connection": N, "line": the request
line as sent, "headers": [[name, value], ...] in order, duplicates kept, "body": ...}, before it is
answered. Any method and any path get 200 with a JSON echo of the request (line, headers, body),
so that a client's credentials come back in the response body too. Runs until SIGTERM or SIGINT.
"""
import argparse
import http.server
import itertools
import json
import signal
import socketserver
import sys
import threading

lock = threading.Lock()
counter = itertools.count(1)


def log(path, record):
    with lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection_id = next(counter)
        log(self.server.log_path, {"connection": self.connection_id})

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        record = {
            "connection": self.connection_id,
            "line": self.requestline,
            "headers": [[n, v] for n, v in self.headers.items()],
            "body": body,
        }
        log(self.server.log_path, record)
        reply = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, format, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    options = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.log_path = options.log
    open(options.log, "a").close()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
