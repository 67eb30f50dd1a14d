// The OpenAPI 3.1 document, built once as JSON in code: shared schemas and problem responses live in
// `components`, and each operation is assembled by OperationBuilder, which adds the responses every
// route of its kind can give (401/403 for authenticated routes, 429 for rate-limited ones, 413/415
// for routes that read a body, 500 and 503 always). The route files are the truth; the test in
// tests/unit/api/openapi_test.cpp checks that every route is here and nothing else is.
#include "api/openapi.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>
#include <vector>

#include "api/api.h"
#include "core/json.h"

#ifndef TRELLIS_VERSION
#define TRELLIS_VERSION "0.0.0"
#endif

namespace trellis::api {
namespace {

Json Ref(const std::string& schema) {
  return {{"$ref", "#/components/schemas/" + schema}};
}

Json String(const std::string& description = "") {
  Json s = {{"type", "string"}};
  if (!description.empty()) s["description"] = description;
  return s;
}

Json Time(const std::string& description = "") {
  Json s = {{"type", "string"}, {"format", "date-time"}};
  if (!description.empty()) s["description"] = description;
  return s;
}

Json Integer(const std::string& description = "") {
  Json s = {{"type", "integer"}};
  if (!description.empty()) s["description"] = description;
  return s;
}

Json Nullable(const std::string& description, const std::string& format = "") {
  Json s = {{"type", {"string", "null"}}};
  if (!description.empty()) s["description"] = description;
  if (!format.empty()) s["format"] = format;
  return s;
}

Json ArrayOf(Json items) {
  return {{"type", "array"}, {"items", std::move(items)}};
}

// An object schema; every property is required unless listed in `optional`.
Json Object(Json properties, const std::vector<std::string>& optional = {}, bool closed = false) {
  Json required = Json::array();
  for (const auto& [name, _] : properties.items()) {
    if (std::find(optional.begin(), optional.end(), name) == optional.end()) required.push_back(name);
  }
  Json s = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  if (closed) s["additionalProperties"] = false;
  return s;
}

Json PageOf(const std::string& item, const std::string& description) {
  return {{"type", "object"},
          {"description", description},
          {"properties",
           {{"items", ArrayOf(Ref(item))},
            {"nextCursor", String("Pass as `cursor` to get the next page; absent on the last page.")}}},
          {"required", {"items"}}};
}

Json JsonContent(Json schema) {
  return {{"application/json", {{"schema", std::move(schema)}}}};
}

Json JsonResponse(const std::string& description, Json schema) {
  return {{"description", description}, {"content", JsonContent(std::move(schema))}};
}

Json PathParam(const std::string& name, const std::string& description) {
  return {
      {"name", name}, {"in", "path"}, {"required", true}, {"description", description}, {"schema", String()}};
}

Json QueryParam(const std::string& name, const std::string& description, Json schema = String()) {
  return {
      {"name", name}, {"in", "query"}, {"required", false}, {"description", description}, {"schema", schema}};
}

Json ParamRef(const std::string& name) {
  return {{"$ref", "#/components/parameters/" + name}};
}

// Problem responses by status: the name under components/responses and what the status means here.
const std::map<int, std::pair<std::string, std::string>>& ProblemResponses() {
  static const std::map<int, std::pair<std::string, std::string>> kResponses = {
      {400,
       {"BadRequest",
        "The request is invalid: malformed JSON or YAML, unknown or mistyped fields (listed in "
        "`errors`), or a bad query or path parameter."}},
      {401,
       {"Unauthorized",
        "Credentials are missing or refused (or, on webhooks, the HMAC signature does not "
        "match the body)."}},
      {403, {"Forbidden", "The credentials' role is weaker than the role the operation needs."}},
      {404, {"NotFound", "The resource does not exist."}},
      {409,
       {"Conflict",
        "The resource is not in a state that allows this (for example the instance already "
        "finished), or the request conflicts with what is stored."}},
      {413, {"ContentTooLarge", "The request body is larger than `limits.max_body`."}},
      {415, {"UnsupportedMediaType", "The body is not JSON (or, where accepted, YAML)."}},
      {429, {"TooManyRequests", "The client exceeded its rate limit; retry after `Retry-After` seconds."}},
      {500, {"InternalError", "An internal error; the server log has the details under the request id."}},
      {503,
       {"Unavailable",
        "The database is unavailable, the request outlived `server.request_timeout`, or the "
        "result could not be committed."}},
  };
  return kResponses;
}

Json ProblemRef(int status) {
  return {{"$ref", "#/components/responses/" + ProblemResponses().at(status).first}};
}

// One operation. `role` is the route's tag in the router: viewer, operator, editor, admin, or public
// (no credentials: `security: []`).
class OperationBuilder {
 public:
  OperationBuilder(std::string id, std::string tag, std::string role, std::string summary)
      : role_(std::move(role)) {
    op_ = {{"operationId", std::move(id)},
           {"tags", {std::move(tag)}},
           {"summary", std::move(summary)},
           {"x-trellis-role", role_},
           {"responses", Json::object()}};
  }

