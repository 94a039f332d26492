// Typed errors of the libpod client. Each names the call that failed ("container create") and
// carries libpod's own cause and message, so a log line or an API error can say what Podman said.
#pragma once

#include <stdexcept>
#include <string>

namespace podman {

class Error : public std::runtime_error {
 public:
  Error(std::string call, long status, std::string cause, const std::string& message)
      : std::runtime_error(call + ": " + message), call_(std::move(call)), status_(status), cause_(std::move(cause)),
        message_(message) {}
  const std::string& call() const { return call_; }
  long status() const { return status_; }       // HTTP status, 0 when none was received
  const std::string& cause() const { return cause_; }
  const std::string& message() const { return message_; }  // libpod's message (or the transport's)

 private:
  std::string call_;
  long status_;
  std::string cause_;
  std::string message_;
};

// 404: no such container, image or network.
class NotFound : public Error {
 public:
  using Error::Error;
};

// 409: a name in use, an image used by a container, ...
class Conflict : public Error {
 public:
  using Error::Error;
};

// No answer: no socket, connection refused, connect or call timeout, connection dropped.
class Unreachable : public Error {
 public:
  using Error::Error;
};

// A call that did not finish within its own time budget (a pull): Podman answered, the work was
// too slow. Not Unreachable: Podman itself is up.
class Timeout : public Error {
 public:
  using Error::Error;
};

// Any other non-success answer (4xx/5xx), or a failure reported inside a stream (pull).
class ServerError : public Error {
 public:
  using Error::Error;
};

}  // namespace podman
