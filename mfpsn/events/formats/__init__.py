"""One module per file format. Each exposes ``read(ctx) -> Events`` and a writer.

The formats' names (used by ``read_events(format=...)`` and ``write_events``):
``nmnist``, ``aedat2``, ``aedat31``, ``aedat4``, ``evt2``, ``evt3``, ``dat``, ``shd``, ``npy``, ``npz``.
"""
