# SPDX-License-Identifier: MIT
"""What bench/compare and bench/syscall_count share: where the build is,
building the project and the peers in bench/, finding free ports, and
starting and stopping the programs under test.

Python 3 standard library only.
"""

import collections
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")

# The peers compiled from bench/: name -> (source, extra cc arguments).
# `{build}` in an argument stands for the build directory.
PEERS = {
    "rawecho": ("rawecho.c", []),
    "uvecho": ("uvecho.c", ["-luv"]),
    "uringecho": ("uringecho.c", []),
    "udpecho_plain": ("udpecho_plain.c", []),
    "holdconns": ("holdconns.c", []),
    "syscalls": ("syscalls.c", ["-I" + os.path.join(ROOT, "include"),
                                "{build}/libsockit.a", "-lssl", "-lcrypto", "-lpthread"]),
}


def say(text):
    print(text, file=sys.stderr, flush=True)


def build_dir(option=None):
    """The build directory: --build, else $SOCKIT_BUILD, else build/."""
    return os.path.abspath(option or os.environ.get("SOCKIT_BUILD") or
                           os.path.join(ROOT, "build"))


def ensure_project(build, rebuild=False, need=("sockit", "libsockit.a")):
    """Builds the project when one of `need` is missing from the build
    directory (or on --rebuild): `make` for the default build/, CMake for
    any other directory."""
    if not rebuild and all(os.path.exists(os.path.join(build, n)) for n in need):
        return
    if build == os.path.join(ROOT, "build"):
        say("compare: building the project with make")
        cmd = [["make", "-C", ROOT]]
    else:
        say("compare: building the project in %s" % build)
        cmd = [["cmake", "-S", ROOT, "-B", build],
               ["cmake", "--build", build, "-j2", "--target", "sockit", "sockit_static"]]
    for c in cmd:
        r = subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise SystemExit("compare: %s failed:\n%s" % (" ".join(c), r.stderr[-3000:]))


def build_peer(build, name):
    """Compiles bench/<peer>.c into build/bench/<name> when it is missing or
    older than its source (or, for syscalls, than libsockit.a).  Returns the
    path."""
    src, extra = PEERS[name]
    src = os.path.join(BENCH, src)
    out_dir = os.path.join(build, "bench")
    out = os.path.join(out_dir, name)
    extra = [a.replace("{build}", build) for a in extra]
    inputs = [src] + [a for a in extra if a.endswith(".a")]
    if os.path.exists(out) and all(os.path.getmtime(out) >= os.path.getmtime(i) for i in inputs):
        return out
    os.makedirs(out_dir, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-g", "-Wall", "-Wextra", "-o", out, src] + extra
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), r.stdout))
    return out


def install_deps():
    """Asks scripts/install-deps.sh for the Debian peers (a no-op when they
    are there, or when not root)."""
    script = os.path.join(ROOT, "scripts", "install-deps.sh")
    if os.path.exists(script):
        subprocess.run([script, "test"], stdout=subprocess.DEVNULL)


def have(program):
    return shutil.which(program) or (os.path.exists("/usr/sbin/" + program) and
                                     "/usr/sbin/" + program)


def free_port():
    """A port free for both TCP and UDP on every address, right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("0.0.0.0", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on 127.0.0.1:%d" % port)


def listening(port):
    """True when some TCP socket listens on `port` (from /proc/net/tcp*,
    without connecting)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            continue
    return False


def wait_listening(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not listening(port):
        if time.monotonic() > deadline:
            raise TimeoutError("nothing listens on port %d" % port)
        time.sleep(0.05)


def pinned(core, argv):
    """argv run on one CPU core (taskset), when taskset and the core exist."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core)] + argv
    return argv


class Server:
    """A process we started; stop() ends it (and only it).  Threads drain
    its stdout (kept as lines, see readline) and stderr (the last lines
    kept), so a chatty server never blocks on a full pipe."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.lines = queue.Queue()
        self.errors = collections.deque(maxlen=40)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        for f, sink in ((self.proc.stdout, self.lines.put), (self.proc.stderr, self.errors.append)):
            threading.Thread(target=self._drain, args=(f, sink), daemon=True).start()

    @staticmethod
    def _drain(f, sink):
        for line in f:
            sink(line.rstrip("\n"))
        sink(None)

    @property
    def pid(self):
        return self.proc.pid

    def readline(self, timeout=10.0):
        """The next line of standard output; an error if the process ends
        or stays silent for `timeout` seconds."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("%s printed nothing within %.0f s" % (self.name, timeout))
        if line is None:
            self.proc.wait()
            raise RuntimeError("%s exited (status %s): %s" % (self.name, self.proc.returncode,
                                                             self.stderr_tail()))
        return line

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def stderr_tail(self):
        return " | ".join(l for l in list(self.errors)[-8:] if l)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
