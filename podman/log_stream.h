// libpod's container log stream: frames of an 8-byte header (stream 1 stdout, 2 stderr; a
// big-endian length) and a payload, or plain text for a TTY container.
#pragma once

#include <string>

namespace podman::containers {

struct Logs {
  std::string out;       // stdout
  std::string err;       // stderr
  std::string combined;  // both, in the order they were written
};

// Splits libpod's multiplexed log stream (8-byte frame headers) into stdout and stderr.
Logs demultiplex(const std::string& raw);

}  // namespace podman::containers
