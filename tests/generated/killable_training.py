"""A PyTorch training that logs with SparsityWriter at every step until it is killed.

    python tests/generated/killable_training.py LOG_DIR PROGRESS_FILE

A tiny MLP, `l1_unstructured(amount=0.2)` on its first layer every 25 steps, `log(step)`
after every step; once a `log` has returned, its step is appended to PROGRESS_FILE, so a test
that kills this process with SIGKILL knows which records were complete. Runs for at most
100000 steps.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "support", "no_tensorflow"))  # a faster start
sys.path.insert(0, ROOT)

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

from tb_sparsity_plugin.torch import SparsityWriter  # noqa: E402


def main(log_dir, progress):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    writer = SparsityWriter(log_dir, model, track="weights")
    x, y = torch.randn(32, 16), torch.randint(0, 10, (32,))
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for step in range(1, 100001):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step % 25 == 0:
            prune.l1_unstructured(model[0], "weight", amount=0.2)
        writer.log(step)
        os.write(fd, b"%d\n" % step)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
