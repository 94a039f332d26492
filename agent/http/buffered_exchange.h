// Poco's server request and response interfaces over memory: the event loop has read the whole
// request before a worker runs its handler, and the worker's answer is written back by the loop.
// Handlers written for Poco's HTTPServer run unchanged.
#pragma once

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include <sstream>
#include <string>

namespace agent {

class BufferedResponse : public Poco::Net::HTTPServerResponse {
 public:
  void sendContinue() override {}  // the loop already did, when the client asked
  std::ostream& send() override;
  void sendFile(const std::string& path, const std::string& media_type) override;
  void sendBuffer(const void* buffer, std::size_t length) override;
  void redirect(const std::string& uri, HTTPStatus status) override;
  void requireAuthentication(const std::string& realm) override;
  bool sent() const override { return sent_; }

  // The bytes to write: status line, fields and (unless head_only) the body.
  std::string serialize(bool head_only);

 private:
  bool sent_ = false;
  std::ostringstream body_;
};

class BufferedRequest : public Poco::Net::HTTPServerRequest {
 public:
  BufferedRequest(const Poco::Net::HTTPRequest& head, std::string body, Poco::Net::SocketAddress client,
                  Poco::Net::SocketAddress server, Poco::Net::HTTPServerParams::Ptr params, BufferedResponse& response);

  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return *params_; }
  Poco::Net::HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return false; }

 private:
  std::istringstream body_;
  Poco::Net::SocketAddress client_;
  Poco::Net::SocketAddress server_;
  Poco::Net::HTTPServerParams::Ptr params_;
  BufferedResponse& response_;
};

}  // namespace agent
