"""The harness's side of a sandbox child: start and stop it, follow its event log, sweep leftovers."""
