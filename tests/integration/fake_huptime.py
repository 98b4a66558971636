#!/usr/bin/env python3
"""A stand-in for `huptime` + server, to test reload_test itself.

    fake_huptime.py --fork|--exec [--fault=KIND] -- SERVER --listen SPEC
                    [--body-file F] [other server args, ignored]

It does not run SERVER: it serves HTTP itself on the first tcp: or unix:
--listen address, with the body read once from --body-file, and reloads on
SIGHUP the way libhuptime does, printing the same log lines: fork mode
fork+execs a new copy that inherits the listener, the old copy stops
accepting once the new one is ready and exits; exec mode re-executes in
place. With a fault it misbehaves the way a broken library could, and
reload_test must notice:

    leak-fd   every reload leaks one fd into the next generation
    drop      every new generation closes its first connection unanswered
    overlap   the old copy goes on accepting for 300 ms after the new one
              is ready (old and new versions interleave)
    stray     every new generation leaves a process behind
    alert     the third generation complains on stderr ("[alert] ..."),
              as nginx does when something goes wrong under it
"""
import os
import selectors
import signal
import socket
import sys
import time

ENV_FD, ENV_GEN, ENV_READY = "FAKE_HUPTIME_FD", "FAKE_HUPTIME_GEN", "FAKE_HUPTIME_READY"


def log(text):
    os.write(2, f"huptime[{os.getpid()}]: {text}\n".encode())


def parse(argv):
    mode, fault = argv[1].lstrip("-"), ""
    rest = argv[2:]
    while rest and rest[0] != "--":
        if rest[0].startswith("--fault="):
            fault = rest[0].split("=", 1)[1]
        rest = rest[1:]
    server = rest[1:]
    spec = server[server.index("--listen") + 1]
    body = b"hello\n"
    if "--body-file" in server:
        with open(server[server.index("--body-file") + 1], "rb") as f:
            body = f.read()
    return mode, fault, spec, body


def open_listener(spec):
    if ENV_FD in os.environ:
        return socket.socket(fileno=int(os.environ[ENV_FD]))
    if spec.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(spec[5:])
    else:
        host, port = spec[4:].rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    sock.listen(128)
    return sock


def serve_one(conn, response, drop):
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 8192:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        if not drop:
            conn.sendall(response)
    except OSError:
        pass
    conn.close()


def next_env(listener, generation, fault):
    listener.set_inheritable(True)
    if fault == "leak-fd":
        os.set_inheritable(os.open("/dev/null", os.O_RDONLY), True)
    env = dict(os.environ, **{ENV_FD: str(listener.fileno()), ENV_GEN: str(generation + 1)})
    return env


def reload_fork(listener, generation, fault, accept_more):
    read_end, write_end = os.pipe()
    env = next_env(listener, generation, fault)
    env[ENV_READY] = str(write_end)
    os.set_inheritable(write_end, True)
    child = os.fork()
    if child == 0:
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    os.close(write_end)
    os.read(read_end, 1)
    log(f"new copy pid {child} is ready; draining")
    end = time.monotonic() + (0.3 if fault == "overlap" else 0)
    while time.monotonic() < end:
        accept_more(0.01)
    listener.close()
    log("drained; exiting")
    sys.exit(0)


def main():
    mode, fault, spec, body = parse(sys.argv)
    generation = int(os.environ.get(ENV_GEN, "1"))
    listener = open_listener(spec)
    listener.setblocking(False)
    response = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGHUP, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    if fault == "stray" and generation > 1 and os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    if fault == "alert" and generation == 3:
        os.write(2, b"fake-server: [alert] something went wrong\n")
    log(f"ready (generation {generation}, 1 listeners)")
    if ENV_READY in os.environ:
        ready_fd = int(os.environ.pop(ENV_READY))
        os.write(ready_fd, b"!")
        os.close(ready_fd)
    dropped = [fault != "drop" or generation == 1]

    def accept_more(timeout):
        for key, _ in selector.select(timeout):
            if key.fileobj is not listener:
                return True
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            serve_one(conn, response, not dropped[0])
            dropped[0] = True
        return False

    while True:
        if accept_more(None):
            os.read(wake_r, 64)
            if mode == "fork":
                reload_fork(listener, generation, fault, accept_more)
            log("re-executing")
            os.execve(sys.executable, [sys.executable] + sys.argv,
                      next_env(listener, generation, fault))


if __name__ == "__main__":
    main()
