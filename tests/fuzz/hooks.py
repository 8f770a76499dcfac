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
    if problem.get("type") == "/errors/validation_failed" and only_clock_dependent(problem):
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


# Idempotency-Key: what each key was used for, to judge the answers that depend on it. The server
# scopes a key to the merchant (one here) and the route, and compares requests by route, path ids
# and parsed JSON body; a replay repeats the first kept response. A generated key may well be
# reused (short keys come up often) with another request: then 422 `idempotency_key_reused` is
# the right answer, not a failure.
KEYS_USED = {}  # (method, path template, key) -> {fingerprint: first 2xx (status, body) or None}


def idempotency_key(case):
    """The key as the server reads it (white space around it dropped, one pair of quotes
    removed), or None when the request has none or one the server refuses."""
    raw = (case.headers or {}).get("Idempotency-Key")
    if not isinstance(raw, str):
        return None
    key = raw.strip(" \t")
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not 1 <= len(key) <= 255 or any(not " " <= c <= "~" for c in key):
        return None
    return key


def answer(response):
    """Status and parsed body (a replay is the same JSON, not necessarily the same text)."""
    try:
        return response.status_code, json.loads(response.text)
    except ValueError:
        return response.status_code, response.text


def fingerprint(case):
    body = case.body
    if not (body is None or isinstance(body, (dict, list, str, int, float, bool))):
        body = repr(body)
    return (
        tuple(sorted((str(k), str(v)) for k, v in (case.path_parameters or {}).items())),
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    )


@schemathesis.check
def idempotency_keys_are_honoured(ctx, response, case):
    """A 422 `idempotency_key_reused` comes only after the key was used on the route for another
    request; `Idempotent-Replayed: true` only after the same request with the key, and with the
    same status and body as its first 2xx; a 2xx after one with the same key and request is a
    replay, never a second run."""
    key = idempotency_key(case)
    if key is None or case.method.upper() != "POST":
        return None
    used = KEYS_USED.setdefault((case.method.upper(), case.path, key), {})
    mine = fingerprint(case)
    replayed = (response.headers.get("idempotent-replayed") or [None])[0] == "true"
    try:
        problem = json.loads(response.text) if response.status_code == 422 else {}
    except ValueError:
        problem = {}
    try:
        if problem.get("type") == "/errors/idempotency_key_reused":
            if not any(other != mine for other in used):
                raise AssertionError(
                    f"422 idempotency_key_reused for key {key!r}, never used on {case.path} for another request"
                )
        elif replayed:
            if mine not in used:
                raise AssertionError(f"Idempotent-Replayed for key {key!r}, never used for this request")
            first = used[mine]
            if first is not None and first != answer(response):
                raise AssertionError(
                    f"the replay of key {key!r} differs from the first answer {first}: "
                    f"{response.status_code} {response.text}"
                )
        elif 200 <= response.status_code < 300 and used.get(mine) is not None:
            raise AssertionError(f"key {key!r} with the same request ran twice: {response.text}")
    finally:
        if 200 <= response.status_code < 300 and not replayed and used.get(mine) is None:
            used[mine] = answer(response)
        else:
            used.setdefault(mine, None)
    return None
