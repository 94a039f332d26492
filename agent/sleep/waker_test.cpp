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

// Finding 3: an app that accepts and never answers held its relay (3 descriptors, one connection
// slot) until it closed. Now the answer deadline ends it with a 504, and every descriptor is back.
BOOST_AUTO_TEST_CASE(an_app_that_never_answers_gets_504_at_the_deadline_and_its_descriptors_are_freed) {
  ScriptedApp silent([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.hold();
  });
  agent::relay::Limits limits;
  limits.answer = std::chrono::seconds(2);
  WakerUnderTest w({{"mute", silent.port()}}, limits);
  double expired_before = metric("funai_waker_expired_total{phase=\"answer\"}");
  int before = open_descriptors();
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 8; ++i) {  // as many as the app's queue takes
    clients.push_back(std::make_unique<RawConnection>(w.waker->port()));
    clients.back()->send(request("mute"));
  }
  for (auto& c : clients) {
    std::string answer = until_closed(*c, 15);
    BOOST_TEST(answer.find("HTTP/1.1 504 ") == 0u, answer);
  }
  clients.clear();
  BOOST_TEST(metric("funai_waker_expired_total{phase=\"answer\"}") - expired_before == 8);
  silent.release();  // the app's own ends of the connections close (they live in this process too)
  auto t0 = std::chrono::steady_clock::now();
  while (open_descriptors() > before && seconds_since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(open_descriptors() <= before);
}

// Finding 3, after the head: an app that starts its answer and stops sending is cut at the idle deadline.
BOOST_AUTO_TEST_CASE(an_answer_that_stalls_midway_is_cut_at_the_idle_deadline) {
  ScriptedApp stalling([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
    app.hold();
  });
  agent::relay::Limits limits;
  limits.idle = std::chrono::seconds(1);
  WakerUnderTest w({{"slow", stalling.port()}}, limits);
  double before = metric("funai_waker_expired_total{phase=\"idle\"}");
  RawConnection c(w.waker->port());
  c.send(request("slow"));
  std::string answer = until_closed(c, 10);
  BOOST_TEST(c.closed());
  BOOST_TEST(answer.find("\r\n\r\npart") != std::string::npos, answer);
  BOOST_TEST(metric("funai_waker_expired_total{phase=\"idle\"}") - before == 1);
  stalling.release();
}

// Findings 4 and 9: four apps whose wakes hang (a claim that never comes, an app that never
// listens) beside a healthy one. The healthy app's request is answered while all four still hang:
// their wakes are released only after it was.
BOOST_AUTO_TEST_CASE(four_hanging_wakes_do_not_hold_up_a_healthy_apps_wake) {
  ScriptedApp healthy([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy");
  });
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> hanging{0};
  WakerUnderTest w({}, {}, [&](const std::string& app, std::chrono::steady_clock::time_point) {
    Waker::Outcome o;
    if (app != "healthy") {
      ++hanging;
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return release; });
      o.kind = Waker::Outcome::Kind::failed;
      o.detail = "never listened";
      return o;
    }
    o.kind = Waker::Outcome::Kind::relay;
    o.host = "127.0.0.1";
    o.port = healthy.port();
    return o;
  });
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (const char* app : {"s1", "s2", "s3", "s4"})
    for (int i = 0; i < 3; ++i) {
      stalled.push_back(std::make_unique<RawConnection>(w.waker->port()));
      stalled.back()->send(request(app));
    }
  auto t0 = std::chrono::steady_clock::now();
  while (hanging.load() < 4 && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_REQUIRE(hanging.load() == 4);
  RawConnection c(w.waker->port());
  c.send(request("healthy"));
  std::string answer = until_closed(c, 15);
  BOOST_TEST(answer.find("HTTP/1.1 200 OK") == 0u, answer);
  BOOST_TEST(answer.find("healthy") != std::string::npos);
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  cv.notify_all();
  for (auto& s : stalled) BOOST_TEST(until_closed(*s).find("HTTP/1.1 503 ") == 0u);
}

// The queue of one app is bounded: past it, 503 with Retry-After at once, and the wake still
// serves the ones that waited.
BOOST_AUTO_TEST_CASE(a_full_wake_queue_answers_503_with_retry_after) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  WakerUnderTest w({}, {}, [&](const std::string&, std::chrono::steady_clock::time_point) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return release; });
    Waker::Outcome o;
    o.kind = Waker::Outcome::Kind::relay;
    o.host = "127.0.0.1";
    o.port = app.port();
    return o;
  });
  double refused_before = metric("funai_waker_refused_total{reason=\"queue_full\"}");
  std::vector<std::unique_ptr<RawConnection>> queued;
  for (int i = 0; i < 8; ++i) {  // the queue's size in WakerUnderTest
    queued.push_back(std::make_unique<RawConnection>(w.waker->port()));
    queued.back()->send(request("busy"));
  }
  // The ninth: refused, while the others still wait (the wake has not returned).
  auto t0 = std::chrono::steady_clock::now();
  std::string ninth;
  while (seconds_since(t0) < 10) {
    RawConnection extra(w.waker->port());
    extra.send(request("busy"));
    ninth = until_closed(extra, 3);
    if (ninth.find("HTTP/1.1 503 ") == 0u) break;
  }
  BOOST_TEST(ninth.find("HTTP/1.1 503 ") == 0u, ninth);
  BOOST_TEST(ninth.find("\r\nRetry-After: 5\r\n") != std::string::npos, ninth);
  BOOST_TEST(metric("funai_waker_refused_total{reason=\"queue_full\"}") - refused_before >= 1);
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  cv.notify_all();
  for (auto& q : queued) BOOST_TEST(until_closed(*q).find("HTTP/1.1 200 OK") == 0u);
}

