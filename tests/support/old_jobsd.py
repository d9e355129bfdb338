#!/usr/bin/env python3
"""A socket in front of a real jobsd that answers as a jobsd from before issue 18 would: its list
has no last_success or paused, and it does not know stats, pause or resume (unknown_command).
For test_stats_check.sh: jobsctl after an upgrade, talking to a jobsd not yet restarted.

    old_jobsd.py LISTEN_SOCKET JOBSD_SOCKET     (writes LISTEN_SOCKET.ready once it listens)
"""
import json
import os
import socket
import sys
import threading

NEW_COMMANDS = {"stats", "pause", "resume"}


def serve(client, upstream_path):
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(upstream_path)
    up_in, client_in = upstream.makefile("rb"), client.makefile("rb")
    lock = threading.Lock()

    def send(line):
        with lock:
            client.sendall(line)

    def replies():
        for line in up_in:
            message = json.loads(line)
            result = message.get("result")
            if isinstance(result, dict) and isinstance(result.get("jobs"), list):
                for job in result["jobs"]:
                    job.pop("last_success", None)
                    job.pop("paused", None)
                line = (json.dumps(message) + "\n").encode()
            send(line)
        client.close()

    threading.Thread(target=replies, daemon=True).start()
    for line in client_in:
        request = json.loads(line)
        if request.get("cmd") in NEW_COMMANDS:
            send((json.dumps({"id": request.get("id"), "error": {
                "code": "unknown_command",
                "message": "unknown command \"%s\"" % request["cmd"]}}) + "\n").encode())
        else:
            upstream.sendall(line)
    upstream.close()


def main():
    listen, upstream = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_UNIX)
    server.bind(listen)
    server.listen(16)
    open(listen + ".ready", "w").close()
    while True:
        client, _ = server.accept()
        threading.Thread(target=serve, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    main()
