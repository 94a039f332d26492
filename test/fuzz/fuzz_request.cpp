// Fuzz target: a request body as the HTTP layer gets it (bytes -> JSON -> the request parsers),
// and the same bytes as an id, an image reference and a base path.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "config/validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_discarded()) {
    try {
      auto request = agent::parse_deploy_request(body, 3000);
      // Whatever passes must be safe to put in a container name, a file name and a Traefik rule.
      if (!agent::is_valid_id(request.app.app_id) || !agent::is_valid_id(request.app.user_id)) __builtin_trap();
      if (request.base_path.find_first_of("`()| \r\n\0") != std::string::npos) __builtin_trap();
      if (request.container_port < 1 || request.container_port > 65535) __builtin_trap();
    } catch (const agent::ValidationError&) {
    }
    try {
      agent::parse_app_ref(body);
    } catch (const agent::ValidationError&) {
    }
  }
  agent::is_valid_id(text);
  agent::is_valid_image_reference(text);
  auto path = agent::normalize_base_path(text, "1");
  if (path && (path->find("..") != std::string::npos || path->find("//") != std::string::npos)) __builtin_trap();
  return 0;
}
