#include "sleep/wake_http.h"

#include <algorithm>
#include <cctype>

#include "traefik/route.h"

namespace agent::wake_http {

namespace {

std::string lower(std::string value) {
  for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value;
}

bool framing(const std::string& lowered) {
  return lowered == "content-length" || lowered == "transfer-encoding" || lowered == "host";
}

// The head's field lines (start line first) as they came, each without its CRLF.
template <typename Keep>
std::string rebuilt(const MessageHead& head, Keep keep, const std::string& connection) {
  const std::string& raw = head.raw;
  std::string out;
  out.reserve(raw.size() + 32);
  size_t pos = 0;
  bool first = true;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos || eol == pos) break;  // the blank line that ends the head
    std::string line = raw.substr(pos, eol - pos);
    pos = eol + 2;
    if (!first) {
      std::string name = line.substr(0, line.find(':'));
      if (!keep(name)) continue;
    }
    first = false;
    out += line;
    out += "\r\n";
  }
  if (!connection.empty()) out += "Connection: " + connection + "\r\n";
  out += "\r\n";
  return out;
}

}  // namespace

std::string answer(int status, const std::string& reason, const std::string& text, bool retry_after) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: text/plain; charset=utf-8\r\n";
  if (retry_after) head += "Retry-After: 5\r\n";
  return head + "Content-Length: " + std::to_string(text.size()) + "\r\nConnection: close\r\nServer: fun-ai-runtime-agent\r\n\r\n" + text;
}

bool hop_by_hop(const MessageHead& head, const std::string& name, bool upgrade) {
  std::string n = lower(name);
  if (framing(n)) return false;
  if (n == "connection" || n == "keep-alive" || n == "te" || n == "trailer" || n.rfind("proxy-", 0) == 0) return true;
  if (n == "upgrade") return !upgrade;
  return head.has_token("Connection", n);
}

std::string relayed_request(const MessageHead& head, bool upgrade) {
  const std::string secret = lower(traefik::kWakeSecretHeader), app = lower(traefik::kWakeAppHeader),
                    deploy = lower(traefik::kWakeDeployHeader);
  return rebuilt(
      head,
      [&](const std::string& name) {
        std::string n = lower(name);
        return n != secret && n != app && n != deploy && !hop_by_hop(head, name, upgrade);
      },
      upgrade ? "Upgrade" : "close");
}

std::string relayed_answer(const MessageHead& head) {
  bool switching = head.status == 101;
  bool interim = head.status >= 100 && head.status < 200 && !switching;
  return rebuilt(
      head, [&](const std::string& name) { return !hop_by_hop(head, name, switching); },
      switching ? "Upgrade" : interim ? "" : "close");
}

}  // namespace agent::wake_http
