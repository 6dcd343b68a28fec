#!/usr/bin/env bash
# Train the article's MNIST pruning runs, with tfmot (Keras) and with PyTorch (--quick: about
# 3 minutes each on 2 cores), and with Lightning's ModelPruning (about 30 s), into one logdir
# (./logs), then serve them side by side:
# open http://localhost:6006/#sparsity
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/venv.sh
use_venv demo

LOGDIR=${LOGDIR:-logs}
# DEMO_ARGS="" trains the full article recipe (10 epochs of MNIST, much longer).
"$VENV/bin/python" demo/mnist_pruning.py --logdir "$LOGDIR" ${DEMO_ARGS---quick}
"$VENV/bin/python" demo/torch_pruning.py --logdir "$LOGDIR" ${DEMO_ARGS---quick}
"$VENV/bin/python" demo/lightning_pruning.py --logdir "$LOGDIR" ${DEMO_ARGS---quick}
exec "$VENV/bin/tensorboard" --logdir "$LOGDIR" "$@"
