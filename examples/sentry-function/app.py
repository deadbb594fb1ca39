"""sentry-sdk as its users write it without the AWS Lambda integration
(handler ``app.handler``): ``sentry_sdk.init(dsn=...)`` and nothing else."""

from __future__ import annotations

from typing import Any, Dict

import reporting

reporting.start()


def handler(event: Any, context: Any) -> Dict[str, Any]:
    return reporting.invocation(event, context)
