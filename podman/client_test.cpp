#define BOOST_TEST_MODULE client
#include "client.h"

#include <boost/test/unit_test.hpp>

// libpod's answers, as libpod 4.3 gives them, mapped to the typed errors (no Podman needed: the
// mapping reads only the answer).
namespace {

podman::Client client("unix:///nonexistent/podman.sock");

template <typename E>
bool throws(long status, const std::string& body) {
  try {
    client.fail("call", {status, body});
  } catch (const E&) {
    return true;
  } catch (...) {
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_and_cause_give_the_typed_error) {
  BOOST_TEST(throws<podman::NotFound>(404, R"({"cause":"no such container","message":"x","response":404})"));
  // 4.x answers 500 for some of these; the cause says which.
  BOOST_TEST(throws<podman::NotFound>(500, R"({"cause":"image not known","message":"x","response":500})"));
  BOOST_TEST(throws<podman::NotFound>(500, R"({"cause":"network not found","message":"x","response":500})"));
  BOOST_TEST(throws<podman::Conflict>(409, R"({"cause":"x","message":"in use","response":409})"));
  BOOST_TEST(throws<podman::Conflict>(500, R"({"cause":"that name is already in use","message":"x","response":500})"));
  BOOST_TEST(throws<podman::ServerError>(500, R"({"cause":"runc failed","message":"x","response":500})"));
  BOOST_TEST(throws<podman::ServerError>(502, "not json"));
}

BOOST_AUTO_TEST_CASE(the_error_carries_libpods_message_or_the_body) {
  try {
    client.fail("container start", {500, R"({"cause":"c","message":"the message","response":500})"});
  } catch (const podman::Error& e) {
    BOOST_TEST(e.call() == "container start");
    BOOST_TEST(e.cause() == "c");
    BOOST_TEST(e.message() == "the message");
    BOOST_TEST(e.status() == 500);
  }
  try {
    client.fail("x", {503, ""});
  } catch (const podman::Error& e) {
    BOOST_TEST(e.message() == "HTTP 503");
  }
}

BOOST_AUTO_TEST_CASE(query_values_are_percent_encoded) {
  BOOST_TEST(podman::escape("a b/c:d") == "a%20b%2Fc%3Ad");
  BOOST_TEST(podman::escape(R"({"label":["x=y"]})") == "%7B%22label%22%3A%5B%22x%3Dy%22%5D%7D");
}
