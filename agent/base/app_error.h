// The error of an app operation: a machine code ("app_exited", "image_pull_failed", ...) and a
// human detail. Domain code throws it; the HTTP layer alone turns codes into statuses
// (http_api.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace agent {

class AppError : public std::runtime_error {
 public:
  AppError(std::string code, const std::string& detail) : std::runtime_error(detail), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace agent
