// Conformance: the server's tables: sealed secrets and their generation counter, API keys, and
// received webhook deliveries (listing, updates, retention).
#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

using std::chrono::seconds;

// Bytes that are not text: a NUL, high bytes, a quote and a backslash.
const std::string kRawBytes("\x00\xff\x80'\\\x01z", 7);

SecretRecord Secret(const std::string& name, const std::string& key_id, TimePoint at) {
  return SecretRecord{.name = name,
                      .key_id = key_id,
                      .nonce = std::string("nonce-") + kRawBytes,
                      .ciphertext = kRawBytes + "sealed:" + name,
                      .created_at = at,
                      .updated_at = at};
}

ApiKeyRecord Key(const std::string& id, const std::string& hash, TimePoint created) {
  return ApiKeyRecord{.id = id,
                      .name = "key " + id,
                      .prefix = "trl_" + id.substr(0, 2),
                      .hash = hash,
                      .role = "editor",
                      .created_at = created};
}

WebhookDeliveryRecord Delivery(const std::string& id, const std::string& path, TimePoint received) {
  return WebhookDeliveryRecord{.id = id,
                               .path = path,
                               .method = "POST",
                               .headers = Json{{"content-type", "application/json"}},
                               .query = Json{{"q", "1"}},
                               .body = R"({"id":")" + id + R"("})",
                               .status = 202,
                               .received_at = received};
}

int64_t Generation(Store& store) {
  auto g = store.SecretsGeneration();
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *g : -1;
}

TEST_P(StoreConformanceTest, SecretsAreReplacedKeepingCreatedAtAndListedByName) {
  ASSERT_TRUE(store_->PutSecret(Secret("zeta", "k1", At(1))).ok());
  ASSERT_TRUE(store_->PutSecret(Secret("Alpha", "k1", At(2))).ok());
  ASSERT_TRUE(store_->PutSecret(Secret("beta", "k1", At(3))).ok());

  SecretRecord replaced = Secret("beta", "k2", At(50));
  replaced.ciphertext = "other";
  ASSERT_TRUE(store_->PutSecret(replaced).ok());

  auto list = store_->ListSecrets();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  // Byte order: upper case before lower case.
  EXPECT_EQ((*list)[0].name, "Alpha");
  EXPECT_EQ((*list)[1].name, "beta");
  EXPECT_EQ((*list)[2].name, "zeta");

  const SecretRecord& alpha = (*list)[0];
  EXPECT_EQ(alpha.key_id, "k1");
  EXPECT_EQ(alpha.nonce, std::string("nonce-") + kRawBytes) << "raw bytes round-trip";
  EXPECT_EQ(alpha.ciphertext, kRawBytes + "sealed:Alpha");
  EXPECT_EQ(alpha.created_at, At(2));
  EXPECT_EQ(alpha.updated_at, At(2));

  const SecretRecord& beta = (*list)[1];
  EXPECT_EQ(beta.key_id, "k2");
  EXPECT_EQ(beta.ciphertext, "other");
  EXPECT_EQ(beta.created_at, At(3)) << "a replacement keeps created_at";
  EXPECT_EQ(beta.updated_at, At(50));

  ASSERT_TRUE(store_->DeleteSecret("zeta").ok());
  EXPECT_EQ(store_->DeleteSecret("zeta").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteSecret("never").code(), StatusCode::kNotFound);
  list = store_->ListSecrets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].name, "beta");
}

