// Drives RingCentral's official JavaScript SDK (npm `@ringcentral/sdk`) against a server URL.
//
// Usage: RC_SDK_NODE_DIR=<dir with node_modules> node js_sdk_check.mjs
//          SERVER CLIENT_ID CLIENT_SECRET JWT WEBHOOK_ADDRESS [flow|expiry|rate_limit] [EXTENSIONS_PER_PAGE] [CONTACTS_PER_PAGE]
//
// The SDK is installed outside the source tree (under the cargo target dir), so it is loaded
// with a require rooted there. It is used the documented way (new SDK({server, clientId,
// clientSecret}).platform(), login({jwt}), get/post, refresh(), logout()); when the server
// answers something the SDK does not accept, the SDK's own error is what gets reported.
//
// Prints exactly one JSON line: what it saw, the steps that passed (`steps`), and on failure
// `failed_step` and `error`. Exit status 0 only when every step passed.

import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.RC_SDK_NODE_DIR || process.cwd(), 'package.json'));
const {SDK} = require('@ringcentral/sdk');
const sdkVersion = require('@ringcentral/sdk/package.json').version;

const EXTENSIONS = '/restapi/v1.0/account/~/extension';
const CONTACTS = '/restapi/v1.0/account/~/extension/~/address-book/contact';
const SUBSCRIPTIONS = '/restapi/v1.0/subscription';
const TOKEN_FIELDS = ['access_token', 'token_type', 'expires_in', 'refresh_token', 'refresh_token_expires_in',
    'scope', 'owner_id', 'endpoint_id', 'session_id'];

const [server, clientId, clientSecret, jwt, webhook, scenario = 'flow', extPerPage = '10', contactsPerPage = '30'] =
    process.argv.slice(2);
const report = {sdk: `@ringcentral/sdk ${sdkVersion}`, steps: []};
let current = null;

// Parses a response the way a careful caller would: only when RingCentral says it is JSON.
async function json(sdk, res) {
    if (!sdk.client().isJson(res)) {
        throw new Error(`${res.url}: Content-Type is ${res.headers.get('content-type')}, not application/json`);
    }
    return res.json();
}

async function pageThrough(sdk, platform, url, perPage, key) {
    const records = [];
    const pages = [];
    let body;
    for (let page = 1; ; page++) {
        if (page > 1000) throw new Error(`${url}: navigation.nextPage never ends`);
        body = await json(sdk, await platform.get(url, {page, perPage}));
        records.push(...body.records);
        const hasNext = Boolean(body.navigation && body.navigation.nextPage);
        pages.push({page: body.paging.page, records: body.records.length,
            next: hasNext ? body.navigation.nextPage.uri : null});
        if (!hasNext) break;
    }
    report[key] = {count: records.length, pages, ids: records.map(r => r.id),
        total_elements: body.paging.totalElements};
}

// GETs the first page, then each absolute `navigation.nextPage.uri` as given (the SDK sends
// absolute URLs unchanged); returns the record ids.
async function followNavigation(sdk, platform, url, perPage) {
    let body = await json(sdk, await platform.get(url, {perPage}));
    const ids = body.records.map(r => r.id);
    while (body.navigation && body.navigation.nextPage) {
        body = await json(sdk, await platform.get(body.navigation.nextPage.uri));
        ids.push(...body.records.map(r => r.id));
        if (ids.length > 100000) throw new Error(`${url}: navigation.nextPage never ends`);
    }
    return ids;
}

// platform.login({jwt}): the token response must be JSON with RingCentral's fields.
async function login(sdk, platform) {
    current = 'login';
    const body = await json(sdk, await platform.login({jwt}));
    report.token_fields = TOKEN_FIELDS.filter(f => f in body);
    report.token_type = body.token_type;
    report.logged_in = await platform.loggedIn();
    report.steps.push(current);
}

// platform.logout() revokes the session; the revoked token must then get 401.
async function logout(sdk, platform) {
    current = 'logout';
    const revoked = (await platform.auth().data()).access_token;
    await platform.logout();
    report.logged_in_after_logout = Boolean((await platform.auth().data()).access_token);
    // Checked outside the SDK, which has already forgotten the token.
    const after = await fetch(server + EXTENSIONS, {headers: {Authorization: `Bearer ${revoked}`}});
    report.revoked_token_status = after.status;
    report.steps.push(current);
}

