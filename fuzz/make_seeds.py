#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/ (checked in; run again after changing routes or examples).

definition/: the YAML blocks of docs/*.md, the JSON form of every example, and hand-written
definitions that use every trigger, activity type and option. (scripts/fuzz also passes examples/
itself as a seed directory.)

request/: one HTTP/1.1 request per file, preceded by the mode byte fuzz_request reads (odd: auth on,
even: auth off): every route with realistic bodies, each credential kind (JWTs signed with the
harness's secret, its API keys, broken ones), and malformed requests. Crash inputs found and fixed
are added next to these by hand (named crash-*), so the regression run keeps them fixed.
"""
import base64
import hashlib
import hmac
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

# Must match fuzz_request.cpp.
JWT_SECRET = b"fuzz-jwt-secret-0123456789abcdef0123456789"
ADMIN_KEY = "trk_FuzzAdminKey0123456789abcdefghij"
VIEWER_KEY = "trk_FuzzViewerKey0123456789abcdefghi"
NOW = 1767225600  # the harness's fixed clock: 2026-01-01T00:00:00Z


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, header=None, secret=JWT_SECRET):
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(
        json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def token(role, **extra):
    claims = {"sub": "fuzz-" + role, "role": role, "iat": NOW - 60, "exp": 4102444800}
    claims.update(extra)
    return jwt(claims)


HELLO = {
    "id": "hello",
    "name": "Hello",
    "inputs": {"name": {"type": "string", "default": "world"}},
    "activities": [
        {"id": "greet", "type": "WriteLine", "text": "Hello, {{ input.name }}!"},
        {"id": "done", "type": "SetOutput", "name": "greeting", "value": "{{ outputs.greet }}"},
    ],
}

HOOKED_YAML = """\
id: hooked
name: Webhook, event and cron triggers
inputs:
  body: {type: any}
triggers:
  - {type: Webhook, path: orders/new, method: POST}
  - {type: Webhook, path: signed, secret: hook_secret, signature: X-Signature, response: sync, timeout: 1s}
  - {type: Event, event: order.created, correlation: c-1}
  - {type: Cron, schedule: "*/5 * * * *", timezone: Europe/Amsterdam, misfire: catch-up}
activities:
  - {id: log, type: Log, message: "got {{ input.body }}", level: warn}
  - {id: answer, type: HttpResponse, status: 201, headers: {X-Done: "yes"}, body: {ok: true}}
"""

WAITER = {
    "id": "waiter",
    "name": "Waits for a webhook and an event",
    "activities": [
        {"id": "hook", "type": "WaitForWebhook", "path": "approve/{{ instance.id }}", "method": "ANY"},
        {"id": "event", "type": "WaitForEvent", "event": "approved", "correlation": "{{ input.order }}",
         "timeout": "1h"},
        {"id": "out", "type": "SetOutput", "name": "result", "value": "{{ outputs.event }}"},
    ],
}

KITCHEN_SINK = """\
id: kitchen-sink
name: Every activity type
description: >
  Control flow, data, waits, HTTP and child workflows in one definition.
inputs:
  items: {type: array, default: [1, 2, 3]}
  limit: {type: integer, required: false, default: 2, description: how many}
  ratio: {type: number, default: 0.5}
  flag: {type: boolean, default: true}
  meta: {type: object, default: {a: 1}}
  label: {type: string, default: "x"}
