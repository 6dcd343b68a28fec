"""A local S3 emulator for tests: moto's server on a free loopback port (no network).

`S3Emulator.env` is what TensorBoard's S3 filesystem (boto3) needs to talk to it:
`S3_ENDPOINT` (read by tensorboard/compat/tensorflow_stub/io/gfile.py) and dummy credentials
and region (boto3 refuses to sign a request without them).
"""

import os
import subprocess
import sys
import time
import urllib.request

from conftest import free_port


class S3Emulator:
    def __init__(self, log_path):
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
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).close()
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start; see %s" % log_path)
                time.sleep(0.2)
        import boto3

        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_bucket(self, bucket):
        self.client.create_bucket(Bucket=bucket)

    def upload_dir(self, local_dir, bucket, prefix, skip=("truth.json",)):
        """Upload every file under local_dir to s3://bucket/prefix/..., as `aws s3 cp
        --recursive` would."""
        for dirpath, _, names in os.walk(local_dir):
            for name in sorted(names):
                if name in skip:
                    continue
                path = os.path.join(dirpath, name)
                key = prefix.rstrip("/") + "/" + os.path.relpath(path, local_dir).replace(os.sep, "/")
                self.client.upload_file(path, bucket, key)

    def put(self, bucket, key, data):
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
