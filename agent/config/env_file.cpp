#include "config/env_file.h"

#include <algorithm>
#include <cctype>
#include <fstream>

extern char** environ;

namespace agent {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Environment parse_env_file(std::istream& in) {
  Environment env;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos)
      throw EnvFileError("line " + std::to_string(number) + ": expected KEY=VALUE");
    std::string key = trim(t.substr(0, eq));
    std::string value = trim(t.substr(eq + 1));
    bool key_ok = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                  std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!key_ok) throw EnvFileError("line " + std::to_string(number) + ": '" + key + "' is not a variable name");
    if (!value.empty() && (value[0] == '"' || value[0] == '\'')) {
      char q = value[0];
      auto close = value.find(q, 1);
      if (close == std::string::npos)
        throw EnvFileError("line " + std::to_string(number) + ": unterminated quote in " + key);
      std::string rest = trim(value.substr(close + 1));
      if (!rest.empty() && rest[0] != '#')
        throw EnvFileError("line " + std::to_string(number) + ": text after the closing quote of " + key);
      value = value.substr(1, close - 1);
    } else {
      // An unquoted value ends at " #" (an inline comment), as systemd reads it.
      auto hash = value.find(" #");
      if (hash != std::string::npos) value = trim(value.substr(0, hash));
    }
    env[key] = value;
  }
  return env;
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Environment merge_environments(const Environment& base, const Environment& overrides) {
  Environment out = base;
  for (const auto& [k, v] : overrides) out[k] = v;
  return out;
}

Environment load_environment(const std::string& config_file) {
  Environment file_env;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) throw EnvFileError("cannot read --config " + config_file);
    try {
      file_env = parse_env_file(in);
    } catch (const EnvFileError& e) {
      throw EnvFileError(config_file + " " + e.what());
    }
  }
  return merge_environments(file_env, process_environment());
}

}  // namespace agent
