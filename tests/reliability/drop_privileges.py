"""A service that binds a privileged port as root, then drops to nobody
(the way nginx, sshd or any classic daemon does). Restarted by huptime, a
new generation runs as nobody from the start: its bind() of the port only
works because huptime hands it the inherited listener.

    drop_privileges.py PORT
Answers every request with "uid=UID\n", then closes the connection.
"""
import os
import socket
import sys

port = int(sys.argv[1])
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(64)
if os.getuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
while True:
    conn, _ = listener.accept()
    with conn:
        conn.recv(4096)
        body = f"uid={os.getuid()}\n".encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
