#define BOOST_TEST_MODULE waker
// The waker on real sockets, against apps that attack it: each "app" here is a listening socket
// run by a script (what a hostile app's container would send), and the client plays Traefik,
// which forwards requests with the two wake headers and reuses a kept-alive connection for other
// sleeping apps' requests. The wake itself is the test's function (which app, where it listens,
// how long it takes): no Podman is needed to attack the relay.
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "sleep/scripted_app_test_support.h"

using namespace waker_testing;

// Finding 1: an app answers "103 Early Hints" and then a keep-alive 200. Traefik skips the 1xx and
// would keep the connection for the next sleeping app's request (with its user's cookie and the
// secret). The final head must say "Connection: close", and nothing after the first request may
// reach the app.
BOOST_AUTO_TEST_CASE(an_app_answering_103_then_a_keep_alive_200_never_sees_the_next_request_or_the_secret) {
  ScriptedApp hostile([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    app.read_rest(fd, 3);
  });
  WakerUnderTest w({{"evil", hostile.port()}, {"victim", 1}});
  RawConnection c(w.waker->port());
  c.send(request("evil", "Connection: keep-alive\r\n"));
  auto t0 = std::chrono::steady_clock::now();
  while (c.received().find("\r\n\r\nok") == std::string::npos && !c.closed() && seconds_since(t0) < 5) c.receive();
  // Traefik's next request on the same connection: another app's, with its user's cookie.
  c.send(request("victim", "Cookie: session=victims-cookie\r\n"));
  std::string answer = until_closed(c);
  BOOST_TEST(c.closed());
  BOOST_TEST(answer.find("HTTP/1.1 103 Early Hints\r\n") == 0u);
  auto final_head = answer.substr(answer.find("HTTP/1.1 200"));
  final_head = final_head.substr(0, final_head.find("\r\n\r\n") + 2);
  BOOST_TEST(final_head.find("Connection: close\r\n") != std::string::npos, final_head);
  BOOST_TEST(final_head.find("keep-alive") == std::string::npos, final_head);
  std::string seen = hostile.everything();
  BOOST_TEST(seen.find("victims-cookie") == std::string::npos, seen);
  BOOST_TEST(seen.find(kSecret) == std::string::npos, seen);
  BOOST_TEST(seen.find(traefik::kWakeAppHeader) == std::string::npos, seen);
  BOOST_TEST(hostile.accepted() == 1);
}

// Finding 1, the other way: an answer head with bare LFs, which the old relay passed on untouched
// (its "Connection: close" went in only where it found CRLF CRLF).
BOOST_AUTO_TEST_CASE(an_answer_head_with_bare_line_feeds_is_refused_with_502) {
  ScriptedApp hostile([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 200 OK\nContent-Length: 2\nConnection: keep-alive\n\nok");
    app.read_rest(fd, 2);
  });
  WakerUnderTest w({{"evil", hostile.port()}});
  RawConnection c(w.waker->port());
  c.send(request("evil"));
  std::string answer = until_closed(c);
  BOOST_TEST(answer.find("HTTP/1.1 502 ") == 0u, answer);
  BOOST_TEST(answer.find("keep-alive") == std::string::npos);
  BOOST_TEST(c.closed());
}

// Finding 2: an RFC 2047 encoded word that decodes to CRLF used to become a line of its own.
BOOST_AUTO_TEST_CASE(an_encoded_word_reaches_the_app_as_it_was_sent_not_as_a_second_line) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.send(fd, "HTTP/1.1 204 No Content\r\n\r\n");
  });
  WakerUnderTest w({{"a1", app.port()}});
  RawConnection c(w.waker->port());
  c.send(request("a1", "X-A: =?UTF-8?Q?x=0D=0AX-Injected:_1?=\r\n"));
  std::string answer = until_closed(c);
  BOOST_TEST(answer.find("HTTP/1.1 204") == 0u, answer);
  std::string seen = app.everything();
  BOOST_TEST(seen.find("\r\nX-A: =?UTF-8?Q?x=0D=0AX-Injected:_1?=\r\n") != std::string::npos, seen);
  BOOST_TEST(seen.find("\r\nX-Injected") == std::string::npos, seen);
}

