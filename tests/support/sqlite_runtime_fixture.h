// The base of tests that run the durable runtime in-process: a fresh, migrated SQLite store in a
// temporary directory (removed afterwards), a workflow saved from YAML, and a wait for an
// instance to reach a status with its lease given back. Header-only: the test executables that
// use it link the runtime already. A derived TearDown destroys its nodes first, then calls this
// one.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "activities/builtin.h"
#include "model/parser.h"
#include "runtime/definitions.h"
#include "store/sqlite/sqlite_store.h"

namespace trellis::test {

class SqliteRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("trellis-runtime-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    OpenStore();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the store on the directory's database, as a restarted process would.
  void OpenStore() {
    DatabaseSettings settings;
    settings.sqlite_path = (dir_ / "trellis.db").string();
    auto store = OpenSqliteStore(settings, {});
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    ASSERT_TRUE(store_->Migrate().ok());
  }

  // Saves and publishes a workflow.
  void Save(const std::string& yaml) {
    std::vector<ValidationError> errors;
    WorkflowDefinition def = ParseDefinition(yaml, &errors);
    ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
    auto saved = SaveWorkflow(*store_, BuiltinActivities(), DefinitionToJson(def), true, clock_->Now());
    ASSERT_TRUE(saved.ok()) << saved.status().message();
  }

  // Waits (polling, no fixed sleep) until the instance has status `want` and no lease.
  InstanceRecord WaitFor(const std::string& id, InstanceStatus want,
                         std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto until = std::chrono::steady_clock::now() + limit;
    InstanceRecord last;
    while (std::chrono::steady_clock::now() < until) {
      auto r = store_->GetInstance(id);
      if (r.ok()) {
        last = *r;
        if (r->status == want && r->lease_owner.empty()) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "instance " << id << " is " << InstanceStatusName(last.status) << ", wanted "
                  << InstanceStatusName(want)
                  << "; incidents: " << last.state.value("incidents", Json()).dump();
    return last;
  }

  std::filesystem::path dir_;
  const Clock* clock_ = &SystemClock::Instance();
  std::unique_ptr<Store> store_;
};

}  // namespace trellis::test
