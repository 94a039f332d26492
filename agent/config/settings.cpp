#include "config/settings.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include "config/registry_settings.h"
#include "config/settings_keys.h"

namespace agent {
namespace {
using settings_keys::Key;
using settings_keys::keys;
using settings_keys::parse_int;

// The earlier agent's keys that this one does not take, with what replaced them.
const std::map<std::string, std::string>& retired_keys() {
  static const std::map<std::string, std::string> retired = {
      {"RUNTIME_DOCKER_BIN", "the agent drives Podman through its REST API at RUNTIME_PODMAN_SOCKET, not a CLI binary"},
  };
  return retired;
}

bool looks_like_ours(const std::string& key) {
  for (const char* prefix : {"RUNTIME_", "DEPLOY_", "REGISTRY_", "FUNAI_LOG_"})
    if (key.rfind(prefix, 0) == 0) return true;
  return false;
}

// The known key a misspelt one was meant to be (at most two edits away), or "".
std::string nearest_key(const std::string& key) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& k : keys()) {
    std::string known = k.name;
    std::vector<size_t> row(known.size() + 1);
    for (size_t j = 0; j <= known.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= key.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= known.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (key[i - 1] == known[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[known.size()] < best_distance) {
      best_distance = row[known.size()];
      best = known;
    }
  }
  return best;
}

std::string unknown_keys_warning(const Environment& env, const Environment& file_keys) {
  std::set<std::string> known;
  for (const auto& k : keys()) known.insert(k.name);
  known.insert("CONTAINER_HOST");
  std::set<std::string> unknown;
  for (const auto& [key, value] : file_keys)
    if (!known.count(key)) unknown.insert(key);
  for (const auto& [key, value] : env)
    if (!known.count(key) && looks_like_ours(key)) unknown.insert(key);
  if (unknown.empty()) return "";
  std::string text = "settings this agent does not know, ignored:";
  for (const auto& key : unknown) {
    auto retired = retired_keys().find(key);
    std::string near = retired == retired_keys().end() ? nearest_key(key) : "";
    text += " " + key + (retired != retired_keys().end() ? " (" + retired->second + ")" : !near.empty() ? " (did you mean " + near + "?)" : "") + ";";
  }
  text.back() = '.';
  return text;
}

std::string effective_value(const Environment& env, const Key& key) {
  auto it = env.find(key.name);
  if (it != env.end() && !it->second.empty()) return it->second;
  return key.default_value;
}

}  // namespace

SettingsResult load_settings(const Environment& env, const Environment& file_keys) {
  SettingsResult result;
  Environment effective = env;
  // CONTAINER_HOST is the fallback for the Podman socket, as podman-remote reads it.
  auto socket = env.find("RUNTIME_PODMAN_SOCKET");
  auto container_host = env.find("CONTAINER_HOST");
  if ((socket == env.end() || socket->second.empty()) && container_host != env.end() && !container_host->second.empty())
    effective["RUNTIME_PODMAN_SOCKET"] = container_host->second;
  for (const auto& key : keys()) {
    std::string value = effective_value(effective, key);
    std::string error = key.apply(result.settings, value);
    if (!error.empty()) result.errors.push_back(std::string(key.name) + " " + error);
  }
  auto raw_heartbeat = env.find("DEPLOY_HEARTBEAT_SECONDS");
  auto heartbeat = raw_heartbeat == env.end() ? std::nullopt : parse_int(raw_heartbeat->second);
  if (heartbeat && *heartbeat <= 0)
    result.warnings.push_back("DEPLOY_HEARTBEAT_SECONDS=" + std::to_string(*heartbeat) + " is taken as 60 seconds (as the earlier agent did)");
  for (const auto& cidr : result.settings.mongo_explorer_allow_from) {
    auto range = parse_cidr(cidr);
    if (range && range->bits < static_cast<int>(range->bytes.size() * 8))
      result.warnings.push_back("RUNTIME_MONGO_EXPLORER_ALLOW_FROM=" + cidr + " lets every host of that range use the data explorer of every app "
                                "without a token (apps on other nodes reach this one from their node's address): list the Studio API's own addresses");
  }
  if (result.settings.log_total_size_cap_bytes < result.settings.log_max_file_size_bytes)
    result.errors.push_back("FUNAI_LOG_TOTAL_SIZE_CAP_BYTES must be at least FUNAI_LOG_MAX_FILE_SIZE_BYTES (" +
                            std::to_string(result.settings.log_max_file_size_bytes) + "): the archives of one file would not fit");
  std::string unknown = unknown_keys_warning(env, file_keys);
  if (!unknown.empty()) result.warnings.push_back(unknown);
  return result;
}

std::vector<std::pair<std::string, std::string>> describe_settings(const Environment& env) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : keys()) {
    std::string value = effective_value(env, key);
    if (key.secret && !value.empty()) value = "****** (set, " + std::to_string(value.size()) + " characters)";
    out.emplace_back(key.name, value);
  }
  return out;
}

std::optional<int64_t> parse_size(const std::string& text) {
  if (text == "-1") return -1;
  if (text.empty()) return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  int64_t n = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  int64_t mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb") mult = 1024;
  else if (unit == "m" || unit == "mb") mult = 1024 * 1024;
  else if (unit == "g" || unit == "gb") mult = 1024LL * 1024 * 1024;
  else return std::nullopt;
  return n * mult;
}

std::optional<Cidr> parse_cidr(const std::string& text) {
  Cidr cidr;
  auto slash = text.find('/');
  std::string address = text.substr(0, slash);
  in6_addr v6{};
  in_addr v4{};
  int max_bits;
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    cidr.bytes.assign(reinterpret_cast<const uint8_t*>(&v4), reinterpret_cast<const uint8_t*>(&v4) + 4);
    max_bits = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    cidr.bytes.assign(v6.s6_addr, v6.s6_addr + 16);
    max_bits = 128;
  } else {
    return std::nullopt;
  }
  cidr.bits = max_bits;
  if (slash != std::string::npos) {
    auto bits = parse_int(text.substr(slash + 1));
    if (!bits || *bits < 0 || *bits > max_bits) return std::nullopt;
    cidr.bits = static_cast<int>(*bits);
  }
  return cidr;
}

bool Cidr::contains(const std::string& address) const {
  auto other = parse_cidr(address);
  if (!other) return false;
  std::vector<uint8_t> a = other->bytes;
  // An IPv4 address written as IPv6 (::ffff:a.b.c.d), as a dual-stack socket reports it.
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (bytes.size() == 4 && a.size() == 16 && std::equal(mapped, mapped + 12, a.begin())) a.erase(a.begin(), a.begin() + 12);
  if (a.size() != bytes.size()) return false;
  for (int bit = 0; bit < bits; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a[bit / 8] & mask) != (bytes[bit / 8] & mask)) return false;
  }
  return true;
}

LogOptions log_options(const Settings& settings) {
  LogOptions options;
  options.dir = settings.log_dir;
  options.max_file_size_bytes = settings.log_max_file_size_bytes;
  options.max_history_days = settings.log_max_history_days;
  options.total_size_cap_bytes = settings.log_total_size_cap_bytes;
  return options;
}

}  // namespace agent