TEST_P(StoreConformanceTest, SecretsGenerationChangesOnPutAndDeleteOnly) {
  int64_t g0 = Generation(*store_);
  EXPECT_EQ(Generation(*store_), g0) << "reading does not change it";

  ASSERT_TRUE(store_->PutSecret(Secret("a", "k1", At(1))).ok());
  int64_t g1 = Generation(*store_);
  EXPECT_NE(g1, g0) << "insert";

  ASSERT_TRUE(store_->PutSecret(Secret("a", "k1", At(2))).ok());
  int64_t g2 = Generation(*store_);
  EXPECT_NE(g2, g1) << "replace, even with the same key";

  ASSERT_TRUE(store_->ListSecrets().ok());
  EXPECT_EQ(Generation(*store_), g2) << "listing does not change it";

  EXPECT_EQ(store_->DeleteSecret("missing").code(), StatusCode::kNotFound);
  EXPECT_EQ(Generation(*store_), g2) << "a delete that removed nothing";

  ASSERT_TRUE(store_->DeleteSecret("a").ok());
  int64_t g3 = Generation(*store_);
  EXPECT_NE(g3, g2) << "delete";
  EXPECT_NE(g3, g1);
  EXPECT_NE(g3, g0);
}

TEST_P(StoreConformanceTest, SecretsGenerationIsReadFromTheDatabaseEachTime) {
  // What another process sharing the database wrote is seen: nothing is cached in the store.
  RawTestStore raw = MakeRawTestStore(GetParam());
  ASSERT_NE(raw.store, nullptr);
  int64_t before = Generation(*raw.store);
  ASSERT_TRUE(raw.exec("UPDATE store_meta SET value = value + 7 WHERE name = 'secrets_generation'"));
  EXPECT_EQ(Generation(*raw.store), before + 7);
}

