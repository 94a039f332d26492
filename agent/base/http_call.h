// One outbound HTTP request with libcurl (the heartbeat to the Deploy plane, doctor's registry
// probe): a time limit, no signals, and the answer's status, headers and body, or why none came.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace agent {

struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when method is POST
  std::chrono::milliseconds timeout{3000};
  std::string basic_user, basic_password;  // Basic authentication when basic_user is set
  std::string ca_file;                     // trust this CA (PEM) instead of the system's
  bool verify_tls = true;
};

struct HttpAnswer {
  long status = 0;  // 0: no answer
  std::string error;  // why no answer came (curl's words)
  std::map<std::string, std::string> headers;  // names in lower case; the last of repeated ones
  std::string body;   // at most 64 KiB are kept
  bool ok() const { return status >= 200 && status < 300; }
};

HttpAnswer http_call(const HttpCall& call);

}  // namespace agent
