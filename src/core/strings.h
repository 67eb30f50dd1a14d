// Small string helpers shared across components.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace trellis {

// Edit distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate closest to `word`, or "" when none is close enough to be a plausible typo.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);
// ", did you mean 'x'?" or "" — ready to append to a message.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// RFC 3986 percent-encoding of everything but the unreserved characters (letters, digits, - . _ ~):
// safe for a path segment and for a query name or value.
std::string PercentEncode(std::string_view s);

}  // namespace trellis
