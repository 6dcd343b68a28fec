"""Checkpoint files (safetensors, PyTorch, Keras) read tensor by tensor without the
frameworks, into per-layer sparsity, N:M compliance and what their recipe declared."""
