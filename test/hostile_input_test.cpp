#define BOOST_TEST_MODULE hostile_input
// Hostile input over HTTP against the real server and a real Podman: every case gets its
// documented 4xx JSON error, and afterwards no container, network or routing file exists that was
// not there before, and the agent is healthy.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <boost/test/unit_test.hpp>
#include <functional>
#include <thread>

#include "podman/containers.h"
#include "test_support.h"

using nlohmann::json;

namespace {

struct Exchange {
  int status = 0;
  std::string body;
  std::string raw;
};

// Sends raw bytes (optionally in slices with a pause) and reads the whole answer.
Exchange raw_exchange(int port, const std::string& bytes, size_t slice = 0, std::chrono::milliseconds pause = {}) {
  Exchange ex;
  try {
    Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    s.setReceiveTimeout(Poco::Timespan(20, 0));
    s.setSendTimeout(Poco::Timespan(20, 0));
    try {
      if (slice == 0) {
        s.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
      } else {
        for (size_t i = 0; i < bytes.size(); i += slice) {
          s.sendBytes(bytes.data() + i, static_cast<int>(std::min(slice, bytes.size() - i)));
          std::this_thread::sleep_for(pause);
        }
      }
    } catch (...) {
      // the server may answer and close before it has read everything (413, 414, 431)
    }
    char buf[8192];
    while (true) {
      int n = 0;
      try {
        n = s.receiveBytes(buf, sizeof buf);
      } catch (...) {
        break;
      }
      if (n <= 0) break;
      ex.raw.append(buf, static_cast<size_t>(n));
      auto head_end = ex.raw.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        auto cl = ex.raw.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) {
          size_t len = std::stoul(ex.raw.substr(cl + 16));
          if (ex.raw.size() >= head_end + 4 + len) break;
        }
      }
    }
  } catch (const std::exception& e) {
    ex.raw = std::string("connect failed: ") + e.what();
  }
  if (ex.raw.rfind("HTTP/1.", 0) == 0) ex.status = std::stoi(ex.raw.substr(9, 3));
  auto head_end = ex.raw.find("\r\n\r\n");
  if (head_end != std::string::npos) ex.body = ex.raw.substr(head_end + 4);
  return ex;
}

const std::string kToken = "hostile-token-1234567890";

std::string request(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& extra_headers = "", const std::string& content_type = "application/json",
                    bool token = true) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: agent\r\n";
  if (token) r += "X-Runtime-Token: " + kToken + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += extra_headers;
  if (method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "Connection: close\r\n\r\n" + body;
  return r;
}

std::string deploy_with(const std::string& key, const std::string& json_value) {
  json base = {{"userId", "7"}, {"appId", "hx1"}, {"image", "localhost/funai-test-httpd:1"}, {"containerPort", 8080}};
  std::string text = base.dump();
  std::string needle = "\"" + key + "\":";
  auto pos = text.find(needle);
  if (pos == std::string::npos) return text.substr(0, text.size() - 1) + ",\"" + key + "\":" + json_value + "}";
  auto end = text.find_first_of(",}", pos + needle.size());
  if (text[pos + needle.size()] == '"') end = text.find('"', pos + needle.size() + 1) + 1;
  return text.substr(0, pos + needle.size()) + json_value + text.substr(end);
}

std::string deploy_without(const std::string& key) {
  json base = {{"userId", "7"}, {"appId", "hx1"}, {"image", "localhost/funai-test-httpd:1"}, {"containerPort", 8080}};
  base.erase(key);
  return base.dump();
}

std::string js(const std::string& s) { return json(s).dump(); }

struct Case {
  std::string name;
  std::function<Exchange(int port)> send;
  int status;
  std::string code;  // "" = any code, but still a JSON error
};

Case post_case(const std::string& name, const std::string& path, const std::string& body, int status, const std::string& code) {
  return {name, [=](int port) { return raw_exchange(port, request("POST", path, body)); }, status, code};
}

