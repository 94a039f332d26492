// Reads one HTTP/1.1 request from bytes as they arrive on a non-blocking socket: the head (request
// line and header fields, parsed by Poco with its limits), then the body, by Content-Length or
// chunked, up to a limit. No I/O and no clock here: the server feeds bytes and keeps the deadlines.
#pragma once

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <string>

namespace agent {

class RequestReader {
 public:
  enum class State { head, body, complete, failed };
  struct Failure {
    int status = 0;
    std::string code;    // the API's error code: bad_request, headers_too_large
    std::string detail;
  };

  static constexpr size_t kMaxHeadBytes = 64 * 1024;

  // head_only: complete once the head is read; what follows it stays unread (take_rest()), for a
  // relay that passes the body on as it comes.
  explicit RequestReader(size_t max_body, bool head_only = false);

  // Takes bytes of this request (and any after it: they stay for the next one). Returns the state.
  State feed(const char* data, size_t size);
  State state() const { return state_; }
  // Some byte of this request has arrived.
  bool started() const { return state_ != State::head || !buffer_.empty(); }

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
  // The bytes received after this request (head_only: everything after the head).
  std::string take_rest() { return std::move(buffer_); }

 private:
  State parse_head();
  State read_body();
  State fail(int status, std::string code, std::string detail);
  // Chunked decoding over buffer_ from pos_; appends to body_.
  State read_chunks();

  size_t max_body_;
  bool head_only_ = false;
  State state_ = State::head;
  std::string buffer_;  // bytes not yet consumed
  size_t scanned_ = 0;  // head: how far buffer_ has been searched for the blank line
  Poco::Net::HTTPRequest head_;
  bool wants_continue_ = false;
  bool chunked_ = false;
  size_t content_length_ = 0;
  enum class Chunk { size_line, data, data_end, trailer } chunk_ = Chunk::size_line;
  size_t chunk_left_ = 0;
  std::string body_;
  bool body_unread_ = false;
  Failure failure_;
};

}  // namespace agent
