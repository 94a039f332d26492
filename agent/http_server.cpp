#include "http_server.h"

#include <Poco/Net/HTTPHeaderStream.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace agent {

namespace {
std::atomic<int> g_active_requests{0};
}

// Shuts down connections that spend too long outside a request handler.
class ConnectionWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConnectionWatchdog(std::chrono::seconds limit) : limit_(limit), thread_([this] { loop(); }) {}
  ~ConnectionWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  uint64_t add(const Poco::Net::StreamSocket& socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t id = ++next_id_;
    entries_.emplace(id, Entry{socket, Clock::now(), false});
    return id;
  }
  void remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(id);
  }
  void set_in_handler(uint64_t id, bool in_handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.in_handler = in_handler;
    it->second.since = Clock::now();
  }
  void shutdown_idle() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, e] : entries_)
      if (!e.in_handler) shutdown(e);
  }

 private:
  struct Entry {
    Poco::Net::StreamSocket socket;
    Clock::time_point since;
    bool in_handler;
  };

  static void shutdown(Entry& e) {
    try {
      e.socket.shutdown();
    } catch (...) {
      // already closed by the peer
    }
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(500));
      auto now = Clock::now();
      for (auto& [id, e] : entries_)
        if (!e.in_handler && now - e.since > limit_) shutdown(e);
    }
  }

  std::chrono::seconds limit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t next_id_ = 0;
  std::map<uint64_t, Entry> entries_;
  std::thread thread_;
};

namespace {

thread_local ConnectionWatchdog* t_watchdog = nullptr;
thread_local uint64_t t_connection = 0;

// Answers a request Poco could not parse (request line, URI or headers too long, malformed) with
// the API's JSON error shape, then closes the connection.
void send_json_error(Poco::Net::HTTPServerSession& session, const Poco::Net::MessageException& e) {
  // Poco says "URI invalid or too long" for both, so a URI over 16 KiB and a garbled request line
  // are both 400; headers over Poco's limits (8 KiB a value, 100 fields) are 431.
  std::string what = e.message();
  Poco::Net::HTTPResponse::HTTPStatus status = Poco::Net::HTTPResponse::HTTP_BAD_REQUEST;
  std::string code = "bad_request";
  if (what.find("Field") != std::string::npos || what.find("header fields") != std::string::npos) {
    status = Poco::Net::HTTPResponse::HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    code = "headers_too_large";
  }
  std::string body = nlohmann::json{{"detail", "malformed request: " + what}, {"code", code}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  Poco::Net::HTTPResponse response(Poco::Net::HTTPMessage::HTTP_1_1, status);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.setKeepAlive(false);
  Poco::Net::HTTPHeaderOutputStream out(session);
  response.write(out);
  out << body;
  out.flush();
}

// One HTTP connection: Poco's request/response classes over a session, registered with the
// watchdog for its whole life. Unlike Poco's own connection class it answers unparsable requests
// with JSON, and it stops keeping a connection alive once the server stops.
class ApiConnection : public Poco::Net::TCPServerConnection {
 public:
  ApiConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                Poco::Net::HTTPRequestHandlerFactory::Ptr factory, std::shared_ptr<ConnectionWatchdog> watchdog,
                const std::atomic<bool>& stopping)
      : TCPServerConnection(socket), params_(params), factory_(factory), watchdog_(std::move(watchdog)), stopping_(stopping) {}

  void run() override {
    uint64_t id = watchdog_->add(socket());
    t_watchdog = watchdog_.get();
    t_connection = id;
    try {
      serve();
    } catch (...) {
      // the peer went away or the watchdog shut the socket: nothing to answer
    }
    t_watchdog = nullptr;
    t_connection = 0;
    watchdog_->remove(id);
  }

 private:
  void serve() {
    Poco::Net::HTTPServerSession session(socket(), params_);
    while (!stopping_.load() && session.hasMoreRequests()) {
      try {
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, params_);
        response.setDate(Poco::Timestamp());
        response.setVersion(request.getVersion());
        response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() && session.canKeepAlive() && !stopping_.load());
        response.set("Server", params_->getServerName());
        std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory_->createRequestHandler(request));
        if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) response.sendContinue();
        handler->handleRequest(request, response);
        session.setKeepAlive(params_->getKeepAlive() && response.getKeepAlive() && session.canKeepAlive());
      } catch (const Poco::Net::NoMessageException&) {
        return;  // the client closed the connection between requests
      } catch (const Poco::Net::MessageException& e) {
        send_json_error(session, e);
        return;
      }
    }
  }

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::shared_ptr<ConnectionWatchdog> watchdog_;
  const std::atomic<bool>& stopping_;
};

class ApiConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ApiConnectionFactory(Poco::Net::HTTPServerParams::Ptr params, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                           std::shared_ptr<ConnectionWatchdog> watchdog, const std::atomic<bool>& stopping)
      : params_(params), factory_(factory), watchdog_(std::move(watchdog)), stopping_(stopping) {}

  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new ApiConnection(socket, params_, factory_, watchdog_, stopping_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::shared_ptr<ConnectionWatchdog> watchdog_;
  const std::atomic<bool>& stopping_;
};

}  // namespace

HttpServer::HttpServer(const HttpServerOptions& options, Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
    : options_(options) {
  Poco::Net::HTTPServerParams::Ptr params(new Poco::Net::HTTPServerParams);
  params->setMaxThreads(options.threads);
  params->setMaxQueued(options.max_queued);
  params->setTimeout(Poco::Timespan(options.receive_timeout.count(), 0));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(options.keep_alive_timeout.count(), 0));
  params->setMaxKeepAliveRequests(10000);
  params->setServerName("fun-ai-runtime-agent");

  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)), true);
  socket.listen(128);

  pool_ = std::make_unique<Poco::ThreadPool>(2, options.threads, 60, 512 * 1024);
  watchdog_ = std::make_shared<ConnectionWatchdog>(options.head_deadline);
  server_ = std::make_unique<Poco::Net::TCPServer>(new ApiConnectionFactory(params, factory, watchdog_, stopping_), *pool_, socket,
                                                   params);
}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

void HttpServer::start() { server_->start(); }

int HttpServer::port() const { return server_->socket().address().port(); }

void HttpServer::stop(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;  // connections close after their current request
  server_->stop();   // no new connections
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (g_active_requests.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  watchdog_->shutdown_idle();
  pool_->joinAll();
}

void HttpServer::enter_handler() {
  ++g_active_requests;
  if (t_watchdog) t_watchdog->set_in_handler(t_connection, true);
}

void HttpServer::leave_handler() {
  if (t_watchdog) t_watchdog->set_in_handler(t_connection, false);
  --g_active_requests;
}

int HttpServer::active_requests() { return g_active_requests.load(); }

}  // namespace agent
