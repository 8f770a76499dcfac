"""The guide's flow, through the Python client that openapi-python-client generated from
docs/openapi.yaml, against the local gateway (scripts/clients runs it):
create an application, the same name again (409), create a key, pay with it, list with keys,
get the application, roll the key with a grace window (both keys pay), roll it again (400),
create a key with an Idempotency-Key twice (the retry gets the same key, marked replayed),
create a key restricted to reading charges (it reads charges, is refused on refunds, is widened
by PATCH and then reads refunds), disable (the keys are refused), revoke (204), revoke again (400), then list the application's
audit events, page by page: one per change, newest first.

Environment: CLIENT_PATH (where the generated package is), CLIENT_BASE (the gateway's URL),
CLIENT_JWT (a merchant token), CLIENT_MERCHANT (its merchant).
"""

import os
import sys
import uuid

sys.path.insert(0, os.environ["CLIENT_PATH"])

from appkeys_client import AuthenticatedClient  # noqa: E402
from appkeys_client.api.api_keys import (  # noqa: E402
    create_api_key,
    revoke_api_key,
    roll_api_key,
    update_api_key,
)
from appkeys_client.api.applications import (  # noqa: E402
    create_application,
    get_application,
    list_applications,
    set_application_status,
)
from appkeys_client.api.events import list_events  # noqa: E402
from appkeys_client.api.payments import payments_get  # noqa: E402
from appkeys_client.models import (  # noqa: E402
    ApiKeySummary,
    ApplicationFields,
    ApplicationPage,
    ApplicationWithKeys,
    CreatedApiKeyFields,
    EventPage,
    EventType,
    GatewayMessage,
    KeyChange,
    ListApplicationsInclude,
    NewApiKey,
    NewApplication,
    PaymentsEcho,
    Permission,
    Problem,
    RolledApiKey,
    RollRequest,
    StatusChange,
)


def step(name, response, status, parsed_type):
    """Checks one call's status and parsed type, prints it, and returns the parsed body."""
    if response.status_code != status or not isinstance(response.parsed, parsed_type):
        sys.exit(
            f"FAIL {name}: expected {status} {parsed_type.__name__}, got "
            f"{response.status_code} {type(response.parsed).__name__}: {response.content!r}"
        )
    print(f"ok   {name}: {status} {parsed_type.__name__}")
    return response.parsed


def problem(name, response, status, code):
    parsed = step(name, response, status, Problem)
    if parsed.type_ != f"/errors/{code}":
        sys.exit(f"FAIL {name}: expected /errors/{code}, got {parsed.type_}")
    return parsed


