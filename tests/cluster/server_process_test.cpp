// `trellis server` as a real process: two servers and a worker sharing one PostgreSQL database,
// the worker's probes and metrics, and SIGTERM in the middle of load.
#include <atomic>
#include <csignal>
#include <thread>

#include "cluster_harness.h"
#include "support/test_client.h"

namespace trellis::cluster {
using test::ClientResponse;
using test::TestClient;
namespace {

constexpr const char* kWaitingWorkflow = R"({
  "id": "greeter",
  "activities": [
    {"id": "wait", "type": "WaitForEvent", "event": "go", "correlation": "{{ input.key }}"},
    {"id": "set", "type": "SetVariable", "name": "greeting", "value": "hello {{ input.key }}"},
    {"id": "out", "type": "SetOutput", "name": "greeting", "value": "{{ vars.greeting }}"}
  ],
  "connections": [{"from": "wait", "to": "set"}, {"from": "set", "to": "out"}]
})";

constexpr const char* kThreeSteps = R"({
  "id": "steps",
  "options": {"commit": "activity"},
  "triggers": [{"type": "Webhook", "path": "steps"}],
  "activities": [
    {"id": "a", "type": "SetVariable", "name": "x", "value": 1},
    {"id": "b", "type": "SetVariable", "name": "y", "value": 2},
    {"id": "c", "type": "SetOutput", "name": "sum", "value": "{{ vars.x + vars.y }}"}
  ],
  "connections": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]
})";

std::string StatusOf(TestClient& client, const std::string& id) {
  auto r = client.Get("/api/instances/" + id);
  return r.status == 200 ? r.json().value("status", "") : "";
}

class ServerProcessTest : public ClusterTest {};

TEST_F(ServerProcessTest, TwoServersAndAWorkerShareOnePostgresDatabase) {
  UseFreshPostgres();
  auto& fleet = Fleet({"worker.poll_interval=200ms"});
  ChildProcess* a = fleet.StartServer({"server.workers=0"}, "server-a");
  ChildProcess* b = fleet.StartServer({"server.workers=0"}, "server-b");
  ChildProcess* w = fleet.Start({}, "worker");
  ASSERT_TRUE(a && b && w);
  std::string url_a = ListeningUrl(*a), url_b = ListeningUrl(*b), url_w = ListeningUrl(*w);
  ASSERT_FALSE(url_a.empty()) << Logs();
  ASSERT_FALSE(url_b.empty()) << Logs();
  ASSERT_FALSE(url_w.empty()) << Logs();
  TestClient ca(url_a), cb(url_b), cw(url_w);

  ASSERT_EQ(ca.Send("POST", "/api/workflows?publish=true", kWaitingWorkflow).status, 201);
  // Instances started through either server wait at their event on the worker.
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    TestClient& c = i % 2 == 0 ? ca : cb;
    auto r = c.Post("/api/workflows/greeter/execute", {{"input", {{"key", "k" + std::to_string(i)}}}});
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(r.json()["id"]);
  }
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitUntil([&] { return StatusOf(cb, id) == "Suspended"; }, 30s)) << id << Logs();
  }
  // Events sent to the other server resume them.
  for (int i = 0; i < 20; ++i) {
    TestClient& c = i % 2 == 0 ? cb : ca;
    auto r = c.Post("/api/events/go", {{"correlation", "k" + std::to_string(i)}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["resumed"], 1);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(WaitUntil([&] { return StatusOf(ca, ids[i]) == "Completed"; }, 30s)) << ids[i] << Logs();
    auto inst = cb.Get("/api/instances/" + ids[i]).json();
    EXPECT_EQ(inst["output"]["greeting"], "hello k" + std::to_string(i));
  }
  // Both servers and the worker are listed as nodes.
  auto nodes = ca.Get("/api/cluster/nodes").json()["items"];
  std::set<std::string> kinds;
  for (const auto& n : nodes)
    kinds.insert(n["kind"].get<std::string>() + ":" + std::to_string(n["pid"].get<int64_t>()));
  EXPECT_EQ(kinds.count("server:" + std::to_string(a->pid())), 1u) << nodes.dump();
  EXPECT_EQ(kinds.count("server:" + std::to_string(b->pid())), 1u) << nodes.dump();
  EXPECT_EQ(kinds.count("worker:" + std::to_string(w->pid())), 1u) << nodes.dump();

  // The worker serves the probes and its metrics on its own port.
  auto ready = cw.Get("/health/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json()["checks"]["database"]["status"], "ok");
  auto metrics = cw.Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("trellis_workflow_executions_total{status=\"Completed\"} 20"),
            std::string::npos)
      << metrics.body.substr(0, 3000);
  EXPECT_EQ(cw.Get("/api/instances").status, 404);  // the worker serves no API
  EXPECT_TRUE(fleet.StopAll());
}

TEST_F(ServerProcessTest, SigtermDuringLoadLosesNoRequestAndNoInstance) {
  std::string db = "sqlite://" + (dir_ / "load.db").string();
  url_ = db;
  auto& fleet = Fleet({"server.shutdown_timeout=20s"});
  ChildProcess* server = fleet.StartServer({"server.workers=4"}, "server");
  ASSERT_NE(server, nullptr);
  std::string url = ListeningUrl(*server);
  ASSERT_FALSE(url.empty()) << Logs();
  {
    TestClient c(url);
    ASSERT_EQ(c.Send("POST", "/api/workflows?publish=true", kThreeSteps).status, 201);
  }
  std::mutex mu;
  std::vector<std::string> accepted;  // instance ids the server answered for
  std::vector<std::string> broken;    // requests that died without an answer on a live connection
  std::atomic<int> answered{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      TestClient c(url);
      for (int i = 0; !stop.load(); ++i) {
        ClientResponse r =
            t % 2 == 0 ? c.Post("/api/workflows/steps/execute", {{"wait", true}})
                       : c.Send("POST", "/hooks/steps", "{\"n\":1}", {{"Content-Type", "application/json"}});
        std::lock_guard lock(mu);
        if (r.status == 0) {
          if (r.refused) return;  // the listener is closed: this client is done
          broken.push_back(r.error);
          return;
        }
        answered.fetch_add(1);
        if (r.status == 200 || r.status == 202) {
          std::string id = r.json().value("id", "");
          if (!id.empty()) accepted.push_back(id);
        } else if (r.status != 503) {
          broken.push_back("status " + std::to_string(r.status) + ": " + r.body);
        }
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return answered.load() >= 300; }, 60s)) << Logs();
  ASSERT_TRUE(server->Signal(SIGTERM));
  auto code = server->Wait(60s);
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(code, std::optional<int>(0)) << Logs();
  EXPECT_TRUE(broken.empty()) << broken.size() << " broken, first: " << broken.front();

  // Nothing accepted is lost: a new server on the same file finishes whatever was in flight.
  ChildProcess* again = fleet.StartServer({"server.workers=4"}, "server-again");
  ASSERT_NE(again, nullptr);
  std::string url2 = ListeningUrl(*again);
  ASSERT_FALSE(url2.empty()) << Logs();
  TestClient c(url2);
  for (const auto& id : accepted) {
    ASSERT_TRUE(WaitUntil([&] { return StatusOf(c, id) == "Completed"; }, 30s)) << id << Logs();
  }
  EXPECT_GE(accepted.size(), 300u);
  EXPECT_TRUE(fleet.StopAll());
}

}  // namespace
}  // namespace trellis::cluster