variables: {count: 0, seen: [], nested: {deep: {deeper: null}}}
options: {maxExecutionTime: 2h, commit: activity}
activities:
  - {id: start, type: Noop}
  - {id: each, type: ForEach, items: "{{ input.items }}", as: item, parallel: 2}
  - {id: bump, type: SetVariable, name: count, value: "{{ vars.count + 1 }}"}
  - {id: loop, type: While, condition: "vars.count < 10", maxIterations: 20}
  - {id: pick, type: Switch, cases: [{name: small, condition: "vars.count < 3"}, {name: big, condition: "true"}]}
  - {id: calc, type: Script, code: "return { total = #input.items, half = input.ratio / 2 }"}
  - {id: shape, type: Transform, value: {total: "{{ outputs.calc.total }}", list: ["{{ input.label }}", 2]}}
  - {id: fetch, type: HttpRequest, method: POST, url: "https://example.com/api?q={{ input.label }}",
     headers: {Authorization: "Bearer {{ secrets.token }}"}, query: {page: 1}, body: {x: 1}, timeout: 5s,
     retry: {maxAttempts: 3, backoff: exponential, initial: 100ms, max: 10s, jitter: 0.1}}
  - {id: child, type: RunWorkflow, workflow: hello, version: 1, input: {name: child}, wait: true}
  - {id: nap, type: Delay, duration: PT1M}
  - {id: until, type: WaitUntil, at: "2026-12-24T18:00:00Z"}
  - {id: tell, type: PublishEvent, event: done, correlation: "{{ instance.id }}", payload: {n: 1}}
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: join, type: Join, mode: any}
  - {id: stop, type: Fail, message: "boom {{ vars.count }}"}
  - {id: end, type: Finish, output: {ok: true}}
connections:
  - {from: start, to: each}
  - {from: each, outcome: Iterate, to: bump}
  - {from: each, to: loop}
  - {from: loop, outcome: Iterate, to: pick}
  - {from: loop, to: calc}
  - {from: pick, outcome: small, to: shape}
  - {from: pick, outcome: big, to: shape}
  - {from: calc, to: fetch}
  - {from: fetch, to: child}
  - {from: fetch, outcome: Failed, to: stop}
  - {from: child, to: fork}
  - {from: fork, outcome: a, to: nap}
  - {from: fork, outcome: b, to: until}
  - {from: nap, to: join}
  - {from: until, to: join}
  - {from: join, to: tell}
  - {from: tell, to: end}
