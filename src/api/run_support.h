// Runs a new instance and answers once its first burst ends (sync execute, sync webhooks).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "api/api.h"
#include "http/message.h"

namespace trellis::api {

// Starts an instance of `workflow_id` and replies with `respond(report)` when its first burst ends
// (it completed, faulted, or suspended), or with 202 {id, status: Running} after `timeout`. On a node
// whose worker is off (API-only) the instance is queued for other workers and polled.
void RunAndReply(ApiContext& ctx, const http::Request& req, const std::string& workflow_id,
                 std::optional<int> version, StartOptions options, std::chrono::milliseconds timeout,
                 std::function<http::Response(const BurstReport&)> respond, const http::Reply& reply);

}  // namespace trellis::api
