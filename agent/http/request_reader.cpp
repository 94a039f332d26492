#include "http/request_reader.h"

namespace agent {

RequestReader::RequestReader(size_t max_body) : max_body_(max_body) {}

RequestReader::State RequestReader::fail(const Failure& failure) {
  state_ = State::failed;
  failure_ = failure;
  buffer_.clear();
  return state_;
}

RequestReader::State RequestReader::feed(const char* data, size_t size) {
  buffer_.append(data, size);
  if (state_ == State::head || state_ == State::body) consume();
  return state_;
}

void RequestReader::consume() {
  if (state_ == State::head && parser_.head().raw.empty()) {
    // Empty lines (CRLF) before a request line are ignored (RFC 9112, 2.2).
    size_t lead = 0;
    while (lead + 1 < buffer_.size() && buffer_[lead] == '\r' && buffer_[lead + 1] == '\n') lead += 2;
    if (lead > 0) {
      buffer_.erase(0, lead);
      skipped_blank_ = true;
    }
    if (buffer_.empty() || (buffer_.size() == 1 && buffer_[0] == '\r')) return;
  }
  size_t used = parser_.feed(buffer_.data(), buffer_.size(), &body_);
  buffer_.erase(0, used);
  if (parser_.state() == MessageParser::State::failed) {
    fail(parser_.failure());
    return;
  }
  if (state_ == State::head && parser_.state() != MessageParser::State::head) {
    take_head();
    if (state_ != State::body) return;
    used = parser_.feed(buffer_.data(), buffer_.size(), &body_);
    buffer_.erase(0, used);
    if (parser_.state() == MessageParser::State::failed) {
      fail(parser_.failure());
      return;
    }
  }
  if (state_ == State::body) {
    if (body_.size() > max_body_) {
      // Enough to refuse it: the handler answers 413, and the rest is never read.
      body_.resize(max_body_ + 1);
      body_unread_ = true;
      state_ = State::complete;
      return;
    }
    if (parser_.state() == MessageParser::State::done) state_ = State::complete;
  }
}

void RequestReader::take_head() {
  const MessageHead& m = parser_.head();
  head_ = Poco::Net::HTTPRequest(m.method, m.target,
                                 m.version == 10 ? Poco::Net::HTTPMessage::HTTP_1_0 : Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& f : m.fields) head_.add(f.name, f.value);
  bool has_body = parser_.state() == MessageParser::State::body;
  if (has_body && m.content_length && *m.content_length > max_body_) {
    // Not read: the handler refuses it by its Content-Length, and the connection closes.
    body_unread_ = true;
    state_ = State::complete;
    return;
  }
  wants_continue_ = has_body && m.version == 11 && head_.getExpectContinue();
  state_ = has_body ? State::body : State::complete;
}

void RequestReader::next() {
  std::string rest = std::move(buffer_);
  // After a body that was not read the connection closes: what follows is not a request.
  bool unread = body_unread_;
  *this = RequestReader(max_body_);
  if (!unread && !rest.empty()) feed(rest.data(), rest.size());
}

}  // namespace agent
