#include "http/message_parser.h"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace agent {

namespace beast_http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

namespace {

bool iequal(string_view a, string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trimmed(string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// Our own refusals, carried through Beast's error_code to the caller.
enum class Refusal { none, duplicate_length, length_list, length_and_coding, coding, too_many_fields, value_too_long, line_too_long };

}  // namespace

const std::string* MessageHead::find(const std::string& name) const {
  for (const auto& f : fields)
    if (iequal(f.name, name)) return &f.value;
  return nullptr;
}

bool MessageHead::has_token(const std::string& name, const std::string& token) const {
  for (const auto& f : fields) {
    if (!iequal(f.name, name)) continue;
    size_t pos = 0;
    while (pos <= f.value.size()) {
      size_t comma = f.value.find(',', pos);
      if (comma == std::string::npos) comma = f.value.size();
      if (iequal(trimmed(string_view(f.value).substr(pos, comma - pos)), token)) return true;
      pos = comma + 1;
    }
  }
  return false;
}

struct MessageParser::Engine {
  virtual ~Engine() = default;
  virtual size_t put(const char* data, size_t size, std::string* body, error_code& ec) = 0;
  virtual void put_eof(error_code& ec) = 0;
  virtual bool header_done() const = 0;
  virtual bool done() const = 0;
  virtual bool need_eof() const = 0;
  virtual void skip_body() = 0;
  virtual bool chunked() const = 0;
  virtual bool keep_alive() const = 0;
  virtual bool upgrade() const = 0;
  virtual std::optional<uint64_t> content_length() const = 0;
  Refusal refusal = Refusal::none;
  bool last_chunk = false;  // the chunk of size 0 has been read: what follows is the trailer
  MessageHead head;
};

namespace {

template <bool isRequest>
class BeastEngine final : public MessageParser::Engine, public beast_http::basic_parser<isRequest> {
  using base = beast_http::basic_parser<isRequest>;

 public:
  BeastEngine() : head_(head) {
    base::header_limit(static_cast<std::uint32_t>(MessageParser::kMaxHeadBytes));
    // The caller's own limit applies. (Not boost::none: 1.74 compares a length with it as "greater".)
    base::body_limit(std::numeric_limits<std::uint64_t>::max());
    // One piece per call (the head, a chunk's size line, its data, the last chunk with the trailer):
    // feed() sees which bytes were the trailer.
    base::eager(false);
  }

  size_t put(const char* data, size_t size, std::string* body, error_code& ec) override {
    body_ = body;
    size_t used = base::put(boost::asio::const_buffer(data, size), ec);
    body_ = nullptr;
    return used;
  }
  void put_eof(error_code& ec) override { base::put_eof(ec); }
  bool header_done() const override { return base::is_header_done(); }
  bool done() const override { return base::is_done(); }
  bool need_eof() const override { return base::need_eof(); }
  void skip_body() override { base::skip(true); }
  bool chunked() const override { return base::chunked(); }
  bool keep_alive() const override { return base::keep_alive(); }
  bool upgrade() const override { return base::upgrade(); }
  std::optional<uint64_t> content_length() const override {
    auto n = base::content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }

 private:
  void refuse(Refusal why, error_code& ec) {
    refusal = why;
    ec = beast_http::error::bad_value;
  }

  void on_request_impl(beast_http::verb, string_view method, string_view target, int version, error_code& ec) override {
    if (target.size() > 16 * 1024) return refuse(Refusal::line_too_long, ec);
    head_.method = std::string(method);
    head_.target = std::string(target);
    head_.version = version;
  }
  void on_response_impl(int status, string_view reason, int version, error_code&) override {
    head_.status = status;
    head_.reason = std::string(reason);
    head_.version = version;
  }
  void on_field_impl(beast_http::field, string_view name, string_view value, error_code& ec) override {
    if (head_.fields.size() >= MessageParser::kMaxFields) return refuse(Refusal::too_many_fields, ec);
    if (value.size() > MessageParser::kMaxValueBytes) return refuse(Refusal::value_too_long, ec);
    bool length = iequal(name, "Content-Length"), coding = iequal(name, "Transfer-Encoding");
    if (length && value.find(',') != string_view::npos) return refuse(Refusal::length_list, ec);
    for (const auto& f : head_.fields) {
      if (length && iequal(f.name, "Content-Length")) return refuse(Refusal::duplicate_length, ec);
      if ((length && iequal(f.name, "Transfer-Encoding")) || (coding && iequal(f.name, "Content-Length")))
        return refuse(Refusal::length_and_coding, ec);
    }
    head_.fields.push_back({std::string(name), std::string(value)});
  }
  void on_header_impl(error_code& ec) override {
    if (!isRequest) return;
    // A request's body is framed by chunked or by its length; any other coding cannot be framed.
    if (const auto* coding = head_.find("Transfer-Encoding"); coding && (!base::chunked() || !iequal(trimmed(*coding), "chunked")))
      return refuse(Refusal::coding, ec);
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view bytes, error_code&) override {
    if (body_) body_->append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_chunk_header_impl(std::uint64_t size, string_view, error_code&) override {
    if (size == 0) last_chunk = true;
  }
  std::size_t on_chunk_body_impl(std::uint64_t, string_view bytes, error_code&) override {
    if (body_) body_->append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_finish_impl(error_code&) override {}

  MessageHead& head_;
  std::string* body_ = nullptr;
};

// Obs-fold (a field line that begins with a space or a tab) in a complete head: Beast unfolds it.
bool folded(const char* data, size_t size) {
  for (size_t i = 0; i + 2 < size; ++i)
    if (data[i] == '\r' && data[i + 1] == '\n' && (data[i + 2] == ' ' || data[i + 2] == '\t')) return true;
  return false;
}

}  // namespace

MessageParser::MessageParser(Kind kind) : kind_(kind) {
  if (kind == Kind::request) engine_ = std::make_unique<BeastEngine<true>>();
  else engine_ = std::make_unique<BeastEngine<false>>();
}

MessageParser::~MessageParser() = default;
MessageParser::MessageParser(MessageParser&&) noexcept = default;
MessageParser& MessageParser::operator=(MessageParser&&) noexcept = default;

const MessageHead& MessageParser::head() const { return engine_->head; }

void MessageParser::answer_to_head() { engine_->skip_body(); }

bool MessageParser::ends_with_connection() const { return state_ == State::body && engine_->need_eof(); }

MessageParser::State MessageParser::fail(int status, std::string code, std::string detail) {
  state_ = State::failed;
  failure_ = {status, std::move(code), std::move(detail)};
  return state_;
}

void MessageParser::refused(const error_code& ec, const char* data, size_t size) {
  std::string what = ec.message();
  switch (engine_->refusal) {
    case Refusal::duplicate_length:
      fail(400, "bad_request", "malformed request: more than one Content-Length");
      break;
    case Refusal::length_list:
      fail(400, "bad_request", "malformed request: invalid Content-Length");
      break;
    case Refusal::length_and_coding:
      fail(400, "bad_request", "malformed request: Transfer-Encoding together with Content-Length");
      break;
    case Refusal::coding:
      fail(501, "unsupported_transfer_encoding", "Transfer-Encoding other than chunked is not supported");
      break;
    case Refusal::too_many_fields:
      fail(431, "headers_too_large", "malformed request: more than " + std::to_string(kMaxFields) + " header fields");
      break;
    case Refusal::value_too_long:
      fail(431, "headers_too_large", "malformed request: a header field value is longer than 8 KiB");
      break;
    case Refusal::line_too_long:
      fail(400, "bad_request", "malformed request: request line too long");
      break;
    case Refusal::none:
      if (ec == beast_http::error::header_limit) {
        too_large(data, size);
      } else if (ec == beast_http::error::bad_content_length) {
        fail(400, "bad_request", "malformed request: invalid Content-Length");
      } else {
        fail(400, "bad_request", "malformed " + std::string(kind_ == Kind::request ? "request" : "answer") + ": " + what);
      }
      break;
  }
}

void MessageParser::too_large(const char* data, size_t size) {
  bool line_done = !engine_->head.raw.empty() || std::memchr(data, '\n', std::min<size_t>(size, 16 * 1024)) != nullptr;
  if (!line_done && kind_ == Kind::request) fail(400, "bad_request", "malformed request: request line too long");
  else fail(431, "headers_too_large", "malformed request: header fields are larger than 64 KiB");
}

size_t MessageParser::feed(const char* data, size_t size, std::string* body) {
  if (state_ == State::done || state_ == State::failed || size == 0) return 0;
  error_code ec;
  if (state_ == State::head) {
    MessageHead& head = engine_->head;
    size_t used = engine_->put(data, size, body, ec);
    if (ec == beast_http::error::need_more) ec = {};
    if (ec) {
      refused(ec, data, size);
      return used;
    }
    head.raw.append(data, used);  // Beast takes the start line, then fields, before the head is all in
    // The head's limit counts every byte of it, however it was fed (Beast's own counts one call).
    if (!engine_->header_done()) {
      if (head.raw.size() + (size - used) > kMaxHeadBytes) too_large(data + used, size - used);
      return used;
    }
    if (head.raw.size() > kMaxHeadBytes) {
      too_large(data, size);
      return used;
    }
    if (folded(head.raw.data(), head.raw.size())) {
      fail(400, "bad_request", "malformed request: a folded header line (obs-fold)");
      return used;
    }
    head.chunked = engine_->chunked();
    head.content_length = engine_->content_length();
    head.keep_alive = engine_->keep_alive();
    head.upgrade = engine_->upgrade();
    state_ = engine_->done() ? State::done : State::body;
    return used;
  }
  size_t total = 0;
  while (total < size && state_ == State::body) {
    bool trailer = engine_->last_chunk;
    size_t used = engine_->put(data + total, size - total, body, ec);
    if (ec == beast_http::error::need_more) ec = {};
    if (ec) {
      refused(ec, data + total, size - total);
      return total + used;
    }
    // The put that read the last chunk read the trailer with it: no folded line in there either.
    if ((trailer || engine_->last_chunk) && folded(data + total, used)) {
      fail(400, "bad_request", "malformed chunked body: a folded trailer line (obs-fold)");
      return total + used;
    }
    total += used;
    if (engine_->done()) state_ = State::done;
    if (used == 0) break;
  }
  // Beast waits for the end of a chunk's size line or of the trailer without a limit: past one
  // head's worth of either, the body cannot be read.
  if (state_ == State::body && size - total > kMaxHeadBytes)
    fail(400, "bad_request", "malformed chunked body: a chunk size line or the trailer is longer than 64 KiB");
  return total;
}

void MessageParser::feed_eof() {
  if (state_ != State::body) return;
  error_code ec;
  engine_->put_eof(ec);
  if (ec) fail(502, "bad_gateway", "the message ended before its body did");
  else state_ = State::done;
}

}  // namespace agent
