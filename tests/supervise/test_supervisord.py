#!/usr/bin/env python3
"""huptime --master under the real supervisord: `supervisorctl signal HUP`
restarts under load with 0 failed requests, supervisord keeps tracking the
same pid, no doubled workers, `supervisorctl stop` stops everything."""
import os
import subprocess

from common import Fail, log, need, run, wait_for, free_port, write_body
from service_checks import (restart_under_load, service_command,
                            wait_all_gone)


def test(args, tmp, group):
    supervisord = need("supervisord")
    supervisorctl = need("supervisorctl")
    port = free_port()
    body = os.path.join(tmp, "body")
    write_body(body, 0)
    conf = os.path.join(tmp, "supervisord.conf")
    command = " ".join(service_command(args, port, body))
    with open(conf, "w") as f:
        f.write(f"""[unix_http_server]
file={tmp}/supervisor.sock
[supervisord]
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
childlogdir={tmp}
nodaemon=true
user=root
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp}/supervisor.sock
[program:svc]
command={command}
autorestart=true
startsecs=1
stopwaitsecs=10
redirect_stderr=true
stdout_logfile={tmp}/svc.log
""")
    group.start([supervisord, "-c", conf],
                stdout=open(os.path.join(tmp, "supervisord-out.log"), "w"),
                stderr=subprocess.STDOUT)

    def ctl(*words):
        return subprocess.run([supervisorctl, "-c", conf, *words],
                              capture_output=True, text=True, timeout=30)

    wait_for(lambda: "RUNNING" in ctl("status", "svc").stdout, 20,
             "supervisord to report svc RUNNING")

    def tracked_pid():
        text = ctl("pid", "svc").stdout.strip()
        if not text.isdigit() or text == "0":
            raise Fail(f"supervisorctl pid svc: {text!r}")
        return int(text)

    def hup():
        out = ctl("signal", "HUP", "svc")
        if "signalled" not in out.stdout:
            raise Fail(f"supervisorctl signal HUP svc: {out.stdout!r}")

    master = restart_under_load(args, port, body, tracked_pid, hup)
    out = ctl("stop", "svc")
    if "stopped" not in out.stdout:
        raise Fail(f"supervisorctl stop svc: {out.stdout!r}")
    wait_all_gone(master, port)
    status = ctl("status", "svc").stdout
    if "STOPPED" not in status:
        raise Fail(f"after stop: {status!r}")
    log("supervisorctl stop: every process of the service is gone")
    ctl("shutdown")


run(test)
