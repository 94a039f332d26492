#include "client.h"

#include <curl/curl.h>

#include <memory>

namespace podman {
namespace {

constexpr size_t kMaxIdleHandles = 16;
constexpr const char* kApiPrefix = "/v4.0.0/libpod";

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_global_init() { static GlobalInit once; }

size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct StreamState {
  const std::function<bool(std::string_view)>* on_data;
  const std::atomic<bool>* stop;
  const std::function<void(long)>* on_headers;
  CURL* curl;
  bool stopped_by_reader = false;
};

// The blank line that ends the response head: the stream is established.
size_t stream_header(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  std::string_view line(data, size * count);
  if ((line == "\r\n" || line == "\n") && state->on_headers && *state->on_headers) {
    long status = 0;
    curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
    (*state->on_headers)(status);
  }
  return size * count;
}

size_t stream_body(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  if (!(*state->on_data)(std::string_view(data, size * count))) {
    state->stopped_by_reader = true;
    return 0;  // aborts the transfer
  }
  return size * count;
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* state = static_cast<StreamState*>(user);
  return state->stop && state->stop->load() ? 1 : 0;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

Client::Client(const std::string& endpoint, ClientOptions options) : endpoint_(endpoint), options_(options) {
  ensure_global_init();
  if (endpoint.rfind("unix://", 0) == 0) {
    socket_path_ = endpoint.substr(7);
    base_url_ = "http://d";
  } else if (endpoint.rfind("tcp://", 0) == 0) {
    base_url_ = "http://" + endpoint.substr(6);
  } else {
    socket_path_ = endpoint;
    base_url_ = "http://d";
  }
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Client::~Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Client::acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void Client::release(void* handle) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

void Client::prepare(void* handle, const Request& request, void* header_list) const {
  CURL* curl = static_cast<CURL*>(handle);
  curl_easy_reset(curl);  // keeps the connection cache, clears the last call's options
  std::string url = base_url_ + kApiPrefix + request.path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!socket_path_.empty()) curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  if (!request.body.empty() || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
  }
  auto* headers = static_cast<HeaderList*>(header_list);
  if (!request.body.empty()) headers->add("Content-Type: application/json");
  headers->add("Expect:");
  for (const auto& [name, value] : request.headers) headers->add(name + ": " + value);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers->list);
}

Response Client::send(const Request& request) {
  std::unique_ptr<void, std::function<void(void*)>> handle(acquire(), [this](void* h) { release(h); });
  CURL* curl = static_cast<CURL*>(handle.get());
  HeaderList headers;
  prepare(curl, request, &headers);
  auto budget = request.budget.count() > 0 ? request.budget : options_.call_budget;
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  Response response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    report_error(request.call);
    throw Unreachable(request.call, 0, curl_easy_strerror(rc), "podman unreachable at " + endpoint_ + ": " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

long Client::stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                    const std::atomic<bool>* stop, const std::function<void(long)>& on_headers) {
  // A stream keeps its connection busy for long: it gets a handle of its own, not one of the pool.
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  HeaderList headers;
  prepare(curl.get(), request, &headers);
  if (request.budget.count() > 0) curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(request.budget.count()));
  StreamState state{&on_data, stop, &on_headers, curl.get()};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, stream_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, stream_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &state);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, stream_progress);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &state);
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  bool stopped = state.stopped_by_reader || (stop && stop->load());
  if (rc != CURLE_OK && !stopped) {
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    report_error(request.call);
    if (rc == CURLE_OPERATION_TIMEDOUT && request.budget.count() > 0)
      throw Timeout(request.call, status, "timeout",
                    "did not finish within " + std::to_string(request.budget.count() / 1000) + " s: " + detail);
    throw Unreachable(request.call, status, curl_easy_strerror(rc), "podman unreachable at " + endpoint_ + ": " + detail);
  }
  return status;
}

void Client::fail(const std::string& call, const Response& response) const {
  std::string cause;
  std::string message;
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_object()) {
    if (parsed.contains("cause") && parsed["cause"].is_string()) cause = parsed["cause"].get<std::string>();
    if (parsed.contains("message") && parsed["message"].is_string()) message = parsed["message"].get<std::string>();
  }
  if (message.empty()) message = response.body.substr(0, 500);
  if (message.empty()) message = "HTTP " + std::to_string(response.status);
  // Some libpod 4.x endpoints answer 500 for a missing image or a name in use; their cause says so.
  bool missing = response.status == 404 || cause == "image not known" || cause == "no such container" ||
                 cause == "no such image" || cause == "network not found";
  bool conflict = response.status == 409 || cause == "that name is already in use" || cause == "container already exists";
  if (missing) throw NotFound(call, response.status, cause, message);  // an answer, not a failure: not reported
  report_error(call);
  if (conflict) throw Conflict(call, response.status, cause, message);
  throw ServerError(call, response.status, cause, message);
}

nlohmann::json Client::decode(const std::string& call, const Response& response) {
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded())
    throw ServerError(call, response.status, "bad response", "libpod answered with a body that is not JSON");
  return parsed;
}

std::string escape(const std::string& value) {
  std::unique_ptr<char, decltype(&curl_free)> out(curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size())),
                                                  curl_free);
  return out ? std::string(out.get()) : std::string();
}

}  // namespace podman
