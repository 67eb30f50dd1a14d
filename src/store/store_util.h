// Helpers both store providers share: names of enums as stored, journal payload truncation, the
// bookmark index rows of a state, event matching, and opaque pagination cursors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace trellis {

std::optional<InboxKind> ParseInboxKind(std::string_view s);
std::optional<BookmarkKind> ParseBookmarkKind(std::string_view s);

// The output as stored: unchanged when its JSON text fits `limit` bytes, else a small object
// {"truncated": true, "bytes": N, "preview": "<first 1 KiB of the JSON text>"} and *truncated set.
Json TruncateForJournal(const Json& output, size_t limit, bool* truncated);

// The rows the bookmarks table indexes for matching.
std::vector<BookmarkRow> BookmarkRowsOf(const InstanceState& s);

// An event with `event_correlation` resumes a bookmark waiting with `bookmark_correlation` when
// either is empty or both are equal.
inline bool CorrelationMatches(std::string_view bookmark_correlation, std::string_view event_correlation) {
  return bookmark_correlation.empty() || event_correlation.empty() ||
         bookmark_correlation == event_correlation;
}

// Cursors are base64url of a small JSON object, opaque to clients. Decode fails with
// InvalidArgument("invalid cursor").
std::string EncodeCursor(const Json& position);
Result<Json> DecodeCursor(std::string_view cursor);

// Milliseconds since the Unix epoch, the stored time format of both providers.
int64_t ToMillis(TimePoint t);
TimePoint FromMillis(int64_t ms);

}  // namespace trellis
