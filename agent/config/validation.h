// Validation of everything a caller sends, applied by every endpoint before anything else
// happens: ids, image references, ports, base paths, and the JSON shapes of the requests.
// A violation throws ValidationError naming the field; nothing has been touched by then.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace agent {

class ValidationError : public std::runtime_error {
 public:
  ValidationError(std::string field, const std::string& message)
      : std::runtime_error(field + ": " + message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
bool is_valid_id(const std::string& id);

// [registry[:port]/]path[:tag][@sha256:<64 hex>], at most 255 characters, printable ASCII only.
bool is_valid_image_reference(const std::string& image);

// Empty -> "/apps/{appId}"; leading '/' added, trailing '/' removed. Characters
// [A-Za-z0-9/_.-], no "..", no "//", at most 200 characters. nullopt when invalid.
std::optional<std::string> normalize_base_path(const std::string& base_path, const std::string& app_id);

struct AppRef {
  std::string user_id;
  std::string app_id;
};

struct DeployRequest {
  AppRef app;
  std::string image;
  int container_port = 0;
  std::string base_path;  // normalised
};

// Ids may arrive as JSON strings or non-negative integers (the Python agent coerced both).
DeployRequest parse_deploy_request(const nlohmann::json& body, int default_port);
AppRef parse_app_ref(const nlohmann::json& body);

// Query-string variants for GET endpoints: appId required, userId optional.
std::string require_id(const std::optional<std::string>& value, const std::string& field);
std::optional<std::string> optional_id(const std::optional<std::string>& value, const std::string& field);

}  // namespace agent
