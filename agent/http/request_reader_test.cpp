#define BOOST_TEST_MODULE request_reader
// The event loop's request reader on bytes as a socket may deliver them: split anywhere,
// pipelined, chunked, over the limits.
#include <boost/test/unit_test.hpp>

#include "http/request_reader.h"

#include <utility>
#include <vector>

using agent::RequestReader;
using State = RequestReader::State;

namespace {
State feed(RequestReader& r, const std::string& bytes) { return r.feed(bytes.data(), bytes.size()); }
}  // namespace

BOOST_AUTO_TEST_CASE(a_head_fed_byte_by_byte_completes_at_its_blank_line) {
  RequestReader r(1024);
  std::string head = "GET /internal/health?deep=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n";
  for (size_t i = 0; i + 1 < head.size(); ++i) {
    BOOST_TEST((feed(r, head.substr(i, 1)) == State::head));
    BOOST_TEST(r.started());
  }
  BOOST_TEST((feed(r, head.substr(head.size() - 1)) == State::complete));
  BOOST_TEST(r.head().getMethod() == "GET");
  BOOST_TEST(r.head().getURI() == "/internal/health?deep=1");
  BOOST_TEST(r.head().get("X-Request-Id") == "abc");
  BOOST_TEST(r.body().empty());
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_read_one_after_the_other) {
  RequestReader r(1024);
  BOOST_TEST((feed(r, "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n") == State::complete));
  BOOST_TEST(r.head().getURI() == "/a");
  BOOST_TEST(r.body() == "xyz");
  r.next();
  BOOST_TEST((r.state() == State::complete));
  BOOST_TEST(r.head().getURI() == "/b");
  r.next();
  BOOST_TEST((r.state() == State::head));
  BOOST_TEST(r.started());
  BOOST_TEST((feed(r, "\r\n") == State::complete));
  BOOST_TEST(r.head().getURI() == "/c");
  r.next();
  BOOST_TEST(!r.started());
}

BOOST_AUTO_TEST_CASE(a_content_length_body_is_read_across_feeds) {
  RequestReader r(1024);
  BOOST_TEST((feed(r, "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123") == State::body));
  BOOST_TEST((feed(r, "456") == State::body));
  BOOST_TEST((feed(r, "789") == State::complete));
  BOOST_TEST(r.body() == "0123456789");
  BOOST_TEST(!r.body_unread());
}

BOOST_AUTO_TEST_CASE(a_chunked_body_is_decoded_with_extensions_and_trailers) {
  RequestReader r(1024);
  std::string bytes = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
  State s = State::head;
  for (char c : bytes) s = r.feed(&c, 1);
  BOOST_TEST((s == State::complete));
  BOOST_TEST(r.body() == "Wikipedia");
}

BOOST_AUTO_TEST_CASE(bodies_over_the_limit_are_not_read) {
  RequestReader by_length(8);
  BOOST_TEST((feed(by_length, "POST /x HTTP/1.1\r\nContent-Length: 9\r\n\r\n") == State::complete));
  BOOST_TEST(by_length.body_unread());
  BOOST_TEST(by_length.body().empty());
  RequestReader chunked(8);
  BOOST_TEST((feed(chunked, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + std::string(32, 'a')) == State::complete));
  BOOST_TEST(chunked.body_unread());
  BOOST_TEST(chunked.body().size() == 9u);
}

