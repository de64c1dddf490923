"""Drives RingCentral's official Python SDK (PyPI `ringcentral`) against a server URL.

Usage: python_sdk_check.py SERVER CLIENT_ID CLIENT_SECRET JWT WEBHOOK_ADDRESS
                           [--extensions-per-page N] [--contacts-per-page N] [--scenario flow|expiry|rate_limit]

It uses the SDK the documented way (SDK(...).platform(), login(jwt=...), get/post,
refresh(), logout()) and never works around it: when the server answers something the
SDK does not accept, the SDK's own error is what gets reported.

Prints exactly one JSON line on stdout: everything it saw, the steps that passed
(`steps`), and on failure `failed_step` and `error` (the SDK's message). Exit status 0
only when every step passed.
"""

import argparse
import json
import re
import sys

import requests
from ringcentral import SDK

EXTENSIONS = "/restapi/v1.0/account/~/extension"
CONTACTS = "/restapi/v1.0/account/~/extension/~/address-book/contact"
SUBSCRIPTIONS = "/restapi/v1.0/subscription"
TOKEN_FIELDS = ["access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in",
                "scope", "owner_id", "endpoint_id", "session_id"]


class Step:
    """Names the step in progress so a failure says which SDK call broke."""

    def __init__(self, report):
        self.report = report

    def __call__(self, name):
        self.report["current"] = name
        return self

    def done(self):
        self.report["steps"].append(self.report.pop("current"))


def page_through(platform, path, per_page, report_key, report):
    """GETs `path` page by page with page/perPage until navigation.nextPage is absent."""
    records, pages, page = [], [], 1
    while True:
        # json_dict() is the SDK's own parse: it raises unless Content-Type is application/json.
        body = platform.get(path, {"page": page, "perPage": per_page}).json_dict()
        records.extend(body["records"])
        pages.append({"page": body["paging"]["page"], "records": len(body["records"]),
                      "next": body.get("navigation", {}).get("nextPage", {}).get("uri")})
        if "nextPage" not in body.get("navigation", {}):
            break
        page += 1
        if page > 1000:
            raise Exception("%s: navigation.nextPage never ends" % path)
    report[report_key] = {"count": len(records), "pages": pages,
                          "ids": [r["id"] for r in records],
                          "total_elements": body["paging"].get("totalElements")}
    return records


def follow_navigation(platform, path, per_page):
    """GETs the first page, then each absolute `navigation.nextPage.uri` as given (the SDK
    sends absolute URLs unchanged); returns the record ids."""
    body = platform.get(path, {"perPage": per_page}).json_dict()
    ids = [r["id"] for r in body["records"]]
    while "nextPage" in body.get("navigation", {}):
        body = platform.get(body["navigation"]["nextPage"]["uri"]).json_dict()
        ids.extend(r["id"] for r in body["records"])
        if len(ids) > 100000:
            raise Exception("%s: navigation.nextPage never ends" % path)
    return ids


def failed_call(call):
    """Makes a call expected to fail; returns its HTTP status and RingCentral errorCode as the
    SDK's ApiException carries them ({"status": 200} if it did not fail)."""
    try:
        call()
        return {"status": 200}
    except Exception as e:  # the SDK raises ApiException carrying the response
        resp = e.api_response().response() if hasattr(e, "api_response") else None
        if resp is None:
            raise
        probe = {"status": resp.status_code, "retry_after": resp.headers.get("Retry-After"),
                 "rate_limit_group": resp.headers.get("X-Rate-Limit-Group")}
        if "application/json" in resp.headers.get("Content-Type", ""):
            body = resp.json()
            probe["errorCode"] = body.get("errorCode")
            probe["errors0"] = (body.get("errors") or [{}])[0].get("errorCode")
        return probe


def login(platform, args, report, step):
    """platform.login(jwt=...): the token response must be JSON with RingCentral's fields."""
    step("login")
    body = platform.login(jwt=args.jwt).json_dict()
    report["token_fields"] = [f for f in TOKEN_FIELDS if f in body]
    report["token_type"] = body.get("token_type")
    report["logged_in"] = platform.logged_in()
    step.done()


def logout(platform, args, report, step):
    """platform.logout() revokes the session; the revoked token must then get 401."""
    step("logout")
    revoked_token = platform.auth().access_token()
    platform.logout()
    report["logged_in_after_logout"] = bool(platform.auth().access_token())
    # The revoked token must no longer open the API (checked outside the SDK, which has
    # already forgotten it).
    after = requests.get(args.server + EXTENSIONS, headers={"Authorization": "Bearer " + revoked_token},
                         timeout=10)
    report["revoked_token_status"] = after.status_code
    step.done()


