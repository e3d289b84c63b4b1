# SPDX-License-Identifier: MIT
"""Test certificates made at test time with the openssl command.

    certs = tlscerts.make(directory)      # or tlscerts.Certs(directory)
    certs.ca                              # the test CA's certificate (PEM path)
    certs.path("server")                  # server.pem (chain: leaf, no CA) / server.key

Every certificate is ECDSA P-256.  What `make` writes into `directory`:

    ca.pem ca.key          the test CA ("sockit test CA")
    server                 CN=localhost, SAN IP:127.0.0.1, IP:::1, DNS:localhost;
                           valid for 30 days, signed by the CA
    server2                the same names, another key and serial (rotation tests)
    wrongname              SAN DNS:wrong.example only
    expired                validity ended yesterday
    notyet                 validity starts in 2099
    selfsigned             the server's names, signed by its own key
    other                  CN/SAN DNS:other.test (SNI tests)
    client                 CN=sockit test client, clientAuth (mutual TLS)
    otherca.pem            a second CA no certificate here is signed by

Run as a program (`python3 tests/tlscerts.py DIR`) it makes the same set
and prints DIR, for C tests and by hand.  Reusable by any test: the server
side's tests take their certificates from here too.
"""

import os
import subprocess
import sys

SANS = "IP:127.0.0.1,IP:::1,DNS:localhost"


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), p.stderr.strip()))


def _key_args(name):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key"]


def _ext(d, name, text):
    path = os.path.join(d, name + ".ext")
    with open(path, "w") as f:
        f.write(text)
    return path


def _self_signed(d, name, subject, sans=None, ca=False, days=30):
    argv = ["openssl", "req", "-x509"] + _key_args(name) + [
        "-out", name + ".pem", "-days", str(days), "-subj", subject]
    if ca:
        argv += ["-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    else:
        argv += ["-addext", "basicConstraints=CA:FALSE"]
    if sans:
        argv += ["-addext", "subjectAltName=" + sans]
    _run(argv, d)


def _signed(d, name, subject, sans=None, days=30, client=False, serial=None):
    """A leaf signed by ca.pem; days may be negative (expired)."""
    _run(["openssl", "req", "-new"] + _key_args(name) + [
        "-out", name + ".csr", "-subj", subject], d)
    ext = "basicConstraints=CA:FALSE\n"
    ext += "extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth")
    if sans:
        ext += "subjectAltName=%s\n" % sans
    argv = ["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-days", str(days), "-extfile", _ext(d, name, ext),
            "-out", name + ".pem"]
    argv += ["-set_serial", str(serial)] if serial else ["-CAcreateserial"]
    _run(argv, d)


def _not_yet_valid(d, name, subject, sans):
    """openssl x509 cannot set a start date (before 3.4): openssl ca can."""
    _run(["openssl", "req", "-new"] + _key_args(name) + [
        "-out", name + ".csr", "-subj", subject], d)
    db = os.path.join(d, "ca.db")
    open(db + ".index", "w").close()
    with open(db + ".serial", "w") as f:
        f.write("1000\n")
    conf = _ext(d, "ca-conf", "\n".join([
        "[ca]", "default_ca = test", "[test]", "dir = .",
        "database = ca.db.index", "serial = ca.db.serial", "new_certs_dir = .",
        "certificate = ca.pem", "private_key = ca.key", "default_md = sha256",
        "policy = any", "copy_extensions = none", "x509_extensions = leaf",
        "unique_subject = no",
        "[any]", "commonName = supplied",
        "[leaf]", "basicConstraints = CA:FALSE", "subjectAltName = " + sans, ""]))
    _run(["openssl", "ca", "-batch", "-config", conf, "-in", name + ".csr",
          "-out", name + ".pem", "-notext", "-startdate", "20990101000000Z",
          "-enddate", "20991231000000Z"], d)


class Certs:
    def __init__(self, directory):
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.otherca = os.path.join(directory, "otherca.pem")

    def path(self, name):
        """(certificate, key) paths of `name`."""
        return (os.path.join(self.dir, name + ".pem"), os.path.join(self.dir, name + ".key"))

    def cert(self, name):
        return self.path(name)[0]

    def key(self, name):
        return self.path(name)[1]


def make(directory):
    d = directory
    os.makedirs(d, exist_ok=True)
    _self_signed(d, "ca", "/CN=sockit test CA", ca=True, days=60)
    _self_signed(d, "otherca", "/CN=sockit other CA", ca=True, days=60)
    _signed(d, "server", "/CN=localhost/O=sockit test", SANS, serial=0x5001)
    _signed(d, "server2", "/CN=localhost/O=sockit test", SANS, serial=0x5002)
    _signed(d, "wrongname", "/CN=wrong.example", "DNS:wrong.example")
    _signed(d, "expired", "/CN=localhost", SANS, days=-1)
    _not_yet_valid(d, "notyet", "/CN=localhost", SANS)
    _self_signed(d, "selfsigned", "/CN=localhost", SANS)
    _signed(d, "other", "/CN=other.test", "DNS:other.test")
    _signed(d, "client", "/CN=sockit test client", client=True)
    return Certs(d)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: tlscerts.py DIR\n")
        sys.exit(2)
    make(sys.argv[1])
    print(sys.argv[1])
