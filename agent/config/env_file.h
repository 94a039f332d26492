// Where settings come from: an EnvironmentFile (the unit's, or --config FILE) and the process
// environment, which wins, as systemd combines them.
#pragma once

#include <istream>
#include <map>
#include <stdexcept>
#include <string>

namespace agent {

using Environment = std::map<std::string, std::string>;

// `s` without leading and trailing blanks (space, tab, CR, LF).
std::string trim(const std::string& s);

// A syntax error in an EnvironmentFile, with its line number.
class EnvFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses EnvironmentFile text: KEY=VALUE lines, blank lines and '#' comments, an optional
// 'export ' prefix, values optionally in single or double quotes. Throws EnvFileError.
Environment parse_env_file(std::istream& in);

// The current process environment.
Environment process_environment();

// `overrides` win over `base`.
Environment merge_environments(const Environment& base, const Environment& overrides);

// --config FILE (when not empty) under the process environment. Throws EnvFileError, naming the
// file, when it cannot be read or parsed.
Environment load_environment(const std::string& config_file);

}  // namespace agent
