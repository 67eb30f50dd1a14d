// HTTP benchmarks of the real `trellis server` binary, started as a child process, on SQLite (a
// temp file) and on PostgreSQL (a fresh database in the server scripts/with-postgres runs). The
// load comes from bench/http_load.{h,cpp}. Prints one JSON object; with --include FILE, the JSON
// object in FILE (the other benchmarks) is merged into it.
//
//   start_to_ready_ms: spawn to the first 200 from /health/ready (polled every 1 ms), median of
//     5 starts on an existing SQLite database (start_to_ready_fresh_db_ms: on new files, with the
//     migrations);
//   idle_rss_mb: VmRSS after 2 s idle from start (idle_rss_after_load_mb_*: after the benchmarks);
//   http_webhook_workflows_per_sec_*: N webhooks (closed loop) each starting a three-activity
//     workflow (a commit point after every activity); N / (first request to last completion,
//     seen by polling GET /api/stats);
//   http_execute_sustainable_per_sec_*: closed-loop rate of POST /api/workflows/{id}/execute with
//     {"wait": true} on 16 connections;
//   http_execute_wait_p99_ms_*: p99 latency of the same at half that rate, open loop (latency from
//     the scheduled send time);
//   *_postgres_default_commits (with --commit both, as `make bench` runs it): the same on
//     PostgreSQL with DESIGN.md's default commit points, where these pure activities commit once,
//     at the end.
// Before PostgreSQL runs, the fresh cluster is given the recycled WAL segments a running server
// has (PgPrepareWal).
// The *_details objects hold request latencies, CPU used by the server, PostgreSQL and the whole
// machine (this machine is shared: machine_busy_cores shows how much other work ran).
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "core/json.h"
#include "http_load.h"
#include "server_process.h"

namespace trellis::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The three activities of bench/durable_bench.cpp, each a commit point (`commit: activity`); with
// `commit_each` false, DESIGN.md's default: pure activities have no commit of their own.
Json ThreeActivityWorkflow(const std::string& id, const std::string& webhook_path, bool commit_each) {
  Json def = {
      {"id", id},
      {"name", id},
      {"activities", Json::array({{{"id", "a"}, {"type", "SetVariable"}, {"name", "x"}, {"value", 1}},
                                  {{"id", "b"}, {"type", "SetVariable"}, {"name", "y"}, {"value", 2}},
                                  {{"id", "c"}, {"type", "SetOutput"}, {"name", "done"}, {"value", true}}})}};
  if (commit_each) def["options"] = {{"commit", "activity"}};
  if (!webhook_path.empty()) def["triggers"] = Json::array({{{"type", "Webhook"}, {"path", webhook_path}}});
  return def;
}

struct Settings {
  std::string binary;
  int webhooks_sqlite = 20000;
  int webhooks_postgres = 20000;
  int webhook_connections = 64;
  int execute_connections = 16;
  int open_loop_connections = 64;
  int execute_seconds = 4;
  int open_loop_seconds = 6;
  int starts = 5;
  std::vector<std::string> sets;  // --set passed to the server
  std::string perf_dir;           // when set: perf record the server during the webhook run
  bool commit_each = true;        // --commit end: the workflows commit only at their end
  int wal_warmup_mb = 800;        // PgPrepareWal; --wal-warmup-mb 0 measures the fresh cluster
};

// Publishes a definition; empty on success, else the reason.
std::string Publish(int port, const Json& def) {
  HttpReply r = HttpCall("127.0.0.1", port,
                         {.method = "POST", .path = "/api/workflows?publish=true", .body = def.dump()});
  if (r.status == 201 || r.status == 200) return "";
  return "publishing " + def.value("id", "") + ": HTTP " + std::to_string(r.status) + " " + r.error + " " +
         r.body;
}

struct StatsCounts {
  int64_t completed = 0, faulted = 0, pending = 0, running = 0;
  bool ok = false;
};

StatsCounts PollStats(HttpClient& client) {
  StatsCounts s;
  HttpReply r = client.Call({.method = "GET", .path = "/api/stats"});
  if (r.status != 200) return s;
  Json j;
  std::string error;
  if (!ParseJson(r.body, &j, &error)) return s;
  const Json& c = j["instances"];
  s.completed = c.value("Completed", int64_t{0});
  s.faulted = c.value("Faulted", int64_t{0});
  s.pending = c.value("Pending", int64_t{0});
  s.running = c.value("Running", int64_t{0});
  s.ok = true;
  return s;
}

