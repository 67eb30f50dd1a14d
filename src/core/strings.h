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

}  // namespace trellis
