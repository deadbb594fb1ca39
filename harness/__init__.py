"""The experiment harness: scenarios -> cells -> backends -> verdicts -> report."""
