// A stand-in for the Deploy control plane's heartbeat endpoint, for the heartbeat and doctor suites.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace testing {

// A stand-in for the Deploy control plane's heartbeat endpoint: records what it receives.
class HeartbeatReceiver {
 public:
  struct Received {
    std::string method, path, token;
    nlohmann::json body;
  };

  // With expected_token set, a heartbeat carrying another token gets 401 (and is recorded).
  explicit HeartbeatReceiver(std::string expected_token = "")
      : expected_token_(std::move(expected_token)), socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~HeartbeatReceiver() { server_->stopAll(true); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(m_);
    return received_;
  }
  bool wait_for(size_t count, double seconds) {
    auto t0 = std::chrono::steady_clock::now();
    while (received().size() < count && testing::seconds_since(t0) < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return received().size() >= count;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(HeartbeatReceiver& r) : r_(r) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
      std::string body;
      Poco::StreamCopier::copyToString(req.stream(), body);
      {
        std::lock_guard<std::mutex> lock(r_.m_);
        r_.received_.push_back({req.getMethod(), req.getURI(), req.get("X-RT-Node-Token", ""), nlohmann::json::parse(body, nullptr, false)});
      }
      resp.setContentType("application/json");
      if (!r_.expected_token_.empty() && req.get("X-RT-Node-Token", "") != r_.expected_token_) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
        resp.send() << "{\"detail\":\"bad node token\"}";
        return;
      }
      resp.send() << "{\"ok\":true}";
    }
    HeartbeatReceiver& r_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(HeartbeatReceiver& r) : r_(r) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override { return new Handler(r_); }
    HeartbeatReceiver& r_;
  };

  std::string expected_token_;
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::mutex m_;
  std::vector<Received> received_;
};

}  // namespace testing
