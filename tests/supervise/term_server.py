#!/usr/bin/env python3
"""A small HTTP server for the notify test: answers GET with the contents
of BODY_FILE (read at start-up) and, unlike Python's default, leaves through
exit() on SIGTERM, as most real servers do.

    term_server.py PORT BODY_FILE
"""
import http.server
import signal
import sys

port, body_file = int(sys.argv[1]), sys.argv[2]
with open(body_file, "rb") as f:
    BODY = f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
