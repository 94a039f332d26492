#define BOOST_TEST_MODULE route
#include <yaml-cpp/yaml.h>

#include <boost/test/unit_test.hpp>

#include "traefik/route.h"

using namespace traefik;

namespace {

Route sample() {
  Route r;
  r.app_id = "10";
  r.base_path = "/apps/10";
  r.upstreams = {"http://10.89.0.5:3000"};
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rendered_route_has_router_middleware_and_service_field_by_field) {
  YAML::Node doc = YAML::Load(render(sample()));
  auto router = doc["http"]["routers"]["rt-app-10"];
  BOOST_REQUIRE(router.IsMap());
  BOOST_TEST(router["rule"].as<std::string>() == "Path(`/apps/10`) || PathPrefix(`/apps/10/`)");
  BOOST_TEST(router["service"].as<std::string>() == "rt-svc-10");
  BOOST_TEST(router["middlewares"].size() == 1u);
  BOOST_TEST(router["middlewares"][0].as<std::string>() == "rt-mw-10");
  BOOST_TEST(!router["entryPoints"]);  // empty setting: all entry points
  BOOST_TEST(!router["priority"]);
  auto prefixes = doc["http"]["middlewares"]["rt-mw-10"]["stripPrefix"]["prefixes"];
  BOOST_TEST(prefixes.size() == 1u);
  BOOST_TEST(prefixes[0].as<std::string>() == "/apps/10");
  auto lb = doc["http"]["services"]["rt-svc-10"]["loadBalancer"];
  BOOST_TEST(lb["passHostHeader"].as<bool>());
  BOOST_TEST(lb["servers"].size() == 1u);
  BOOST_TEST(lb["servers"][0]["url"].as<std::string>() == "http://10.89.0.5:3000");
  BOOST_TEST(doc["http"].size() == 3u);
  BOOST_TEST(doc.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_rule_never_matches_a_longer_app_id) {
  // PathPrefix(`/apps/10`) would also match /apps/100; ours asks for the exact path or a '/' after it.
  std::string rule = rule_for("/apps/10");
  BOOST_TEST(rule.find("PathPrefix(`/apps/10/`)") != std::string::npos);
  BOOST_TEST(rule.find("PathPrefix(`/apps/10`)") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(entry_points_priority_and_several_upstreams_are_rendered) {
  Route r = sample();
  r.entry_points = {"web", "websecure"};
  r.priority = 50;
  r.upstreams.push_back("http://10.89.0.6:3000");
  YAML::Node doc = YAML::Load(render(r));
  auto router = doc["http"]["routers"]["rt-app-10"];
  BOOST_TEST(router["entryPoints"].size() == 2u);
  BOOST_TEST(router["entryPoints"][1].as<std::string>() == "websecure");
  BOOST_TEST(router["priority"].as<int>() == 50);
  BOOST_TEST(doc["http"]["services"]["rt-svc-10"]["loadBalancer"]["servers"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(render_then_parse_gives_the_same_route) {
  Route r = sample();
  BOOST_TEST((parse(render(r)) == r));
  r.entry_points = {"web"};
  r.priority = 7;
  r.base_path = "/custom/path.v2";
  BOOST_TEST((parse(render(r)) == r));
}

BOOST_AUTO_TEST_CASE(names_are_stable_and_per_app) {
  BOOST_TEST(router_name("abc") == "rt-app-abc");
  BOOST_TEST(middleware_name("abc") == "rt-mw-abc");
  BOOST_TEST(service_name("abc") == "rt-svc-abc");
  BOOST_TEST(render(sample()) == render(sample()));
}

BOOST_AUTO_TEST_CASE(unsafe_routes_are_refused_before_rendering) {
  auto bad = [](auto mutate) {
    Route r = sample();
    mutate(r);
    return r;
  };
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.base_path = "/a`) || Host(`x"; })), RouteFormatError);
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.base_path = "/a/"; })), RouteFormatError);
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.app_id = "a b"; })), RouteFormatError);
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.upstreams = {}; })), RouteFormatError);
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.upstreams = {"http://x\"y:1"}; })), RouteFormatError);
  BOOST_CHECK_THROW(render(bad([](Route& r) { r.entry_points = {"we b"}; })), RouteFormatError);
}

