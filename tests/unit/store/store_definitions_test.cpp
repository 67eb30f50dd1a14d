// Conformance: migrations, readiness and definitions (versions, drafts, publishing, schedules,
// triggers, listing). The suite is instantiated once for every provider here.
#include <map>

#include "store/migrations.h"
#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Providers, StoreConformanceTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

Json Definition(const std::string& id, int version, const std::string& name = "") {
  return Json{{"id", id}, {"version", version}, {"name", name}, {"activities", Json::array()}};
}

DefinitionRecord Def(const std::string& id, int version, const std::string& name = "") {
  return DefinitionRecord{.id = id,
                          .version = version,
                          .name = name.empty() ? id + " name" : name,
                          .definition = Definition(id, version, name),
                          .created_at = At(0),
                          .updated_at = At(0)};
}

ScheduleRow Schedule(const std::string& id, const std::string& wf, const std::string& cron, TimePoint next,
                     int version = 1) {
  return ScheduleRow{.id = id,
                     .workflow_id = wf,
                     .version = version,
                     .cron = cron,
                     .input = Json{{"x", 1}},
                     .next_run_at = next};
}

TEST_P(StoreConformanceTest, MigrateTwiceIsIdempotentAndStatusListsApplied) {
  // The fixture migrated already: a second run applies (and reports) nothing.
  auto again = store_->Migrate();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->empty());
  auto status = store_->MigrationStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_FALSE(status->empty());
  for (const auto& m : *status) {
    EXPECT_TRUE(m.applied_at.has_value()) << m.name;
    EXPECT_EQ(m.checksum.size(), 64u);
  }
  EXPECT_EQ((*status)[0].version, 1);
  EXPECT_TRUE(store_->Ping().ok());
  EXPECT_FALSE(store_->Describe().empty());
  EXPECT_EQ(store_->provider(), GetParam());
}

