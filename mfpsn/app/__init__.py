"""Typed callbacks, figure builders, input generators and limits of the web app (``app.py`` only wires them).

Modules: :mod:`~mfpsn.app.lab` (neuron lab), :mod:`~mfpsn.app.events_view` (event explorer),
:mod:`~mfpsn.app.models_view` (pretrained models on a recording), :mod:`~mfpsn.app.race` (speed race and recorded
results), :mod:`~mfpsn.app.zoo` (model zoo), :mod:`~mfpsn.app.inputs` (lab input sequences),
:mod:`~mfpsn.app.limits` (limits and ``gr.Error`` checks), :mod:`~mfpsn.app.serve` (flags, queue, theme),
figure modules ``figures_*`` and :mod:`~mfpsn.app.plotstyle`. The app's benchmark and load test are tools
(``python -m mfpsn.tools.app_bench``, ``python -m mfpsn.tools.loadtest``; :mod:`mfpsn.tools`).
"""