// The everyday path: login, paging, a webhook subscription, refresh, logout.
async function flow(sdk, platform) {
    await login(sdk, platform);
    const firstToken = (await platform.auth().data()).access_token;

    current = 'extensions';
    await pageThrough(sdk, platform, EXTENSIONS, Number(extPerPage), 'extensions');
    report.steps.push(current);

    current = 'contacts';
    await pageThrough(sdk, platform, CONTACTS, Number(contactsPerPage), 'contacts');
    report.steps.push(current);

    current = 'contacts_by_navigation';
    report.contacts_by_navigation = await followNavigation(sdk, platform, CONTACTS, Number(contactsPerPage));
    report.steps.push(current);

    current = 'error_probe';
    // A bad perPage must come back as RingCentral's error body on the SDK's error.
    try {
        await platform.get(EXTENSIONS, {perPage: 'lots'});
        report.error_probe = {status: 200};
    } catch (e) {
        const probe = {status: e.response ? e.response.status : null};
        if (e.response && sdk.client().isJson(e.response)) {
            const body = await e.response.json();
            probe.errorCode = body.errorCode;
            probe.errors0 = ((body.errors || [])[0] || {}).errorCode;
        }
        report.error_probe = probe;
    }
    report.steps.push(current);

    current = 'create_subscription';
    const created = await json(sdk, await platform.post(SUBSCRIPTIONS, {
        eventFilters: ['/restapi/v1.0/account/~/extension'],
        deliveryMode: {transportType: 'WebHook', address: webhook, verificationToken: 'sdk-check-verification'},
        expiresIn: 3600,
    }));
    report.subscription = {id: created.id, status: created.status,
        transportType: created.deliveryMode.transportType, eventFilters: created.eventFilters};
    report.steps.push(current);

    current = 'get_subscription';
    const fetched = await json(sdk, await platform.get(`${SUBSCRIPTIONS}/${created.id}`));
    report.subscription_get = {id: fetched.id, status: fetched.status};
    report.steps.push(current);

    current = 'renew_subscription';
    // An empty POST: the SDK still sends Content-Type: application/json.
    const renewed = await json(sdk, await platform.post(`${SUBSCRIPTIONS}/${created.id}/renew`));
    report.subscription_renew = {id: renewed.id, status: renewed.status};
    report.steps.push(current);

    current = 'delete_subscription';
    const deleted = await platform.delete(`${SUBSCRIPTIONS}/${created.id}`);
    report.subscription_delete_status = deleted.status;
    try {
        await platform.get(`${SUBSCRIPTIONS}/${created.id}`);
        report.subscription_after_delete = {status: 200};
    } catch (e) {
        report.subscription_after_delete = {status: e.response ? e.response.status : null};
    }
    report.steps.push(current);

    current = 'refresh';
    const refreshed = await json(sdk, await platform.refresh());
    report.refresh_token_fields = TOKEN_FIELDS.filter(f => f in refreshed);
    report.token_changed = (await platform.auth().data()).access_token !== firstToken;
    report.steps.push(current);

    current = 'call_after_refresh';
    const again = await json(sdk, await platform.get(EXTENSIONS, {perPage: 1}));
    report.after_refresh_records = again.records.length;
    report.steps.push(current);

    await logout(sdk, platform);
}

// The server ends the access token early (RingCentral does on session limits, password
// changes...). The JS SDK answers a 401 by refreshing and retrying the call once, so the call
// succeeds; the 401 itself is seen through the client's requestError event.
async function expiry(sdk, platform) {
    await login(sdk, platform);

    current = 'server_expiry';
    const failures = [];
    report.request_errors = failures; // in the report even when the step fails
    let refreshes = 0;
    sdk.client().on(sdk.client().events.requestError, e => failures.push({
        status: e.response ? e.response.status : null, message: e.message}));
    platform.on(platform.events.refreshSuccess, () => refreshes++);
    const expire = await fetch(server + '/sandbox/oauth/expire', {method: 'POST'});
    if (!expire.ok) throw new Error(`POST /sandbox/oauth/expire: ${expire.status}`);
    const afterExpiry = await json(sdk, await platform.get(EXTENSIONS, {perPage: 1}));
    report.expired_call = failures[0] || {status: 200};
    report.auto_refreshes = refreshes;
    report.after_expiry_records = afterExpiry.records.length;
    report.steps.push(current);

    await logout(sdk, platform);
}

// Personal contacts are in the Heavy group (10 calls a window): the 11th call gets 429. With
// handleRateLimit the JS SDK emits rateLimitError, waits Retry-After seconds and retries once.
async function rateLimit(sdk, platform) {
    await login(sdk, platform);

    current = 'rate_limit';
    const events = [];
    report.rate_limit_events = events; // in the report even when the step fails
    platform.on(platform.events.rateLimitError, e => events.push({
        status: e.response ? e.response.status : null, retry_after_ms: e.retryAfter, message: e.message}));
    report.successful_calls = 0;
    for (let i = 0; i < 11; i++) {
        await json(sdk, await platform.get(CONTACTS, {perPage: 1}));
        report.successful_calls++;
    }
    report.steps.push(current);

    await logout(sdk, platform);
}

const scenarios = {flow, expiry, rate_limit: rateLimit};
try {
    if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}; use flow, expiry or rate_limit`);
    const sdk = new SDK({server, clientId, clientSecret, appName: 'snapsync-sdk-check', appVersion: '1.0.0',
        handleRateLimit: scenario === 'rate_limit'});
    await scenarios[scenario](sdk, sdk.platform());
    console.log(JSON.stringify(report));
} catch (e) {
    report.failed_step = current;
    if (e.response) report.error_status = e.response.status;
    // The SDK's message may quote request headers; keep bearer tokens out of test logs.
    report.error = `${e.name}: ${e.message}`.replace(/(bearer )[\w.-]+/gi, '$1<redacted>');
    console.log(JSON.stringify(report));
    process.exitCode = 1;
}
