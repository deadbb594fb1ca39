"""The same function behind OpenTelemetry's AWS Lambda instrumentation, as its
documentation recommends for Lambda (handler ``instrumented.handler``).

``AwsLambdaInstrumentor`` (opentelemetry-instrumentation-aws-lambda) wraps the
handler named by ``_HANDLER``: each invocation gets a SERVER span, and when the
handler returns the wrapper calls ``force_flush`` on the tracer provider
("before function quit in case of Lambda freeze"), so a completed invocation's
spans are exported before its result is. An invocation cut off by a timeout
never reaches that flush. Everything else (the provider, the cleanup, the
strategy) is ``app``'s.
"""

from __future__ import annotations

from typing import Any, Dict

import app
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor


def handler(event: Any, context: Any) -> Dict[str, Any]:
    return app.handler(event, context)


# After the handler is defined: the instrumentor wraps this module's `handler`.
AwsLambdaInstrumentor().instrument(tracer_provider=app.provider)