BOOST_AUTO_TEST_CASE(malformed_framing_fails_with_400) {
  for (const std::string& bytes : {std::string("POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
                                   std::string("POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n"),
                                   std::string("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                                   std::string("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX\r\n"),
                                   std::string("GARBAGE\r\n\r\n")}) {
    RequestReader r(1024);
    BOOST_TEST((feed(r, bytes) == State::failed), bytes);
    BOOST_TEST(r.failure().status == 400, bytes);
    BOOST_TEST(r.failure().code == "bad_request");
  }
}

BOOST_AUTO_TEST_CASE(heads_past_the_limits_fail_with_400_or_431) {
  RequestReader long_line(1024);
  BOOST_TEST((feed(long_line, "GET /" + std::string(RequestReader::kMaxHeadBytes, 'a')) == State::failed));
  BOOST_TEST(long_line.failure().status == 400);
  RequestReader many_fields(1024);
  std::string fields = "GET / HTTP/1.1\r\n";
  while (fields.size() <= RequestReader::kMaxHeadBytes) fields += "X-Field: " + std::string(100, 'v') + "\r\n";
  BOOST_TEST((feed(many_fields, fields) == State::failed));
  BOOST_TEST(many_fields.failure().status == 431);
  BOOST_TEST(many_fields.failure().code == "headers_too_large");
  RequestReader big_value(1024);
  BOOST_TEST((feed(big_value, "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n") == State::failed));
  BOOST_TEST(big_value.failure().status == 431);
}

BOOST_AUTO_TEST_CASE(leading_blank_lines_and_expect_continue) {
  RequestReader r(1024);
  BOOST_TEST((feed(r, "\r\n\r\nGET /crlf HTTP/1.1\r\nHost: a\r\n\r\n") == State::complete));
  BOOST_TEST(r.head().getURI() == "/crlf");
  RequestReader c(1024);
  BOOST_TEST((feed(c, "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n") == State::body));
  BOOST_TEST(c.wants_continue());
  BOOST_TEST((feed(c, "{}") == State::complete));
  RequestReader none(1024);
  BOOST_TEST((feed(none, "GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n") == State::complete));
  BOOST_TEST(!none.wants_continue());
}

// The heads a smuggler sends to make two parsers disagree on where a request ends: each is refused
// with 400 (and the server closes the connection), never read as one request and then another.
BOOST_AUTO_TEST_CASE(smuggling_heads_are_refused_with_400) {
  const std::vector<std::pair<std::string, std::string>> heads = {
      {"two equal lengths", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
      {"two lengths", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n"},
      {"a length list", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"},
      {"space before the colon", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello"},
      {"chunked and a length", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      {"a length and chunked", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"obs-fold", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n Content-Length: 5\r\n\r\n"},
      {"obs-fold with a tab", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"},
      {"bare LF", "GET /x HTTP/1.1\nHost: a\n\n"},
      {"a bare LF inside", "GET /x HTTP/1.1\r\nHost: a\nContent-Length: 5\r\n\r\n"},
      {"CR in a value", "GET /x HTTP/1.1\r\nHost: a\rContent-Length: 5\r\n\r\n"},
      {"NUL in a value", std::string("GET /x HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 30)},
      {"HTTP/2 on a 1.1 port", "GET /x HTTP/2.0\r\n\r\n"},
  };
  for (const auto& [what, bytes] : heads) {
    RequestReader r(1024);
    BOOST_TEST((feed(r, bytes) == State::failed), what);
    BOOST_TEST(r.failure().status == 400, what);
    BOOST_TEST(r.failure().code == "bad_request", what);
  }
}

// Poco decoded RFC 2047 encoded words in values; a relay that writes the value back would turn one
// line into two. Values are kept exactly as they came.
BOOST_AUTO_TEST_CASE(encoded_words_are_not_decoded) {
  RequestReader r(1024);
  BOOST_TEST((feed(r, "GET /x HTTP/1.1\r\nX-A: =?UTF-8?Q?x=0D=0AX-Injected:_1?=\r\n\r\n") == State::complete));
  BOOST_TEST(r.head().get("X-A") == "=?UTF-8?Q?x=0D=0AX-Injected:_1?=");
  BOOST_TEST(!r.head().has("X-Injected"));
}

BOOST_AUTO_TEST_CASE(transfer_codings_other_than_chunked_are_refused_with_501) {
  RequestReader r(1024);
  BOOST_TEST((feed(r, "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == State::failed));
  BOOST_TEST(r.failure().status == 501);
  RequestReader ok(1024);
  BOOST_TEST((feed(ok, "POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") == State::complete));
}

// Beast waits for the end of a chunk's size line, or of the trailer, without a limit; the reader
// kept every byte (200 MB for one request before any handler ran). Past 64 KiB it is refused.
BOOST_AUTO_TEST_CASE(an_endless_chunk_line_or_trailer_is_refused) {
  for (const std::string& start : {std::string("1;"), std::string("0\r\nX-T: ")}) {
    RequestReader r(1024);
    State s = feed(r, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + start);
    for (int i = 0; i < 100 && s == State::body; ++i) s = feed(r, std::string(4096, 'x'));
    BOOST_TEST((s == State::failed), start);
    BOOST_TEST(r.failure().status == 400);
  }
}

// The head's limit holds however the head is cut into feeds.
BOOST_AUTO_TEST_CASE(a_head_fed_in_pieces_is_refused_past_64_kib) {
  RequestReader r(1024);
  State s = feed(r, "GET / HTTP/1.1\r\nH");
  for (int i = 0; i < 40 && s == State::head; ++i) s = feed(r, "a: " + std::string(60 * 1024, 'v') + "\r\nH");
  BOOST_TEST((s == State::failed));
  BOOST_TEST(r.failure().status == 431);
}
