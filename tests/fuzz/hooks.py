"""schemathesis hooks for scripts/fuzz (loaded through SCHEMATHESIS_HOOKS)."""

import datetime
import json
import zlib

import schemathesis

# 400s that the contract answers to well-formed input because of the account's state: the limits
# (the guide's "Maximum number of API keys ...", and a roll when too many rolled keys are in their
# grace window), a key that was already revoked, rolled or has expired ("Key is already revoked").
# Generated sequences reach them on purpose (many keys on one application, a revoke or a roll
# after a revoke or a roll); they say nothing about whether the input was accepted as valid.
STATE_DEPENDENT_400 = {
    "/errors/application_limit_reached",
    "/errors/key_limit_reached",
    "/errors/key_already_revoked",
    "/errors/key_already_rolled",
    "/errors/key_expired",
}

# `expiresAt` must be after the server's clock and at most 10 years ahead: a rule on the clock,
# which JSON Schema cannot state, so a schema-valid date-time may still be refused for it (with
# exactly these messages, from appkeys::domain::parse_expiry).
CLOCK_DEPENDENT_MESSAGES = ("must be in the future", "must be at most 10 years ahead")

# JSON Schema counts `3600.0` as an integer; the server's integer fields accept only `3600`
# (appkeys::http::JsonObject::required_integer answers "must be a whole number"), as
# docs/openapi.yaml says in prose. Until the two agree, that one refusal is tolerated, and only
# for a value that is whole but written as a fraction.
def only_integer_spelling(problem, body):
    errors = problem.get("errors") or []
    return bool(errors) and isinstance(body, dict) and all(
        error.get("message") == "must be a whole number"
        and isinstance(body.get(error.get("field")), float)
        and body[error["field"]].is_integer()
        for error in errors
    )


CREATE_KEY = ("POST", "/api/v1/applications/{id}/api-keys")
TEN_YEARS = datetime.timedelta(days=3650)


def only_clock_dependent(problem):
    """Whether a `validation_failed` problem names nothing but an `expiresAt` outside the window."""
    errors = problem.get("errors") or []
    return bool(errors) and all(
        error.get("field") == "expiresAt"
        and str(error.get("message", "")).startswith(CLOCK_DEPENDENT_MESSAGES)
        for error in errors
    )


@schemathesis.check
def valid_input_passes_validation(ctx, response, case):
    """Schema-valid input is never answered `validation_failed`, or any 400 but the contract's
    state-dependent ones (and an `expiresAt` outside the window the server's clock sets). (The
    built-in positive_data_acceptance, which this replaces, counts every 400 as a rejection of
    valid input.)"""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    try:
        problem = json.loads(response.text)
    except ValueError:
        problem = {}
    if problem.get("type") in STATE_DEPENDENT_400:
        return None
    if problem.get("type") == "/errors/validation_failed" and (
        only_clock_dependent(problem) or only_integer_spelling(problem, case.body)
    ):
        return None
    raise AssertionError(
        f"Schema-valid input was rejected: 400 {problem.get('type')}: {response.text}"
    )


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """Generated date-times span years 0001 to 9999, so a schema-valid `expiresAt` almost never
    falls in the window the server accepts. Every other positive key creation that carries one
    gets a time inside the window instead (chosen from the generated value, so a run depends on
    its seed alone), so that keys with an expiry are created, listed and rolled too; the others
    keep theirs, and must be refused for the clock only."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if (case.method.upper(), case.path) != CREATE_KEY or not isinstance(case.body, dict):
        return
    generated = case.body.get("expiresAt")
    if not isinstance(generated, str):
        return
    draw = zlib.crc32(generated.encode())
    if draw % 2:
        return
    # At least 5 minutes ahead (clock differences, a slow run), at most the 10 years.
    ahead = datetime.timedelta(minutes=5) + (TEN_YEARS - datetime.timedelta(days=1)) * (
        (draw >> 1) / 2**31
    )
    expires = datetime.datetime.now(datetime.timezone.utc) + ahead
    case.body["expiresAt"] = expires.replace(microsecond=0).isoformat()
