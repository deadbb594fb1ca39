"""Invoke a function over AMQP and print its reply, like ``curl`` does over HTTP.

    python -m lambda_sandbox.amqp_invoke --function function '{"key": "value"}'

Publishes the event to the queue named after the function with a private
``reply_to`` queue and a fresh ``correlation_id`` (the Lambda Runtime API
Daemon's RPC pattern), waits for the reply with that ``correlation_id`` and
prints its body. The broker is ``--uri``, else ``AMQP_URI``, else the local
default; ``AMQP_USERNAME`` / ``AMQP_PASSWORD`` override its credentials.

Exit status: 0 the function answered; 1 the reply is an error (the function
failed: ``X-Amz-Function-Error``, or the service refused the request:
``X-Amzn-ErrorType``); 2 usage; 3 no reply (no such queue, broker down, timeout).
Needs pika.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from lambda_sandbox.amqp import (
    DEFAULT_URI,
    HEADER_CLIENT_CONTEXT,
    HEADER_ERROR_TYPE,
    HEADER_FUNCTION_ERROR,
    HEADER_TRACE_ID,
    AmqpSettings,
    connection_parameters,
    describe_uri,
)


class InvokeFailed(Exception):
    """No reply: the message says why."""


@dataclass(frozen=True)
class Reply:
    body: bytes
    headers: Dict[str, str]
    correlation_id: str

    @property
    def failed(self) -> bool:
        return HEADER_FUNCTION_ERROR in self.headers or HEADER_ERROR_TYPE in self.headers


def _headers(raw: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    out = {}
    for key, value in (raw or {}).items():
        out[str(key)] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return out


def invoke(
    function: str,
    payload: bytes,
    uri: str = DEFAULT_URI,
    timeout_s: float = 30.0,
    client_context: Optional[str] = None,
    trace_id: Optional[str] = None,
    correlation_id: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
) -> Reply:
    """Publish one request and wait for its reply; InvokeFailed when none comes."""
    try:
        import pika
    except ImportError:
        raise InvokeFailed("pika is not installed (pip install pika==1.3.2)") from None
    settings = AmqpSettings(uri=uri, username=username, password=password, queue=function)
    correlation_id = correlation_id or str(uuid.uuid4())
    headers: Dict[str, str] = {}
    if client_context is not None:
        headers[HEADER_CLIENT_CONTEXT] = base64.b64encode(client_context.encode()).decode()
    if trace_id:
        headers[HEADER_TRACE_ID] = trace_id
    try:
        connection = pika.BlockingConnection(
            connection_parameters(pika, settings, f"amqp_invoke pid {os.getpid()}")
        )
    except pika.exceptions.AMQPError as exc:
        raise InvokeFailed(f"cannot connect to {describe_uri(uri)}: {exc!r}") from None
    try:
        channel = connection.channel()
        reply_queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
        channel.confirm_delivery()
        try:
            channel.basic_publish(
                exchange="",
                routing_key=function,
                body=payload,
                properties=pika.BasicProperties(
                    reply_to=reply_queue,
                    correlation_id=correlation_id,
                    content_type="application/json",
                    headers=headers or None,
                ),
                mandatory=True,
            )
        except pika.exceptions.UnroutableError:
            raise InvokeFailed(
                f"no queue {function!r} on {describe_uri(uri)}: is a sandbox with AMQP_URI "
                f"set running for function {function!r}?"
            ) from None
        for method, properties, body in channel.consume(
            reply_queue, auto_ack=True, inactivity_timeout=timeout_s
        ):
            if method is None:
                raise InvokeFailed(f"no reply within {timeout_s:g} s")
            if properties.correlation_id == correlation_id:
                return Reply(bytes(body), _headers(properties.headers), correlation_id)
        raise InvokeFailed("the reply queue was cancelled")  # pragma: no cover
    except pika.exceptions.AMQPError as exc:
        raise InvokeFailed(f"the broker connection failed: {exc!r}") from None
    finally:
        if connection.is_open:
            connection.close()


def _payload(text: str) -> bytes:
    if text == "-":
        return sys.stdin.buffer.read()
    if text.startswith("@"):
        with open(text[1:], "rb") as handle:
            return handle.read()
    return text.encode("utf-8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_sandbox.amqp_invoke",
        description="Invoke a function over AMQP (RabbitMQ RPC) and print the reply.",
    )
    parser.add_argument("payload", nargs="?", default="{}", help="JSON event, @FILE or - (stdin)")
    parser.add_argument("--function", default="function", help="function (queue) name")
    parser.add_argument("--uri", default=None, help="broker URI (default: AMQP_URI, else local)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    parser.add_argument("--client-context", default=None, help="client context JSON")
    parser.add_argument("--trace-id", default=None, help="X-Amzn-Trace-Id to pass on")
    parser.add_argument("-v", "--verbose", action="store_true", help="print reply headers")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        payload = _payload(args.payload)
    except OSError as exc:
        print(f"amqp_invoke: {args.payload}: {exc.strerror}", file=sys.stderr)
        return 2
    for what, text in (
        ("payload", payload.decode("utf-8", "replace")),
        ("client context", args.client_context),
    ):
        if text is None:
            continue
        try:
            json.loads(text)
        except ValueError as exc:
            print(f"amqp_invoke: the {what} is not JSON: {exc}", file=sys.stderr)
            return 2
    env = os.environ
    try:
        reply = invoke(
            args.function,
            payload,
            uri=args.uri or env.get("AMQP_URI") or DEFAULT_URI,
            timeout_s=args.timeout,
            client_context=args.client_context,
            trace_id=args.trace_id,
            username=env.get("AMQP_USERNAME") or None,
            password=env.get("AMQP_PASSWORD") or None,
        )
    except InvokeFailed as exc:
        print(f"amqp_invoke: {exc}", file=sys.stderr)
        return 3
    lines: List[str] = []
    if args.verbose:
        lines = [f"< correlation_id: {reply.correlation_id}"]
        lines += [f"< {key}: {value}" for key, value in sorted(reply.headers.items())]
    elif reply.failed:
        lines = [
            f"< {key}: {reply.headers[key]}"
            for key in (HEADER_FUNCTION_ERROR, HEADER_ERROR_TYPE)
            if key in reply.headers
        ]
    for line in lines:
        print(line, file=sys.stderr)
    sys.stdout.write(reply.body.decode("utf-8", "replace") + "\n")
    sys.stdout.flush()
    return 1 if reply.failed else 0


if __name__ == "__main__":
    sys.exit(main())