Json LatencyJson(const LatencySummary& l) {
  Json hist = Json::object();
  for (const auto& [bound, n] : l.histogram) hist["le_" + bound + "ms"] = n;
  return {{"count", l.count},     {"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms},   {"p99_ms", l.p99_ms},
          {"p999_ms", l.p999_ms}, {"max_ms", l.max_ms}, {"mean_ms", l.mean_ms}, {"histogram", hist}};
}

Json LoadJson(const LoadResult& r) {
  Json statuses = Json::object();
  for (const auto& [code, n] : r.statuses) statuses[std::to_string(code)] = n;
  Json j = {{"sent", r.sent},
            {"completed", r.completed},
            {"non_2xx", r.non_2xx},
            {"transport_errors", r.transport_errors},
            {"reconnects", r.reconnects},
            {"statuses", statuses},
            {"seconds", r.seconds},
            {"requests_per_sec", r.requests_per_sec},
            {"latency", LatencyJson(r.latency)}};
  if (r.late_sends > 0) j["late_sends"] = r.late_sends;
  if (!r.slow.empty()) {
    // Over 5 ms, one by one: [start after the run began, latency, of which the generator's own
    // lateness in sending], all in ms; the wall-clock start lines them up with server logs.
    Json slow = Json::array();
    for (const SlowRequest& q : r.slow) slow.push_back({q.at_ms, q.latency_ms, q.send_delay_ms});
    j["slow_requests"] = {
        {"start_unix_ms", r.start_unix_ms}, {"total", r.slow_total}, {"at_latency_send_delay_ms", slow}};
  }
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

// The first row of a query's result as text, or the error in `error`.
std::vector<std::string> PgRow(const std::string& url, const std::string& sql, std::string* error) {
  std::vector<std::string> row;
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    *error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      for (int i = 0; i < PQnfields(r); ++i) row.emplace_back(PQgetvalue(r, 0, i));
    } else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
      *error = PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  PQfinish(c);
  return row;
}

std::string PgExec(const std::string& admin_url, const std::string& sql) {
  std::string error;
  PgRow(admin_url, sql, &error);
  return error;
}

// Cluster-wide WAL figures of the with-postgres server: the next transaction id (so the difference
// counts transactions that wrote), the WAL position, and pg_stat_wal (flushes and their time; a
// backend reports these when it goes idle for a while or exits, so read them after the server stops).
Json PgSnapshot(const std::string& admin_url) {
  std::string error;
  auto row =
      PgRow(admin_url,
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, pg_current_wal_lsn() - '0/0', "
            "wal_records, wal_bytes, wal_write, wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal",
            &error);
  if (row.size() != 8) return {{"error", error}};
  return {{"next_xid", std::atoll(row[0].c_str())},         {"wal_lsn", std::atof(row[1].c_str())},
          {"wal_records", std::atoll(row[2].c_str())},      {"wal_bytes", std::atof(row[3].c_str())},
          {"wal_write", std::atoll(row[4].c_str())},        {"wal_sync", std::atoll(row[5].c_str())},
          {"wal_write_time_ms", std::atof(row[6].c_str())}, {"wal_sync_time_ms", std::atof(row[7].c_str())}};
}

// Brings the fresh cluster's WAL to the steady state of a server that has been running: WAL
// segments that already exist. A fresh cluster has none to recycle, so every 16 MB of WAL makes
// a backend create a segment, zero-filled and synced while it holds the WAL write lock; every
// commit waits behind it (50-70 ms on this machine's disk, once in every few seconds of load). A
// long-running server recycles the segments its checkpoints free (up to min_wal_size). So: keep
// 2 GB, write `mb` of WAL, checkpoint. Returns the WAL segments ready ahead, or -1 with `error`.
int PgPrepareWal(const std::string& admin_url, int mb, std::string* error) {
  for (const char* sql : {"ALTER SYSTEM SET min_wal_size = '2GB'", "ALTER SYSTEM SET max_wal_size = '4GB'",
                          "SELECT pg_reload_conf()"}) {
    if (*error = PgExec(admin_url, sql); !error->empty()) return -1;
  }
  // A ~1 KB row writes a little over 1 KB of WAL.
  std::string fill =
      "CREATE TABLE trellis_bench_wal_warmup AS SELECT repeat('x', 1000) AS pad FROM "
      "generate_series(1, " +
      std::to_string(mb * 1000) + ")";
  for (const std::string& sql :
       {fill, std::string("DROP TABLE trellis_bench_wal_warmup"), std::string("CHECKPOINT")}) {
    if (*error = PgExec(admin_url, sql); !error->empty()) return -1;
  }
  auto row =
      PgRow(admin_url,
            "SELECT count(*) FROM pg_ls_waldir() WHERE name > pg_walfile_name(pg_current_wal_lsn())", error);
  return row.size() == 1 ? std::atoi(row[0].c_str()) : -1;
}

// What `total` workflows cost PostgreSQL: write transactions and WAL (exact, from `during`), WAL
// flushes and their average time (from `stopped`, read after the server exited).
Json PgCost(const Json& before, const Json& during, const Json& stopped, int total) {
  if (before.contains("error") || during.contains("error") || stopped.contains("error"))
    return {{"error", "no stats"}};
  double n = total;
  double syncs = stopped["wal_sync"].get<double>() - before["wal_sync"].get<double>();
  double sync_ms = stopped["wal_sync_time_ms"].get<double>() - before["wal_sync_time_ms"].get<double>();
  return {{"write_transactions_per_workflow",
           (during["next_xid"].get<double>() - before["next_xid"].get<double>()) / n},
          {"wal_bytes_per_workflow", (during["wal_lsn"].get<double>() - before["wal_lsn"].get<double>()) / n},
          {"wal_flushes", syncs},
          {"wal_flushes_per_workflow", syncs / n},
          {"wal_flush_avg_ms", syncs > 0 ? sync_ms / syncs : 0.0},
          {"wal_flush_busy_fraction",
           during.value("seconds", 0.0) > 0 ? sync_ms / 1000.0 / during.value("seconds", 0.0) : 0.0}};
}

// The last finished_at (Unix ms) of any instance in the store at `url` (sqlite://path or a
// PostgreSQL URL), or -1.
int64_t LastFinishedMs(const std::string& url) {
  const std::string sql = "SELECT max(finished_at) FROM workflow_instances";
  if (url.rfind("sqlite://", 0) == 0) {
    sqlite3* db = nullptr;
    int64_t out = -1;
    if (sqlite3_open_v2(url.substr(9).c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        out = sqlite3_column_int64(st, 0);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
  }
  std::string error;
  auto row = PgRow(url, sql, &error);
  return row.empty() || row[0].empty() ? -1 : std::atoll(row[0].c_str());
}

// N webhooks, closed loop, until N more instances are Completed. `snapshot` (optional) is called
// just before the timed run and just after its last completion; its results land in the report.
Json WebhookRun(ServerProcess& server, const std::string& url, int total, int connections, const Settings& s,
                const std::string& name, const std::function<Json()>& snapshot) {
  if (std::string e = Publish(server.port(), ThreeActivityWorkflow("bench-webhook", "bench", s.commit_each));
      !e.empty())
    return {{"error", e}};
  HttpClient poller("127.0.0.1", server.port());
  HttpTarget hook{.method = "POST", .path = "/hooks/bench", .body = R"({"order":1})"};
  LoadOptions o;
  o.port = server.port();
  o.connections = connections;

  // The end of a run: every webhook sent and no instance left Running or Pending, checked every
  // 100 ms with one probe of the status index each; the time is then taken from the store, as the
  // last instance's finished_at. (Polling GET /api/stats, which counts every instance by status,
  // cost PostgreSQL ~34 ms a poll at 40,000 instances: a sixth of its time in the run.)
  int polls = 0;
  auto any_running = [&]() -> std::optional<bool> {
    for (const char* status : {"Running", "Pending"}) {
      HttpReply r =
          poller.Call({.method = "GET", .path = std::string("/api/instances?status=") + status + "&limit=1"});
      Json j;
      std::string error;
      if (r.status != 200 || !ParseJson(r.body, &j, &error) || !j.contains("items")) return std::nullopt;
      if (!j["items"].empty()) return true;
    }
    return false;
  };
  auto wait_for = [&](const std::atomic<bool>& sent, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      bool all_sent = sent.load();
      auto running = any_running();
      polls++;
      if (all_sent && running && !*running) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };

  // Warm-up: a few hundred webhooks run to completion first (connections, caches, pools).
  o.total = std::min(500, total);
  RunLoad(o, hook);
  std::atomic<bool> warmed{true};
  if (!wait_for(warmed, Clock::now() + 60s)) return {{"error", "the warm-up did not complete"}};
  StatsCounts before = PollStats(poller);

  Json db_before = snapshot ? snapshot() : Json();
  CpuMeter cpu(server.pid());
  pid_t perf = StartPerf(s.perf_dir, "webhook_" + name, server.pid());
  o.total = total;
  LoadResult load;
  auto start = Clock::now();
  auto start_wall = std::chrono::system_clock::now();
  std::atomic<bool> sent{false};
  std::thread loader([&] {
    load = RunLoad(o, hook);
    sent = true;
  });
  bool done = wait_for(sent, Clock::now() + 600s);
  auto end = Clock::now();
  Json db_after = snapshot ? snapshot() : Json();
  loader.join();
  StatsCounts after = PollStats(poller);
  if (after.completed + after.faulted - before.completed - before.faulted != total) done = false;
  StopPerf(perf);
  Json cpu_report = cpu.Report();
  // The load generator starts its clock 20 ms after RunLoad is called; count from the first send
  // to the last instance's finished_at (to the poll's end only when the store cannot say).
  double seconds = Seconds(end - start) - 0.020;
  int64_t last_ms = LastFinishedMs(url);
  int64_t start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(start_wall.time_since_epoch()).count();
  bool from_store = last_ms > start_ms;
  if (from_store) seconds = static_cast<double>(last_ms - start_ms) / 1000.0 - 0.020;
  Json j = {{"webhooks", total},
            {"connections", connections},
            {"completed", after.completed - before.completed},
            {"faulted", after.faulted - before.faulted},
            {"seconds", seconds},
            {"workflows_per_sec", done ? static_cast<double>(total) / seconds : 0.0},
            {"accepted_per_sec", load.seconds > 0 ? static_cast<double>(load.completed) / load.seconds : 0.0},
            {"requests", LoadJson(load)},
            {"completion_polls", polls},
            {"end_from", from_store ? "last finished_at" : "poll"},
            {"cpu", cpu_report}};
  if (snapshot) {
    db_after["seconds"] = seconds;
    j["db_before"] = db_before;
    j["db_after"] = db_after;
  }
  if (!done) j["error"] = "not every instance completed within 600 s";
  if (load.non_2xx > 0 || load.transport_errors > 0) j["error"] = "some webhooks failed: " + load.first_error;
  return j;
}

// The server's own histogram of execute answers (http_request_duration_seconds, from the request
// read to the answer written): {count, answered within 5 ms}. Set against the client's figures it
// tells time in the server from time in the kernel, the scheduler and the load generator.
std::pair<double, double> ServerExecuteTimes(int port) {
  HttpReply r = HttpCall("127.0.0.1", port, {.method = "GET", .path = "/metrics"});
  double count = 0, fast = 0;
  size_t pos = 0;
  while (pos < r.body.size()) {
    size_t eol = r.body.find('\n', pos);
    if (eol == std::string::npos) eol = r.body.size();
    std::string_view line(r.body.data() + pos, eol - pos);
    pos = eol + 1;
    if (line.find("route=\"/api/workflows/{id}/execute\"") == std::string_view::npos) continue;
    double v = std::atof(std::string(line.substr(line.rfind(' ') + 1)).c_str());
    if (line.rfind("http_request_duration_seconds_count", 0) == 0) count = v;
    if (line.rfind("http_request_duration_seconds_bucket", 0) == 0 && line.find("le=\"0.005\"") != line.npos)
      fast = v;
  }
  return {count, fast};
}

// The sustainable rate of sync executes (closed loop), then latency at half of it (open loop).
Json ExecuteRun(ServerProcess& server, const Settings& s) {
  if (std::string e = Publish(server.port(), ThreeActivityWorkflow("bench-execute", "", s.commit_each));
      !e.empty())
    return {{"error", e}};
  HttpTarget exec{.method = "POST",
                  .path = "/api/workflows/bench-execute/execute",
                  .body = R"({"wait":true,"input":{}})"};
  HttpReply first = HttpCall("127.0.0.1", server.port(), exec);
  Json answer;
  std::string error;
  std::string first_status = "?";
  if (ParseJson(first.body, &answer, &error) && answer.is_object())
    first_status = answer.value("status", "?");
  if (first.status != 200 || first_status != "Completed")
    return {{"error",
             "execute answered HTTP " + std::to_string(first.status) + " " + first.error + " " + first.body}};

  LoadOptions closed;
  closed.port = server.port();
  closed.connections = s.execute_connections;
  closed.warmup = 1000ms;
  closed.duration = std::chrono::milliseconds(1000 + 1000 * s.execute_seconds);
  CpuMeter cpu(server.pid());
  LoadResult max = RunLoad(closed, exec);
  Json closed_cpu = cpu.Report();
  double sustainable = max.non_2xx == 0 && max.transport_errors == 0 ? max.requests_per_sec : 0;

  LoadOptions open;
  open.port = server.port();
  open.connections = s.open_loop_connections;
  open.rate = sustainable / 2;
  open.warmup = 1000ms;
  open.duration = std::chrono::milliseconds(1000 + 1000 * s.open_loop_seconds);
  Json out = {{"closed_loop", LoadJson(max)},
              {"closed_loop_connections", s.execute_connections},
              {"closed_loop_cpu", closed_cpu},
              {"sustainable_per_sec", sustainable}};
  if (open.rate <= 0) {
    out["error"] = "no sustainable rate: " + max.first_error;
    return out;
  }
  cpu.Reset();
  auto [count_before, fast_before] = ServerExecuteTimes(server.port());
  LoadResult half = RunLoad(open, exec);
  auto [count_after, fast_after] = ServerExecuteTimes(server.port());
  out["open_loop"] = LoadJson(half);
  // Includes the warm-up's answers, which the client's figures leave out.
  out["open_loop_server_view"] = {{"answers", count_after - count_before},
                                  {"over_5ms", (count_after - count_before) - (fast_after - fast_before)}};
  out["open_loop_rate"] = open.rate;
  out["open_loop_connections"] = s.open_loop_connections;
  out["open_loop_cpu"] = cpu.Report();
  out["p50_ms"] = half.latency.p50_ms;
  out["p99_ms"] = half.latency.p99_ms;
  out["max_ms"] = half.latency.max_ms;
  if (half.non_2xx > 0 || half.transport_errors > 0)
    out["error"] = "some executes failed: " + half.first_error;
  return out;
}

// One store. One server process: idle RSS, webhooks, idle RSS after them; a second process on the
// same database: executes (separate processes, so PostgreSQL's per-backend WAL statistics are
// flushed, by the backends exiting, between the two).
Json RunStore(const Settings& s, const std::string& name, const std::string& url, const fs::path& dir,
              int webhooks, const std::string& pg_admin, Json* out) {
  Json d;
  std::function<Json()> snapshot;
  if (!pg_admin.empty()) snapshot = [&pg_admin] { return PgSnapshot(pg_admin); };
  {
    ServerProcess server(s.binary, url, dir, s.sets);
    if (!server.Start()) {
      (*out)["http_errors"].push_back(name + ": " + server.error());
      return {{"error", server.error()}};
    }
    d["start_to_ready_ms"] = server.ready_ms();
    std::this_thread::sleep_for(2s);
    d["idle_rss_mb"] = RssMb(server.pid());
    d["webhook"] = WebhookRun(server, url, webhooks, s.webhook_connections, s, name, snapshot);
    std::this_thread::sleep_for(2s);
    d["idle_rss_after_load_mb"] = RssMb(server.pid());
    d["peak_rss_mb"] = RssMb(server.pid(), "VmHWM:");
    if (int code = server.Stop(); code != 0) d["stop_exit_code"] = code;
    if (snapshot && d["webhook"].contains("db_before")) {
      Json& w = d["webhook"];
      w["postgres_cost"] = PgCost(w["db_before"], w["db_after"], snapshot(), webhooks);
      w.erase("db_before");
      w.erase("db_after");
      // Heap-only updates write no index entry (read after the server's backends exited, which
      // flushes their table statistics).
      std::string error;
      auto row = PgRow(url,
                       "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = "
                       "'workflow_instances'",
                       &error);
      if (row.size() == 2) {
        double updates = std::atof(row[0].c_str()), hot = std::atof(row[1].c_str());
        // The counters include the warm-up's workflows (WebhookRun: up to 500 before the run).
        w["postgres_cost"]["instance_updates_per_workflow"] = updates / (webhooks + std::min(500, webhooks));
        w["postgres_cost"]["instance_updates_hot_fraction"] = updates > 0 ? hot / updates : 0.0;
      }
    }
  }
  {
    ServerProcess server(s.binary, url, dir, s.sets);
    if (!server.Start()) {
      d["execute"] = {{"error", server.error()}};
    } else {
      d["execute"] = ExecuteRun(server, s);
      if (int code = server.Stop(); code != 0) d["stop_exit_code"] = code;
    }
  }
  d["server_settings"] = s.sets;
  for (const char* part : {"webhook", "execute"}) {
    if (d[part].contains("error"))
      (*out)["http_errors"].push_back(name + " " + part + ": " + d[part]["error"].get<std::string>());
  }

  (*out)["http_webhook_workflows_per_sec_" + name] = d["webhook"].value("workflows_per_sec", 0.0);
  (*out)["http_execute_sustainable_per_sec_" + name] = d["execute"].value("sustainable_per_sec", 0.0);
  (*out)["http_execute_wait_p99_ms_" + name] = d["execute"].value("p99_ms", 0.0);
  (*out)["idle_rss_after_load_mb_" + name] = d["idle_rss_after_load_mb"];
  return d;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Start-up: `starts` times on new database files (with migrations), then on one existing file.
Json StartupRun(const Settings& s, const fs::path& dir, Json* out) {
  std::vector<double> fresh, existing;
  std::vector<double> rss;
  std::string error;
  for (int i = 0; i < s.starts && error.empty(); ++i) {
    ServerProcess server(s.binary, "sqlite://" + (dir / ("fresh-" + std::to_string(i) + ".db")).string(), dir,
                         s.sets);
    if (!server.Start()) error = server.error();
    fresh.push_back(server.ready_ms());
  }
  std::string db = "sqlite://" + (dir / "fresh-0.db").string();
  for (int i = 0; i < s.starts && error.empty(); ++i) {
    ServerProcess server(s.binary, db, dir, s.sets);
    if (!server.Start()) error = server.error();
    existing.push_back(server.ready_ms());
    if (i == 0) {
      std::this_thread::sleep_for(2s);
      rss.push_back(RssMb(server.pid()));
    }
  }
  Json d = {{"fresh_db_ms", fresh}, {"existing_db_ms", existing}, {"idle_rss_mb", rss}};
  if (!error.empty()) d["error"] = error;
  if (!error.empty()) {
    (*out)["http_errors"].push_back("start-up: " + error);
    return d;
  }
  (*out)["start_to_ready_ms"] = Median(existing);
  (*out)["start_to_ready_fresh_db_ms"] = Median(fresh);
  if (!rss.empty()) (*out)["idle_rss_mb"] = rss.front();
  return d;
}

// postgresql://user:pw@host:port/db?x -> (prefix up to the database name, user).
bool SplitUrl(const std::string& url, std::string* prefix, std::string* user) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return false;
  size_t slash = url.find('/', at);
  if (slash == std::string::npos) return false;
  *prefix = url.substr(0, slash + 1);
  std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
  *user = userinfo.substr(0, userinfo.find(':'));
  return true;
}

}  // namespace
}  // namespace trellis::bench

int main(int argc, char** argv) {
  using namespace trellis;
  using namespace trellis::bench;
  Settings s;
#ifdef TRELLIS_SERVER_BINARY
  s.binary = TRELLIS_SERVER_BINARY;
#endif
  std::string include;
  bool sqlite = true, postgres = true;
  // activity: the bench's workflows commit after every activity; end: DESIGN.md's default commit
  // points (only the end, for these pure activities); both: PostgreSQL runs once each way, the
  // second under keys ending in _postgres_default_commits (SQLite runs with `activity`).
  std::string commit_modes = "activity";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--include")
      include = next();
    else if (a == "--trellis")
      s.binary = next();
    else if (a == "--webhooks-sqlite")
      s.webhooks_sqlite = std::atoi(next().c_str());
    else if (a == "--wal-warmup-mb")
      s.wal_warmup_mb = std::atoi(next().c_str());
    else if (a == "--webhooks-postgres")
      s.webhooks_postgres = std::atoi(next().c_str());
    else if (a == "--webhook-connections")
      s.webhook_connections = std::atoi(next().c_str());
    else if (a == "--execute-connections")
      s.execute_connections = std::atoi(next().c_str());
    else if (a == "--execute-seconds")
      s.execute_seconds = std::atoi(next().c_str());
    else if (a == "--open-loop-seconds")
      s.open_loop_seconds = std::atoi(next().c_str());
    else if (a == "--starts")
      s.starts = std::atoi(next().c_str());
    else if (a == "--set")
      s.sets.push_back(next());
    else if (a == "--perf-dir")
      s.perf_dir = next();
    else if (a == "--commit") {
      commit_modes = next();
      if (commit_modes != "activity" && commit_modes != "end" && commit_modes != "both") {
        std::cerr << "trellis_http_bench: --commit takes activity, end or both, not '" << commit_modes
                  << "'\n";
        return 2;
      }
      s.commit_each = commit_modes != "end";
    } else if (a == "--only") {
      std::string which = next();
      sqlite = which == "sqlite";
      postgres = which == "postgres";
    } else {
      std::cerr
          << "usage: trellis_http_bench [--include FILE] [--trellis PATH] [--webhooks-sqlite N] "
             "[--webhooks-postgres N] [--webhook-connections N] [--execute-connections N] "
             "[--execute-seconds N] [--open-loop-seconds N] [--starts N] [--set key=value]... "
             "[--perf-dir DIR] [--commit activity|end|both] [--wal-warmup-mb N] [--only sqlite|postgres]\n";
      return 2;
    }
  }
  if (!s.binary.empty())
    s.binary = std::filesystem::absolute(s.binary).string();  // the child runs in a temp dir
  if (s.binary.empty()) {
    std::cerr << "trellis_http_bench: pass --trellis PATH to the trellis binary\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  Json out = Json::object();
  if (!include.empty()) {
    std::string error;
    if (!ParseJson(ReadFile(include), &out, &error) || !out.is_object()) out = Json::object();
  }
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / ("trellis-http-bench-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);

  Json details = {{"cores", std::thread::hardware_concurrency()},
                  {"load_generator", "bench/http_load.cpp (epoll, HTTP/1.1 keep-alive, 1 thread)"}};
  details["startup"] = StartupRun(s, dir, &out);
  if (sqlite) {
    details["sqlite"] =
        RunStore(s, "sqlite", "sqlite://" + (dir / "bench.db").string(), dir, s.webhooks_sqlite, "", &out);
  }

  const char* url = std::getenv("TRELLIS_TEST_POSTGRES_URL");
  const char* admin = std::getenv("TRELLIS_TEST_POSTGRES_ADMIN_URL");
  std::string prefix, user;
  if (!postgres) {
  } else if (url == nullptr || admin == nullptr) {
    out["http_errors"].push_back(
        "postgres: TRELLIS_TEST_POSTGRES_URL/ADMIN_URL are not set: run through `make bench` "
        "(scripts/with-postgres)");
  } else if (!SplitUrl(url, &prefix, &user)) {
    out["http_errors"].push_back("postgres: cannot read TRELLIS_TEST_POSTGRES_URL");
  } else {
    // Flush timing for the report (the cluster is the throwaway one of scripts/with-postgres).
    PgExec(admin, "ALTER SYSTEM SET track_wal_io_timing = on");
    PgExec(admin, "SELECT pg_reload_conf()");
    std::string error;
    int ready = s.wal_warmup_mb > 0 ? PgPrepareWal(admin, s.wal_warmup_mb, &error) : 0;
    if (ready < 0) out["http_errors"].push_back("postgres: preparing WAL: " + error);
    details["postgres_wal_segments_ready"] = ready;
    // Each run on a database of its own.
    std::vector<std::pair<std::string, bool>> runs;  // name, commit_each
    runs.emplace_back("postgres", commit_modes != "end");
    if (commit_modes == "both") runs.emplace_back("postgres_default_commits", false);
    for (const auto& [name, commit_each] : runs) {
      std::string db = "trellis_http_bench_" + std::to_string(rd() % 1000000);
      if (error = PgExec(admin, "CREATE DATABASE " + db + " OWNER \"" + user + "\""); !error.empty()) {
        out["http_errors"].push_back(name + ": CREATE DATABASE: " + error);
        continue;
      }
      Settings run = s;
      run.commit_each = commit_each;
      details[name] = RunStore(run, name, prefix + db, dir, s.webhooks_postgres, admin, &out);
      details[name]["commit"] = commit_each ? "activity" : "end";
      PgExec(admin, "DROP DATABASE " + db + " WITH (FORCE)");
    }
  }
  out["http_details"] = details;
  std::filesystem::remove_all(dir);
  std::cout << out.dump(2) << std::endl;
  return 0;
}
