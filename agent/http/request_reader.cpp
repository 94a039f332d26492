#include "http/request_reader.h"

#include <Poco/Net/NetException.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <sstream>

namespace agent {

RequestReader::RequestReader(size_t max_body, bool head_only) : max_body_(max_body), head_only_(head_only) {}

RequestReader::State RequestReader::fail(int status, std::string code, std::string detail) {
  state_ = State::failed;
  failure_ = {status, std::move(code), std::move(detail)};
  buffer_.clear();
  return state_;
}

RequestReader::State RequestReader::feed(const char* data, size_t size) {
  if (state_ == State::complete || state_ == State::failed) {
    buffer_.append(data, size);  // the next request's, kept for next()
    return state_;
  }
  buffer_.append(data, size);
  if (state_ == State::head) parse_head();
  if (state_ == State::body) read_body();
  return state_;
}

RequestReader::State RequestReader::parse_head() {
  // Empty lines before a request line are ignored (RFC 9112, 2.2).
  size_t lead = 0;
  while (lead < buffer_.size() && (buffer_[lead] == '\r' || buffer_[lead] == '\n')) ++lead;
  if (lead > 0) {
    buffer_.erase(0, lead);
    scanned_ = 0;
  }
  // The blank line that ends the head: CRLF CRLF, or LF LF as Poco also accepts.
  size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  size_t end = std::string::npos;
  for (size_t i = from; i < buffer_.size(); ++i) {
    if (buffer_[i] != '\n') continue;
    if (i + 1 < buffer_.size() && buffer_[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (i + 2 < buffer_.size() && buffer_[i + 1] == '\r' && buffer_[i + 2] == '\n') {
      end = i + 3;
      break;
    }
  }
  scanned_ = buffer_.size();
  if (end == std::string::npos) {
    if (buffer_.size() <= kMaxHeadBytes) return state_;
    // Poco's own limit for the request line (URI) is 16 KiB; past it, or past the whole head's
    // limit, the request cannot be read.
    if (buffer_.find('\n') == std::string::npos || buffer_.find('\n') > 16 * 1024)
      return fail(400, "bad_request", "malformed request: request line too long");
    return fail(431, "headers_too_large", "malformed request: header fields are larger than 64 KiB");
  }
  std::istringstream in(buffer_.substr(0, end));
  try {
    head_ = Poco::Net::HTTPRequest();
    head_.read(in);
  } catch (const Poco::Net::MessageException& e) {
    // Poco says "URI invalid or too long" for both a long URI and a garbled request line (400);
    // fields over its limits (8 KiB a value, 100 fields) are 431.
    std::string what = e.message();
    if (what.find("Field") != std::string::npos || what.find("header fields") != std::string::npos)
      return fail(431, "headers_too_large", "malformed request: " + what);
    return fail(400, "bad_request", "malformed request: " + (what.empty() ? e.displayText() : what));
  } catch (const Poco::Exception& e) {
    return fail(400, "bad_request", "malformed request: " + e.displayText());
  }
  buffer_.erase(0, end);
  scanned_ = 0;
  if (head_only_) return state_ = State::complete;

  if (head_.has(Poco::Net::HTTPMessage::TRANSFER_ENCODING) &&
      Poco::icompare(head_.get(Poco::Net::HTTPMessage::TRANSFER_ENCODING), "chunked") != 0)
    return fail(501, "unsupported_transfer_encoding", "Transfer-Encoding other than chunked is not supported");
  chunked_ = head_.getChunkedTransferEncoding();
  content_length_ = 0;
  if (!chunked_ && head_.has(Poco::Net::HTTPMessage::CONTENT_LENGTH)) {
    Poco::UInt64 length = 0;
    const std::string& text = head_.get(Poco::Net::HTTPMessage::CONTENT_LENGTH);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || !Poco::NumberParser::tryParseUnsigned64(text, length))
      return fail(400, "bad_request", "malformed request: invalid Content-Length");
    if (length > max_body_) {
      // Not read: the handler refuses it by its Content-Length, and the connection closes.
      body_unread_ = true;
      return state_ = State::complete;
    }
    content_length_ = static_cast<size_t>(length);
  }
  bool has_body = chunked_ || content_length_ > 0;
  wants_continue_ = has_body && head_.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1 && head_.getExpectContinue();
  state_ = has_body ? State::body : State::complete;
  return state_;
}

RequestReader::State RequestReader::read_body() {
  if (chunked_) return read_chunks();
  size_t take = std::min(content_length_ - body_.size(), buffer_.size());
  body_.append(buffer_, 0, take);
  buffer_.erase(0, take);
  if (body_.size() == content_length_) state_ = State::complete;
  return state_;
}

RequestReader::State RequestReader::read_chunks() {
  size_t pos = 0;
  auto line_end = [&]() { return buffer_.find('\n', pos); };
  while (state_ == State::body) {
    if (chunk_ == Chunk::size_line || chunk_ == Chunk::data_end || chunk_ == Chunk::trailer) {
      size_t nl = line_end();
      if (nl == std::string::npos) {
        if (buffer_.size() - pos > 4096) return fail(400, "bad_request", "malformed request: broken chunked encoding");
        break;
      }
      std::string line = buffer_.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos = nl + 1;
      if (chunk_ == Chunk::data_end) {
        if (!line.empty()) return fail(400, "bad_request", "malformed request: broken chunked encoding");
        chunk_ = Chunk::size_line;
      } else if (chunk_ == Chunk::trailer) {
        if (line.empty()) state_ = State::complete;
      } else {
        std::string hex = line.substr(0, line.find(';'));
        while (!hex.empty() && (hex.back() == ' ' || hex.back() == '\t')) hex.pop_back();
        Poco::UInt64 size = 0;
        if (hex.empty() || hex.size() > 15 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos ||
            !Poco::NumberParser::tryParseHex64(hex, size))
          return fail(400, "bad_request", "malformed request: broken chunked encoding");
        if (size == 0) {
          chunk_ = Chunk::trailer;
        } else {
          chunk_ = Chunk::data;
          chunk_left_ = static_cast<size_t>(size);
        }
      }
    } else {  // data
      if (pos == buffer_.size()) break;
      size_t take = std::min(chunk_left_, buffer_.size() - pos);
      body_.append(buffer_, pos, take);
      pos += take;
      chunk_left_ -= take;
      if (chunk_left_ == 0) chunk_ = Chunk::data_end;
      if (body_.size() > max_body_) {
        // Enough to refuse it: the handler answers 413, and the rest is never read.
        body_.resize(max_body_ + 1);
        body_unread_ = true;
        state_ = State::complete;
      }
    }
  }
  buffer_.erase(0, pos);
  return state_;
}

void RequestReader::next() {
  std::string rest = std::move(buffer_);
  *this = RequestReader(max_body_, head_only_);
  if (!rest.empty()) feed(rest.data(), rest.size());
}

}  // namespace agent
