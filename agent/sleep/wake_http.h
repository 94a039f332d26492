// The waker's edits of HTTP text, kept apart from its sockets: the request head as the app gets it,
// the app's answer head made to close the connection, and the waker's own short answers.
#pragma once

#include <Poco/Net/HTTPRequest.h>

#include <string>

namespace agent::wake_http {

// A complete plain-text answer that closes the connection (Retry-After: 5 when asked).
std::string answer(int status, const std::string& reason, const std::string& text, bool retry_after);

// The request head without the waker's two headers; "Connection: close" unless it is an upgrade.
std::string relayed_head(const Poco::Net::HTTPRequest& head);

enum class AnswerHead { incomplete, too_long, ready };
// `bytes` begins with the app's answer. Once its head is complete, every answer but 101 is made to
// close the connection (Connection and Keep-Alive fields replaced by "Connection: close"), so the
// client sends no further request, which would carry the secret, on it.
AnswerHead close_after_answer(std::string& bytes);

}  // namespace agent::wake_http
