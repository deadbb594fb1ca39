"""sentry-sdk with its AWS Lambda integration, as Sentry's documentation sets it up
(handler ``integrated.handler``): ``sentry_sdk.init(dsn=..., integrations=[AwsLambdaIntegration()])``.

The integration patches the runtime's bootstrap (awslambdaric's, found through
``__main__``): each handler call is wrapped, and the runtime client's
``post_invocation_result`` / ``post_invocation_error`` first flush the event
queue, so a completed invocation's events are sent before its result.
"""

from __future__ import annotations

from typing import Any, Dict

import reporting
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration, get_lambda_bootstrap

reporting.start([AwsLambdaIntegration()])
# The integration disables itself, quietly, when it cannot find the runtime's bootstrap.
FOUND = hasattr(get_lambda_bootstrap(), "handle_event_request")
print(f"[sentry] AwsLambdaIntegration found the runtime's bootstrap: {FOUND}", flush=True)


def handler(event: Any, context: Any) -> Dict[str, Any]:
    return reporting.invocation(event, context)
