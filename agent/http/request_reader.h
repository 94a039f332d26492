// Reads one HTTP/1.1 request from bytes as they arrive on a non-blocking socket: the head, then the
// body (by Content-Length or chunked) up to a limit, by the strict MessageParser. The head is handed
// to handlers as Poco's HTTPRequest, its values exactly as received. No I/O and no clock here: the
// server feeds bytes and keeps the deadlines.
#pragma once

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <string>

#include "http/message_parser.h"

namespace agent {

class RequestReader {
 public:
  enum class State { head, body, complete, failed };
  using Failure = MessageParser::Failure;

  static constexpr size_t kMaxHeadBytes = MessageParser::kMaxHeadBytes;

  explicit RequestReader(size_t max_body);

  // Takes bytes of this request (and any after it: they stay for the next one). Returns the state.
  State feed(const char* data, size_t size);
  State state() const { return state_; }
  // Some byte of this request has arrived.
  bool started() const { return state_ != State::head || !buffer_.empty() || skipped_blank_ || !parser_.head().raw.empty(); }

  // After the head: the request line and fields.
  const Poco::Net::HTTPRequest& head() const { return head_; }
  // The head asked for "100 Continue" before sending a body that will be read.
  bool wants_continue() const { return wants_continue_; }
  // Complete: the decoded body. When the body is over the limit it is not read at all
  // (Content-Length) or cut at limit + 1 bytes (chunked): the handler answers 413 and the
  // connection must close, as it must when body_unread().
  const std::string& body() const { return body_; }
  std::string take_body() { return std::move(body_); }  // before next(), which drops it anyway
  bool body_unread() const { return body_unread_; }
  const Failure& failure() const { return failure_; }

  // Starts the next request on the same connection with the bytes that followed this one.
  void next();

 private:
  State fail(const Failure& failure);
  void consume();
  void take_head();

  size_t max_body_;
  State state_ = State::head;
  MessageParser parser_{MessageParser::Kind::request};
  std::string buffer_;  // bytes not yet taken by the parser
  bool skipped_blank_ = false;
  Poco::Net::HTTPRequest head_;
  bool wants_continue_ = false;
  std::string body_;
  bool body_unread_ = false;
  Failure failure_;
};

}  // namespace agent