"""

TRICKY_YAML = {
    "anchors.yaml": "id: &id anchored\nname: *id\nactivities:\n  - &a {id: one, type: Noop}\n  - *a\n",
    "json-in-yaml.yaml": '{"id": "j", "activities": [{"id": "a", "type": "WriteLine", "text": 1e999}]}\n',
    "scalars.yaml": "id: 0x1F\nname: ~\nversion: 1.5\nactivities: []\nvariables: {a: yes, b: NO, c: .5, d: -0, e: +12}\n",
    "tags.yaml": "id: !!str 123\nname: !custom x\nactivities:\n  - {id: a, type: SetOutput, name: !!binary aGk=, value: !!float 1}\n",
    "duplicate-key.yaml": "id: a\nid: b\nactivities: []\n",
    "multi-doc.yaml": "id: a\nactivities: []\n---\nid: b\n",
    "deep.yaml": "id: deep\nvariables: " + "[" * 60 + "]" * 60 + "\nactivities: []\n",
    "unicode.yaml": "id: \"caf\\u00e9\"\nname: \"\\U0001F600 \\x00\"\nactivities: [{id: \"\\u00e9\", type: Noop}]\n",
    "bad-duration.yaml": "id: t\noptions: {maxExecutionTime: 10 years}\nactivities: [{id: d, type: Delay, duration: -1s, timeout: 0s}]\n",
    "cycle.yaml": "id: cyc\nactivities: [{id: a, type: Noop}, {id: b, type: Noop}]\nconnections: [{from: a, to: b}, {from: b, to: a}]\n",
    "bad-template.yaml": "id: t\nactivities: [{id: w, type: WriteLine, text: \"{{ input. }} {{\"}, {id: i, type: If, condition: \"1 +\"}]\n",
    "cron-bad.yaml": "id: c\ntriggers: [{type: Cron, schedule: \"61 * * * *\", timezone: Mars/Olympus}]\nactivities: [{id: n, type: Noop}]\n",
}


def write(directory: pathlib.Path, name: str, data: bytes):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def definition_seeds():
    out = CORPUS / "definition"
    for doc in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S)
        for i, block in enumerate(blocks):
            write(out, f"docs-{doc.stem}-{i}.yaml", block.encode())
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        data = yaml.safe_load(example.read_text())
        write(out, f"example-{example.stem}.json", json.dumps(data, indent=1).encode())
    write(out, "hello.json", json.dumps(HELLO).encode())
    write(out, "hooked.yaml", HOOKED_YAML.encode())
    write(out, "waiter.json", json.dumps(WAITER).encode())
    write(out, "kitchen-sink.yaml", KITCHEN_SINK.encode())
    write(out, "kitchen-sink.json", json.dumps(yaml.safe_load(KITCHEN_SINK)).encode())
    for name, text in TRICKY_YAML.items():
        write(out, name, text.encode())


def request(method, target, body=b"", headers=None, version="HTTP/1.1"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} {version}", "Host: localhost:8080"]
    has_type = False
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
        has_type = has_type or k.lower() == "content-type"
    if body:
        if not has_type:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request_seeds():
    out = CORPUS / "request"
    admin = {"Authorization": "Bearer " + token("admin")}
    seeds = {}

    def add(name, raw, auth_headers=None, modes=(0, 1)):
        for mode in modes:
            data = raw
            if mode == 1 and auth_headers is not None:
                data = raw.replace(b"\r\n\r\n", b"\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in auth_headers.items()).encode() + b"\r\n", 1)
            seeds[f"{name}-{'auth' if mode else 'open'}"] = bytes([mode]) + data

    # Probes, metrics, OpenAPI (public).
    for path in ["/health/live", "/health/ready", "/health/startup", "/metrics", "/api/openapi.json"]:
        add("get" + path.replace("/", "-"), request("GET", path))
    # Definitions.
    add("workflows-create", request("POST", "/api/workflows", HELLO), admin)
    add("workflows-create-publish", request("POST", "/api/workflows?publish=true", HELLO), admin)
    add("workflows-create-yaml", request("POST", "/api/workflows?publish=true", HOOKED_YAML,
                                         {"Content-Type": "application/yaml"}), admin)
    add("workflows-create-waiter", request("POST", "/api/workflows?publish=true", WAITER), admin)
    add("workflows-create-sink", request("POST", "/api/workflows", KITCHEN_SINK,
                                         {"Content-Type": "text/yaml; charset=utf-8"}), admin)
    add("workflows-create-invalid", request("POST", "/api/workflows", {"id": "x", "activities": [{"type": "Nope"}]}),
        admin)
    add("workflows-validate", request("POST", "/api/workflows/validate", HELLO), admin)
    add("workflows-validate-yaml", request("POST", "/api/workflows/validate", "id: [\n",
                                           {"Content-Type": "application/yaml"}), admin)
    add("workflows-list", request("GET", "/api/workflows?limit=10&search=hel&cursor="), admin)
    add("workflows-get", request("GET", "/api/workflows/hello"), admin)
    add("workflows-versions", request("GET", "/api/workflows/hello/versions"), admin)
    add("workflows-version", request("GET", "/api/workflows/hello/versions/1"), admin)
    add("workflows-version-bad", request("GET", "/api/workflows/hello/versions/-1x"), admin)
    add("workflows-put", request("PUT", "/api/workflows/hello?publish=true", dict(HELLO, name="Hello again")), admin)
    add("workflows-put-mismatch", request("PUT", "/api/workflows/other", HELLO), admin)
    add("workflows-publish", request("POST", "/api/workflows/hello/publish", {"version": 1}), admin)
    add("workflows-publish-latest", request("POST", "/api/workflows/hello/publish"), admin)
    add("workflows-retract", request("POST", "/api/workflows/hello/retract"), admin)
    add("workflows-delete", request("DELETE", "/api/workflows/hello"), admin)
    # Executions.
    add("execute", request("POST", "/api/workflows/hello/execute",
                           {"input": {"name": "fuzz"}, "correlationId": "c-1", "version": 1}), admin)
    add("execute-wait", request("POST", "/api/workflows/hello/execute", {"wait": True, "timeout": "5ms"}), admin)
    add("execute-bad", request("POST", "/api/workflows/hello/execute", {"timeout": -1, "version": 0, "x": 1}), admin)
    add("execute-inline", request("POST", "/api/workflows/execute",
                                  {"workflow": {"activities": [{"id": "a", "type": "SetOutput", "name": "x",
                                                                "value": 1}]}, "input": {}, "timeout": 3}), admin)
    add("execute-inline-nowait", request("POST", "/api/workflows/execute",
                                         {"workflow": HELLO, "wait": False, "correlationId": None}), admin)
    # Instances.
    add("instances-list", request("GET", "/api/instances?status=Running&workflowId=hello&correlationId=c-1"
                                  "&createdAfter=2025-01-01T00:00:00Z&createdBefore=2027-01-01T00:00:00%2B01:00&limit=5"),
        admin)
    add("instances-list-bad", request("GET", "/api/instances?status=Sleeping&limit=0&createdAfter=yesterday"), admin)
    add("instance-get", request("GET", "/api/instances/0190f3a0-0000-7000-8000-000000000000"), admin)
    add("instance-journal", request("GET", "/api/instances/0190f3a0-0000-7000-8000-000000000000/journal?cursor=3"
                                    "&limit=2"), admin)
    add("instance-cancel", request("POST", "/api/instances/0190f3a0-0000-7000-8000-000000000000/cancel",
                                   {"reason": "fuzz"}), admin)
    add("instance-retry", request("POST", "/api/instances/x/retry"), admin)
    add("instance-delete", request("DELETE", "/api/instances/x"), admin)
    add("instances-bulk-cancel", request("POST", "/api/instances/cancel", {"workflowId": "hello", "reason": "r"}),
        admin)
    add("instances-bulk-delete", request("POST", "/api/instances/delete", {"status": "Running"}), admin)
    add("instances-bulk-nofilter", request("POST", "/api/instances/delete", {}), admin)
    # Events and webhooks.
    add("event", request("POST", "/api/events/order.created", {"correlation": "c-1", "payload": {"n": 1}}), admin)
    add("event-approved", request("POST", "/api/events/approved", {"payload": [1, 2]}), admin)
    add("hook", request("POST", "/hooks/orders/new?x=1&y=%20z", {"order": 7},
                        {"X-Request-Id": "req-1", "Cookie": "a=b"}))
    add("hook-signed", request("POST", "/hooks/signed", "raw body",
                               {"Content-Type": "text/plain", "X-Signature": "sha256=00"}))
    add("hook-get", request("GET", "/hooks/approve/anything"))
    add("deliveries", request("GET", "/api/webhooks/deliveries?path=orders/new&limit=3"), admin)
    add("delivery-replay", request("POST", "/api/webhooks/deliveries/0190f3a0-0000-7000-8000-000000000000/replay"),
        admin)
    # Secrets.
    add("secret-put", request("PUT", "/api/secrets/hook_secret", {"value": "s3cret"}), admin)
    add("secret-put-bad", request("PUT", "/api/secrets/" + "n" * 130, {"value": 1}), admin)
    add("secrets-list", request("GET", "/api/secrets"), admin)
    add("secret-delete", request("DELETE", "/api/secrets/hook_secret"), admin)
    # Operations.
    for path in ["/api/activities", "/api/stats", "/api/cluster/nodes"]:
        add("get" + path.replace("/", "-"), request("GET", path), admin)
    # CORS, routing.
    add("preflight", request("OPTIONS", "/api/workflows", headers={
        "Origin": "https://studio.example", "Access-Control-Request-Method": "POST"}))
    add("cors-get", request("GET", "/api/stats", headers={"Origin": "https://studio.example"}), admin)
    add("not-found", request("GET", "/api/nothing/here"), admin)
    add("method-not-allowed", request("PATCH", "/api/workflows"), admin)
    # Credentials (auth mode only).
    creds = {
        "jwt-viewer": {"Authorization": "Bearer " + token("viewer")},
        "jwt-operator": {"Authorization": "bearer " + token("operator")},
        "jwt-editor": {"Authorization": "Bearer " + token("editor", nbf=NOW - 10)},
        "jwt-expired": {"Authorization": "Bearer " + token("admin", exp=NOW - 3600)},
        "jwt-bad-role": {"Authorization": "Bearer " + token("root")},
        "jwt-no-exp": {"Authorization": "Bearer " + jwt({"role": "admin"})},
        "jwt-alg-none": {"Authorization": "Bearer " + b64url(b'{"alg":"none"}') + "." +
                         b64url(json.dumps({"role": "admin", "exp": 4102444800}).encode()) + "."},
        "jwt-wrong-secret": {"Authorization": "Bearer " + jwt({"role": "admin", "exp": 4102444800},
                                                              secret=b"x" * 32)},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "apikey-admin": {"X-Api-Key": ADMIN_KEY},
        "apikey-viewer": {"X-Api-Key": VIEWER_KEY},
        "apikey-unknown": {"X-Api-Key": "trk_" + "0" * 32},
        "apikey-malformed": {"X-Api-Key": "trk_short"},
    }
    for name, h in creds.items():
        add("cred-" + name + "-stats", request("GET", "/api/stats"), h, modes=(1,))
        add("cred-" + name + "-create", request("POST", "/api/workflows", HELLO), h, modes=(1,))
        add("cred-" + name + "-secrets", request("GET", "/api/secrets"), h, modes=(1,))
    add("cred-none", request("GET", "/api/workflows"), modes=(1,))
    # Malformed and unusual HTTP.
    raw = {
        "bad-percent": b"GET /api/workflows/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "percent-ff": b"GET /api/workflows/%FF%FE?search=%C3%28 HTTP/1.1\r\nHost: x\r\n\r\n",
        "nul-target": b"GET /api/workflows/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        "absolute-form": b"GET http://x/api/stats HTTP/1.1\r\nHost: x\r\n\r\n",
        "asterisk": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "http10": b"GET /api/activities HTTP/1.0\r\n\r\n",
        "chunked": b"POST /api/workflows/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: application/json\r\n\r\n5\r\n{\"id\"\r\n9\r\n: \"x\"}   \r\n0\r\n\r\n",
        "double-length": b"POST /api/events/e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "expect-continue": b"POST /api/events/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "no-body-length": b"POST /api/workflows HTTP/1.1\r\nHost: x\r\n\r\n{\"id\": \"x\"}",
        "obs-text-header": b"POST /hooks/orders/new HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\nContent-Length: 4\r\n\r\n\xff\xfe{}",
        "form-body": b"POST /api/events/e HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 7\r\n\r\na=1&b=2",
        "json-array": b"POST /api/instances/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]",
        "lowercase-method": b"get /health/live HTTP/1.1\r\nHost: x\r\n\r\n",
        "custom-method": b"BREW /hooks/pot HTTP/1.1\r\nHost: x\r\n\r\n",
        "pipelined": b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n",
        "long-id": b"GET /api/instances/" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "request-id-long": b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + b"r" * 200 + b"\r\n\r\n",
    }
    for name, data in raw.items():
        seeds["raw-" + name + "-open"] = bytes([0]) + data
        seeds["raw-" + name + "-auth"] = bytes([1]) + data
    for name, data in seeds.items():
        write(out, name, data)


if __name__ == "__main__":
    definition_seeds()
    request_seeds()