def main():
    base = os.environ["CLIENT_BASE"]
    merchant = AuthenticatedClient(base_url=base, token=os.environ["CLIENT_JWT"])
    name = f"Production Web Store {uuid.uuid4().hex[:8]}"

    app = step(
        "create application",
        create_application.sync_detailed(
            client=merchant,
            body=NewApplication(name=name, description="Primary e-commerce backend"),
        ),
        201,
        ApplicationFields,
    )
    problem(
        "same name again",
        create_application.sync_detailed(client=merchant, body=NewApplication(name=name.upper())),
        409,
        "name_taken",
    )
    key = step(
        "create key",
        create_api_key.sync_detailed(
            app.id, client=merchant, body=NewApiKey(description="Primary checkout key")
        ),
        201,
        CreatedApiKeyFields,
    )

    payer = AuthenticatedClient(base_url=base, token=key.full_key)
    paid = step("pay with the key", payments_get.sync_detailed("ping", client=payer), 200, PaymentsEcho)
    if (paid.authorizer.application_id, paid.authorizer.key_id) != (app.id, key.id):
        sys.exit(f"FAIL pay with the key: the authorizer named {paid.authorizer}")

    page = step(
        "list with keys",
        list_applications.sync_detailed(
            client=merchant, include=ListApplicationsInclude.APIKEYS, page=1, limit=10
        ),
        200,
        ApplicationPage,
    )
    listed = next((item for item in page.items if item.id == app.id), None)
    if listed is None or [(k.id, str(k.status)) for k in listed.api_keys] != [(key.id, "active")]:
        sys.exit(f"FAIL list with keys: {listed}")

    one = step(
        "get the application",
        get_application.sync_detailed(app.id, client=merchant),
        200,
        ApplicationWithKeys,
    )
    if [(k.id, k.expires_at, k.revoked_at) for k in one.api_keys] != [(key.id, None, None)]:
        sys.exit(f"FAIL get the application: {one}")

    rolled = step(
        "roll the key, the old one working for an hour",
        roll_api_key.sync_detailed(
            app.id, key.id, client=merchant, body=RollRequest(expires_in_seconds=3600)
        ),
        201,
        RolledApiKey,
    )
    if rolled.rolled_key.id != key.id or rolled.id == key.id or rolled.full_key == key.full_key:
        sys.exit(f"FAIL roll: {rolled}")
    new_payer = AuthenticatedClient(base_url=base, token=rolled.full_key)
    step("pay with the new key", payments_get.sync_detailed("ping", client=new_payer), 200, PaymentsEcho)
    step("pay with the old key in its grace window", payments_get.sync_detailed("ping", client=payer), 200, PaymentsEcho)
    problem(
        "roll the old key again",
        roll_api_key.sync_detailed(
            app.id, key.id, client=merchant, body=RollRequest(expires_in_seconds=0)
        ),
        400,
        "key_already_rolled",
    )
    one = step(
        "get the application after the roll",
        get_application.sync_detailed(app.id, client=merchant),
        200,
        ApplicationWithKeys,
    )
    keys = [(k.id, str(k.status), k.expires_at) for k in one.api_keys]
    if keys != [(rolled.id, "active", None), (key.id, "active", rolled.rolled_key.expires_at)]:
        sys.exit(f"FAIL get the application after the roll: {keys}")

    # A creation whose response is lost is retried with the same Idempotency-Key: the retry gets
    # the same key, not a second one.
    retry_key = str(uuid.uuid4())
    create_once = lambda: create_api_key.sync_detailed(  # noqa: E731
        app.id,
        client=merchant,
        body=NewApiKey(description="Created once, retried"),
        idempotency_key=retry_key,
    )
    first = create_once()
    created_once = step("create a key with an Idempotency-Key", first, 201, CreatedApiKeyFields)
    retried = create_once()
    again = step("the same request again (a retry)", retried, 201, CreatedApiKeyFields)
    if (again.id, again.full_key) != (created_once.id, created_once.full_key):
        sys.exit(f"FAIL retry: another key {again.id} than {created_once.id}")
    if (first.headers.get("idempotent-replayed"), retried.headers.get("idempotent-replayed")) != (None, "true"):
        sys.exit(f"FAIL retry: Idempotent-Replayed {first.headers} / {retried.headers}")

    # A key that may only read charges: refused on refunds until a PATCH widens it.
    reader = step(
        "create a key restricted to reading charges",
        create_api_key.sync_detailed(
            app.id,
            client=merchant,
            body=NewApiKey(description="Nightly reporting", permissions=[Permission.CHARGESREAD]),
        ),
        201,
        CreatedApiKeyFields,
    )
    if reader.permissions != ["charges:read"]:
        sys.exit(f"FAIL restricted key: {reader.permissions}")
    reading = AuthenticatedClient(base_url=base, token=reader.full_key)
    read = step("read charges with it", payments_get.sync_detailed("charges", client=reading), 200, PaymentsEcho)
    if read.authorizer.permissions != "charges:read":
        sys.exit(f"FAIL read charges: the backend was told {read.authorizer.permissions}")
    step("read refunds with it", payments_get.sync_detailed("refunds", client=reading), 403, GatewayMessage)
    widened = step(
        "widen it to refunds",
        update_api_key.sync_detailed(
            app.id,
            reader.id,
            client=merchant,
            body=KeyChange(permissions=[Permission.REFUNDSREAD, Permission.CHARGESREAD]),
        ),
        200,
        ApiKeySummary,
    )
    if widened.permissions != ["charges:read", "refunds:read"]:
        sys.exit(f"FAIL widen: {widened.permissions}")
    step("read refunds after the change", payments_get.sync_detailed("refunds", client=reading), 200, PaymentsEcho)

    disabled = step(
        "disable",
        set_application_status.sync_detailed(
            app.id, client=merchant, body=StatusChange(is_enabled=False)
        ),
        200,
        ApplicationFields,
    )
    if disabled.is_enabled:
        sys.exit("FAIL disable: still enabled")
    step("pay while disabled", payments_get.sync_detailed("ping", client=payer), 403, GatewayMessage)
    step("pay with the new key while disabled", payments_get.sync_detailed("ping", client=new_payer), 403, GatewayMessage)

    revoked = revoke_api_key.sync_detailed(app.id, key.id, client=merchant)
    if revoked.status_code != 204:
        sys.exit(f"FAIL revoke: {revoked.status_code} {revoked.content!r}")
    print("ok   revoke: 204")
    problem(
        "revoke again",
        revoke_api_key.sync_detailed(app.id, key.id, client=merchant),
        400,
        "key_already_revoked",
    )

    # The audit trail, two events a page: every change above once, newest first.
    events, after = [], None
    while True:
        page = step(
            "list the events",
            list_events.sync_detailed(
                app.id, client=merchant, limit=2, **({"starting_after": after} if after else {})
            ),
            200,
            EventPage,
        )
        events.extend(page.items)
        if not page.has_more:
            break
        after = page.items[-1].id
    kinds = [(str(e.type_), e.key_id) for e in events]
    expected = [
        (str(EventType.API_KEY_REVOKED), key.id),
        (str(EventType.APPLICATION_DISABLED), None),
        (str(EventType.API_KEY_UPDATED), reader.id),
        (str(EventType.API_KEY_CREATED), reader.id),
        (str(EventType.API_KEY_CREATED), created_once.id),
        (str(EventType.API_KEY_ROLLED), key.id),
        (str(EventType.API_KEY_CREATED), key.id),
        (str(EventType.APPLICATION_CREATED), None),
    ]
    if kinds != expected:
        sys.exit(f"FAIL list the events: {kinds}")
    if events[5].new_key.id != rolled.id:
        sys.exit(f"FAIL list the events: the roll's new key is {events[5].new_key}")
    if {e.actor.merchant_id for e in events} != {os.environ["CLIENT_MERCHANT"]}:
        sys.exit(f"FAIL list the events: actors {[e.actor for e in events]}")
    print("the guide's flow passed through the generated client")


if __name__ == "__main__":
    main()
