// The agent's HTTP server. One event-loop thread holds every connection while it is outside a
// request handler: accepting, reading the request head and body from non-blocking sockets, waiting
// idle between keep-alive requests, and writing answers. Only a complete request takes a worker
// thread (for its handler), so slow or idle clients cost memory, not threads.
//
// Deadlines: a request's head must arrive within head_deadline (of the accept, or of its first byte
// on a kept-alive connection) and its body within body_timeout after the head, else 408 and close;
// an idle kept-alive connection is closed after keep_alive_timeout; a client must take an answer
// within send_timeout. Past max_connections a new connection is closed at once (and counted).
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <memory>
#include <string>

namespace agent {

class EventLoop;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 7005;  // 0 = an ephemeral port
  int threads = 32;  // request handlers at once
  int max_connections = 4096;
  size_t max_body_bytes = 1024 * 1024;  // a longer body is answered 413 unread
  std::chrono::seconds head_deadline{10};
  std::chrono::seconds body_timeout{10};
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::seconds send_timeout{10};
};

class HttpServer {
 public:
  HttpServer(const HttpServerOptions& options, Poco::Net::HTTPRequestHandlerFactory::Ptr factory);
  ~HttpServer();

  void start();
  int port() const;
  // Stops accepting and closes idle connections, waits until no request is being handled or
  // answered (at most `drain`), then closes the rest.
  void stop(std::chrono::milliseconds drain);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent
