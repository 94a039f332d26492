#include "sleep/wake_http.h"

#include <cctype>
#include <sstream>

#include "http/request_reader.h"
#include "traefik/route.h"

namespace agent::wake_http {

namespace {
std::string lower(std::string value) {
  for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value;
}
}  // namespace

std::string answer(int status, const std::string& reason, const std::string& text, bool retry_after) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: text/plain; charset=utf-8\r\n";
  if (retry_after) head += "Retry-After: 5\r\n";
  return head + "Content-Length: " + std::to_string(text.size()) + "\r\nConnection: close\r\nServer: fun-ai-runtime-agent\r\n\r\n" + text;
}

std::string relayed_head(const Poco::Net::HTTPRequest& head) {
  Poco::Net::HTTPRequest h(head);
  while (h.has(traefik::kWakeSecretHeader)) h.erase(traefik::kWakeSecretHeader);
  while (h.has(traefik::kWakeAppHeader)) h.erase(traefik::kWakeAppHeader);
  while (h.has(traefik::kWakeDeployHeader)) h.erase(traefik::kWakeDeployHeader);
  bool upgrade = h.has("Upgrade") && h.hasToken("Connection", "upgrade");
  if (!upgrade) h.set("Connection", "close");
  std::ostringstream out;
  h.write(out);
  return out.str();
}

AnswerHead close_after_answer(std::string& bytes) {
  auto end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return bytes.size() <= RequestReader::kMaxHeadBytes ? AnswerHead::incomplete : AnswerHead::too_long;
  std::string head = bytes.substr(0, end + 2);  // status line and fields, each ending in CRLF
  bool switching = head.rfind("HTTP/1.1 101", 0) == 0 || head.rfind("HTTP/1.0 101", 0) == 0;
  if (switching) return AnswerHead::ready;
  std::string kept;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    std::string name = lower(line);
    if (name.rfind("connection:", 0) == 0 || name.rfind("keep-alive:", 0) == 0) continue;
    kept += line + "\r\n";
  }
  bytes = kept + "Connection: close\r\n\r\n" + bytes.substr(end + 4);
  return AnswerHead::ready;
}

}  // namespace agent::wake_http
