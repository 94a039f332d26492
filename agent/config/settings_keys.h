// The table of settings (settings_keys.cpp) that load_settings() reads: private to config/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.h"

namespace agent::settings_keys {

// A setter returns an error message (without the key), or "" when the value was taken.
using Setter = std::function<std::string(Settings&, const std::string&)>;

struct Key {
  const char* name;
  const char* default_value;  // as written in etc/runtime.env; "" = unset
  bool secret;
  Setter apply;
};

const std::vector<Key>& keys();

// A whole decimal integer, or nullopt.
std::optional<int64_t> parse_int(const std::string& text);

}  // namespace agent::settings_keys
