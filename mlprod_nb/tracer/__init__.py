"""The kernel-side tracer: an IPython extension that journals every cell execution.

Imports nothing heavy: it hooks libraries only once user code has imported them.
It never imports ``mlprod_nb.store``, ``mlprod_nb.pipeline`` or ``mlprod_nb.server``.
"""