  OperationBuilder& Describe(const std::string& text) {
    op_["description"] = text;
    return *this;
  }
  OperationBuilder& Param(Json param) {
    op_["parameters"].push_back(std::move(param));
    return *this;
  }
  // `parsed`: the handler parses the body as JSON (or YAML), so it can answer 400 and 415.
  OperationBuilder& Body(Json content, bool required, const std::string& description, bool parsed = true) {
    op_["requestBody"] = {
        {"description", description}, {"required", required}, {"content", std::move(content)}};
    parsed_body_ = parsed;
    return *this;
  }
  OperationBuilder& JsonBody(const std::string& schema, bool required, const std::string& description) {
    return Body(JsonContent(Ref(schema)), required, description);
  }
  OperationBuilder& Returns(int status, Json response) {
    op_["responses"][std::to_string(status)] = std::move(response);
    return *this;
  }
  OperationBuilder& Returns(const std::string& key, Json response) {
    op_["responses"][key] = std::move(response);
    return *this;
  }
  OperationBuilder& Problems(std::initializer_list<int> statuses) {
    for (int s : statuses) op_["responses"][std::to_string(s)] = ProblemRef(s);
    return *this;
  }
  // Probes and metrics are not rate limited (the dispatcher exempts /health/ and /metrics).
  OperationBuilder& NotRateLimited() {
    rate_limited_ = false;
    return *this;
  }

  Json Build() const {
    Json op = op_;
    auto add = [&](int status) {
      std::string key = std::to_string(status);
      if (!op["responses"].contains(key)) op["responses"][key] = ProblemRef(status);
    };
    if (role_ == kPublic) {
      op["security"] = Json::array();
    } else {
      add(401);
      add(403);
    }
    if (op.contains("requestBody")) add(413);
    if (parsed_body_) {
      add(400);
      add(415);
    }
    if (rate_limited_) add(429);
    add(500);
    add(503);
    return op;
  }