Case deploy_case(const std::string& name, const std::string& body, int status, const std::string& code) {
  return post_case(name, "/agent/apps/deploy", body, status, code);
}

Case raw_case(const std::string& name, const std::string& bytes, int status, const std::string& code) {
  return {name, [=](int port) { return raw_exchange(port, bytes); }, status, code};
}

std::vector<Case> cases() {
  std::vector<Case> c;
  // --- malformed JSON
  c.push_back(deploy_case("truncated JSON", R"({"userId":"7","appId":)", 400, "invalid_json"));
  c.push_back(deploy_case("unquoted keys", "{userId:7}", 400, "invalid_json"));
  c.push_back(deploy_case("trailing garbage", R"({"userId":"7"} x)", 400, "invalid_json"));
  c.push_back(deploy_case("empty body", "", 400, "invalid_json"));
  c.push_back(deploy_case("single quotes", "{'userId':'7'}", 400, "invalid_json"));
  c.push_back(deploy_case("invalid UTF-8", std::string("{\"userId\":\"\xff\xfe\"}"), 400, "invalid_json"));
  c.push_back(deploy_case("unbalanced 100,000 levels", std::string(100000, '['), 400, "invalid_json"));
  // --- wrong shapes
  c.push_back(deploy_case("null body", "null", 422, "invalid_body"));
  c.push_back(deploy_case("array body", "[]", 422, "invalid_body"));
  c.push_back(deploy_case("string body", "\"deploy\"", 422, "invalid_body"));
  c.push_back(deploy_case("number body", "123", 422, "invalid_body"));
  c.push_back(deploy_case("100,000 nested arrays", std::string(100000, '[') + std::string(100000, ']'), 422, "invalid_body"));
  {
    std::string nested;
    for (int i = 0; i < 100000; ++i) nested += "{\"a\":";
    nested += "1" + std::string(100000, '}');
    c.push_back(deploy_case("100,000 nested objects", nested, 422, "invalid_userId"));
  }
  // --- ids
  for (auto [what, value] : std::vector<std::pair<std::string, std::string>>{{"float", "7.5"},
                                                                            {"boolean", "true"},
                                                                            {"null", "null"},
                                                                            {"huge float", "1e300"},
                                                                            {"negative", "-1"},
                                                                            {"over uint64", "99999999999999999999"},
                                                                            {"array", "[\"7\"]"},
                                                                            {"object", "{\"id\":7}"},
                                                                            {"empty", js("")},
                                                                            {"traversal", js("../../etc/passwd")},
                                                                            {"slash", js("a/b")},
                                                                            {"NUL", js(std::string("a\0b", 3))},
                                                                            {"CR LF", js("a\r\nb")},
                                                                            {"65 characters", js(std::string(65, 'a'))}})
    c.push_back(deploy_case("userId " + what, deploy_with("userId", value), 422, "invalid_userId"));
  for (auto [what, value] : std::vector<std::pair<std::string, std::string>>{{"10 KB", js(std::string(10240, 'x'))},
                                                                            {"traversal", js("..")},
                                                                            {"semicolon", js("a;rm -rf /")},
                                                                            {"command substitution", js("$(reboot)")},
                                                                            {"backticks", js("`id`")},
                                                                            {"pipe", js("a|b")},
                                                                            {"and-and", js("a&&b")},
                                                                            {"Traefik rule injection", js("x`) || Host(`evil")},
                                                                            {"parentheses", js("a(b)")},
                                                                            {"NUL", js(std::string("a\0", 2))},
                                                                            {"LF", js("a\nb")},
                                                                            {"unicode", js("应用")},
                                                                            {"accent", js("é")},
                                                                            {"leading dash", js("-rf")},
                                                                            {"space", js("a b")},
                                                                            {"percent", js("%2e%2e")}})
    c.push_back(deploy_case("appId " + what, deploy_with("appId", value), 422, "invalid_appId"));
  // --- image
  c.push_back(deploy_case("image missing", deploy_without("image"), 422, "invalid_image"));
  for (auto [what, value] : std::vector<std::pair<std::string, std::string>>{{"spaces", js("img name")},
                                                                            {"shell", js("img;reboot")},
                                                                            {"substitution", js("$(id)")},
                                                                            {"300 characters", js(std::string(300, 'a'))},
                                                                            {"NUL", js(std::string("img\0", 4))},
                                                                            {"number", "5"},
                                                                            {"upper case path", js("Evil/App")},
                                                                            {"newline", js("img\n:1")}})
    c.push_back(deploy_case("image " + what, deploy_with("image", value), 422, "invalid_image"));
  // --- port
  for (auto [what, value] : std::vector<std::pair<std::string, std::string>>{{"string", js("3000")},
                                                                            {"float", "3000.5"},
                                                                            {"float integral", "3000.0"},
                                                                            {"zero", "0"},
                                                                            {"70000", "70000"},
                                                                            {"negative", "-1"},
                                                                            {"1e20", "1e20"},
                                                                            {"over uint64", "99999999999999999999"},
                                                                            {"null string", js("null")}})
    c.push_back(deploy_case("containerPort " + what, deploy_with("containerPort", value), 422, "invalid_containerPort"));
  // --- basePath
  for (auto [what, value] : std::vector<std::pair<std::string, std::string>>{{"traversal", js("../x")},
                                                                            {"inner traversal", js("/a/../b")},
                                                                            {"double slash", js("/a//b")},
                                                                            {"backtick", js("/a`b")},
                                                                            {"rule injection", js("/a`) || Host(`x`) || Path(`/b")},
                                                                            {"space", js("/a b")},
                                                                            {"newline", js("/a\nb")},
                                                                            {"300 characters", js("/" + std::string(300, 'a'))},
                                                                            {"unicode", js("/应用")},
                                                                            {"number", "12"},
                                                                            {"root", js("/")},
                                                                            {"query", js("/a?x=1")}})
    c.push_back(deploy_case("basePath " + what, deploy_with("basePath", value), 422, "invalid_basePath"));
  // --- other endpoints
  c.push_back(post_case("stop with traversal appId", "/agent/apps/stop", R"({"userId":"7","appId":"../x"})", 422, "invalid_appId"));
  c.push_back(post_case("delete with shell appId", "/agent/apps/delete", R"J({"userId":"7","appId":"$(id)"})J", 422, "invalid_appId"));
  c.push_back(post_case("stop without userId", "/agent/apps/stop", R"({"appId":"hx1"})", 422, "invalid_userId"));
  c.push_back(raw_case("status with encoded traversal", request("GET", "/agent/apps/status?appId=%2e%2e%2fx", ""), 422, "invalid_appId"));
  c.push_back(raw_case("status with NUL", request("GET", "/agent/apps/status?appId=a%00b", ""), 422, "invalid_appId"));
  c.push_back(raw_case("status with repeated appId", request("GET", "/agent/apps/status?appId=a&appId=b", ""), 422, "invalid_appId"));
  c.push_back(raw_case("status with hostile userId", request("GET", "/agent/apps/status?appId=a&userId=%60id%60", ""), 422, "invalid_userId"));
  c.push_back(raw_case("logs with hostile tail", request("GET", "/agent/apps/logs?appId=a&tail=1e9", ""), 422, "invalid_tail"));
  // --- HTTP level
  c.push_back({"10 MiB body",
               [](int port) {
                 return raw_exchange(port, request("POST", "/agent/apps/deploy", std::string(10 * 1024 * 1024, ' ')), 65536,
                                     std::chrono::milliseconds(0));
               },
               413, "body_too_large"});
  c.push_back({"chunked body that never ends",
               [](int port) {
                 std::string head = "POST /agent/apps/deploy HTTP/1.1\r\nHost: a\r\nX-Runtime-Token: " + kToken +
                                    "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n";
                 return raw_exchange(port, head);
               },
               408, "body_incomplete"});
  c.push_back({"headers trickled byte by byte",
               [](int port) { return raw_exchange(port, request("POST", "/agent/apps/stop", "[1]"), 1, std::chrono::milliseconds(2)); },
               422, "invalid_body"});
  c.push_back(raw_case("100 KB URL", request("GET", "/agent/apps/status?appId=" + std::string(100 * 1024, 'a'), ""), 400, "bad_request"));
  c.push_back(raw_case("20 KB header value", request("GET", "/internal/health", "", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n"), 431,
                       "headers_too_large"));
  {
    std::string many;
    for (int i = 0; i < 300; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    c.push_back(raw_case("300 headers", request("GET", "/internal/health", "", many), 431, "headers_too_large"));
  }
  c.push_back(raw_case("NUL in the token", request("GET", "/agent/apps/status?appId=a", "", std::string("X-Runtime-Token: ") + kToken.substr(0, 5) + '\0' + "x\r\n", "application/json", false), 400, "bad_request"));
  c.push_back(raw_case("no token, hostile body", request("POST", "/agent/apps/deploy", R"J({"appId":"$(id)"})J", "", "application/json", false), 401, "unauthorized"));
  c.push_back(raw_case("wrong content type", request("POST", "/agent/apps/deploy", deploy_with("appId", js("hx1")), "", "text/plain"), 415,
                       "unsupported_media_type"));
  c.push_back(raw_case("multipart content type", request("POST", "/agent/apps/stop", "{}", "", "multipart/form-data; boundary=x"), 415,
                       "unsupported_media_type"));
  c.push_back(raw_case("unknown method", request("FOO", "/agent/apps/deploy", ""), 405, "method_not_allowed"));
  c.push_back(raw_case("traversal in the path", request("GET", "/agent/apps/../../etc/passwd", ""), 404, "not_found"));
  c.push_back(raw_case("garbage request line", "GARBAGE\r\n\r\n", 400, "bad_request"));
  c.push_back(raw_case("binary junk", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n", 400, "bad_request"));
  c.push_back(raw_case("negative Content-Length", request("POST", "/agent/apps/stop", "", "Content-Length: -5\r\n"), 400, ""));
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_hostile_request_gets_its_4xx_json_error_and_creates_nothing) {
  testing::TempDir routing, logs;
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.token = kToken;
  settings.network = "funai-hostile-net";  // must not come into existence
  testing::AgentUnderTest agent(settings);
  auto containers_before = podman::containers::list(agent.podman, {}).size();
  auto networks = [&] { return podman::Client::decode("networks", agent.podman.send({"networks", "GET", "/networks/json"})).size(); };
  auto networks_before = networks();

  auto all = cases();
  BOOST_TEST(all.size() >= 60u);
  for (const auto& c : all) {
    auto ex = c.send(agent.server->port());
    BOOST_TEST(ex.status == c.status, c.name << ": got " << ex.status << " " << ex.raw.substr(0, 200));
    auto body = json::parse(ex.body, nullptr, false);
    BOOST_TEST(body.is_object(), c.name << ": not a JSON object: " << ex.body.substr(0, 200));
    if (body.is_object()) {
      BOOST_TEST(body["detail"].is_string(), c.name);
      if (!c.code.empty()) BOOST_TEST(body["code"] == c.code, c.name << ": " << ex.body.substr(0, 300));
    }
    BOOST_TEST(ex.raw.find("Content-Type: application/json") != std::string::npos, c.name);
  }
  BOOST_TEST_MESSAGE(all.size() << " hostile cases sent");

  BOOST_TEST(podman::containers::list(agent.podman, {}).size() == containers_before);
  BOOST_TEST(networks() == networks_before);
  BOOST_TEST(agent.routes->list().empty());
  BOOST_TEST(testing::http("GET", agent.url("/internal/health")).status == 200);
  BOOST_TEST(agent.call("GET", "/agent/apps/status?appId=hx1").status == 200);
}
