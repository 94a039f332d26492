#include "mongo/database_name.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <regex>

namespace agent {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Each run of characters outside [A-Za-z0-9_] becomes one '_' (Python's re.sub("[^a-zA-Z0-9_]+", "_")).
std::string safe(const std::string& raw) {
  std::string out;
  bool in_run = false;
  for (char c : raw) {
    if (is_name_char(c)) {
      out += c;
      in_run = false;
    } else if (!in_run) {
      out += '_';
      in_run = true;
    }
  }
  return out;
}

std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string fill(std::string text, const std::string& user_id, const std::string& app_id) {
  for (auto at = text.find("{userId}"); at != std::string::npos; at = text.find("{userId}", at + user_id.size()))
    text.replace(at, 8, user_id);
  for (auto at = text.find("{appId}"); at != std::string::npos; at = text.find("{appId}", at + app_id.size()))
    text.replace(at, 7, app_id);
  return text;
}


bool letters_and_digits(const std::string& id) {
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c); });
}

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// FNV-1a, 64 bits, of the template and the exact ids (a 0 byte between them).
std::string hash_of(const std::string& name_template, const std::string& user_id, const std::string& app_id) {
  uint64_t h = 1469598103934665603ULL;
  for (const std::string* part : {&name_template, &user_id, &app_id}) {
    for (unsigned char c : *part) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0) * 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace

std::string app_database_name(const std::string& name_template, const std::string& user_id, const std::string& app_id) {
  std::string name = safe(trimmed(fill(name_template, user_id, app_id)));
  if (name.find_first_not_of('_') == std::string::npos) name = safe("db_u" + user_id + "_a" + app_id);
  std::string lower = lowercase(name);
  bool reserved = lower == "admin" || lower == "local" || lower == "config";
  if (letters_and_digits(user_id) && letters_and_digits(app_id) && name.size() <= 63 && !reserved) return name;
  return name.substr(0, 63 - 17) + "_" + hash_of(name_template, user_id, app_id);
}


std::optional<std::string> app_id_of_database(const std::string& name_template, const std::string& name) {
  // The literal parts made safe as the names were, the placeholders digits; appId captured.
  static const std::regex placeholder("\\{(userId|appId)\\}");
  std::string pattern = "^";
  int app_group = 0, groups = 0;
  std::string t = trimmed(name_template);
  auto begin = std::sregex_iterator(t.begin(), t.end(), placeholder);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    pattern += safe(t.substr(last, static_cast<size_t>(it->position()) - last));
    pattern += "([0-9]+)";
    ++groups;
    if ((*it)[1] == "appId" && app_group == 0) app_group = groups;
    last = static_cast<size_t>(it->position() + it->length());
  }
  pattern += safe(t.substr(last)) + "$";
  if (app_group == 0) return std::nullopt;
  std::smatch m;
  if (!std::regex_match(name, m, std::regex(pattern))) return std::nullopt;
  return m[app_group].str();
}

}  // namespace agent
