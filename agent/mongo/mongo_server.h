// The platform's MongoDB server (RUNTIME_MONGO_HOST), through the MongoDB C driver: the URI each
// app gets, pooled clients for requests (the explorer, the cleanup), and one-off work under a
// hard deadline on a thread and client of its own (pre-create on deploy, drop on delete), so a
// MongoDB that is down or hangs delays no caller past that deadline. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "config/settings.h"

struct _mongoc_client_t;
struct _mongoc_client_pool_t;

namespace agent {

// A failed MongoDB call: the driver's message, with what was being done.
class MongoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No pooled client became free in time (503).
class MongoBusy : public MongoError {
 public:
  using MongoError::MongoError;
};

class MongoServer {
 public:
  explicit MongoServer(const Settings& settings);  // connects to nothing yet
  ~MongoServer();                                   // waits for one-off work still running (each ends within its timeouts)
  MongoServer(const MongoServer&) = delete;
  MongoServer& operator=(const MongoServer&) = delete;

  bool configured() const { return !settings_.mongo_host.empty(); }

  // mongodb://user:password@host:port/<database>?authSource=<source> (user and password
  // percent-encoded), or mongodb://host:port/<database> without credentials.
  std::string uri_for(const std::string& database) const;

  // A client of the pool, given back when it goes out of scope.
  class Client {
   public:
    Client(_mongoc_client_pool_t* pool, _mongoc_client_t* client) : pool_(pool), client_(client) {}
    Client(Client&& other) noexcept : pool_(other.pool_), client_(other.client_) { other.client_ = nullptr; }
    ~Client();
    _mongoc_client_t* get() const { return client_; }

   private:
    _mongoc_client_pool_t* pool_;
    _mongoc_client_t* client_;
  };
  // Throws MongoError when RUNTIME_MONGO_HOST is not set, MongoBusy when all 16 clients stay
  // taken for 2 s. Server selection waits at most 5 s, each socket operation at most 10 s (the
  // Studio's API reads for 15 s).
  Client client();

  // One-off work started now on a client of its own whose connect, server selection and socket
  // timeouts are all `deadline`. wait() returns "" when the work finished within `deadline` of its
  // start, else why not (the driver's error, or that MongoDB did not answer in time); it never
  // waits past that point. Work still running then goes on in the background until its own
  // timeouts end it; its outcome is logged.
  class Pending {
   public:
    std::string wait();
    bool started() const { return state_ != nullptr; }

   private:
    friend class MongoServer;
    struct State;
    std::shared_ptr<State> state_;
  };
  Pending start_within(std::chrono::milliseconds deadline, const std::string& what, std::function<void(_mongoc_client_t*)> work);

 private:
  void reap(bool all);

  const Settings& settings_;
  std::once_flag pool_once_;
  _mongoc_client_pool_t* pool_ = nullptr;
  std::string pool_error_;
  std::mutex threads_mutex_;
  std::vector<std::pair<std::thread, std::shared_ptr<Pending::State>>> threads_;
};

// The driver's error as text: "<what> failed: <message>". For the callers' own calls.
std::string mongo_error_text(const std::string& what, const void* bson_error);

}  // namespace agent
