"""tb-sparsity-plugin: measured vs expected sparsity of tfmot pruning runs in TensorBoard."""

import os

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))
# The oldest TensorBoard we claim to support; CI tests it next to the newest
# (scripts/test_oldest_tensorboard.sh). Not 2.16.0: it requires tf-keras-nightly, which pulls
# in tf-nightly (TensorFlow built for NumPy 2, broken next to TensorBoard 2.16's NumPy 1).
OLDEST_TENSORBOARD = "2.16.2"

setuptools.setup(
    name="tb-sparsity-plugin",
    version="0.1.0",
    description="TensorBoard plugin: measured vs expected sparsity of tfmot pruning runs",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "README.md"))
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # The dashboard's sources live in frontend/src and are installed as
    # tb_sparsity_plugin/static: one copy in the repository, no node needed to install.
    packages=["tb_sparsity_plugin", "tb_sparsity_plugin.sources", "tb_sparsity_plugin.static",
              "tb_sparsity_plugin.torch"],
    package_dir={"tb_sparsity_plugin.static": "frontend/src"},
    package_data={
        "tb_sparsity_plugin": ["http_api.md"],
        "tb_sparsity_plugin.static": ["*.js", "*.css", "views/*.js", "vendor/*"],
    },
    install_requires=[
        "tensorboard>=%s" % OLDEST_TENSORBOARD,
        "numpy",
        "werkzeug",
        # C CRC32C for checking event files past damage (recovery.py)
        "google-crc32c",
        # the CLI's progress counter
        "tqdm",
        # the run and series answers' encoding: ~10x faster than json (documents.py)
        "orjson",
    ],
    extras_require={
        # Logdirs in S3 buckets: TensorBoard reads s3:// with boto3 (docs/remote_logdirs.md).
        "s3": ["boto3"],
        "keras": ["tensorflow>=2.16", "tf-keras", "tensorflow-model-optimization>=0.8"],
        # Pinned: a bare `torch` (or a range admitting a newer release) pulls a CUDA build of
        # several GB; this one is the CPU build the writer and its tests are checked with.
        "torch": ["torch==2.13.0"],
        "demo": [
            "tensorflow>=2.16",
            "tf-keras",
            "tensorflow-model-optimization>=0.8",
            "scikit-learn",
            "torch==2.13.0",
        ],
        "test": [
            "tensorflow>=2.16",
            "tf-keras",
            "tensorflow-model-optimization>=0.8",
            "scikit-learn",
            "torch==2.13.0",
            "pytest",
            # the suite runs on every core (scripts/test.sh); filelock: trained runs made once
            "pytest-xdist",
            "filelock",
            "hypothesis",
            "playwright",
            "tbparse",
            "pandas",
            "psutil",
            # Local S3 and GCS emulators for the s3:// and gs:// logdir tests; cryptography
            # makes the certificate TensorFlow's GCS client is shown (tests/gcs_emulator.py).
            "moto[server]",
            "boto3",
            "gcp-storage-emulator",
            "cryptography",
        ],
    },
    entry_points={
        "tensorboard_plugins": [
            "sparsity = tb_sparsity_plugin.serving.plugin:SparsityPlugin",
        ],
        "console_scripts": [
            "tb-sparsity = tb_sparsity_plugin.cli.main:main",
        ],
    },
)
