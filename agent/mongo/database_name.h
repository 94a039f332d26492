// The name of an app's database on the platform's MongoDB, from RUNTIME_MONGO_DB_TEMPLATE, as the
// earlier agent made it: placeholders filled, each run of characters outside [A-Za-z0-9_] made one
// '_', at most 63 characters. And the way back, for the orphan cleanup: which app a database
// name belongs to, when it has the template's shape.
#pragma once

#include <optional>
#include <string>

namespace agent {

// "db_u{userId}_a{appId}" with "7", "100" -> "db_u7_a100". The ids must be valid (validation.h).
std::string app_database_name(const std::string& name_template, const std::string& user_id, const std::string& app_id);

// The appId of `name` when it is the template filled with digits for {userId} and {appId}
// (the ids the platform gives), else nullopt. "db_u7_a100" -> "100"; "db_u7_a100x", "admin",
// "db_ux_a1" -> nullopt.
std::optional<std::string> app_id_of_database(const std::string& name_template, const std::string& name);

}  // namespace agent
