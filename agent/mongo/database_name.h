// The name of an app's database on the platform's MongoDB, from RUNTIME_MONGO_DB_TEMPLATE, as the
// earlier agent made it: placeholders filled, each run of characters outside [A-Za-z0-9_] made one
// '_', at most 63 characters. And the way back, for the orphan cleanup: which app a database
// name belongs to, when it has the template's shape.
#pragma once

#include <optional>
#include <string>

namespace agent {

// "db_u{userId}_a{appId}" with "7", "100" -> "db_u7_a100". The ids must be valid (validation.h).
// That name is the earlier agent's for ids of letters and digits only (every id the platform
// sends). Where it would not be one-to-one, the name gets '_' and 16 hex digits of a hash of the
// exact ids instead: an id with '_' or '-' (("7", "1_a2") and ("7_a1", "2") would both be
// db_u7_a1_a2), a name cut at 63 characters, or one of MongoDB's own databases (admin, local,
// config). Such names never have the template's digit shape, so the orphan cleanup keeps them.
std::string app_database_name(const std::string& name_template, const std::string& user_id, const std::string& app_id);

// The appId of `name` when it is the template filled with digits for {userId} and {appId}
// (the ids the platform gives), else nullopt. "db_u7_a100" -> "100"; "db_u7_a100x", "admin",
// "db_ux_a1" -> nullopt.
std::optional<std::string> app_id_of_database(const std::string& name_template, const std::string& name);

}  // namespace agent
