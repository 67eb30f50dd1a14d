#include "store/store_util.h"

#include <openssl/evp.h>

namespace trellis {

Result<Store::WebhookReceipt> Store::ReceiveWebhook(const std::string& path, const std::string& method,
                                                    const Json& request, TimePoint now) {
  WebhookReceipt out;
  auto triggers = FindTriggers("Webhook", path);
  if (!triggers.ok()) return triggers.status();
  out.triggers = std::move(triggers).value();
  for (const auto& t : out.triggers) {
    if ((t.method.empty() || t.method == method) && TriggerNeedsSignature(t)) return out;
  }
  auto delivered = DeliverWebhook(path, method, request, now);
  if (!delivered.ok()) return delivered.status();
  out.delivered = true;
  out.delivery = *delivered;
  return out;
}

std::vector<Result<Store::WebhookReceipt>> Store::ReceiveWebhooks(const std::vector<WebhookArrival>& calls) {
  std::vector<Result<WebhookReceipt>> out;
  out.reserve(calls.size());
  for (const auto& c : calls) out.push_back(ReceiveWebhook(c.path, c.method, *c.request, c.now));
  return out;
}

const char* InboxKindName(InboxKind k) {
  switch (k) {
    case InboxKind::kEvent: return "event";
    case InboxKind::kWebhook: return "webhook";
    case InboxKind::kChild: return "child";
    case InboxKind::kCancel: return "cancel";
    case InboxKind::kRetry: return "retry";
  }
  return "event";
}

std::optional<InboxKind> ParseInboxKind(std::string_view s) {
  for (InboxKind k :
       {InboxKind::kEvent, InboxKind::kWebhook, InboxKind::kChild, InboxKind::kCancel, InboxKind::kRetry}) {
    if (s == InboxKindName(k)) return k;
  }
  return std::nullopt;
}

std::optional<BookmarkKind> ParseBookmarkKind(std::string_view s) {
  for (BookmarkKind k : {BookmarkKind::kTimer, BookmarkKind::kEvent, BookmarkKind::kWebhook,
                         BookmarkKind::kChild, BookmarkKind::kRetry}) {
    if (s == BookmarkKindName(k)) return k;
  }
  return std::nullopt;
}

Json TruncateForJournal(const Json& output, size_t limit, bool* truncated) {
  *truncated = false;
  if (output.is_null()) return output;
  std::string text = output.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= limit) return output;
  *truncated = true;
  constexpr size_t kPreview = 1024;
  std::string preview = text.substr(0, kPreview);
  // Do not cut a UTF-8 sequence in half.
  while (!preview.empty() && (static_cast<unsigned char>(preview.back()) & 0xC0) == 0x80) preview.pop_back();
  if (!preview.empty() && (static_cast<unsigned char>(preview.back()) & 0x80)) preview.pop_back();
  return Json{{"truncated", true}, {"bytes", text.size()}, {"preview", preview}};
}

std::vector<BookmarkRow> BookmarkRowsOf(const InstanceState& s) {
  std::vector<BookmarkRow> rows;
  rows.reserve(s.bookmarks.size());
  for (const auto& b : s.bookmarks) {
    BookmarkRow r{.id = b.id, .kind = b.kind, .activity_id = b.activity_id, .due_at = b.due_at};
    switch (b.kind) {
      case BookmarkKind::kEvent:
        r.key = b.event;
        r.correlation = b.correlation;
        break;
      case BookmarkKind::kWebhook:
        r.key = b.path;
        r.method = b.method;
        break;
      case BookmarkKind::kChild: r.key = b.child_id; break;
      default: break;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string EncodeCursor(const Json& position) {
  std::string text = position.dump();
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(static_cast<size_t>(n));
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

Result<Json> DecodeCursor(std::string_view cursor) {
  std::string b64(cursor);
  for (char& c : b64) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!isalnum(static_cast<unsigned char>(c)))
      return InvalidArgument("invalid cursor");
  }
  while (b64.size() % 4) b64.push_back('=');
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return InvalidArgument("invalid cursor");
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // padding bytes
  Json j;
  std::string error;
  if (!ParseJson(out, &j, &error) || !j.is_object()) return InvalidArgument("invalid cursor");
  return j;
}

int64_t ToMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace trellis
