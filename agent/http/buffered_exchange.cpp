#include "http/buffered_exchange.h"

#include <Poco/Exception.h>

namespace agent {

std::ostream& BufferedResponse::send() {
  sent_ = true;
  return body_;
}

void BufferedResponse::sendFile(const std::string& path, const std::string&) {
  throw Poco::NotImplementedException("sendFile is not served by the agent: " + path);
}

void BufferedResponse::sendBuffer(const void* buffer, std::size_t length) {
  sent_ = true;
  setContentLength64(static_cast<Poco::Int64>(length));
  setChunkedTransferEncoding(false);
  body_.write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
}

void BufferedResponse::redirect(const std::string& uri, HTTPStatus status) {
  setStatusAndReason(status);
  set("Location", uri);
  sendBuffer(nullptr, 0);
}

void BufferedResponse::requireAuthentication(const std::string& realm) {
  setStatusAndReason(HTTP_UNAUTHORIZED);
  set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  sendBuffer(nullptr, 0);
}

std::string BufferedResponse::serialize(bool head_only) {
  std::string body = body_.str();
  // The whole body is known: a length, never chunks.
  setChunkedTransferEncoding(false);
  setContentLength64(static_cast<Poco::Int64>(body.size()));
  std::ostringstream out;
  write(out);
  if (!head_only) out << body;
  return out.str();
}

BufferedRequest::BufferedRequest(const Poco::Net::HTTPRequest& head, std::string body, Poco::Net::SocketAddress client,
                                 Poco::Net::SocketAddress server, Poco::Net::HTTPServerParams::Ptr params,
                                 BufferedResponse& response)
    : body_(std::move(body)), client_(client), server_(server), params_(std::move(params)), response_(response) {
  static_cast<Poco::Net::HTTPRequest&>(*this) = head;
}

}  // namespace agent
