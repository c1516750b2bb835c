"""Training helpers behind ``python -m mfpsn.train``: tasks (data + default networks), the fit loop,
torch.distributed set-up, resumable training state, and the restricted CIFAR-10 reader."""