// RFC 9110, 7.6.1: the hop-by-hop fields stop at the waker; the fields that frame the body stay
// even when Connection names them (dropping them would let a client smuggle a second request).
BOOST_AUTO_TEST_CASE(hop_by_hop_fields_stop_at_the_waker_and_framing_fields_stay) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.read_rest(fd, 0.5);
    a.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=99\r\nX-Hop: 1\r\nConnection: X-Hop\r\n\r\n");
  });
  WakerUnderTest w({{"a1", app.port()}});
  RawConnection c(w.waker->port());
  std::string head = request("a1",
                             "Connection: keep-alive, X-Private, Content-Length\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\n"
                             "Proxy-Authorization: Basic abc\r\nTE: trailers\r\nUpgrade: h2c\r\nContent-Length: 5\r\n",
                             "POST /form HTTP/1.1");
  c.send(head + "hello");
  std::string answer = until_closed(c);
  std::string seen = app.everything();
  for (const char* gone : {"X-Private", "Keep-Alive", "Proxy-Authorization", "TE:", "Upgrade", "keep-alive"})
    BOOST_TEST(seen.find(gone) == std::string::npos, gone << " reached the app: " << seen);
  BOOST_TEST(seen.find("\r\nContent-Length: 5\r\n") != std::string::npos, seen);
  BOOST_TEST(seen.find("\r\nConnection: close\r\n") != std::string::npos, seen);
  BOOST_TEST(seen.find("\r\n\r\nhello") != std::string::npos, seen);
  BOOST_TEST(answer.find("Keep-Alive") == std::string::npos, answer);
  BOOST_TEST(answer.find("X-Hop") == std::string::npos, answer);
  BOOST_TEST(answer.find("\r\nConnection: close\r\n") != std::string::npos, answer);
}

// Pipelining: a second request sent right behind the first, in the same write, never reaches the app.
BOOST_AUTO_TEST_CASE(a_pipelined_second_request_never_reaches_the_app) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    a.read_rest(fd, 2);
  });
  WakerUnderTest w({{"a1", app.port()}, {"b2", 1}});
  RawConnection c(w.waker->port());
  c.send(request("a1") + request("b2", "Cookie: second=1\r\n"));
  std::string answer = until_closed(c);
  BOOST_TEST(answer.find("HTTP/1.1 200 OK") == 0u, answer);
  BOOST_TEST(app.everything().find("second=1") == std::string::npos, app.everything());
  BOOST_TEST(app.everything().find(kSecret) == std::string::npos);
}

// Bodies keep their framing: a chunked request body and a chunked answer pass byte for byte, and
// what the app sends past its answer's end does not reach the client.
BOOST_AUTO_TEST_CASE(chunked_bodies_pass_as_they_are_and_bytes_past_the_answer_are_dropped) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.read_rest(fd, 0.5);
    a.send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nX-Smuggled: 1\r\n\r\n");
  });
  WakerUnderTest w({{"a1", app.port()}});
  RawConnection c(w.waker->port());
  c.send(request("a1", "Transfer-Encoding: chunked\r\n", "POST /up HTTP/1.1") + "3\r\nabc\r\n0\r\n\r\nGET /second HTTP/1.1\r\n\r\n");
  std::string answer = until_closed(c);
  BOOST_TEST(answer.find("\r\n\r\n5\r\nhello\r\n0\r\n\r\n") != std::string::npos, answer);
  BOOST_TEST(answer.find("X-Smuggled") == std::string::npos, answer);
  std::string seen = app.everything();
  BOOST_TEST(seen.find("\r\n\r\n3\r\nabc\r\n0\r\n\r\n") != std::string::npos, seen);
  BOOST_TEST(seen.find("/second") == std::string::npos, seen);
}

// Finding 4 at the waker: smuggling heads are refused before any wake.
BOOST_AUTO_TEST_CASE(smuggling_heads_are_refused_at_the_waker_and_wake_nothing) {
  std::atomic<int> wakes{0};
  WakerUnderTest w({}, {}, [&](const std::string&, std::chrono::steady_clock::time_point) {
    ++wakes;
    return Waker::Outcome{};
  });
  for (const std::string& extra : {std::string("Content-Length: 0\r\nContent-Length: 38\r\n"), std::string("Content-Length : 5\r\n"),
                                   std::string("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), std::string("X-A: b\r\n c\r\n")}) {
    RawConnection c(w.waker->port());
    c.send(request("a1", extra, "POST / HTTP/1.1"));
    std::string answer = until_closed(c);
    BOOST_TEST(answer.find("HTTP/1.1 400 ") == 0u, extra << " -> " << answer);
    BOOST_TEST(c.closed());
  }
  BOOST_TEST(wakes.load() == 0);
}
