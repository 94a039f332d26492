#include "log_stream.h"

#include <cstdint>

namespace podman::containers {

Logs demultiplex(const std::string& raw) {
  Logs logs;
  size_t pos = 0;
  while (pos + 8 <= raw.size()) {
    unsigned char type = static_cast<unsigned char>(raw[pos]);
    bool header = type <= 2 && raw[pos + 1] == 0 && raw[pos + 2] == 0 && raw[pos + 3] == 0;
    if (!header) break;  // not multiplexed (a TTY container): take the rest as is
    uint32_t size = (static_cast<uint32_t>(static_cast<unsigned char>(raw[pos + 4])) << 24) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(raw[pos + 5])) << 16) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(raw[pos + 6])) << 8) |
                    static_cast<uint32_t>(static_cast<unsigned char>(raw[pos + 7]));
    std::string payload = raw.substr(pos + 8, size);
    (type == 2 ? logs.err : logs.out) += payload;
    logs.combined += payload;
    pos += 8 + static_cast<size_t>(size);
  }
  if (pos < raw.size()) {
    logs.out += raw.substr(pos);
    logs.combined += raw.substr(pos);
  }
  return logs;
}

}  // namespace podman::containers