 private:
  std::string role_;
  Json op_;
  bool parsed_body_ = false;
  bool rate_limited_ = true;
};

Json Schemas() {
  Json s = Json::object();
  s["Problem"] = {
      {"type", "object"},
      {"description", "An RFC 9457 problem: every error the API answers, as application/problem+json."},
      {"properties",
       {{"type",
         {{"type", "string"},
          {"format", "uri"},
          {"description", "Stable: https://trellis.dev/problems/<slug>, e.g. .../not-found."}}},
        {"title", String("The reason phrase of the status.")},
        {"status", {{"type", "integer"}, {"minimum", 400}, {"maximum", 599}}},
        {"detail", String("What went wrong, for a human.")},
        {"errors",
         {{"type", "array"},
          {"description", "For validation: each failing field."},
          {"items", Ref("FieldError")}}}}},
      {"required", {"type", "title", "status", "detail"}}};
  s["FieldError"] = Object(
      {{"path", String("e.g. body.input, query.limit or activities[3].inputs.url")}, {"message", String()}});
  s["InstanceStatus"] = {{"type", "string"},
                         {"enum", {"Pending", "Running", "Suspended", "Completed", "Faulted", "Cancelled"}}};
  s["InstanceSummary"] = Object({{"id", String("UUIDv7")},
                                 {"workflowId", String()},
                                 {"version", Integer("The definition version it runs.")},
                                 {"status", Ref("InstanceStatus")},
                                 {"correlationId", Nullable("")},
                                 {"parentId", Nullable("The parent instance of a child workflow.")},
                                 {"createdAt", Time()},
                                 {"updatedAt", Time()},
                                 {"finishedAt", Nullable("", "date-time")}});
  s["Incident"] = Object({{"activityId", String()},
                          {"activityType", String()},
                          {"kind", String()},
                          {"message", String()},
                          {"attempt", Integer()},
                          {"at", Time()}});
  s["Bookmark"] =
      Object({{"id", String()},
              {"kind", {{"type", "string"}, {"enum", {"Timer", "Event", "Webhook", "Child", "Retry"}}}},
              {"activityId", String()},
              {"event", String()},
              {"correlation", String()},
              {"path", String()},
              {"method", String()},
              {"dueAt", Time()},
              {"deadline", Time()},
              {"childId", String()}},
             {"event", "correlation", "path", "method", "dueAt", "deadline", "childId"});
  s["Instance"] = {
      {"description", "An instance with its data, open incidents and the bookmarks it waits on."},
      {"allOf",
       {Ref("InstanceSummary"),
        Object({{"input", {{"type", "object"}}},
                {"output", {{"description", "What the workflow set as its output (usually an object)."}}},
                {"variables", {{"type", "object"}}},
                {"incidents", ArrayOf(Ref("Incident"))},
                {"bookmarks", ArrayOf(Ref("Bookmark"))}})}}};
  s["JournalItem"] =
      Object({{"sequence", Integer("Increases within an instance.")},
              {"activityId", String()},
              {"type", String("The activity type.")},
              {"status", {{"type", "string"}, {"enum", {"Completed", "Faulted", "Cancelled"}}}},
              {"attempt", Integer()},
              {"startedAt", Time()},
              {"finishedAt", Time()},
              {"outcome", String("The outcomes it took, comma-separated.")},
              {"error", String("When Faulted.")},
              {"output", {{"description", "The activity's output, when it has one."}}},
              {"truncated", {{"type", "boolean"}, {"description", "The stored output was cut."}}}},
             {"outcome", "error", "output", "truncated"});
  s["WorkflowDefinition"] = {
      {"type", "object"},
      {"description",
       "A workflow definition, in JSON or YAML. The server validates it fully and answers "
       "400 invalid-definition with every error; unknown top-level keys are errors."},
      {"properties",
       {{"id", String()},
        {"name", String()},
        {"description", String()},
        {"version", Integer()},
        {"inputs", {{"description", "The inputs the workflow takes."}}},
        {"variables", {{"type", "object"}}},
        {"triggers", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"activities", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"connections", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"options", {{"type", "object"}}}}}};
  s["DefinitionSummary"] =
      Object({{"id", String()},
              {"name", String()},
              {"version", Integer()},
              {"published", {{"type", "boolean"}}},
              {"draft", {{"type", "boolean"}, {"description", "Not yet frozen by publishing."}}},
              {"createdAt", Time()},
              {"updatedAt", Time()}});
  s["Definition"] = {
      {"allOf", {Ref("DefinitionSummary"), Object({{"definition", Ref("WorkflowDefinition")}})}}};
  s["ValidationResult"] = Object({{"valid", {{"type", "boolean"}}}, {"errors", ArrayOf(Ref("FieldError"))}});
  s["ExecuteRequest"] = Object(
      {{"input", {{"type", "object"}, {"description", "The workflow's input."}}},
       {"correlationId", Nullable("")},
       {"version", {{"type", "integer"}, {"minimum", 1}, {"description", "Default: the published version."}}},
       {"wait",
        {{"type", "boolean"},
         {"default", false},
         {"description", "Run now and answer with the instance after its first burst."}}},
       {"timeout", Ref("Timeout")}},
      {"input", "correlationId", "version", "wait", "timeout"}, true);
  s["InlineExecuteRequest"] =
      Object({{"workflow", Ref("WorkflowDefinition")},
              {"input", {{"type", "object"}}},
              {"correlationId", Nullable("")},
              {"version", {{"type", "integer"}, {"minimum", 1}, {"description", "Accepted and ignored."}}},
              {"wait", {{"type", "boolean"}, {"default", true}}},
              {"timeout", Ref("Timeout")}},
             {"input", "correlationId", "version", "wait", "timeout"}, true);
  s["Timeout"] = {
      {"description",
       "How long `wait: true` waits (capped at server.request_timeout): a duration such as "
       "\"10s\" or milliseconds."},
      {"oneOf",
       {{{"type", "integer"}, {"minimum", 1}}, {{"type", "string"}, {"examples", {"10s", "1m30s"}}}}}};
  s["InstanceAccepted"] = Object({{"id", String()}, {"status", Ref("InstanceStatus")}});
  s["PublishRequest"] = Object(
      {{"version", {{"type", "integer"}, {"minimum", 1}, {"description", "Default: the newest version."}}}},
      {"version"}, true);
  s["CancelRequest"] = Object({{"reason", String()}}, {"reason"}, true);
  s["CancelAccepted"] = Object({{"id", String()}, {"cancelRequested", {{"const", true}}}});
  s["RetryAccepted"] = Object({{"id", String()}, {"retryRequested", {{"const", true}}}});
  s["BulkFilter"] = Object(
      {{"status", Ref("InstanceStatus")},
       {"workflowId", String()},
       {"correlationId", String()},
       {"parentId", String()},
       {"createdAfter", Time()},
       {"createdBefore", Time()},
       {"reason", String("The cancellation reason (bulk cancel).")}},
      {"status", "workflowId", "correlationId", "parentId", "createdAfter", "createdBefore", "reason"}, true);
  s["BulkFilter"]["description"] = "At least one filter besides `reason` is required.";
  s["BulkCancelResult"] = Object({{"matched", Integer()},
                                  {"cancelled", Integer()},
                                  {"skipped", Integer("Already finished, or gone meanwhile.")}});
  s["BulkDeleteResult"] = Object({{"matched", Integer()}, {"deleted", Integer()}, {"skipped", Integer()}});
  s["EventRequest"] =
      Object({{"correlation", Nullable("Only waiters and triggers with this correlation match.")},
              {"payload", {{"description", "Any JSON value."}}}},
             {"correlation", "payload"}, true);
  s["EventResult"] =
      Object({{"resumed", Integer("Waiting instances resumed.")},
              {"started", Integer("Instances started by Event triggers.")},
              {"instanceIds", ArrayOf(String())},
              {"held", {{"type", "boolean"}, {"description", "Kept for waiters that arrive later."}}}});
  s["WebhookAccepted"] = Object({{"deliveryId", String()},
                                 {"instanceIds", ArrayOf(String())},
                                 {"id", Nullable("The first started instance.")},
                                 {"resumed", Integer()}});
  s["Delivery"] = Object({{"id", String()},
                          {"path", String("Without the leading /hooks/.")},
                          {"method", String()},
                          {"headers", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                          {"query", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                          {"body", String("The raw body.")},
                          {"status", Integer("The HTTP status answered; 0 while unanswered.")},
                          {"instanceIds", ArrayOf(String())},
                          {"receivedAt", Time()}});
  s["SecretValue"] = Object({{"value", {{"type", "string"}, {"minLength", 1}}}}, {}, true);
  s["SecretStored"] = Object({{"name", String()}, {"stored", {{"const", true}}}});
  s["Secret"] = Object({{"name", String()}, {"createdAt", Time()}, {"updatedAt", Time()}});
  s["ActivityDescriptor"] = {{"type", "object"},
                             {"description", "A built-in activity: its inputs, outcomes and effect."},
                             {"properties",
                              {{"type", String()},
                               {"category", String()},
                               {"description", String()},
                               {"inputs", ArrayOf({{"type", "object"}})},
                               {"outcomes", ArrayOf(String())},
                               {"effect", {{"type", "string"}, {"enum", {"pure", "external"}}}},
                               {"suspends", {{"type", "boolean"}}}}},
                             {"required", {"type", "inputs", "outcomes"}}};
  Json counts = Json::object();
  for (const char* status : {"Pending", "Running", "Suspended", "Completed", "Faulted", "Cancelled"})
    counts[status] = Integer();
  s["Stats"] =
      Object({{"instances", Object(counts)},
              {"queue", Object({{"depth", Integer("Runnable instances.")},
                                {"lagSeconds", {{"type", "number"}, {"description", "Age of the oldest."}}},
                                {"timersDue", Integer()}})}});
  s["Node"] = Object({{"id", String()},
                      {"kind", {{"type", "string"}, {"enum", {"server", "worker"}}}},
                      {"hostname", String()},
                      {"pid", Integer()},
                      {"version", String()},
                      {"concurrency", Integer()},
                      {"draining", {{"type", "boolean"}}},
                      {"self", {{"type", "boolean"}, {"description", "The node that answered."}}},
                      {"startedAt", Time()},
                      {"heartbeatAt", Time()}});
  s["Health"] = Object({{"status", {{"type", "string"}, {"enum", {"ok", "starting"}}}}});
  s["Readiness"] =
      Object({{"status", {{"type", "string"}, {"enum", {"ok", "unavailable"}}}},
              {"checks",
               {{"type", "object"},
                {"description", "draining, database, migrations."},
                {"additionalProperties",
                 Object({{"status", {{"type", "string"}, {"enum", {"ok", "failing"}}}}, {"detail", String()}},
                        {"detail"})}}}});
  s["InstanceSummaryPage"] = PageOf("InstanceSummary", "Instances, newest first.");
  s["DefinitionSummaryPage"] = PageOf("DefinitionSummary", "Definitions, one per id, ordered by id.");
  s["JournalPage"] = PageOf("JournalItem", "Journal items in sequence order.");
  s["DeliveryPage"] = PageOf("Delivery", "Webhook deliveries, newest first.");
  s["SecretList"] = PageOf("Secret", "Secret names (values are write-only); never paged.");
  s["ActivityList"] = PageOf("ActivityDescriptor", "Every activity; never paged.");
  s["NodeList"] = PageOf("Node", "Nodes with a recent heartbeat; never paged.");
  return s;
}

Json Components() {
  Json responses = Json::object();
  for (const auto& [status, entry] : ProblemResponses()) {
    Json r = {{"description", entry.second},
              {"content", {{"application/problem+json", {{"schema", Ref("Problem")}}}}}};
    if (status == 401)
      r["headers"] = {{"WWW-Authenticate",
                       {{"description", "Bearer (when credentials were refused)."}, {"schema", String()}}}};
    if (status == 429) {
      r["headers"] = {{"Retry-After",
                       {{"description", "Seconds until the client may send again."},
                        {"schema", {{"type", "integer"}, {"minimum", 1}}}}}};
    }
    responses[entry.first] = std::move(r);
  }
  Json parameters = {
      {"Limit", QueryParam("limit", "Page size.",
                           {{"type", "integer"}, {"minimum", 1}, {"maximum", 500}, {"default", 50}})},
      {"Cursor", QueryParam("cursor", "The `nextCursor` of the previous page.")},
      {"WorkflowId", PathParam("id", "The workflow (definition) id.")},
      {"InstanceId", PathParam("id", "The instance id.")},
  };
  Json security = {
      {"bearerAuth",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"bearerFormat", "JWT"},
        {"description",
         "A JWT signed with HS256 under security.jwt_secret; its role claim grants the role."}}},
      {"apiKey",
       {{"type", "apiKey"},
        {"in", "header"},
        {"name", "X-Api-Key"},
        {"description", "An API key from `trellis apikey create --role ROLE` (stored hashed)."}}}};
  return {{"schemas", Schemas()},
          {"responses", responses},
          {"parameters", parameters},
          {"securitySchemes", security}};
}

Json Location(const std::string& description) {
  return {{"Location", {{"description", description}, {"schema", String()}}}};
}

Json Accepted(const std::string& description) {
  Json r = JsonResponse(description, Ref("InstanceAccepted"));
  r["headers"] = Location("/api/instances/{id}");
  return r;
}

void Add(Json& paths, const std::string& path, const std::string& method, const OperationBuilder& op) {
  paths[path][method] = op.Build();
}

void DefinitionPaths(Json& paths) {
  Json definition_body = {{"application/json", {{"schema", Ref("WorkflowDefinition")}}},
                          {"application/yaml", {{"schema", Ref("WorkflowDefinition")}}}};
  Json publish = QueryParam("publish", "`true` publishes the saved version at once.", {{"type", "boolean"}});
  Add(paths, "/api/workflows", "get",
      OperationBuilder("listWorkflows", "Definitions", kViewer, "List workflow definitions")
          .Param(QueryParam("search", "A substring of the id or name."))
          .Param(ParamRef("Limit"))
          .Param(ParamRef("Cursor"))
          .Returns(200, JsonResponse("A page of definitions.", Ref("DefinitionSummaryPage")))
          .Problems({400}));
  Add(paths, "/api/workflows", "post",
      OperationBuilder("createWorkflow", "Definitions", kEditor, "Save a definition as a new draft version")
          .Describe("Saves the definition under its `id`: a new version when the newest is frozen (published "
                    "once) or none exists, otherwise the draft is replaced.")
          .Param(publish)
          .Body(definition_body, true, "The definition, as JSON or YAML (Content-Type application/yaml).")
          .Returns(201,
                   [] {
                     Json r = JsonResponse("The saved version.", Ref("Definition"));
                     r["headers"] = Location("/api/workflows/{id}/versions/{version}");
                     return r;
                   }())
          .Problems({409}));
  Add(paths, "/api/workflows/validate", "post",
      OperationBuilder("validateWorkflow", "Definitions", kViewer, "Validate a definition without saving it")
          .Body(definition_body, true, "The definition; an id is not required.")
          .Returns(200, JsonResponse("Whether it is valid, with every error.", Ref("ValidationResult"))));
  Add(paths, "/api/workflows/{id}", "get",
      OperationBuilder("getWorkflow", "Definitions", kViewer, "Get a definition")
          .Describe("The published version, or the newest when none is published.")
          .Param(ParamRef("WorkflowId"))
          .Returns(200, JsonResponse("The definition.", Ref("Definition")))
          .Problems({404}));
  Add(paths, "/api/workflows/{id}", "put",
      OperationBuilder("updateWorkflow", "Definitions", kEditor, "Save a definition under this id")
          .Describe("Like POST /api/workflows; the body's id, when present, must equal the path's.")
          .Param(ParamRef("WorkflowId"))
          .Param(publish)
          .Body(definition_body, true, "The definition, as JSON or YAML.")
          .Returns(200, JsonResponse("The saved version.", Ref("Definition")))
          .Problems({404, 409}));
  Add(paths, "/api/workflows/{id}", "delete",
      OperationBuilder("deleteWorkflow", "Definitions", kEditor, "Delete every version of a definition")
          .Param(ParamRef("WorkflowId"))
          .Returns(204, {{"description", "Deleted, with its schedules and triggers."}})
          .Problems({404, 409}));
  Add(paths, "/api/workflows/{id}/versions", "get",
      OperationBuilder("listWorkflowVersions", "Definitions", kViewer, "List a definition's versions")
          .Param(ParamRef("WorkflowId"))
          .Returns(200, JsonResponse("Every version (a single page).", Ref("DefinitionSummaryPage")))
          .Problems({404}));
  Add(paths, "/api/workflows/{id}/versions/{version}", "get",
      OperationBuilder("getWorkflowVersion", "Definitions", kViewer, "Get one version of a definition")
          .Param(ParamRef("WorkflowId"))
          .Param({{"name", "version"},
                  {"in", "path"},
                  {"required", true},
                  {"description", "A positive integer."},
                  {"schema", {{"type", "integer"}, {"minimum", 1}}}})
          .Returns(200, JsonResponse("The version.", Ref("Definition")))
          .Problems({400, 404}));
  Add(paths, "/api/workflows/{id}/publish", "post",
      OperationBuilder("publishWorkflow", "Definitions", kEditor, "Publish a version")
          .Describe("Freezes the version and makes it the one that triggers, schedules and executions use.")
          .Param(ParamRef("WorkflowId"))
          .JsonBody("PublishRequest", false, "Optional; without a version the newest is published.")
          .Returns(200, JsonResponse("The published version.", Ref("Definition")))
          .Problems({404, 409}));
  Add(paths, "/api/workflows/{id}/retract", "post",
      OperationBuilder("retractWorkflow", "Definitions", kEditor, "Retract the published version")
          .Describe("Nothing stays published; the definition's schedules and triggers are removed.")
          .Param(ParamRef("WorkflowId"))
          .Returns(200, JsonResponse("The definition afterwards.", Ref("Definition")))
          .Problems({404, 409}));
}

void ExecutePaths(Json& paths) {
  const char* kRun =
      "Without `wait` the instance is queued and the answer is 202. With `wait: true` it runs at once and "
      "the "
      "answer is 200 with the instance after its first burst (Completed, Faulted, or Suspended at a "
      "bookmark); past `timeout` the answer is 202 and the instance keeps running.";
  Add(paths, "/api/workflows/{id}/execute", "post",
      OperationBuilder("executeWorkflow", "Instances", kOperator, "Start an instance of a stored workflow")
          .Describe(kRun)
          .Param(ParamRef("WorkflowId"))
          .JsonBody("ExecuteRequest", false, "Optional; an empty body starts with an empty input.")
          .Returns(200, JsonResponse("With wait: the instance after its first burst.", Ref("Instance")))
          .Returns(202, Accepted("Started (or still running after the timeout)."))
          .Problems({404, 409}));
  Add(paths, "/api/workflows/execute", "post",
      OperationBuilder("executeInlineWorkflow", "Instances", kOperator, "Run an inline definition")
          .Describe(std::string(kRun) +
                    " The definition is stored once, published, under a content-derived id (inline-<hash>); "
                    "`wait` defaults to true here.")
          .JsonBody("InlineExecuteRequest", true, "The definition and the run's options.")
          .Returns(200, JsonResponse("With wait: the instance after its first burst.", Ref("Instance")))
          .Returns(202, Accepted("Started (or still running after the timeout)."))
          .Problems({404, 409}));
}

void InstancePaths(Json& paths) {
  auto filter = [](const char* name, const char* description, Json schema = String()) {
    return QueryParam(name, description, std::move(schema));
  };
  Add(paths, "/api/instances", "get",
      OperationBuilder("listInstances", "Instances", kViewer, "List instances")
          .Param(filter("status", "Only this status.", Ref("InstanceStatus")))
          .Param(filter("workflowId", "Only instances of this workflow."))
          .Param(filter("correlationId", "Only this correlation id."))
          .Param(filter("parentId", "Only children of this instance."))
          .Param(filter("createdAfter", "RFC 3339, inclusive.", Time()))
          .Param(filter("createdBefore", "RFC 3339, exclusive.", Time()))
          .Param(ParamRef("Limit"))
          .Param(ParamRef("Cursor"))
          .Returns(200, JsonResponse("A page of instances.", Ref("InstanceSummaryPage")))
          .Problems({400}));
  Add(paths, "/api/instances/{id}", "get",
      OperationBuilder("getInstance", "Instances", kViewer, "Get an instance")
          .Param(ParamRef("InstanceId"))
          .Returns(200, JsonResponse("The instance.", Ref("Instance")))
          .Problems({404}));
  Add(paths, "/api/instances/{id}", "delete",
      OperationBuilder("deleteInstance", "Instances", kOperator, "Delete an instance with its journal")
          .Param(ParamRef("InstanceId"))
          .Returns(204, {{"description", "Deleted."}})
          .Problems({404}));
  Add(paths, "/api/instances/{id}/journal", "get",
      OperationBuilder("getInstanceJournal", "Instances", kViewer, "Page through an instance's journal")
          .Param(ParamRef("InstanceId"))
          .Param(ParamRef("Limit"))
          .Param(ParamRef("Cursor"))
          .Returns(200, JsonResponse("A page of journal items.", Ref("JournalPage")))
          .Problems({400, 404}));
  Add(paths, "/api/instances/{id}/cancel", "post",
      OperationBuilder("cancelInstance", "Instances", kOperator, "Request an instance's cancellation")
          .Param(ParamRef("InstanceId"))
          .JsonBody("CancelRequest", false, "Optional reason.")
          .Returns(202, JsonResponse("Cancellation requested.", Ref("CancelAccepted")))
          .Problems({404, 409}));
  Add(paths, "/api/instances/{id}/retry", "post",
      OperationBuilder("retryInstance", "Instances", kOperator, "Retry a Faulted instance")
          .Param(ParamRef("InstanceId"))
          .Returns(202, JsonResponse("Retry requested.", Ref("RetryAccepted")))
          .Problems({404, 409}));
  Add(paths, "/api/instances/cancel", "post",
      OperationBuilder("cancelInstances", "Instances", kOperator, "Cancel every instance a filter matches")
          .JsonBody("BulkFilter", true, "The filter (at least one) and an optional reason.")
          .Returns(200, JsonResponse("How many matched, were cancelled and were skipped.",
                                     Ref("BulkCancelResult"))));
  Add(paths, "/api/instances/delete", "post",
      OperationBuilder("deleteInstances", "Instances", kOperator, "Delete every instance a filter matches")
          .JsonBody("BulkFilter", true, "The filter (at least one).")
          .Returns(200, JsonResponse("How many matched, were deleted and were skipped.",
                                     Ref("BulkDeleteResult"))));
}

void SignalPaths(Json& paths) {
  Add(paths, "/api/events/{name}", "post",
      OperationBuilder("publishEvent", "Events", kOperator, "Publish an event")
          .Describe(
              "Resumes instances waiting for the event (WaitForEvent) and starts workflows with an Event "
              "trigger. An event nobody consumes is held for `events.hold` for waiters that arrive later.")
          .Param(PathParam("name", "The event name."))
          .JsonBody("EventRequest", false, "Optional correlation and payload.")
          .Returns(200, JsonResponse("What the event did.", Ref("EventResult")))
          .Problems({404, 409}));
  Json hook_param = PathParam("path", "The rest of the path after /hooks/: it may contain slashes (a/b/c).");
  const char* kHookText =
      "Starts workflows with a Webhook trigger on this path and method, and resumes instances waiting at "
      "WaitForWebhook. `{path}` is the rest of the request path and may span several segments. Any method is "
      "accepted; the request (method, path, headers, query, body) becomes the workflow input. A trigger with "
      "`secret` checks an HMAC-SHA256 signature (X-Hub-Signature-256 by default). A trigger with "
      "`response: sync` answers with the workflow's HttpResponse.";
  for (std::string method : {"get", "post", "put", "patch", "delete"}) {
    std::string upper = method;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string id = "callWebhook" + upper.substr(0, 1) + method.substr(1);
    OperationBuilder op(id, "Webhooks", kPublic, "Call a webhook (" + upper + ")");
    op.Describe(kHookText).Param(hook_param);
    if (method != "get" && method != "delete") {
      op.Body({{"*/*", {{"schema", Json::object()}}}}, false,
              "Any body; JSON bodies reach the workflow parsed.", false);
    }
    op.Returns(202,
               JsonResponse("Delivered: instances started or resumed (or, for a sync trigger still running "
                            "at its timeout, the instance's id and status).",
                            {{"oneOf", {Ref("WebhookAccepted"), Ref("InstanceAccepted")}}}))
        .Returns("default", {{"description",
                              "A sync trigger's answer: the workflow's HttpResponse (its status, "
                              "headers and body)."},
                             {"content", {{"*/*", {{"schema", Json::object()}}}}}})
        .Problems({401, 404});
    Add(paths, "/hooks/{path}", method, op);
  }
  Add(paths, "/api/webhooks/deliveries", "get",
      OperationBuilder("listWebhookDeliveries", "Webhooks", kViewer, "List recorded webhook deliveries")
          .Param(QueryParam("path", "Only deliveries to this path (without /hooks/)."))
          .Param(ParamRef("Limit"))
          .Param(ParamRef("Cursor"))
          .Returns(200, JsonResponse("A page of deliveries.", Ref("DeliveryPage")))
          .Problems({400}));
  Add(paths, "/api/webhooks/deliveries/{id}/replay", "post",
      OperationBuilder("replayWebhookDelivery", "Webhooks", kOperator, "Replay a recorded delivery")
          .Describe(
              "Handles the recorded request again as a new delivery. Off unless features.webhook_replay "
              "is true (403 feature-disabled).")
          .Param(PathParam("id", "The delivery id."))
          .Returns(202, JsonResponse("Delivered again.",
                                     {{"oneOf", {Ref("WebhookAccepted"), Ref("InstanceAccepted")}}}))
          .Returns("default", {{"description", "A sync trigger's answer: the workflow's HttpResponse."},
                               {"content", {{"*/*", {{"schema", Json::object()}}}}}})
          .Problems({401, 403, 404}));
}

void SecretPaths(Json& paths) {
  Json name = PathParam("name", "[A-Za-z_][A-Za-z0-9_]{0,127}");
  Add(paths, "/api/secrets", "get",
      OperationBuilder("listSecrets", "Secrets", kAdmin, "List secret names")
          .Returns(200, JsonResponse("Names and times; values are never returned.", Ref("SecretList")))
          .Problems({409}));
  Add(paths, "/api/secrets/{name}", "put",
      OperationBuilder("putSecret", "Secrets", kAdmin, "Create or replace a secret")
          .Describe("Stored encrypted; 409 when no encryption key is configured.")
          .Param(name)
          .JsonBody("SecretValue", true, "The value.")
          .Returns(200, JsonResponse("Stored.", Ref("SecretStored")))
          .Problems({409}));
  Add(paths, "/api/secrets/{name}", "delete",
      OperationBuilder("deleteSecret", "Secrets", kAdmin, "Delete a secret")
          .Param(name)
          .Returns(204, {{"description", "Deleted."}})
          .Problems({404, 409}));
}

void OperationPaths(Json& paths) {
  Add(paths, "/api/activities", "get",
      OperationBuilder("listActivities", "Operations", kViewer, "List the activity catalogue")
          .Returns(200, JsonResponse("Every activity type.", Ref("ActivityList"))));
  Add(paths, "/api/stats", "get",
      OperationBuilder("getStats", "Operations", kViewer, "Instance counts by status, queue depth and lag")
          .Returns(200, JsonResponse("The statistics.", Ref("Stats"))));
  Add(paths, "/api/cluster/nodes", "get",
      OperationBuilder("listNodes", "Operations", kViewer, "List the live cluster nodes")
          .Returns(200, JsonResponse("Nodes that sent a heartbeat recently.", Ref("NodeList"))));
  Add(paths, "/api/openapi.json", "get",
      OperationBuilder("getOpenApi", "Operations", kPublic, "This OpenAPI document")
          .Returns(200, JsonResponse("The OpenAPI 3.1 document.", {{"type", "object"}})));
}

void HealthPaths(Json& paths) {
  Add(paths, "/health/live", "get",
      OperationBuilder("live", "Probes", kPublic, "Liveness: the process answers")
          .NotRateLimited()
          .Returns(200, JsonResponse("Alive.", Ref("Health"))));
  Add(paths, "/health/ready", "get",
      OperationBuilder("ready", "Probes", kPublic, "Readiness")
          .Describe(
              "Ready when the database answers within its deadline, migrations are current and the node "
              "is not draining; each check is listed.")
          .NotRateLimited()
          .Returns(200, JsonResponse("Ready.", Ref("Readiness")))
          .Returns(503, JsonResponse("Not ready; the failing checks say why.", Ref("Readiness"))));
  Add(paths, "/health/startup", "get",
      OperationBuilder("startup", "Probes", kPublic, "Startup: the store is open and the server started")
          .NotRateLimited()
          .Returns(200, JsonResponse("Started.", Ref("Health")))
          .Returns(503, JsonResponse("Still starting.", Ref("Health"))));
  Add(paths, "/metrics", "get",
      OperationBuilder("metrics", "Probes", kPublic, "Prometheus metrics")
          .NotRateLimited()
          .Returns(200, {{"description", "The Prometheus text exposition format 0.0.4."},
                         {"content", {{"text/plain", {{"schema", String()}}}}}}));
}

std::string BuildDocument() {
  Json paths = Json::object();
  DefinitionPaths(paths);
  ExecutePaths(paths);
  InstancePaths(paths);
  SignalPaths(paths);
  SecretPaths(paths);
  OperationPaths(paths);
  HealthPaths(paths);
  Json doc = {
      {"openapi", "3.1.0"},
      {"info",
       {
           {"title", "Trellis API"},
           {"version", TRELLIS_VERSION},
           {"description",
            "The HTTP API of Trellis, a durable workflow engine. Errors are application/problem+json (RFC "
            "9457). "
            "Lists take `limit` (1..500, default 50) and `cursor` and answer {items, nextCursor}. Every "
            "response "
            "carries X-Request-Id. Roles, weakest first: viewer < operator < editor < admin; each "
            "operation's "
            "`x-trellis-role` names the weakest role it admits (`public`: no credentials). A path that "
            "exists "
            "under another method answers 405 with Allow; an unknown path 404."},
       }},
      {"servers", {{{"url", "/"}}}},
      {"security", {{{"bearerAuth", Json::array()}}, {{"apiKey", Json::array()}}}},
      {"tags",
       {{{"name", "Definitions"}, {"description", "Workflow definitions and their versions."}},
        {{"name", "Instances"}, {"description", "Running workflows and their history."}},
        {{"name", "Events"}, {"description", "Events that resume and start workflows."}},
        {{"name", "Webhooks"}, {"description", "Webhooks under /hooks and their recorded deliveries."}},
        {{"name", "Secrets"}, {"description", "Write-only secrets for workflows."}},
        {{"name", "Operations"}, {"description", "The activity catalogue, statistics and nodes."}},
        {{"name", "Probes"}, {"description", "Health probes and metrics (no credentials, no rate limit)."}}}},
      {"paths", paths},
      {"components", Components()}};
  return doc.dump();
}

}  // namespace

const std::string& OpenApiDocument() {
  static const std::string doc = BuildDocument();
  return doc;
}

}  // namespace trellis::api
