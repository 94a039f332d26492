// The error an endpoint answers with: an HTTP status, a machine code and a human detail, sent as
// {"detail": ..., "code": ...} (FastAPI-compatible "detail").
#pragma once

#include <stdexcept>
#include <string>

namespace agent {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& detail)
      : std::runtime_error(detail), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

}  // namespace agent
