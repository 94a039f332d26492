#include "config/validation.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace agent {
namespace {

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string describe_type(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_float()) return "a float";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::string id_field(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) throw ValidationError(field, "field required");
  std::string value;
  if (it->is_string()) value = it->get<std::string>();
  else if (it->is_number_unsigned()) value = std::to_string(it->get<uint64_t>());
  else if (it->is_number_integer() && it->get<int64_t>() >= 0) value = std::to_string(it->get<int64_t>());
  else throw ValidationError(field, "must be a string id, got " + describe_type(*it));
  if (!is_valid_id(value))
    throw ValidationError(field, "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");
  return value;
}

void require_object(const nlohmann::json& body) {
  if (!body.is_object()) throw ValidationError("body", "must be a JSON object, got " + describe_type(body));
}

}  // namespace

bool is_valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || !is_alnum(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool is_valid_image_reference(const std::string& image) {
  if (image.empty() || image.size() > 255) return false;
  if (!std::all_of(image.begin(), image.end(), [](char c) { return c > 0x20 && c < 0x7f; })) return false;

  std::string rest = image;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    static const std::regex digest("sha256:[a-f0-9]{64}");
    if (!std::regex_match(rest.substr(at + 1), digest)) return false;
    rest = rest.substr(0, at);
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    static const std::regex tag("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    if (!std::regex_match(rest.substr(colon + 1), tag)) return false;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return false;

  static const std::regex component("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  static const std::regex registry("(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?");
  size_t start = 0;
  bool first = true;
  while (true) {
    auto end = rest.find('/', start);
    std::string part = rest.substr(start, end == std::string::npos ? std::string::npos : end - start);
    bool has_more = end != std::string::npos;
    bool looks_like_registry = first && has_more &&
                               (part.find('.') != std::string::npos || part.find(':') != std::string::npos || part == "localhost");
    if (looks_like_registry) {
      if (!std::regex_match(part, registry)) return false;
    } else if (!std::regex_match(part, component)) {
      return false;
    }
    if (!has_more) break;
    start = end + 1;
    first = false;
  }
  return true;
}

std::optional<std::string> normalize_base_path(const std::string& base_path, const std::string& app_id) {
  if (base_path.size() > 200) return std::nullopt;
  if (base_path.empty()) return "/apps/" + app_id;
  std::string p = base_path;
  if (p[0] != '/') p = "/" + p;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/") return std::nullopt;  // the whole gateway is not an app's to take
  bool chars_ok = std::all_of(p.begin(), p.end(), [](char c) { return is_alnum(c) || c == '/' || c == '_' || c == '.' || c == '-'; });
  if (!chars_ok || p.find("//") != std::string::npos || p.find("..") != std::string::npos) return std::nullopt;
  return p;
}

DeployRequest parse_deploy_request(const nlohmann::json& body, int default_port) {
  require_object(body);
  DeployRequest r;
  r.app = parse_app_ref(body);

  auto image = body.find("image");
  if (image == body.end() || image->is_null()) throw ValidationError("image", "field required");
  if (!image->is_string()) throw ValidationError("image", "must be a string, got " + describe_type(*image));
  r.image = image->get<std::string>();
  if (!is_valid_image_reference(r.image))
    throw ValidationError("image", "must be an image reference like [registry[:port]/]path[:tag][@sha256:digest], at most 255 characters");

  r.container_port = default_port;
  auto port = body.find("containerPort");
  if (port != body.end() && !port->is_null()) {
    if (!port->is_number_integer()) throw ValidationError("containerPort", "must be an integer, got " + describe_type(*port));
    bool in_range = port->is_number_unsigned() ? port->get<uint64_t>() <= 65535 && port->get<uint64_t>() >= 1
                                               : port->get<int64_t>() >= 1 && port->get<int64_t>() <= 65535;
    if (!in_range) throw ValidationError("containerPort", "must be from 1 to 65535");
    r.container_port = static_cast<int>(port->get<int64_t>());
  }

  std::string base;
  auto bp = body.find("basePath");
  if (bp != body.end() && !bp->is_null()) {
    if (!bp->is_string()) throw ValidationError("basePath", "must be a string, got " + describe_type(*bp));
    base = bp->get<std::string>();
  }
  auto normalized = normalize_base_path(base, r.app.app_id);
  if (!normalized)
    throw ValidationError("basePath", "must be a path of [A-Za-z0-9/_.-], without '..' or '//', at most 200 characters");
  r.base_path = *normalized;
  return r;
}

AppRef parse_app_ref(const nlohmann::json& body) {
  require_object(body);
  AppRef ref;
  ref.user_id = id_field(body, "userId");
  ref.app_id = id_field(body, "appId");
  return ref;
}

std::string require_id(const std::optional<std::string>& value, const std::string& field) {
  if (!value) throw ValidationError(field, "query parameter required");
  if (!is_valid_id(*value)) throw ValidationError(field, "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");
  return *value;
}

std::optional<std::string> optional_id(const std::optional<std::string>& value, const std::string& field) {
  if (!value) return std::nullopt;
  return require_id(value, field);
}

}  // namespace agent
