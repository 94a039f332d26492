#define BOOST_TEST_MODULE log_stream
#include "log_stream.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>

namespace pc = podman::containers;

BOOST_AUTO_TEST_CASE(demultiplexing_splits_streams_in_order) {
  std::string raw;
  auto frame = [&](char stream, const std::string& text) {
    raw += std::string{stream, 0, 0, 0};
    uint32_t n = static_cast<uint32_t>(text.size());
    raw += std::string{char(n >> 24), char((n >> 16) & 255), char((n >> 8) & 255), char(n & 255)};
    raw += text;
  };
  frame(1, "out1\n");
  frame(2, "err1\n");
  frame(1, "out2\n");
  auto logs = pc::demultiplex(raw);
  BOOST_TEST(logs.out == "out1\nout2\n");
  BOOST_TEST(logs.err == "err1\n");
  BOOST_TEST(logs.combined == "out1\nerr1\nout2\n");
  BOOST_TEST(pc::demultiplex("plain tty text\n").combined == "plain tty text\n");
}

BOOST_AUTO_TEST_CASE(a_frame_cut_short_keeps_what_arrived) {
  std::string raw = std::string{1, 0, 0, 0, 0, 0, 0, 10} + "abc";  // says 10 bytes, 3 came
  auto logs = pc::demultiplex(raw);
  BOOST_TEST(logs.out == "abc");
  BOOST_TEST(logs.err.empty());
}
