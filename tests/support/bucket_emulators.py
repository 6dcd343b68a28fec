"""Local bucket emulators for tests (no network): S3 (moto's server) and GCS
(gcp-storage-emulator behind a TLS-terminating proxy), each on a free loopback port, each
with `env`, the environment a process needs to read its buckets, and the same small API
(`create_bucket`, `put`, `upload_dir`, `stop`).

S3: `env` is what TensorBoard's S3 filesystem (boto3) needs: `S3_ENDPOINT` (read by
tensorboard/compat/tensorflow_stub/io/gfile.py) and dummy credentials and region (boto3
refuses to sign a request without them).

GCS: TensorFlow's gs:// filesystem has its endpoints compiled in (`kGcsUriBase`,
`kStorageHost` in tsl/platform/cloud/gcs_file_system.cc: https://www.googleapis.com/storage/v1/
and storage.googleapis.com) and offers no endpoint override. It sends its requests with
libcurl, which honours `HTTPS_PROXY`, and TensorFlow passes `CURL_CA_BUNDLE` to it
(curl_http_request.cc). So the emulator (a pure-Python server of the GCS JSON API and of
plain object downloads) is put behind a small HTTPS proxy that answers `CONNECT` for the
Google hosts itself: it terminates TLS with a certificate made here for those names, signed
by a CA that only `CURL_CA_BUNDLE` trusts, and passes the bytes on to the emulator.
`GOOGLE_AUTH_TOKEN_FOR_TESTING` (google_auth_provider.cc) stands in for credentials.
"""

import contextlib
import datetime
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

GOOGLE_HOSTS = ("storage.googleapis.com", "www.googleapis.com", "oauth2.googleapis.com")


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start" % what)
            time.sleep(0.2)


def _stop(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _upload_dir(emulator, local_dir, bucket, prefix, skip=("truth.json",)):
    """Every file under local_dir to <bucket>/<prefix>/..., as `aws s3 cp --recursive` or
    `gsutil cp -r` would."""
    for dirpath, _, names in os.walk(local_dir):
        for name in sorted(names):
            if name in skip:
                continue
            path = os.path.join(dirpath, name)
            key = prefix.rstrip("/") + "/" + os.path.relpath(path, local_dir).replace(os.sep, "/")
            with open(path, "rb") as f:
                emulator.put(bucket, key, f.read())


class S3Emulator:
    def __init__(self, workdir):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.env = {
            "S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # Never read the developer's ~/.aws: the emulator is the only endpoint.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        self._log = open(os.path.join(workdir, "moto.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT)
        try:
            _wait_http(self.endpoint + "/moto-api/", self.proc, "moto's S3 server")
        except RuntimeError:
            self.stop()
            raise
        import boto3

        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_bucket(self, bucket):
        self.client.create_bucket(Bucket=bucket)

    def put(self, bucket, key, data):
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    upload_dir = _upload_dir

    def stop(self):
        _stop(self.proc, self._log)

def _make_certificates(directory):
    """A CA and a certificate for GOOGLE_HOSTS signed by it; returns (ca.pem, cert.pem,
    key.pem) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tb-sparsity test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GOOGLE_HOSTS[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in GOOGLE_HOSTS]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.pem", "cert.pem", "key.pem")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _TlsProxy(socketserver.ThreadingTCPServer):
    """HTTPS proxy: CONNECT to a Google host is answered here, TLS terminated with our
    certificate, the plain bytes passed to the emulator. Anything else is refused."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, upstream_port, tls_context):
        self.upstream_port = upstream_port
        self.tls_context = tls_context
        super().__init__(("127.0.0.1", port), _ProxyHandler)


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        host = line[1].rsplit(":", 1)[0] if len(line) > 1 else ""
        if len(line) < 2 or line[0] != "CONNECT" or host not in GOOGLE_HOSTS:
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = self.server.tls_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            return
        upstream = socket.create_connection(("127.0.0.1", self.server.upstream_port))
        back = threading.Thread(target=_pipe, args=(upstream, tls), daemon=True)
        back.start()
        _pipe(tls, upstream)
        back.join(timeout=30)


class GcsEmulator:
    def __init__(self, workdir):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self._log = open(os.path.join(workdir, "gcs-emulator.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
             "--port", str(self.port), "--in-memory"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)
        self._proxy = None
        try:
            _wait_http(self.endpoint + "/", self.proc, "gcp-storage-emulator")
        except RuntimeError:
            self.stop()
            raise
        ca, cert, key = _make_certificates(workdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._proxy = _TlsProxy(free_port(), self.port, context)
        threading.Thread(target=self._proxy.serve_forever, daemon=True).start()
        proxy = "http://127.0.0.1:%d" % self._proxy.server_address[1]
        self.env = {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "CURL_CA_BUNDLE": ca,
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",
            "NO_GCE_CHECK": "true",  # never probe the GCE metadata server for credentials
        }

    def _request(self, method, path, body, content_type):
        request = urllib.request.Request(self.endpoint + path, data=body, method=method,
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.read()

    def create_bucket(self, bucket):
        self._request("POST", "/storage/v1/b", json.dumps({"name": bucket}).encode(),
                      "application/json")

    def put(self, bucket, key, data):
        self._request("POST", "/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (
            bucket, urllib.parse.quote(key, safe="")), data, "application/octet-stream")

    upload_dir = _upload_dir

    def stop(self):
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
        _stop(self.proc, self._log)
