"""``python -m mfpsn.bench``: see :mod:`mfpsn.bench.cli`."""
from mfpsn.bench.cli import main

raise SystemExit(main())
