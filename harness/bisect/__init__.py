"""Bisect over awslambdaric releases: which release changed when the SIGTERM cleanup runs.

``releases`` reads ``releases.toml`` (every release and its facts, with
sources); ``expand`` turns a subset of it into cells whose expectations come
from those facts; ``timeline`` compares declared and observed outcomes release
by release and finds the change points (pure); ``cli`` runs the cells through
the harness's pipeline and writes ``results/latest/bisect/``.
"""