BOOST_AUTO_TEST_CASE(foreign_or_broken_documents_do_not_parse) {
  BOOST_CHECK_THROW(parse("http: ["), RouteFormatError);
  BOOST_CHECK_THROW(parse("http:\n  routers:\n    other: {rule: x}\n"), RouteFormatError);
  BOOST_CHECK_THROW(parse(""), RouteFormatError);
  std::string tampered = render(sample());
  tampered.replace(tampered.find("PathPrefix(`/apps/10/`)"), 23, "PathPrefix(`/`)");
  BOOST_CHECK_THROW(parse(tampered), RouteFormatError);
}

BOOST_AUTO_TEST_CASE(a_sleeping_route_sends_to_the_waker_with_the_app_and_the_secret_in_a_headers_middleware) {
  Route r = sample();
  r.upstreams = {"http://10.89.0.1:7006"};
  r.wake_secret = "0123456789abcdef0123";
  YAML::Node doc = YAML::Load(render(r));
  auto router = doc["http"]["routers"]["rt-app-10"];
  BOOST_TEST(router["rule"].as<std::string>() == rule_for("/apps/10"));  // the rule stays
  BOOST_REQUIRE(router["middlewares"].size() == 2u);
  BOOST_TEST(router["middlewares"][0].as<std::string>() == "rt-mw-10");
  BOOST_TEST(router["middlewares"][1].as<std::string>() == "rt-wake-10");
  auto headers = doc["http"]["middlewares"]["rt-wake-10"]["headers"]["customRequestHeaders"];
  BOOST_TEST(headers[kWakeAppHeader].as<std::string>() == "10");
  BOOST_TEST(headers[kWakeSecretHeader].as<std::string>() == "0123456789abcdef0123");
  BOOST_TEST(doc["http"]["services"]["rt-svc-10"]["loadBalancer"]["servers"][0]["url"].as<std::string>() == "http://10.89.0.1:7006");
  Route back = parse(render(r));
  BOOST_TEST((back == r));
  BOOST_TEST(back.sleeping());
  BOOST_TEST(!parse(render(sample())).sleeping());
  for (const std::string& bad : {"short", "has space 0123456789", "quote\"0123456789abc"}) {
    r.wake_secret = bad;
    BOOST_CHECK_THROW(render(r), RouteFormatError);
  }
}

BOOST_AUTO_TEST_CASE(a_sleeping_route_records_the_deploy_it_slept_and_reads_it_back) {
  Route r = sample();
  r.upstreams = {"http://10.89.0.1:7006"};
  r.wake_secret = "0123456789abcdef0123";
  r.wake_deploy = "d-1764578808123-ab12";
  YAML::Node doc = YAML::Load(render(r));
  BOOST_TEST(doc["http"]["middlewares"]["rt-wake-10"]["headers"]["customRequestHeaders"][kWakeDeployHeader].as<std::string>() ==
             "d-1764578808123-ab12");
  BOOST_TEST((parse(render(r)) == r));
  // Routes written before it was recorded still read, without it.
  r.wake_deploy.reset();
  BOOST_TEST(!parse(render(r)).wake_deploy.has_value());
  for (const std::string& bad : std::vector<std::string>{"", "with space", "quote\"", std::string(65, 'd')}) {
    r.wake_deploy = bad;
    BOOST_CHECK_THROW(render(r), RouteFormatError);
  }
  Route awake = sample();
  awake.wake_deploy = "d-1";  // only a sleeping route names one
  BOOST_CHECK_THROW(render(awake), RouteFormatError);
}
