"""The lab's container images: what they are made of (``spec``, pure), how a cell runs
in one (``container``, pure), the engine (``engine``), the offline base
(``base``), building (``build``) and the command line (``cli``, ``python -m harness.images``)."""