TEST_P(StoreConformanceTest, ApiKeysInsertFindListTouchAndDelete) {
  ApiKeyRecord first = Key("k-1", "hash-1", At(10));
  first.role = "admin";
  first.expires_at = At(1000);
  ASSERT_TRUE(store_->InsertApiKey(first).ok());
  ASSERT_TRUE(store_->InsertApiKey(Key("k-2", "hash-2", At(5))).ok());

  auto found = store_->FindApiKey("hash-1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  const ApiKeyRecord& k = **found;
  EXPECT_EQ(k.id, "k-1");
  EXPECT_EQ(k.name, "key k-1");
  EXPECT_EQ(k.prefix, "trl_k-");
  EXPECT_EQ(k.hash, "hash-1");
  EXPECT_EQ(k.role, "admin");
  EXPECT_EQ(k.created_at, At(10));
  EXPECT_EQ(k.expires_at, At(1000));
  EXPECT_FALSE(k.last_used_at.has_value());

  auto miss = store_->FindApiKey("no-such-hash");
  ASSERT_TRUE(miss.ok()) << "a miss is not an error";
  EXPECT_FALSE(miss->has_value());

  EXPECT_EQ(store_->InsertApiKey(Key("k-1", "hash-3", At(11))).code(), StatusCode::kConflict) << "same id";
  EXPECT_EQ(store_->InsertApiKey(Key("k-3", "hash-2", At(11))).code(), StatusCode::kConflict) << "same hash";

  auto list = store_->ListApiKeys();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u) << "the conflicting inserts wrote nothing";
  EXPECT_EQ((*list)[0].id, "k-2") << "ordered by created_at";
  EXPECT_EQ((*list)[1].id, "k-1");
  EXPECT_FALSE((*list)[0].expires_at.has_value());

  ASSERT_TRUE(store_->TouchApiKey("k-2", At(100)).ok());
  found = store_->FindApiKey("hash-2");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_used_at, At(100));
  ASSERT_TRUE(store_->TouchApiKey("k-2", At(200)).ok());
  ASSERT_TRUE(store_->TouchApiKey("k-2", At(150)).ok()) << "a clock behind is not an error";
  found = store_->FindApiKey("hash-2");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_used_at, At(200)) << "never moved back";
  found = store_->FindApiKey("hash-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE((*found)->last_used_at.has_value()) << "only the touched key";
  EXPECT_EQ(store_->TouchApiKey("k-9", At(100)).code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->DeleteApiKey("k-1").ok());
  EXPECT_EQ(store_->DeleteApiKey("k-1").code(), StatusCode::kNotFound);
  found = store_->FindApiKey("hash-1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  list = store_->ListApiKeys();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "k-2");
  // The hash is free again.
  EXPECT_TRUE(store_->InsertApiKey(Key("k-4", "hash-1", At(12))).ok());
}

TEST_P(StoreConformanceTest, WebhookDeliveryInsertGetAndUpdate) {
  WebhookDeliveryRecord d = Delivery("d-1", "orders/new", At(10));
  d.body = kRawBytes;
  d.headers = Json{{"x-signature", "abc"}, {"content-type", "application/octet-stream"}};
  ASSERT_TRUE(store_->InsertWebhookDelivery(d).ok());
  EXPECT_EQ(store_->InsertWebhookDelivery(Delivery("d-1", "other", At(11))).code(), StatusCode::kConflict);

  auto got = store_->GetWebhookDelivery("d-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, "d-1");
  EXPECT_EQ(got->path, "orders/new");
  EXPECT_EQ(got->method, "POST");
  EXPECT_EQ(got->headers, d.headers);
  EXPECT_EQ(got->query, (Json{{"q", "1"}}));
  EXPECT_EQ(got->body, kRawBytes) << "the body round-trips byte for byte";
  EXPECT_EQ(got->status, 202);
  EXPECT_TRUE(got->instance_ids.empty());
  EXPECT_EQ(got->received_at, At(10));

  ASSERT_TRUE(store_->UpdateWebhookDelivery("d-1", 200, {"i-1", "i-2"}).ok());
  got = store_->GetWebhookDelivery("d-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->instance_ids, (std::vector<std::string>{"i-1", "i-2"}));
  EXPECT_EQ(got->body, kRawBytes) << "an update leaves the request alone";
  ASSERT_TRUE(store_->UpdateWebhookDelivery("d-1", 500, {}).ok());
  got = store_->GetWebhookDelivery("d-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 500);
  EXPECT_TRUE(got->instance_ids.empty());

  EXPECT_EQ(store_->UpdateWebhookDelivery("d-9", 200, {}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetWebhookDelivery("d-9").status().code(), StatusCode::kNotFound);

  // An empty body is stored as empty.
  ASSERT_TRUE(store_
                  ->InsertWebhookDelivery(
                      WebhookDeliveryRecord{.id = "d-2", .path = "p", .method = "GET", .received_at = At(12)})
                  .ok());
  got = store_->GetWebhookDelivery("d-2");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->body, "");
  EXPECT_EQ(got->headers, Json::object());
}

TEST_P(StoreConformanceTest, WebhookDeliveriesListNewestFirstWithPathFilterAndPages) {
  // 9 deliveries: path "a" for even i, "b" for odd; pairs share received_at (ties broken by id).
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(store_
                    ->InsertWebhookDelivery(
                        Delivery("d-" + std::to_string(10 + i), i % 2 == 0 ? "a" : "b", At(i / 2)))
                    .ok());
  }
  auto all_pages = [&](WebhookDeliveryFilter filter, int* pages) {
    std::vector<std::string> ids;
    *pages = 0;
    do {
      auto page = store_->ListWebhookDeliveries(filter);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(page->items.size(), filter.limit);
      for (const auto& d : page->items) {
        EXPECT_TRUE(filter.path.empty() || d.path == filter.path) << d.id;
        ids.push_back(d.id);
      }
      filter.cursor = page->next_cursor;
      ++*pages;
    } while (!filter.cursor.empty() && *pages < 20);
    return ids;
  };

  int pages = 0;
  auto all = all_pages({.limit = 4}, &pages);
  EXPECT_EQ(pages, 3);  // 4 + 4 + 1
  ASSERT_EQ(all.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(all[i], "d-" + std::to_string(18 - i));

  auto a = all_pages({.path = "a", .limit = 2}, &pages);
  EXPECT_EQ(pages, 3);  // 2 + 2 + 1
  EXPECT_EQ(a, (std::vector<std::string>{"d-18", "d-16", "d-14", "d-12", "d-10"}));

  auto b = all_pages({.path = "b", .limit = 2}, &pages);
  EXPECT_EQ(pages, 2);  // exactly two full pages: the last has no next cursor
  EXPECT_EQ(b, (std::vector<std::string>{"d-17", "d-15", "d-13", "d-11"}));

  auto none = store_->ListWebhookDeliveries({.path = "c"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  EXPECT_TRUE(none->next_cursor.empty());

  auto page = store_->ListWebhookDeliveries({.limit = 1});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].body, R"({"id":"d-18"})") << "list items are whole records";

  EXPECT_EQ(store_->ListWebhookDeliveries({.cursor = "not a cursor"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, PruneWebhookDeliveriesRemovesOnlyOldOnesInBatches) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->InsertWebhookDelivery(Delivery("old-" + std::to_string(i), "p", At(i))).ok());
  }
  ASSERT_TRUE(store_->InsertWebhookDelivery(Delivery("edge", "p", At(100))).ok());
  ASSERT_TRUE(store_->InsertWebhookDelivery(Delivery("new", "p", At(200))).ok());

  auto pruned = store_->PruneWebhookDeliveries(At(100), 2);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(store_->GetWebhookDelivery("old-0").status().code(), StatusCode::kNotFound) << "oldest first";
  EXPECT_EQ(store_->GetWebhookDelivery("old-1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetWebhookDelivery("old-2").ok());

  pruned = store_->PruneWebhookDeliveries(At(100), 10);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3);
  pruned = store_->PruneWebhookDeliveries(At(100), 10);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 0);

  auto left = store_->ListWebhookDeliveries({});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->items.size(), 2u) << "received_at == before is kept";
  EXPECT_EQ(left->items[0].id, "new");
  EXPECT_EQ(left->items[1].id, "edge");
}

// A webhook call's whole effect in one transaction: its instances and its delivery record; a
// delivery id that exists already writes nothing of the batch.
TEST_P(StoreConformanceTest, CreateInstancesAndDeliveriesIsOneTransaction) {
  WebhookDeliveryRecord d = Delivery("d-batch", "orders/new", At(5));
  d.instance_ids = {"hooked-1", "hooked-2"};
  auto created = store_->CreateInstancesAndDeliveries({Instance("hooked-1"), Instance("hooked-2")}, {d});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<std::string>{"hooked-1", "hooked-2"}));
  auto got = store_->GetWebhookDelivery("d-batch");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 202);
  EXPECT_EQ(got->instance_ids, (std::vector<std::string>{"hooked-1", "hooked-2"}));
  EXPECT_EQ(Get("hooked-1").status, InstanceStatus::kRunning);
  EXPECT_EQ(ClaimAll(At(6)).size(), 2u) << "created runnable";

  WebhookDeliveryRecord again = Delivery("d-batch", "orders/new", At(7));
  auto conflict = store_->CreateInstancesAndDeliveries({Instance("never")}, {again});
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->GetInstance("never").status().code(), StatusCode::kNotFound);

  // Deliveries alone (a call that started nothing) are fine too, several at once, with bodies and
  // headers that need quoting.
  WebhookDeliveryRecord odd = Delivery("d-odd", "a/b c", At(8));
  odd.body = std::string("q\"uo{te},\\ \0bin\xff", 16);
  odd.headers = Json{{"x-quote", "say \"hi\", {ok}"}};
  odd.status = 404;
  ASSERT_TRUE(store_->CreateInstancesAndDeliveries({}, {Delivery("d-alone", "x", At(8)), odd}).ok());
  EXPECT_TRUE(store_->GetWebhookDelivery("d-alone").ok());
  auto got_odd = store_->GetWebhookDelivery("d-odd");
  ASSERT_TRUE(got_odd.ok()) << got_odd.status().ToString();
  EXPECT_EQ(got_odd->body, odd.body);
  EXPECT_EQ(got_odd->headers, odd.headers);
  EXPECT_EQ(got_odd->path, "a/b c");
  EXPECT_EQ(got_odd->status, 404);
  EXPECT_EQ(got_odd->received_at, At(8));
}

}  // namespace
}  // namespace trellis::testing
