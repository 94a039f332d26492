// Logging of the agent, with Poco: to the console (journald picks it up) and to
// FUNAI_LOG_DIR/app.log, rotated by size and daily, archives compressed and purged after
// FUNAI_LOG_MAX_HISTORY_DAYS. Each line carries the id of the request it is about, if any.
#pragma once

#include <cstdint>
#include <string>

namespace agent {

struct LogOptions {
  std::string dir;                          // app.log lives here
  int64_t max_file_size_bytes = 50 * 1024 * 1024;  // rotated past this size
  int max_history_days = 30;                // archives older than this are purged
  int64_t total_size_cap_bytes = 5LL * 1024 * 1024 * 1024;  // the oldest archives go past this total
};

// Routes Poco's root logger to the console and the rotating file. Throws when the log
// directory cannot be created.
void configure_logging(const LogOptions& options, bool console);

// Appends `text` to a log line with nothing that could end the line or forge another: CR, LF and
// other control characters as \r, \n, \xNN (a backslash doubled). Every line the agent logs
// goes through it: a request's path or an app's own output can never start a line of its own.
void append_escaped(std::string& line, const std::string& text);

// Archives app.log now, as the daily rotation does; safe while other threads log.
void rotate_log_now();

// Sets the request id of the calling thread ("" outside a request); log lines include it.
void set_current_request_id(const std::string& id);

}  // namespace agent
