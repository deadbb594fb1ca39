"""A local AWS Lambda execution environment with Lambda's init, invoke and shutdown rules.

Standard library only; runs unchanged on CPython 3.7 to 3.13.
"""

__version__ = "0.1.0"
