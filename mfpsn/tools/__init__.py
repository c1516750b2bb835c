"""Tools for the people who build and check mfpsn, not part of the library's API; each runs as a script.

- :mod:`~mfpsn.tools.loadtest`: ``python -m mfpsn.tools.loadtest``, concurrent ``gradio_client`` clients against
  the app (hostile uploads included); also ``launch_app``, which the app's tests use.
- :mod:`~mfpsn.tools.app_bench`: ``python -m mfpsn.tools.app_bench``, the speed of the app's heavy requests.
- :mod:`~mfpsn.tools.aot_check`: ``python -m mfpsn.tools.aot_check``, every Triton kernel variant compiled for a
  GPU target without a GPU.
- :mod:`~mfpsn.tools.make_assets`: ``python -m mfpsn.tools.make_assets``, the bundled sample recordings under
  ``assets/``.

The benchmarks of the library itself live in :mod:`mfpsn.bench` (``python -m mfpsn.bench``, ``--events``).
Nothing in the library imports this package.
"""
