// Comparing secrets (the agent's token, the wake secret) without leaking where they differ.
#pragma once

#include <string>

namespace agent {

// true when given equals a non-empty expected; the time taken depends only on given's length.
bool token_matches(const std::string& given, const std::string& expected);

}  // namespace agent