// Checksums recorded by earlier versions (OpenSSL's SHA-256) must still match: the FIPS 180-2
// test vectors.
TEST(MigrationChecksumTest, IsLowercaseHexSha256OfTheSql) {
  EXPECT_EQ(MigrationChecksum({1, "a", "abc"}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(MigrationChecksum({1, "a", ""}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(MigrationChecksum({1, "a", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"}),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_P(StoreConformanceTest, TamperedMigrationChecksumFailsMigrateNamingIt) {
  RawTestStore raw = MakeRawTestStore(GetParam());
  ASSERT_NE(raw.store, nullptr);
  ASSERT_TRUE(raw.exec("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1"));
  auto migrated = raw.store->Migrate();
  ASSERT_FALSE(migrated.ok());
  EXPECT_EQ(migrated.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(migrated.status().message().find("migration 1"), std::string::npos)
      << migrated.status().message();
}

TEST_P(StoreConformanceTest, DefinitionVersionsDraftsAndPublishing) {
  ASSERT_TRUE(store_->InsertDefinition(Def("orders", 1)).ok());
  EXPECT_EQ(store_->InsertDefinition(Def("orders", 1)).code(), StatusCode::kConflict);

  // A draft changes in place.
  ASSERT_TRUE(
      store_->UpdateDefinitionDraft("orders", 1, Definition("orders", 1, "v1b"), "Orders v1b", At(5)).ok());
  auto got = store_->GetDefinition("orders", 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "Orders v1b");
  EXPECT_EQ(got->definition["name"], "v1b");
  EXPECT_EQ(got->definition["version"], 1);
  EXPECT_FALSE(got->published);
  EXPECT_FALSE(got->frozen);
  EXPECT_EQ(got->updated_at, At(5));
  EXPECT_EQ(store_->UpdateDefinitionDraft("orders", 9, Definition("orders", 9), "x", At(5)).code(),
            StatusCode::kNotFound);

  // No published version: the newest.
  ASSERT_TRUE(store_->InsertDefinition(Def("orders", 2)).ok());
  EXPECT_EQ(store_->GetDefinition("orders", std::nullopt)->version, 2);

  // Publishing freezes; the published version is the default.
  ASSERT_TRUE(store_->PublishDefinition("orders", 1, {}, {}, At(10)).ok());
  got = store_->GetDefinition("orders", std::nullopt);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 1);
  EXPECT_TRUE(got->published);
  EXPECT_TRUE(got->frozen);
  EXPECT_EQ(store_->UpdateDefinitionDraft("orders", 1, Definition("orders", 1), "x", At(11)).code(),
            StatusCode::kFailedPrecondition);

  // Publishing another version switches; the first stays frozen.
  ASSERT_TRUE(store_->PublishDefinition("orders", 2, {}, {}, At(12)).ok());
  auto versions = store_->ListDefinitionVersions("orders");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_FALSE((*versions)[0].published);
  EXPECT_TRUE((*versions)[0].frozen);
  EXPECT_TRUE((*versions)[1].published);
  EXPECT_EQ(store_->GetDefinition("orders", std::nullopt)->version, 2);

  EXPECT_EQ(store_->PublishDefinition("orders", 7, {}, {}, At(13)).code(), StatusCode::kNotFound);

  // Retracting: nothing is published; the newest is the default again.
  ASSERT_TRUE(store_->InsertDefinition(Def("orders", 3)).ok());
  ASSERT_TRUE(store_->PublishDefinition("orders", std::nullopt, {}, {}, At(14)).ok());
  got = store_->GetDefinition("orders", std::nullopt);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 3);
  auto retracted = store_->ListDefinitionVersions("orders");
  ASSERT_TRUE(retracted.ok());
  for (const auto& v : *retracted) EXPECT_FALSE(v.published) << v.version;

  EXPECT_EQ(store_->GetDefinition("nope", std::nullopt).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetDefinition("orders", 42).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListDefinitionVersions("nope")->empty());
}

TEST_P(StoreConformanceTest, PublishReplacesSchedulesKeepingNextRunOfUnchangedOnes) {
  ASSERT_TRUE(store_->InsertDefinition(Def("nightly", 1)).ok());
  ASSERT_TRUE(store_->InsertDefinition(Def("nightly", 2)).ok());
  ASSERT_TRUE(store_
                  ->PublishDefinition("nightly", 1,
                                      {Schedule("nightly#0", "nightly", "0 0 * * *", At(100)),
                                       Schedule("nightly#1", "nightly", "0 * * * *", At(200))},
                                      {}, At(0))
                  .ok());
  auto schedules = store_->ListSchedules();
  ASSERT_TRUE(schedules.ok());
  ASSERT_EQ(schedules->size(), 2u);
  EXPECT_EQ((*schedules)[0].input, (Json{{"x", 1}}));
  EXPECT_EQ((*schedules)[0].next_run_at, At(100));

  // #0 unchanged (keeps At(100)), #1's cron changed (takes the new time), #2 is new, and a
  // schedule that is not in the new list disappears.
  ASSERT_TRUE(store_
                  ->PublishDefinition("nightly", 2,
                                      {Schedule("nightly#0", "nightly", "0 0 * * *", At(900), 2),
                                       Schedule("nightly#1", "nightly", "*/5 * * * *", At(300), 2),
                                       Schedule("nightly#2", "nightly", "0 12 * * *", At(400), 2)},
                                      {}, At(1))
                  .ok());
  schedules = store_->ListSchedules();
  ASSERT_TRUE(schedules.ok());
  ASSERT_EQ(schedules->size(), 3u);
  EXPECT_EQ((*schedules)[0].id, "nightly#0");
  EXPECT_EQ((*schedules)[0].next_run_at, At(100));
  EXPECT_EQ((*schedules)[0].version, 2);
  EXPECT_EQ((*schedules)[1].next_run_at, At(300));
  EXPECT_EQ((*schedules)[1].cron, "*/5 * * * *");
  EXPECT_EQ((*schedules)[2].next_run_at, At(400));

  ASSERT_TRUE(store_
                  ->PublishDefinition("nightly", 2,
                                      {Schedule("nightly#2", "nightly", "0 12 * * *", At(5), 2)}, {}, At(2))
                  .ok());
  schedules = store_->ListSchedules();
  ASSERT_EQ(schedules->size(), 1u);
  EXPECT_EQ((*schedules)[0].next_run_at, At(400));

  // Retract removes them.
  ASSERT_TRUE(store_->PublishDefinition("nightly", std::nullopt, {}, {}, At(3)).ok());
  EXPECT_TRUE(store_->ListSchedules()->empty());
}

TEST_P(StoreConformanceTest, TriggersAreFoundByTypeAndKeyAndReplacedOnPublish) {
  ASSERT_TRUE(store_->InsertDefinition(Def("hook", 1)).ok());
  ASSERT_TRUE(store_->InsertDefinition(Def("listener", 1)).ok());
  std::vector<TriggerRow> hook_triggers = {
      TriggerRow{
          .workflow_id = "hook", .version = 1, .type = "Webhook", .key = "orders/new", .method = "POST"},
      TriggerRow{.workflow_id = "hook",
                 .version = 1,
                 .type = "Event",
                 .key = "order.paid",
                 .config = Json{{"a", 1}}}};
  ASSERT_TRUE(store_->PublishDefinition("hook", 1, {}, hook_triggers, At(0)).ok());
  ASSERT_TRUE(
      store_
          ->PublishDefinition(
              "listener", 1, {},
              {TriggerRow{.workflow_id = "listener", .version = 1, .type = "Event", .key = "order.paid"}},
              At(0))
          .ok());

  auto webhooks = store_->FindTriggers("Webhook", "orders/new");
  ASSERT_TRUE(webhooks.ok());
  ASSERT_EQ(webhooks->size(), 1u);
  EXPECT_EQ((*webhooks)[0].workflow_id, "hook");
  EXPECT_EQ((*webhooks)[0].method, "POST");
  auto events = store_->FindTriggers("Event", "order.paid");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].workflow_id, "hook");
  EXPECT_EQ((*events)[0].config, (Json{{"a", 1}}));
  EXPECT_EQ((*events)[1].workflow_id, "listener");
  EXPECT_TRUE(store_->FindTriggers("Event", "order.shipped")->empty());

  // Republishing without triggers removes them.
  ASSERT_TRUE(store_->PublishDefinition("hook", 1, {}, {}, At(1)).ok());
  EXPECT_TRUE(store_->FindTriggers("Webhook", "orders/new")->empty());
  EXPECT_EQ(store_->FindTriggers("Event", "order.paid")->size(), 1u);
}

// Webhook triggers on "plain" (open: an empty secret needs no signature) and "guarded" (signed,
// POST only), and instances waiting on webhook bookmarks.
class WebhookReceiptTest : public StoreConformanceTest {
 protected:
  void PublishTriggers() {
    for (const TriggerRow& t : {TriggerRow{.workflow_id = "open",
                               .version = 1,
                               .type = "Webhook",
                               .key = "plain",
                               .config = Json{{"secret", ""}}},
                                TriggerRow{.workflow_id = "signed",
                                .version = 1,
                                .type = "Webhook",
                                .key = "guarded",
                                .method = "POST",
                                .config = Json{{"secret", "hook-key"}}}}) {
      ASSERT_TRUE(store_->InsertDefinition(Def(t.workflow_id, 1)).ok());
      ASSERT_TRUE(store_->PublishDefinition(t.workflow_id, 1, {}, {t}, At(0)).ok());
    }
  }
  // Instance `id` waits on a webhook bookmark for `path` (and `method`, when not empty).
  void Wait(const std::string& id, const std::string& path, const std::string& method = "") {
    Create({Instance(id)});
    InstanceCommit c = CommitFor(ClaimOne(id, At(1)), At(1));
    c.bookmarks = std::vector<BookmarkRow>{BookmarkRow{
        .id = "hook", .kind = BookmarkKind::kWebhook, .activity_id = "hook", .key = path, .method = method}};
    ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  }
};
INSTANTIATE_TEST_SUITE_P(Providers, WebhookReceiptTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// A webhook call's first step: triggers and bookmarks at once, unless a matching trigger needs a
// signature, which must be checked before anything is resumed.
TEST_P(WebhookReceiptTest, ReceiveWebhookFindsTriggersAndResumesUnlessASignatureIsNeeded) {
  PublishTriggers();
  // One instance waits on each path.
  for (const char* path : {"plain", "guarded", "bare"}) Wait(std::string("waits-") + path, path);
  Json request = {{"body", "hi"}};

  auto plain = store_->ReceiveWebhook("plain", "POST", request, At(2));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(plain->triggers.size(), 1u);
  EXPECT_EQ(plain->triggers[0].workflow_id, "open");
  EXPECT_EQ(plain->triggers[0].config, (Json{{"secret", ""}}));
  EXPECT_TRUE(plain->delivered);
  EXPECT_EQ(plain->delivery.resumed, 1);
  EXPECT_TRUE(Get("waits-plain").runnable);

  // A GET does not match the signed POST trigger: nothing to check, the bookmark is resumed.
  // A POST must be checked first: nothing is resumed, and the caller delivers after the check.
  auto posted = store_->ReceiveWebhook("guarded", "POST", request, At(2));
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  ASSERT_EQ(posted->triggers.size(), 1u);
  EXPECT_EQ(posted->triggers[0].config, (Json{{"secret", "hook-key"}}));
  EXPECT_FALSE(posted->delivered);
  EXPECT_EQ(posted->delivery.resumed, 0);
  EXPECT_FALSE(Get("waits-guarded").runnable);
  auto fetched = store_->ReceiveWebhook("guarded", "GET", request, At(2));
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->triggers.size(), 1u);  // every trigger on the path; the caller filters
  EXPECT_TRUE(fetched->delivered);
  EXPECT_EQ(fetched->delivery.resumed, 1);
  EXPECT_TRUE(Get("waits-guarded").runnable);

  // No trigger: the bookmark alone.
  auto bare = store_->ReceiveWebhook("bare", "PUT", request, At(2));
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_TRUE(bare->triggers.empty());
  EXPECT_TRUE(bare->delivered);
  EXPECT_EQ(bare->delivery.resumed, 1);
  auto inbox = ClaimOne("waits-bare", At(3)).inbox;
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].payload, request);
  auto nothing = store_->ReceiveWebhook("nobody", "POST", request, At(3));
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_TRUE(nothing->triggers.empty());
  EXPECT_TRUE(nothing->delivered);
  EXPECT_EQ(nothing->delivery.resumed, 0);
}

// Concurrent webhook calls in one statement: each answered as if the calls had been made in turn.
TEST_P(WebhookReceiptTest, ReceiveWebhooksAnswersEachCallAsIfMadeInTurn) {
  PublishTriggers();
  Wait("waits-plain", "plain");
  Wait("waits-guarded", "guarded");
  Wait("waits-bare", "bare");
  Wait("waits-bare-post", "bare", "POST");
  std::vector<Json> payloads;
  for (int i = 0; i < 6; ++i) payloads.push_back(Json{{"call", i}});
  std::vector<Store::WebhookArrival> calls = {
      {.path = "plain", .method = "POST", .request = &payloads[0], .now = At(2)},
      {.path = "plain", .method = "POST", .request = &payloads[1], .now = At(2)},  // taken by call 0
      {.path = "guarded", .method = "POST", .request = &payloads[2], .now = At(2)},
      {.path = "bare", .method = "GET", .request = &payloads[3], .now = At(2)},   // the any-method one
      {.path = "bare", .method = "POST", .request = &payloads[4], .now = At(2)},  // the POST one is left
      {.path = "nobody", .method = "POST", .request = &payloads[5], .now = At(2)}};
  auto got = store_->ReceiveWebhooks(calls);
  ASSERT_EQ(got.size(), calls.size());
  for (const auto& r : got) ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<int> resumed;
  std::vector<bool> delivered;
  std::vector<size_t> triggers;
  for (const auto& r : got) {
    resumed.push_back(r->delivery.resumed);
    delivered.push_back(r->delivered);
    triggers.push_back(r->triggers.size());
  }
  EXPECT_EQ(resumed, (std::vector<int>{1, 0, 0, 1, 1, 0}));
  EXPECT_EQ(delivered, (std::vector<bool>{true, true, false, true, true, true}));
  EXPECT_EQ(triggers, (std::vector<size_t>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(got[0]->triggers[0].workflow_id, "open");
  EXPECT_EQ(got[2]->triggers[0].config, (Json{{"secret", "hook-key"}}));
  EXPECT_FALSE(Get("waits-guarded").runnable);  // its caller checks the signature first
  // Each resumed instance got the payload of the call that took its bookmark.
  std::map<std::string, std::vector<Json>> inboxes;
  for (const auto& claimed : ClaimAll(At(3))) {
    for (const auto& item : claimed.inbox) inboxes[claimed.record.id].push_back(item.payload);
  }
  EXPECT_EQ(inboxes, (std::map<std::string, std::vector<Json>>{{"waits-plain", {payloads[0]}},
                                                               {"waits-bare", {payloads[3]}},
                                                               {"waits-bare-post", {payloads[4]}}}));
  EXPECT_TRUE(store_->ReceiveWebhooks({}).empty());
}

TEST_P(StoreConformanceTest, ListDefinitionsOnePerIdWithSearchAndPagination) {
  for (int i = 0; i < 7; ++i) {
    std::string id = "wf-" + std::to_string(i);
    ASSERT_TRUE(store_->InsertDefinition(Def(id, 1, i % 2 == 0 ? "even flow" : "odd flow")).ok());
  }
  ASSERT_TRUE(store_->InsertDefinition(Def("wf-3", 2, "odd flow")).ok());
  ASSERT_TRUE(store_->InsertDefinition(Def("wf-5", 2, "odd flow")).ok());
  ASSERT_TRUE(store_->PublishDefinition("wf-5", 1, {}, {}, At(1)).ok());

  std::vector<DefinitionRecord> all;
  DefinitionFilter filter{.limit = 3};
  int pages = 0;
  do {
    auto page = store_->ListDefinitions(filter);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->items.size(), 3u);
    all.insert(all.end(), page->items.begin(), page->items.end());
    filter.cursor = page->next_cursor;
    ++pages;
  } while (!filter.cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(all[i].id, "wf-" + std::to_string(i));
  EXPECT_EQ(all[3].version, 2);  // newest when none is published
  EXPECT_EQ(all[5].version, 1);  // the published one
  EXPECT_TRUE(all[5].published);

  auto by_name = store_->ListDefinitions(DefinitionFilter{.search = "even"});
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->items.size(), 4u);
  EXPECT_TRUE(by_name->next_cursor.empty());
  auto by_id = store_->ListDefinitions(DefinitionFilter{.search = "wf-6"});
  ASSERT_TRUE(by_id.ok());
  ASSERT_EQ(by_id->items.size(), 1u);
  EXPECT_EQ(by_id->items[0].id, "wf-6");

  EXPECT_EQ(store_->ListDefinitions(DefinitionFilter{.cursor = "!!"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, DeleteDefinitionRemovesVersionsSchedulesAndTriggers) {
  ASSERT_TRUE(store_->InsertDefinition(Def("gone", 1)).ok());
  ASSERT_TRUE(store_->InsertDefinition(Def("gone", 2)).ok());
  ASSERT_TRUE(store_->InsertDefinition(Def("kept", 1)).ok());
  ASSERT_TRUE(store_
                  ->PublishDefinition(
                      "gone", 1, {Schedule("gone#0", "gone", "0 * * * *", At(10))},
                      {TriggerRow{.workflow_id = "gone", .version = 1, .type = "Event", .key = "e"}}, At(0))
                  .ok());
  ASSERT_TRUE(store_->DeleteDefinition("gone").ok());
  EXPECT_EQ(store_->GetDefinition("gone", std::nullopt).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListDefinitionVersions("gone")->empty());
  EXPECT_TRUE(store_->ListSchedules()->empty());
  EXPECT_TRUE(store_->FindTriggers("Event", "e")->empty());
  EXPECT_TRUE(store_->GetDefinition("kept", 1).ok());
  EXPECT_EQ(store_->DeleteDefinition("gone").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace trellis::testing
