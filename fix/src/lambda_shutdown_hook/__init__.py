"""lambda-shutdown-hook: a Lambda Python function's SIGTERM handler runs at shutdown,
with no code change.

Installed as a package (or as a layer), its ``.pth`` file imports this
package when the interpreter (or the managed runtime's bootstrap) processes
the site directory it lies in. In the runtime process of a Lambda execution
environment it then

* registers an internal extension, without which Lambda sends no SIGTERM;
* dispatches SIGTERM, through a ``signal.set_wakeup_fd`` watcher thread, to
  whatever handler the function installed with ``signal.signal`` by then,
  even while awslambdaric waits for the next event in native code (where a
  plain handler would wait until SIGKILL).

Anywhere else (not on Lambda, an extension, a subprocess, a forked worker)
it does nothing. ``LAMBDA_SHUTDOWN_HOOK=off`` switches it off.
"""

from lambda_shutdown_hook.hook import activate, status

__all__ = ["__version__", "activate", "status"]
__version__ = "0.1.0"
