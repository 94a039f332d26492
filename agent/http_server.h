// The agent's HTTP server: Poco's HTTP server machinery on a bounded thread pool, with
// keep-alive and server-side deadlines. A connection may spend at most `head_deadline` outside a
// request handler (idle keep-alive plus reading the request line and headers), so a client that
// trickles its headers byte by byte cannot hold a thread for long.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace agent {

class ConnectionWatchdog;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 7005;  // 0 = an ephemeral port
  int threads = 32;
  int max_queued = 256;
  std::chrono::seconds receive_timeout{10};     // one read on the socket
  std::chrono::seconds keep_alive_timeout{5};   // idle between requests
  std::chrono::seconds head_deadline{15};       // outside a handler, in all
};

class HttpServer {
 public:
  HttpServer(const HttpServerOptions& options, Poco::Net::HTTPRequestHandlerFactory::Ptr factory);
  ~HttpServer();

  void start();
  int port() const;

  // Stops accepting, waits until no request is being handled (at most `drain`), then closes
  // the remaining idle connections.
  void stop(std::chrono::milliseconds drain);

  // Marks the calling thread's connection as inside a handler (not subject to head_deadline).
  static void enter_handler();
  static void leave_handler();
  // Requests being handled right now.
  static int active_requests();

 private:
  HttpServerOptions options_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::shared_ptr<ConnectionWatchdog> watchdog_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace agent
