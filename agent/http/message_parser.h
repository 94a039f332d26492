// One HTTP/1.1 message (a request, or an answer to one) read from bytes as they arrive, by
// Boost.Beast's parser, with the checks RFC 9112 leaves to a server that must not be fooled about
// where a message ends. Refused: a bare LF, obs-fold, a space before a colon, CR, LF, NUL or another
// control character in a value, more than one Content-Length or a list in it, Transfer-Encoding with
// Content-Length, a request's Transfer-Encoding other than "chunked". Values are kept as received
// (no RFC 2047 decoding). No I/O and no clock: the caller feeds bytes and keeps the deadlines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::system {
class error_code;
}

namespace agent {

struct HeadField {
  std::string name;
  std::string value;
};

struct MessageHead {
  // Requests.
  std::string method;
  std::string target;
  // Answers.
  int status = 0;
  std::string reason;
  int version = 11;  // 10 or 11
  std::vector<HeadField> fields;  // in the order received, values as received
  // The head as received: start line and fields, each ending in CRLF, then the blank line.
  std::string raw;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool keep_alive = true;  // by the version and the Connection field
  bool upgrade = false;    // "Connection: upgrade" with an Upgrade field

  // The first value of a field (names compare case-insensitively), or nullptr.
  const std::string* find(const std::string& name) const;
  // A comma-separated field holds this token (case-insensitively), in any of its lines.
  bool has_token(const std::string& name, const std::string& token) const;
};

class MessageParser {
 public:
  enum class Kind { request, response };
  enum class State { head, body, done, failed };
  struct Failure {
    int status = 400;   // what a server answers: 400, 431, 501
    std::string code;   // bad_request, headers_too_large, unsupported_transfer_encoding
    std::string detail;
  };
  static constexpr size_t kMaxHeadBytes = 64 * 1024;
  static constexpr size_t kMaxValueBytes = 8 * 1024;
  static constexpr size_t kMaxFields = 100;

  explicit MessageParser(Kind kind);
  ~MessageParser();
  MessageParser(MessageParser&&) noexcept;  // at any point of a message
  MessageParser& operator=(MessageParser&&) noexcept;

  // An answer to a HEAD request: no body, whatever its head says. Before the head is read.
  void answer_to_head();

  // Takes bytes of this message. Returns how many it used; the caller keeps the others and feeds
  // them again with what follows (a head is used a whole part at a time: the start line, then all
  // the fields). The call that completes the head uses no body bytes (the next calls do); bytes
  // past a done message belong to what follows it. Decoded body bytes go to `body` when given.
  size_t feed(const char* data, size_t size, std::string* body = nullptr);
  // The connection ended: completes a message whose body runs to the end of the connection.
  void feed_eof();

  State state() const { return state_; }
  // The body runs until the connection ends (an answer with neither length nor chunking).
  bool ends_with_connection() const;
  const MessageHead& head() const;
  const Failure& failure() const { return failure_; }

  struct Engine;  // Beast's parser for one kind of message (message_parser.cpp)

 private:
  State fail(int status, std::string code, std::string detail);
  void refused(const boost::system::error_code& ec, const char* data, size_t size);
  void too_large(const char* data, size_t size);

  Kind kind_;
  State state_ = State::head;
  Failure failure_;
  std::unique_ptr<Engine> engine_;  // holds the head it fills, so a move keeps both
};

}  // namespace agent
