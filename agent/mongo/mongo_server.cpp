#include "mongo/mongo_server.h"

#include <Poco/Logger.h>
#include <mongoc/mongoc.h>

namespace agent {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("mongo"); }

// The driver's own log lines go to the agent's log: warnings and worse only.
void driver_log(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  if (level > MONGOC_LOG_LEVEL_WARNING) return;
  try {  // nothing may be thrown into the driver's C frames
    std::string text = std::string("driver (") + (domain ? domain : "") + "): " + (message ? message : "");
    if (level <= MONGOC_LOG_LEVEL_CRITICAL) logger().error(text);
    else logger().warning(text);
  } catch (...) {
  }
}

// The driver is initialised once per process and never cleaned up (mongoc_cleanup must not run
// while any client lives, and clients live in objects whose destruction order main does not fix).
void init_driver() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(driver_log, nullptr);
  });
}

// RFC 3986 userinfo: unreserved characters as they are, everything else %XX.
std::string percent_encoded(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

mongoc_uri_t* parse_uri(const std::string& text) {
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(text.c_str(), &error);
  if (!uri) throw MongoError(std::string("RUNTIME_MONGO_* make no valid URI: ") + error.message);
  return uri;
}

void set_timeouts(mongoc_uri_t* uri, int32_t select_ms, int32_t connect_ms, int32_t socket_ms) {
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, select_ms);
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, connect_ms);
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_ms);
}

}  // namespace

struct MongoServer::Pending::State {
  std::string what;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::milliseconds budget{0};
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool abandoned = false;  // the caller stopped waiting: the outcome is only logged
  std::string error;
};

std::string mongo_error_text(const std::string& what, const void* bson_error) {
  return what + " failed: " + static_cast<const bson_error_t*>(bson_error)->message;
}

MongoServer::MongoServer(const Settings& settings) : settings_(settings) {}

MongoServer::~MongoServer() {
  reap(true);
  if (pool_) mongoc_client_pool_destroy(pool_);
}

std::string MongoServer::uri_for(const std::string& database) const {
  std::string host = settings_.mongo_host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";  // IPv6
  std::string address = host + ":" + std::to_string(settings_.mongo_port);
  if (!settings_.mongo_username.empty() && !settings_.mongo_password.empty())
    return "mongodb://" + percent_encoded(settings_.mongo_username) + ":" + percent_encoded(settings_.mongo_password) + "@" +
           address + "/" + database + "?authSource=" + settings_.mongo_auth_source;
  return "mongodb://" + address + "/" + database;
}

MongoServer::Client::~Client() {
  if (client_) mongoc_client_pool_push(pool_, client_);
}

MongoServer::Client MongoServer::client() {
  if (!configured()) throw MongoError("RUNTIME_MONGO_HOST is not set: this node has no app databases");
  std::call_once(pool_once_, [this] {
    init_driver();
    try {
      mongoc_uri_t* uri = parse_uri(uri_for("admin"));
      set_timeouts(uri, 5000, 3000, 10000);
      bson_error_t error;
      pool_ = mongoc_client_pool_new_with_error(uri, &error);
      mongoc_uri_destroy(uri);
      if (!pool_) throw MongoError(std::string("cannot create a MongoDB client pool: ") + error.message);
      mongoc_client_pool_set_error_api(pool_, MONGOC_ERROR_API_VERSION_2);
      mongoc_client_pool_max_size(pool_, 16);
    } catch (const MongoError& e) {
      pool_error_ = e.what();
    }
  });
  if (!pool_) throw MongoError(pool_error_);
  // At most 16 clients for the 32 request workers: past them a request waits up to 2 s for one,
  // then is refused, so slow explorer queries cannot hold every worker of the agent.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (true) {
    if (mongoc_client_t* c = mongoc_client_pool_try_pop(pool_)) return Client(pool_, c);
    if (std::chrono::steady_clock::now() >= until) throw MongoBusy("every MongoDB client is busy (16 requests at once); try again");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

MongoServer::Pending MongoServer::start_within(std::chrono::milliseconds deadline, const std::string& what,
                                               std::function<void(mongoc_client_t*)> work) {
  reap(false);
  Pending pending;
  auto state = std::make_shared<Pending::State>();
  state->what = what;
  state->deadline = std::chrono::steady_clock::now() + deadline;
  state->budget = deadline;
  pending.state_ = state;
  if (!configured()) {
    state->done = true;
    state->error = "RUNTIME_MONGO_HOST is not set";
    return pending;
  }
  init_driver();
  std::string uri_text = uri_for("admin");
  auto ms = static_cast<int32_t>(deadline.count());
  std::thread thread;
  try {
    thread = std::thread([state, uri_text, ms, work = std::move(work)] {
    std::string error;
    mongoc_client_t* client = nullptr;
    try {
      mongoc_uri_t* uri = parse_uri(uri_text);
      set_timeouts(uri, ms, ms, ms);
      bson_error_t e;
      client = mongoc_client_new_from_uri_with_error(uri, &e);
      mongoc_uri_destroy(uri);
      if (!client) throw MongoError(std::string("cannot create a MongoDB client: ") + e.message);
      mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
      work(client);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (client) mongoc_client_destroy(client);
    std::lock_guard<std::mutex> lock(state->mutex);
    state->done = true;
    state->error = error;
    if (state->abandoned)
      logger().warning(state->what + (error.empty() ? " finished after its caller stopped waiting" : " ended late: " + error));
    state->done_cv.notify_all();
    });
  } catch (const std::system_error& e) {  // no thread to be had: said, never thrown at a deploy
    state->done = true;
    state->error = state->what + " not started: " + e.what();
    return pending;
  }
  std::lock_guard<std::mutex> lock(threads_mutex_);
  threads_.emplace_back(std::move(thread), state);
  return pending;
}

std::string MongoServer::Pending::wait() {
  if (!state_) return "";
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (!state_->done_cv.wait_until(lock, state_->deadline, [this] { return state_->done; })) {
    state_->abandoned = true;
    return state_->what + ": MongoDB did not answer within " + std::to_string(state_->budget.count()) + " ms";
  }
  return state_->error;
}

void MongoServer::reap(bool all) {
  std::vector<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(threads_mutex_);
    for (auto it = threads_.begin(); it != threads_.end();) {
      bool done;
      {
        std::lock_guard<std::mutex> state_lock(it->second->mutex);
        done = it->second->done;
      }
      if (done || all) {
        finished.push_back(std::move(it->first));
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : finished) t.join();
}

}  // namespace agent
