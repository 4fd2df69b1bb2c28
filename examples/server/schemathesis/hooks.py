"""schemathesis hooks (SCHEMATHESIS_HOOKS=hooks, loaded by ./run): how a JSON Lines request body
goes on the wire. POST /admin/erasures/reapply takes erasure records as JSON Lines; the
document's schema is one record, so a generated value is sent as one line."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def json_lines(ctx: object, value: object) -> bytes:
    """One generated value as one line of JSON Lines."""
    return (json.dumps(value) + "\n").encode()
