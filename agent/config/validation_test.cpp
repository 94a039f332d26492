#define BOOST_TEST_MODULE validation
#include <boost/test/unit_test.hpp>

#include "config/validation.h"

using namespace agent;
using nlohmann::json;

namespace {

std::string field_of_error(const json& body) {
  try {
    parse_deploy_request(body, 3000);
  } catch (const ValidationError& e) {
    return e.field();
  }
  return "";
}

json valid_deploy() { return {{"userId", "7"}, {"appId", "100"}, {"image", "registry.example.com:5000/team/app:1.2"}}; }

}  // namespace

BOOST_AUTO_TEST_CASE(ids_accept_the_documented_shape) {
  for (const char* ok : {"7", "100", "a", "Z9", "app_1-x", "0123456789012345678901234567890123456789012345678901234567890123"})
    BOOST_TEST(is_valid_id(ok), ok);
}

BOOST_AUTO_TEST_CASE(ids_refuse_traversal_metacharacters_and_oversize) {
  std::vector<std::string> bad = {"",        "-lead",  "_lead",      "../etc",     "a/b",       "a b",        "a;rm -rf /",
                                  "$(id)",   "`id`",   "a\nb",       "a\rb",       "a.b",       "é",          "a||b",
                                  "a(b)",    "a:b",    "a@b",        "%2e%2e",     std::string(65, 'a'), std::string(10240, 'x'),
                                  std::string("a\0b", 3)};
  for (const auto& id : bad) BOOST_TEST(!is_valid_id(id), id.substr(0, 20));
}

BOOST_AUTO_TEST_CASE(image_references_accept_registry_port_path_tag_and_digest) {
  for (const char* ok : {"nginx", "nginx:1.25", "library/nginx", "docker.io/library/nginx:latest", "localhost/app:1",
                         "localhost:5000/app", "registry.example.com:5000/team/app:1.2",
                         "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "a__b/c-d.e:T_1"})
    BOOST_TEST(is_valid_image_reference(ok), ok);
}

BOOST_AUTO_TEST_CASE(image_references_refuse_malformed_and_hostile_text) {
  std::vector<std::string> bad = {"",
                                  "UPPER/case",
                                  "app:",
                                  ":tag",
                                  "app name",
                                  "app\ttab",
                                  "app\n",
                                  "app;rm",
                                  "app$(id)",
                                  "app`id`",
                                  "/abs",
                                  "a//b",
                                  "app@sha256:short",
                                  "app@md5:0123",
                                  "app:tag:tag",
                                  std::string(256, 'a'),
                                  "héllo",
                                  std::string("ap\0p", 4),
                                  "-app",
                                  "app-"};
  for (const auto& image : bad) BOOST_TEST(!is_valid_image_reference(image), image.substr(0, 30));
}

BOOST_AUTO_TEST_CASE(base_path_is_normalised) {
  BOOST_TEST(*normalize_base_path("", "10") == "/apps/10");
  BOOST_TEST(*normalize_base_path("apps/x", "10") == "/apps/x");
  BOOST_TEST(*normalize_base_path("/apps/x/", "10") == "/apps/x");
  BOOST_TEST(*normalize_base_path("/a.b_c-d/e", "10") == "/a.b_c-d/e");
}

BOOST_AUTO_TEST_CASE(base_path_refuses_what_could_break_a_rule_or_escape) {
  std::vector<std::string> bad = {"/",         "/../etc",  "/a/../b", "/a//b",   "/a`b",      "/a)b",         "/a(b",
                                  "/a || b",   "/a b",     "/a\nb",   "/a\rb",   "/a%2e",     "/é",           "/a?x=1",
                                  "/a#f",      "/a\\b",    "/a'b",    "/a\"b",   std::string(201, 'a'), std::string("/a\0b", 4)};
  for (const auto& p : bad) BOOST_TEST(!normalize_base_path(p, "10").has_value(), p.substr(0, 30));
}

BOOST_AUTO_TEST_CASE(deploy_request_takes_defaults_and_numbers_for_ids) {
  auto r = parse_deploy_request({{"userId", 7}, {"appId", 100}, {"image", "localhost/app:1"}}, 3000);
  BOOST_TEST(r.app.user_id == "7");
  BOOST_TEST(r.app.app_id == "100");
  BOOST_TEST(r.container_port == 3000);
  BOOST_TEST(r.base_path == "/apps/100");
  auto extra = valid_deploy();
  extra["unknownField"] = {1, 2};
  extra["containerPort"] = 8080;
  extra["basePath"] = nullptr;
  r = parse_deploy_request(extra, 3000);
  BOOST_TEST(r.container_port == 8080);
  BOOST_TEST(r.base_path == "/apps/100");
}

BOOST_AUTO_TEST_CASE(deploy_request_violations_name_the_field) {
  auto with = [](const std::string& key, json value) {
    json j = valid_deploy();
    j[key] = value;
    return j;
  };
  auto without = [](const std::string& key) {
    json j = valid_deploy();
    j.erase(key);
    return j;
  };
  BOOST_TEST(field_of_error(json::array()) == "body");
  BOOST_TEST(field_of_error("text") == "body");
  BOOST_TEST(field_of_error(without("userId")) == "userId");
  BOOST_TEST(field_of_error(without("appId")) == "appId");
  BOOST_TEST(field_of_error(without("image")) == "image");
  BOOST_TEST(field_of_error(with("userId", nullptr)) == "userId");
  BOOST_TEST(field_of_error(with("userId", -1)) == "userId");
  BOOST_TEST(field_of_error(with("userId", 1.5)) == "userId");
  BOOST_TEST(field_of_error(with("userId", true)) == "userId");
  BOOST_TEST(field_of_error(with("appId", json::object())) == "appId");
  BOOST_TEST(field_of_error(with("appId", "../../etc/passwd")) == "appId");
  BOOST_TEST(field_of_error(with("appId", "x`)|| Host(`evil")) == "appId");
  BOOST_TEST(field_of_error(with("image", 5)) == "image");
  BOOST_TEST(field_of_error(with("image", "img; rm -rf /")) == "image");
  BOOST_TEST(field_of_error(with("containerPort", 0)) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", 65536)) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", -80)) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", 80.5)) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", 80.0)) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", "80")) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", json::parse("18446744073709551615"))) == "containerPort");
  BOOST_TEST(field_of_error(with("containerPort", json::parse("1e300"))) == "containerPort");
  BOOST_TEST(field_of_error(with("basePath", 3)) == "basePath");
  BOOST_TEST(field_of_error(with("basePath", "/a/../b")) == "basePath");
  BOOST_TEST(field_of_error(with("basePath", "/x`) || PathPrefix(`/")) == "basePath");
  BOOST_TEST(field_of_error(valid_deploy()) == "");
}

BOOST_AUTO_TEST_CASE(query_ids_are_checked_too) {
  BOOST_CHECK_THROW(require_id(std::nullopt, "appId"), ValidationError);
  BOOST_CHECK_THROW(require_id(std::string("../x"), "appId"), ValidationError);
  BOOST_TEST(require_id(std::string("100"), "appId") == "100");
  BOOST_TEST(!optional_id(std::nullopt, "userId").has_value());
  BOOST_CHECK_THROW(optional_id(std::string("a b"), "userId"), ValidationError);
}
