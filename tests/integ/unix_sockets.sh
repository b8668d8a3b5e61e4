#!/bin/bash
# Unix domain sockets at absolute prefix paths: bind, connect, sendto, sendmsg, accept,
# getsockname, getpeername, recvfrom, recvmsg behave and report names as on a real directory
# (raw calls through syscall() and under syscall user dispatch too), with a short cache path and
# with one so long that the socket's tree path does not fit in sun_path (108 bytes). A Python
# stream and datagram server and client, and tmux -S, run the same way.
. "$(dirname "$0")/../lib/common.sh"

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

export SOCKPY='
import os, socket, sys, threading
W = sys.argv[1]
def name(n):
    return n.replace(W, "$W") if isinstance(n, str) else repr(n)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(W + "/srv.sock")
srv.listen(2)
print("server name", name(srv.getsockname()))
seen = []  # the server thread reports after join: the output order stays the same
def serve():
    for _ in range(2):
        c, peer = srv.accept()
        seen.append("accepted from %s local %s" % (name(peer), name(c.getsockname())))
        c.sendall(c.recv(100).upper())
        c.close()
t = threading.Thread(target=serve)
t.start()
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(W + "/srv.sock")
print("client peer", name(c.getpeername()))
c.sendall(b"hello")
print("reply", c.recv(100))
c.close()
os.mkdir(W + "/sub")
os.chdir(W + "/sub")
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.bind(W + "/sub/cli.sock")
c.connect("../srv.sock")
print("relative connect peer", name(c.getpeername()))
c.sendall(b"again")
print("reply", c.recv(100))
c.close()
t.join()
print("\n".join(seen))
d1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d1.bind(W + "/d1.sock")
d2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d2.bind("d2.sock")
print("relative bind name", name(d2.getsockname()))
d3 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d3.bind(W + "/d3.sock")
d3.sendto(b"one", W + "/d1.sock")
d3.sendmsg([b"two"], [], 0, W + "/d1.sock")
data, frm = d1.recvfrom(100)
print("recvfrom", data, name(frm))
data, anc, fl, frm = d1.recvmsg(100)
print("recvmsg", data, name(frm))
d2.sendto(b"three", W + "/d1.sock")
print("from relative", name(d1.recvfrom(100)[1]))
try:
    d3.sendto(b"x", W + "/missing.sock")
except OSError as e:
    print("sendto missing:", e.strerror)
try:
    socket.socket(socket.AF_UNIX).connect(W + "/nodir/x.sock")
except OSError as e:
    print("connect missing:", e.strerror)
for s in (srv, d1, d2, d3):
    s.close()
print(sorted(os.listdir(W)), sorted(os.listdir(W + "/sub")))
print("is socket", __import__("stat").S_ISSOCK(os.stat(W + "/srv.sock").st_mode))
'

scenarios() {
    check "python$1" 'python3 -c "$SOCKPY" "$W"'
    if command -v tmux >/dev/null; then
        check "tmux$1" '
tmux -S "$W/tmux.sock" -f /dev/null new-session -d -s edge "sleep 1000"; echo "new rc=$?"
tmux -S "$W/tmux.sock" list-sessions -F "#{session_name} #{socket_path}" | sed "s#$W#\$W#"
tmux -S "$W/tmux.sock" kill-server; echo "kill rc=$?"
rm -f "$W/tmux.sock"
'
    else
        echo "# tmux not installed: that scenario is not run"
    fi
}


scenarios ""
raw_parity sock ""

# A cache whose tree path alone is longer than sun_path: the virtual paths still fit, so every
# call must still work and report the virtual path.
long="$T/$(printf 'c%.0s' $(seq 1 120))"
export SMSHIM_CACHE="$long"
scenarios _longcache
raw_parity sock " (long cache)"

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"
