// The waker's edits of HTTP heads, kept apart from its sockets. Each edit works on the head as it
// was received (MessageHead::raw, already checked by the strict parser) and only removes whole
// field lines and adds a Connection line: nothing is decoded and written back.
#pragma once

#include <string>

#include "http/message_parser.h"

namespace agent::wake_http {

// A complete plain-text answer that closes the connection (Retry-After: 5 when asked).
std::string answer(int status, const std::string& reason, const std::string& text, bool retry_after);

// A field that is hop-by-hop for this head (RFC 9110, 7.6.1): Connection, the fields it names,
// Keep-Alive, Proxy-*, TE, Trailer, and Upgrade unless `upgrade`. The fields that frame the
// message (Content-Length, Transfer-Encoding) and Host stay whatever Connection names.
bool hop_by_hop(const MessageHead& head, const std::string& name, bool upgrade);

// The request as the app gets it: without the waker's headers and the hop-by-hop fields, with
// "Connection: close", or "Connection: Upgrade" (and its Upgrade field) for an upgrade.
std::string relayed_request(const MessageHead& head, bool upgrade);

// An answer head of the app as the client gets it: without hop-by-hop fields; an interim (1xx)
// answer as it is otherwise, a 101 with "Connection: Upgrade", any final answer with
// "Connection: close" (so that no later request, which would carry the secret, is sent on it).
std::string relayed_answer(const MessageHead& head);

}  // namespace agent::wake_http
