#define BOOST_TEST_MODULE waker_bounds
// The waker's bounds, attacked on real sockets (as in waker_test.cpp): apps that never answer,
// stall, trickle or never end a line; wakes that hang; full queues; idle connections by the
// hundred; half-open upgrades. Each ends at its deadline or cap, and nothing else waits for it.
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "sleep/scripted_app_test_support.h"

using namespace waker_testing;

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
