"""The servers under test, each able to write its files into a temporary
directory, give its command line and, where it can, serve a new version
after a restart so that the benchmark sees when the new generation answers:

  cpp      tests/helpers/srv_epoll: the project's one-thread epoll server,
           body read from a file at start-up
  python   python3 -m http.server (reads the file on every request: no
           version to tell generations apart; the library's log says when
           the new one serves)
  nginx    nginx, master and 2 workers, body from `return 200` in its
           configuration
  gunicorn gunicorn, 2 sync workers, a WSGI app that reads its body at
           import
"""

import os
import shutil
import sys


def version_text(name, n):
    return f"version {n} of {name}"


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Server:
    name = ""
    path = "/"
    versioned = True

    def __init__(self, paths, workdir, port):
        self.paths = paths
        self.dir = workdir
        self.port = port

    def available(self):
        return True

    def set_version(self, n):
        """Writes what makes the next start serve version n."""

    def argv(self):
        raise NotImplementedError

    def body_key(self, n):
        """The first line of version n's body, as the tracer records it."""
        return version_text(self.name, n) if self.versioned else None


class CppServer(Server):
    name = "cpp-epoll"

    def set_version(self, n):
        write_atomically(os.path.join(self.dir, "index.html"),
                         version_text(self.name, n) + "\n")

    def argv(self):
        return [self.paths.srv_epoll, "--listen",
                f"tcp:127.0.0.1:{self.port}", "--cloexec", "--body-file",
                os.path.join(self.dir, "index.html")]


class PythonServer(Server):
    name = "python-http"
    path = "/index.html"
    versioned = False

    def set_version(self, n):
        write_atomically(os.path.join(self.dir, "index.html"),
                         version_text(self.name, n) + "\n")

    def argv(self):
        return [os.path.realpath(sys.executable), "-m", "http.server",
                "--bind", "127.0.0.1", str(self.port), "--directory",
                self.dir]


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 2;
pid {dir}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type text/plain;
      return 200 "{text}\\n";
    }}
  }}
}}
"""


class NginxServer(Server):
    name = "nginx"

    def available(self):
        return shutil.which("nginx") is not None

    def conf(self):
        return os.path.join(self.dir, "nginx.conf")

    def set_version(self, n):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        write_atomically(self.conf(), NGINX_CONF.format(
            dir=self.dir, port=self.port, text=version_text(self.name, n)))

    def argv(self):
        return [shutil.which("nginx"), "-p", self.dir, "-c", self.conf(),
                "-e", "stderr"]

    def reload_argv(self):
        return self.argv() + ["-s", "reload"]


GUNICORN_APP = """\
import os

with open(os.path.join(os.path.dirname(__file__), "version.txt"), "rb") as f:
    BODY = f.read()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
"""


class GunicornServer(Server):
    name = "gunicorn"

    def available(self):
        return shutil.which("gunicorn") is not None

    def set_version(self, n):
        app = os.path.join(self.dir, "app.py")
        if not os.path.exists(app):
            write_atomically(app, GUNICORN_APP)
        write_atomically(os.path.join(self.dir, "version.txt"),
                         version_text(self.name, n) + "\n")

    def argv(self):
        return [shutil.which("gunicorn"), "--workers", "2", "--bind",
                f"127.0.0.1:{self.port}", "--chdir", self.dir,
                "--log-level", "warning", "app:app"]


SERVERS = {cls.name: cls for cls in (CppServer, PythonServer, NginxServer,
                                     GunicornServer)}