// An upgrade the client asked for becomes a tunnel; once one side has ended it, the other side
// cannot keep it half open past the idle deadline.
BOOST_AUTO_TEST_CASE(an_upgrade_is_tunnelled_and_a_half_open_one_ends_at_the_idle_deadline) {
  ScriptedApp ws([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello-from-app");
    app.read_rest(fd, 1);
    ::shutdown(fd, SHUT_WR);  // the app ends its side; the client never does
    app.hold();
  });
  agent::relay::Limits limits;
  limits.idle = std::chrono::seconds(1);
  WakerUnderTest w({{"ws", ws.port()}}, limits);
  double before = metric("funai_waker_expired_total{phase=\"half_open\"}");
  RawConnection c(w.waker->port());
  c.send(request("ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n"));
  auto t0 = std::chrono::steady_clock::now();
  while (c.received().find("hello-from-app") == std::string::npos && seconds_since(t0) < 5) c.receive();
  c.send("hello-from-client");
  std::string answer = until_closed(c, 10);
  BOOST_TEST(answer.find("HTTP/1.1 101 ") == 0u, answer);
  BOOST_TEST(answer.find("\r\nUpgrade: websocket\r\n") != std::string::npos, answer);
  BOOST_TEST(answer.find("hello-from-app") != std::string::npos);
  BOOST_TEST(ws.everything().find("hello-from-client") != std::string::npos);
  BOOST_TEST(c.closed());  // the app's end was passed on; the client's side is still open
  t0 = std::chrono::steady_clock::now();
  while (metric("funai_waker_expired_total{phase=\"half_open\"}") - before < 1 && seconds_since(t0) < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(metric("funai_waker_expired_total{phase=\"half_open\"}") - before == 1);
  ws.release();
}

// A chunk size line or a trailer that never ends: Beast waits for its end without a limit, and the
// relay, its buffer full, was woken again and again for a socket it could not read (the loop of
// every sleeping app's relay at 100% CPU until the idle deadline). Now the parser gives up past
// 64 KiB and the relay ends at once.
BOOST_AUTO_TEST_CASE(an_endless_chunk_line_from_the_app_or_trailer_from_the_client_ends_the_relay_at_once) {
  ScriptedApp endless([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(600 * 1024, 'x'));
    app.hold();
  });
  ScriptedApp patient([](int fd, ScriptedApp& app) {
    app.read_head(fd);
    app.hold();
  });
  WakerUnderTest w({{"endless", endless.port()}, {"patient", patient.port()}});  // idle deadline 30 s
  {
    RawConnection c(w.waker->port());
    c.send(request("endless"));
    until_closed(c, 10);
    BOOST_TEST(c.closed(), "the relay of an endless chunk line was still open after 10 s");
  }
  {
    RawConnection c(w.waker->port());
    c.send(request("patient", "Transfer-Encoding: chunked\r\n", "POST / HTTP/1.1") + "0\r\nX-T: " + std::string(320 * 1024, 'y'));
    std::string answer = until_closed(c, 10);
    BOOST_TEST(c.closed(), "the relay of an endless trailer was still open after 10 s");
    BOOST_TEST(answer.find("HTTP/1.1 400 ") == 0u, answer.substr(0, 200));
  }
  endless.release();
  patient.release();
}

// Beast's head limit counts one call: a head fed in pieces under 64 KiB, each ending inside a field
// name, grew to megabytes (20 such connections, no secret needed: +240 MB). The limit now counts
// every byte of the head.
BOOST_AUTO_TEST_CASE(a_head_fed_in_pieces_is_refused_at_64_kib_in_all) {
  WakerUnderTest w({});
  RawConnection c(w.waker->port());
  bool refused = false;
  c.send("GET / HTTP/1.1\r\nH");
  for (int i = 0; i < 40 && !refused; ++i) {
    if (!c.send("a: " + std::string(60 * 1024, 'v') + "\r\nH")) break;
    c.nonblocking_receive();
    refused = c.received().find("HTTP/1.1 431 ") == 0u;
  }
  std::string answer = until_closed(c, 10);
  BOOST_TEST(answer.find("HTTP/1.1 431 ") == 0u, answer.substr(0, 200));
  BOOST_TEST(c.closed());
}

// Any container on the apps' network can connect to the waker. One address holds at most 256
// connections that have not named an app, and those that send nothing go after 2 s: idle
// connections cannot take the waker's slots from Traefik's.
BOOST_AUTO_TEST_CASE(one_address_cannot_hold_the_wakers_slots_with_idle_connections) {
  ScriptedApp app([](int fd, ScriptedApp& a) {
    a.read_head(fd);
    a.send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  agent::relay::Limits limits;
  limits.first_byte = std::chrono::seconds(3);  // the 300 connections below take far less to open
  WakerUnderTest w({{"a1", app.port()}}, limits);
  double refused_before = metric("funai_waker_refused_total{reason=\"peer_full\"}");
  testing::make_room_for_descriptors(4096);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(std::make_unique<RawConnection>(w.waker->port()));
  auto t0 = std::chrono::steady_clock::now();
  while (metric("funai_waker_refused_total{reason=\"peer_full\"}") - refused_before < 44 && seconds_since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(metric("funai_waker_refused_total{reason=\"peer_full\"}") - refused_before == 44);
  // The idle ones are gone after their first-byte deadline; a request is served again.
  for (auto& c : idle) until_closed(*c, 10);
  for (auto& c : idle) BOOST_TEST(c->closed());
  RawConnection c(w.waker->port());
  c.send(request("a1"));
  BOOST_TEST(until_closed(c).find("HTTP/1.1 200 OK") == 0u);
}
