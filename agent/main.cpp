// fun-ai-runtime-agent: the Runtime-Agent of a Fun AI Studio runtime node.
// Lifecycle (options, settings, logging, signals) is Poco's ServerApplication; the work is done
// by DeployService behind the HTTP API, with the heartbeat and the reconciler beside it.
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <malloc.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "deploy_service.h"
#include "heartbeat.h"
#include "http_api.h"
#include "http_server.h"
#include "logging.h"
#include "metrics.h"
#include "node_health.h"
#include "podman/client.h"
#include "reconciler.h"
#include "startup_pages.h"
#include "settings.h"
#include "traefik/route_dir.h"

#ifndef FUNAI_VERSION
#define FUNAI_VERSION "0.0.0"
#endif

namespace agent {

class AgentApplication : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("help", "h", "print this help and exit").repeatable(false).callback(
        Poco::Util::OptionCallback<AgentApplication>(this, &AgentApplication::on_help)));
    options.addOption(Poco::Util::Option("version", "v", "print the version and exit").repeatable(false).callback(
        Poco::Util::OptionCallback<AgentApplication>(this, &AgentApplication::on_version)));
    options.addOption(Poco::Util::Option("config", "c", "read settings from an EnvironmentFile (KEY=VALUE); the environment wins")
                          .argument("FILE")
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<AgentApplication>(this, &AgentApplication::on_config)));
    options.addOption(Poco::Util::Option("check-config", "", "print the effective settings (secrets masked) and exit: 0 valid, 1 invalid")
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<AgentApplication>(this, &AgentApplication::on_check_config)));
  }

  int main(const std::vector<std::string>& words) override {
    if (exit_early_) return EXIT_OK;
    if (!words.empty()) {
      std::cerr << "fun-ai-runtime-agent: unknown argument '" << words.front() << "'\n";
      print_usage(std::cerr);
      return EXIT_USAGE;
    }
    Environment file_env;
    if (!config_file_.empty()) {
      std::ifstream in(config_file_);
      if (!in) {
        std::cerr << "fun-ai-runtime-agent: cannot read --config " << config_file_ << "\n";
        return EXIT_CONFIG;
      }
      try {
        file_env = parse_env_file(in);
      } catch (const EnvFileError& e) {
        std::cerr << "fun-ai-runtime-agent: " << config_file_ << " " << e.what() << "\n";
        return EXIT_CONFIG;
      }
    }
    Environment env = merge_environments(file_env, process_environment());
    auto loaded = load_settings(env);

    if (check_config_) {
      for (const auto& [key, value] : describe_settings(env)) std::cout << key << "=" << value << "\n";
      for (const auto& error : loaded.errors) std::cerr << "invalid: " << error << "\n";
      return loaded.ok() ? EXIT_OK : 1;
    }
    if (!loaded.ok()) {
      for (const auto& error : loaded.errors) std::cerr << "fun-ai-runtime-agent: refusing to start: " << error << "\n";
      return EXIT_CONFIG;
    }
    return serve(loaded.settings);
  }

 private:
  int serve(const Settings& settings) {
    // Few malloc arenas: glibc would give each of up to 8 x cores busy threads its own, which
    // holds freed memory; two keep the resident size flat under load at no measurable cost.
    ::mallopt(M_ARENA_MAX, 2);
    try {
      configure_logging(settings, true);
    } catch (const std::exception& e) {
      std::cerr << "fun-ai-runtime-agent: cannot log to " << settings.log_dir << ": " << e.what() << "\n";
      return EXIT_CANTCREAT;
    }
    auto& log = Poco::Logger::get("main");
    log.information(std::string("fun-ai-runtime-agent ") + FUNAI_VERSION + " starting; podman at " + settings.podman_socket);

    podman::Client podman(settings.podman_socket);
    podman.on_error([](const std::string& call) { metrics().podman_error(call); });
    std::unique_ptr<traefik::RouteDir> routes;
    if (settings.traefik_enable) {
      try {
        Poco::File(settings.traefik_dynamic_dir).createDirectories();
      } catch (const std::exception& e) {
        log.error("cannot create routing directory " + settings.traefik_dynamic_dir + ": " + e.what());
      }
      routes = std::make_unique<traefik::RouteDir>(settings.traefik_dynamic_dir);
    } else {
      log.warning("RUNTIME_TRAEFIK_ENABLE=false: no routing files are written");
    }

    DeployService service(settings, podman, routes.get());
    Heartbeat heartbeat(settings, podman);
    Reconciler reconciler(settings, podman, routes.get(), service);
    service.on_change([&heartbeat] { heartbeat.trigger(); });
    NodeHealth health(settings, podman, routes.get(), heartbeat);

    std::unique_ptr<HttpServer> server;
    try {
      HttpServerOptions options;
      options.host = settings.host;
      options.port = settings.port;
      options.threads = settings.http_threads;
      Poco::Net::HTTPRequestHandlerFactory::Ptr factory(
          new ApiHandlerFactory(settings.token, api_endpoints(settings, service, [&health] { return health.deep(); })));
      server = std::make_unique<HttpServer>(options, factory);
      server->start();
    } catch (const std::exception& e) {
      log.fatal("cannot listen on " + settings.host + ":" + std::to_string(settings.port) + ": " + e.what());
      return EXIT_UNAVAILABLE;
    }
    log.information("listening on " + settings.host + ":" + std::to_string(server->port()));
    heartbeat.start();
    reconciler.on_first_pass([&log, release = settings.release_startup_pages] {
      if (!release) {
        log.information("start-up pages kept: FUNAI_RELEASE_STARTUP_PAGES=false");
        return;
      }
      auto r = release_startup_pages();
      if (!r.error.empty())
        log.warning("start-up pages kept: " + r.error);
      else
        log.information("start-up pages of " + std::to_string(r.mappings) + " library mappings released; resident " +
                        std::to_string(r.rss_before_kb) + " kB -> " + std::to_string(r.rss_after_kb) + " kB");
    });
    reconciler.start();
    service.images().start();

    waitForTerminationRequest();
    log.information("shutting down: finishing requests in flight");
    server->stop(std::chrono::seconds(25));
    reconciler.stop();
    service.images().stop();
    heartbeat.stop();
    service.retire_pending_now();
    log.information("stopped");
    return EXIT_OK;
  }

  void print_usage(std::ostream& out) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [--check-config]");
    help.setHeader("The Runtime-Agent of a Fun AI Studio runtime node: deploys app containers on Podman and publishes "
                   "their Traefik routes. Settings come from the environment (see /etc/fun-ai-studio/runtime.env).");
    help.format(out);
  }
  void on_help(const std::string&, const std::string&) {
    print_usage(std::cout);
    exit_early_ = true;
    stopOptionsProcessing();
  }
  void on_version(const std::string&, const std::string&) {
    std::cout << "fun-ai-runtime-agent " << FUNAI_VERSION << "\n";
    exit_early_ = true;
    stopOptionsProcessing();
  }
  void on_config(const std::string&, const std::string& value) { config_file_ = value; }
  void on_check_config(const std::string&, const std::string&) { check_config_ = true; }

  bool exit_early_ = false;
  bool check_config_ = false;
  std::string config_file_;
};

}  // namespace agent

POCO_SERVER_MAIN(agent::AgentApplication)
