"""The whole system on one machine: an embedded AWS (moto server mode) with the resources of
``template.yaml``, the provider sandbox, and local stand-ins for Lambda's event sources.

Entry points: ``payouts up`` and ``payouts demo`` (``payouts_tools.cli``), or
``payouts_tools.local.stack.LocalStack`` from Python.
"""