def flow(platform, args, report, step):
    """The everyday path: login, paging, a webhook subscription, refresh, logout."""
    login(platform, args, report, step)
    first_token = platform.auth().access_token()

    step("extensions")
    page_through(platform, EXTENSIONS, args.extensions_per_page, "extensions", report)
    step.done()

    step("contacts")
    page_through(platform, CONTACTS, args.contacts_per_page, "contacts", report)
    step.done()

    step("contacts_by_navigation")
    report["contacts_by_navigation"] = follow_navigation(platform, CONTACTS, args.contacts_per_page)
    step.done()

    step("error_probe")
    # A bad perPage must come back as RingCentral's error body inside the SDK's ApiException.
    report["error_probe"] = failed_call(lambda: platform.get(EXTENSIONS, {"perPage": "lots"}))
    step.done()

    step("create_subscription")
    created = platform.post(SUBSCRIPTIONS, {
        "eventFilters": ["/restapi/v1.0/account/~/extension"],
        "deliveryMode": {"transportType": "WebHook", "address": args.webhook,
                         "verificationToken": "sdk-check-verification"},
        "expiresIn": 3600,
    }).json_dict()
    report["subscription"] = {"id": created["id"], "status": created["status"],
                              "transportType": created["deliveryMode"]["transportType"],
                              "eventFilters": created["eventFilters"]}
    step.done()

    step("get_subscription")
    fetched = platform.get(SUBSCRIPTIONS + "/" + created["id"]).json_dict()
    report["subscription_get"] = {"id": fetched["id"], "status": fetched["status"]}
    step.done()

    step("renew_subscription")
    # An empty POST: the SDK still sends Content-Type: application/json.
    renewed = platform.post(SUBSCRIPTIONS + "/" + created["id"] + "/renew").json_dict()
    report["subscription_renew"] = {"id": renewed["id"], "status": renewed["status"]}
    step.done()

    step("delete_subscription")
    deleted = platform.delete(SUBSCRIPTIONS + "/" + created["id"])
    report["subscription_delete_status"] = deleted.response().status_code
    report["subscription_after_delete"] = failed_call(lambda: platform.get(SUBSCRIPTIONS + "/" + created["id"]))
    step.done()

    step("refresh")
    refreshed = platform.refresh().json_dict()
    report["refresh_token_fields"] = [f for f in TOKEN_FIELDS if f in refreshed]
    report["token_changed"] = platform.auth().access_token() != first_token
    step.done()

    step("call_after_refresh")
    again = platform.get(EXTENSIONS, {"perPage": 1}).json_dict()
    report["after_refresh_records"] = len(again["records"])
    step.done()

    logout(platform, args, report, step)


def expiry(platform, args, report, step):
    """The server ends the access token early (RingCentral does on session limits, password
    changes...). The Python SDK does not retry on 401: the caller gets RingCentral's error
    in an ApiException and recovers with an explicit refresh()."""
    login(platform, args, report, step)
    step("server_expiry")
    requests.post(args.server + "/sandbox/oauth/expire", timeout=10).raise_for_status()
    report["expired_call"] = failed_call(lambda: platform.get(EXTENSIONS, {"perPage": 1}))
    step.done()
    step("refresh_after_401")
    platform.refresh()
    report["after_expiry_records"] = len(platform.get(EXTENSIONS, {"perPage": 1}).json_dict()["records"])
    step.done()
    logout(platform, args, report, step)


def rate_limit(platform, args, report, step):
    """Personal contacts are in the Heavy group (10 calls a window): the 11th call gets 429
    CMN-301 with Retry-After. The Python SDK has no rate-limit handling: it raises."""
    login(platform, args, report, step)
    step("rate_limit")
    report["statuses"] = []
    for _ in range(11):
        probe = failed_call(lambda: platform.get(CONTACTS, {"perPage": 1}))
        report["statuses"].append(probe["status"])
        if probe["status"] != 200:
            report["limited_call"] = probe
            break
    step.done()
    logout(platform, args, report, step)


SCENARIOS = {"flow": flow, "expiry": expiry, "rate_limit": rate_limit}


def main():
    parser = argparse.ArgumentParser()
    for name in ["server", "client_id", "client_secret", "jwt", "webhook"]:
        parser.add_argument(name)
    parser.add_argument("--extensions-per-page", type=int, default=10)
    parser.add_argument("--contacts-per-page", type=int, default=30)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="flow")
    args = parser.parse_args()

    import importlib.metadata
    report = {"sdk": "ringcentral " + importlib.metadata.version("ringcentral"), "steps": []}
    ok = True
    try:
        sdk = SDK(args.client_id, args.client_secret, args.server)
        SCENARIOS[args.scenario](sdk.platform(), args, report, Step(report))
    except Exception as e:
        ok = False
        report["failed_step"] = report.pop("current", None)
        # The SDK's message quotes the request headers; keep bearer tokens out of test logs.
        report["error"] = re.sub(r"(bearer )[\w.-]+", r"\1<redacted>", "%s: %s" % (type(e).__name__, e),
                                 flags=re.IGNORECASE)
    print(json.dumps(report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
