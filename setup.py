"""tb-sparsity-plugin: measured vs expected sparsity of pruning runs in TensorBoard (tfmot, PyTorch,
Lightning, Hugging Face Transformers, Keras 3, SparseML, Distiller, NNCF, and saved checkpoints)."""

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
    description=("TensorBoard plugin and CLI: measured vs expected sparsity of pruning runs and "
                 "checkpoints (tfmot, PyTorch, Lightning, Transformers, Keras 3, llm-compressor, "
                 "SparseML, Distiller, NNCF)"),
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "README.md"))
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # The dashboard's sources live in frontend/src and are installed as
    # tb_sparsity_plugin/static: one copy in the repository, no node needed to install.
    packages=setuptools.find_packages(include=["tb_sparsity_plugin", "tb_sparsity_plugin.*"])
    + ["tb_sparsity_plugin.static"],
    package_dir={"tb_sparsity_plugin.static": "frontend/src"},
    package_data={
        "tb_sparsity_plugin": ["http_api.md"],
        "tb_sparsity_plugin.static": ["*.js", "*.css", "view_models/*.js", "views/*.js", "vendor/*"],
    },
    install_requires=[
        "tensorboard>=%s" % OLDEST_TENSORBOARD,
        "numpy",
        "werkzeug",
        # C CRC32C for checking event files past damage (reading/recovery.py)
        "google-crc32c",
        # the CLI's progress counter
        "tqdm",
        # the run and series answers' encoding: ~10x faster than json (serving/documents.py)
        "orjson",
        # checkpoints: llm-compressor's recipe.yaml (safe_load only), Keras' .h5 and .keras
        "pyyaml",
        "h5py",
        # recipes' `re:` patterns run with a timeout (a pathological pattern is refused, never hangs)
        "regex",
    ],
    extras_require={
        # Logdirs in S3 buckets: TensorBoard reads s3:// with boto3 (docs/remote_logdirs.md).
        "s3": ["boto3"],
        "keras": ["tensorflow>=2.16", "tf-keras", "tensorflow-model-optimization>=0.8"],
        # Pinned: a bare `torch` (or a range admitting a newer release) pulls a CUDA build of
        # several GB; this one is the CPU build the writer and its tests are checked with.
        "torch": ["torch==2.13.0"],
        # The training-loop callbacks (tb_sparsity_plugin.lightning, .transformers), pinned to
        # the releases they are tested with; the Trainer needs accelerate.
        "lightning": ["torch==2.13.0", "lightning==2.6.6"],
        "transformers": ["torch==2.13.0", "transformers==5.17.0", "accelerate"],
        "demo": [
            "tensorflow>=2.16",
            "tf-keras",
            "tensorflow-model-optimization>=0.8",
            "scikit-learn",
            "torch==2.13.0",
            "lightning==2.6.6",
        ],
        "test": [
            "tensorflow>=2.16",
            "tf-keras",
            "tensorflow-model-optimization>=0.8",
            "scikit-learn",
            "torch==2.13.0",
            # the training loops and checkpoint writers the tests run for real
            "lightning==2.6.6",
            "transformers==5.17.0",
            "accelerate",
            "llmcompressor==0.14.0.1",
            "safetensors",
            # float8/bfloat16 values to check the bit-level zero counts against
            "ml-dtypes",
            # Keras 3's third backend, for tb_sparsity_plugin.keras (CPU wheels, ~90 MB)
            "jax==0.10.2",
            "jaxlib==0.10.2",
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
            # makes the certificate TensorFlow's GCS client is shown (tests/support/bucket_emulators.py).
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
