// The self-upgrade's message codec (proxy/handover.h) and the successor's command line
// (proxy/successor.h): pure functions, no sockets. The fds are plain numbers here; the codec
// only pairs them with lines.
#include "proxy/handover.h"
#include "proxy/successor.h"

#include <catch.hpp>

#include <string>
#include <vector>

using namespace sy::proxy;

namespace {

std::vector<HandoverSocket> sample(size_t n) {
  std::vector<HandoverSocket> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({i % 2 == 0 ? HandoverKind::Listen : HandoverKind::Lock,
                   "127.0.0.1:" + std::to_string(8000 + i / 2), static_cast<int>(100 + i)});
  }
  out.push_back({HandoverKind::AdminUnix, "/run/switchyard/admin.sock", 7});
  out.push_back({HandoverKind::AdminTcp, "127.0.0.1:9901", 8});
  return out;
}

// Encodes, then decodes every message with "its" fds, as the receiving side would.
std::vector<HandoverSocket> round_trip(const std::vector<HandoverSocket>& in) {
  auto messages = encode_offer(in);
  REQUIRE(messages.ok());
  std::vector<HandoverSocket> out;
  size_t next = 0;
  for (const auto& m : *messages) {
    std::vector<int> fds;
    for (size_t i = 0; i < kMaxFdsPerMessage && next < in.size(); ++i, ++next) {
      fds.push_back(in[next].fd);
    }
    auto decoded = decode_offer(m, fds);
    REQUIRE(decoded.ok());
    REQUIRE_FALSE(decoded->end);
    for (auto& s : decoded->sockets) {
      out.push_back(s);
    }
  }
  auto end = decode_offer(encode_end(in.size()), {});
  REQUIRE(end.ok());
  CHECK(end->end);
  CHECK(end->total == in.size());
  return out;
}

}  // namespace

TEST_CASE("an offer round-trips: kinds, keys and fds in order, across message batches") {
  for (size_t n : {size_t{1}, size_t{10}, kMaxFdsPerMessage - 2, kMaxFdsPerMessage * 3 + 5}) {
    auto in = sample(n);
    auto out = round_trip(in);
    REQUIRE(out.size() == in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      CHECK(out[i].kind == in[i].kind);
      CHECK(out[i].key == in[i].key);
      CHECK(out[i].fd == in[i].fd);
    }
    auto messages = encode_offer(in);
    REQUIRE(messages.ok());
    CHECK(messages->size() == (in.size() + kMaxFdsPerMessage - 1) / kMaxFdsPerMessage);
    for (const auto& m : *messages) {
      CHECK(m.size() <= kMaxMessageBytes);
    }
  }
}

TEST_CASE("the encoder refuses keys that would break the line format") {
  for (const std::string& key :
       std::vector<std::string>{"", "a b", "a\nb", std::string("a\0b", 3), "a\tb"}) {
    auto r = encode_offer({{HandoverKind::Listen, key, 3}});
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("the decoder rejects every malformed message with a reason") {
  struct Case {
    std::string text;
    std::vector<int> fds;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"", {}, "line end"},
      {"SOCKETS", {3}, "line end"},
      {"SOCKETS\n", {}, "empty"},
      {"SOCKETS\nlisten 127.0.0.1:80\n", {}, "1 socket line(s) but 0 descriptor(s)"},
      {"SOCKETS\nlisten 127.0.0.1:80\n", {3, 4}, "1 socket line(s) but 2 descriptor(s)"},
      {"SOCKETS\nbogus 127.0.0.1:80\n", {3}, "unknown socket line"},
      {"SOCKETS\nlisten\n", {3}, "unknown socket line"},
      {"SOCKETS\nlisten \n", {3}, "bad key"},
      {"SOCKETS\nlisten a b\n", {3}, "bad key"},
      {"SOCKETS\nlisten 127.0.0.1:80", {3}, "unterminated"},
      {"END 2\n", {3}, "descriptors"},
      {"END x\n", {}, "bad END"},
      {"END \n", {}, "bad END"},
      {"END 1\nmore\n", {}, "bad END"},
      {"HELLO\n", {}, "expected SOCKETS or END"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = decode_offer(c.text, c.fds);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(c.reason) != std::string::npos);
  }
}

TEST_CASE("pid messages parse only the expected word and a positive pid") {
  CHECK(pid_message("SERVING", 4242) == "SERVING 4242");
  auto ok = parse_pid_message("SERVING 4242", "SERVING");
  REQUIRE(ok.ok());
  CHECK(*ok == 4242);
  for (std::string bad : std::vector<std::string>{"SERVING", "SERVING ", "SERVING 0", "SERVING -1", "SERVING 12x",
                          "DRAINING 12", "SERVING12", "SERVING 1234567890"}) {
    INFO(bad);
    CHECK_FALSE(parse_pid_message(bad, "SERVING").ok());
  }
}

TEST_CASE("a listener's key is its configured address, and its name when the port is 0") {
  CHECK(listener_key("web", "127.0.0.1", 8080) == "127.0.0.1:8080");
  CHECK(listener_key("web", "::1", 443) == "::1:443");
  CHECK(listener_key("web", "127.0.0.1", 0) == "127.0.0.1:0/web");
  CHECK(listener_key("api", "127.0.0.1", 0) != listener_key("web", "127.0.0.1", 0));
  CHECK(lock_name("127.0.0.1:8080") == "switchyard/listen/127.0.0.1:8080");
}

TEST_CASE("the successor's command line is ours with one --takeover at the end") {
  CHECK(successor_args({"--config", "a.yaml"}, "127.0.0.1:80") ==
        std::vector<std::string>{"--config", "a.yaml", "--takeover", "127.0.0.1:80"});
  // A successor's successor: the old --takeover (with or without its address) is replaced.
  CHECK(successor_args({"--config", "a.yaml", "--takeover", "127.0.0.1:80", "--log-level",
                        "debug"},
                       "127.0.0.1:81") ==
        std::vector<std::string>{"--config", "a.yaml", "--log-level", "debug", "--takeover",
                                 "127.0.0.1:81"});
  CHECK(successor_args({"--takeover", "--config", "a.yaml"}, "[::1]:80") ==
        std::vector<std::string>{"--config", "a.yaml", "--takeover", "[::1]:80"});
}
