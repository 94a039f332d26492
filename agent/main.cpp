// fun-ai-runtime-agent: the Runtime-Agent of a Fun AI Studio runtime node.
// Lifecycle (options, settings, logging, signals) is Poco's ServerApplication; the work is done
// by the Agent (agent.h).
#include <Poco/Logger.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>

#include "agent.h"
#include "node/doctor.h"
#include "base/logging.h"
#include "config/settings.h"

#ifndef FUNAI_VERSION
#define FUNAI_VERSION "0.0.0"
#endif

namespace agent {

// TimeoutStopSec=40 in the unit, less a margin for the exit itself.
constexpr std::chrono::seconds kStopBudget{35};

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
    bool doctor = !words.empty() && words.front() == "doctor";
    if (words.size() > (doctor ? 1u : 0u)) {
      std::cerr << "fun-ai-runtime-agent: unknown argument '" << words[doctor ? 1 : 0] << "'\n";
      print_usage(std::cerr);
      return EXIT_USAGE;
    }
    Environment env;
    try {
      env = load_environment(config_file_);
    } catch (const EnvFileError& e) {
      std::cerr << "fun-ai-runtime-agent: " << e.what() << "\n";
      if (doctor) std::cout << "FAIL  settings  " << e.what() << ". Fix: correct the file (KEY=VALUE lines).\n";
      return doctor ? 1 : EXIT_CONFIG;
    }
    Environment file_keys;  // read again to tell its unknown keys from the process environment's
    if (!config_file_.empty()) {
      std::ifstream in(config_file_);
      file_keys = parse_env_file(in);
    }
    auto loaded = load_settings(env, file_keys);

    if (doctor) return run_doctor_command(loaded);
    if (check_config_) {
      for (const auto& [key, value] : describe_settings(env)) std::cout << key << "=" << value << "\n";
      for (const auto& error : loaded.errors) std::cerr << "invalid: " << error << "\n";
      for (const auto& warning : loaded.warnings) std::cerr << "warning: " << warning << "\n";
      return loaded.ok() ? EXIT_OK : 1;
    }
    if (!loaded.ok()) {
      for (const auto& error : loaded.errors) std::cerr << "fun-ai-runtime-agent: refusing to start: " << error << "\n";
      return EXIT_CONFIG;
    }
    return serve(loaded.settings, loaded.warnings);
  }

 private:
  // One line per check; 0 when none failed, 1 otherwise.
  int run_doctor_command(const SettingsResult& loaded) {
    Poco::Logger::root().setLevel("none");  // the findings say it all; nothing goes to the log files
    for (const auto& error : loaded.errors)
      std::cout << "FAIL  settings  " << error << ". Fix: correct it in " << (config_file_.empty() ? "the environment" : config_file_) << ".\n";
    if (!loaded.ok()) return 1;
    std::cout << "PASS  settings  valid" << (config_file_.empty() ? "" : " (" + config_file_ + " and the environment)") << "\n";
    bool any_failed = false;
    for (const auto& finding : run_doctor(loaded.settings)) {
      std::cout << format_finding(finding) << "\n" << std::flush;
      any_failed |= finding.result == Finding::Result::failed;
    }
    return any_failed ? 1 : 0;
  }

  int serve(const Settings& settings, const std::vector<std::string>& warnings) {
    // Few malloc arenas: glibc would give each of up to 8 x cores busy threads its own, which
    // holds freed memory; two keep the resident size flat under load at no measurable cost.
    ::mallopt(M_ARENA_MAX, 2);
    try {
      configure_logging(log_options(settings), true);
    } catch (const std::exception& e) {
      std::cerr << "fun-ai-runtime-agent: cannot log to " << settings.log_dir << ": " << e.what() << "\n";
      return EXIT_CANTCREAT;
    }
    auto& log = Poco::Logger::get("main");
    log.information(std::string("fun-ai-runtime-agent ") + FUNAI_VERSION + " starting; podman at " + settings.podman_socket);
    for (const auto& warning : warnings) log.warning(warning);

    Agent agent(settings);
    try {
      agent.start_server();
    } catch (const std::exception& e) {
      log.fatal("cannot listen on " + settings.host + ":" + std::to_string(settings.port) + ": " + e.what());
      return EXIT_UNAVAILABLE;
    }
    log.information("listening on " + settings.host + ":" + std::to_string(agent.port()));
    agent.start_background();

    waitForTerminationRequest();
    log.information("shutting down: finishing requests in flight");
    // The unit allows TimeoutStopSec=40 before its SIGKILL: 25 s for requests in flight, then the
    // background parts. What is still at work at kStopBudget (a deploy waiting on a pull or on an
    // app that never listens, a wake) is left as it is: every step of a deploy is safe to cut,
    // and the next start's reconcile repairs what it left, as after a kill.
    auto stopping = std::async(std::launch::async, [&agent] { agent.stop(std::chrono::seconds(25)); });
    if (stopping.wait_for(kStopBudget) != std::future_status::ready) {
      log.warning("shutdown: work still in flight after " + std::to_string(kStopBudget.count()) +
                  " s; exiting now (the next start's reconcile repairs what it left)");
      std::cout.flush();
      std::cerr.flush();
      std::_Exit(EXIT_OK);  // the agent's threads are still at work: no destructor may run under them
    }
    log.information("stopped");
    return EXIT_OK;
  }

  void print_usage(std::ostream& out) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[doctor] [--config FILE] [--check-config]");
    help.setHeader("The Runtime-Agent of a Fun AI Studio runtime node: deploys app containers on Podman and publishes "
                   "their Traefik routes. Settings come from the environment (see /etc/fun-ai-studio/runtime.env). "
                   "'doctor' checks this node (Podman, network, routing, Traefik, registry, heartbeat, disk) and exits 1 when a check fails.");
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
