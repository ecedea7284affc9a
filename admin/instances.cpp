// Heartbeat rows in sy_instances and the small JSON codec for their in-flight counts.

#include "admin/instances.h"

#include <charconv>
#include <cstdio>

namespace sy::admin {

using routing::Db;
using routing::Row;

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += ch;  // UTF-8 passes through
      }
    }
  }
  out += '"';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A strict reader for {"key": uint, ...} with JSON whitespace and string escapes.
class InflightParser {
 public:
  explicit InflightParser(std::string_view s) : s_(s) {}

  Result<InflightPerSchema> parse() {
    InflightPerSchema out;
    skip_ws();
    if (!eat('{')) {
      return fail("expected '{'");
    }
    skip_ws();
    if (eat('}')) {
      return finish(std::move(out));
    }
    for (;;) {
      skip_ws();
      std::string key;
      if (!string(key)) {
        return fail("expected a string key");
      }
      skip_ws();
      if (!eat(':')) {
        return fail("expected ':'");
      }
      skip_ws();
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), n);
      if (ec != std::errc() || end == s_.data() + pos_) {
        return fail("expected a non-negative integer");
      }
      pos_ = static_cast<size_t>(end - s_.data());
      out.emplace_back(std::move(key), n);
      skip_ws();
      if (eat('}')) {
        return finish(std::move(out));
      }
      if (!eat(',')) {
        return fail("expected ',' or '}'");
      }
    }
  }

 private:
  Result<InflightPerSchema> finish(InflightPerSchema out) {
    skip_ws();
    if (pos_ != s_.size()) {
      return fail("trailing characters");
    }
    return out;
  }
  Error fail(const char* what) const {
    return make_error(Errc::Protocol,
                      "inflight_json: " + std::string(what) + " at offset " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool hex4(uint32_t& v) {
    if (pos_ + 4 > s_.size()) {
      return false;
    }
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  bool string(std::string& out) {
    if (!eat('"')) {
      return false;
    }
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) {
        return false;
      }
      char e = s_[pos_++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = 0;
        if (!hex4(cp)) {
          return false;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
          uint32_t lo = 0;
          if (!eat('\\') || !eat('u') || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) {
            return false;
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return false;
        }
        append_utf8(out, cp);
        break;
      }
      default: return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

uint64_t InstanceRow::inflight(std::string_view schema) const {
  for (const auto& [name, n] : inflight_per_schema) {
    if (name == schema) {
      return n;
    }
  }
  return 0;
}

std::string encode_inflight(const InflightPerSchema& inflight) {
  std::string out = "{";
  for (const auto& [name, n] : inflight) {
    if (out.size() > 1) {
      out += ',';
    }
    append_json_string(out, name);
    out += ':';
    out += std::to_string(n);
  }
  out += '}';
  return out;
}

Result<InflightPerSchema> decode_inflight(std::string_view json) {
  return InflightParser(json).parse();
}

Result<Unit> write_heartbeat(Db& db, const InstanceBeat& beat) {
  if (beat.id.empty()) {
    return make_error(Errc::InvalidArgument, "write_heartbeat: empty instance id");
  }
  // started_at is assigned before pid: MySQL applies ON DUPLICATE KEY UPDATE assignments left
  // to right, so it still compares against the old pid.
  auto stmt = db.prepare(
      "INSERT INTO sy_instances (id, role, version, pid, started_at, heartbeat_at, inflight_json,"
      " applied_seq) VALUES (?, ?, ?, ?, NOW(6), NOW(6), ?, ?)"
      " ON DUPLICATE KEY UPDATE"
      " started_at = IF(pid <=> VALUES(pid), started_at, NOW(6)),"
      " role = VALUES(role), version = VALUES(version), pid = VALUES(pid),"
      " heartbeat_at = NOW(6), inflight_json = VALUES(inflight_json),"
      " applied_seq = VALUES(applied_seq)");
  if (!stmt) {
    return stmt.error();
  }
  auto r = stmt->bind(beat.id)
               .bind(beat.role)
               .bind(beat.version)
               .bind(static_cast<int32_t>(beat.pid))
               .bind(encode_inflight(beat.inflight_per_schema))
               .bind(beat.applied_seq)
               .exec();
  if (!r) {
    return r.error();
  }
  return ok_result();
}

Result<std::vector<InstanceRow>> list_instances(Db& db, std::chrono::seconds live_within) {
  auto stmt =
      db.prepare("SELECT id, role, version, pid,"
                 " CAST(UNIX_TIMESTAMP(started_at) * 1000000 AS SIGNED),"
                 " CAST(UNIX_TIMESTAMP(heartbeat_at) * 1000000 AS SIGNED),"
                 " TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(6)) DIV 1000,"
                 " COALESCE(inflight_json, '{}'), applied_seq"
                 " FROM sy_instances WHERE heartbeat_at >= NOW(6) - INTERVAL ? SECOND ORDER BY id");
  if (!stmt) {
    return stmt.error();
  }
  std::vector<InstanceRow> rows;
  std::vector<std::string> json;
  auto r = stmt->bind(static_cast<int64_t>(live_within.count())).query([&](const Row& row) {
    InstanceRow i;
    i.id = row.str(1);
    i.role = row.str(2);
    i.version = row.str(3);
    i.pid = row.i32(4);
    i.started_at_us = row.i64(5);
    i.heartbeat_at_us = row.i64(6);
    i.heartbeat_age_ms = row.i64(7);
    i.applied_seq = row.u64(9);
    rows.push_back(std::move(i));
    json.push_back(row.str(8));
  });
  if (!r) {
    return r.error();
  }
  for (size_t k = 0; k < rows.size(); ++k) {
    auto inflight = decode_inflight(json[k]);
    if (!inflight) {
      return make_error(Errc::Protocol,
                        "instance '" + rows[k].id + "': " + inflight.error().message);
    }
    rows[k].inflight_per_schema = std::move(inflight.value());
  }
  return rows;
}

Result<Unit> remove_instance(Db& db, const std::string& id) {
  auto stmt = db.prepare("DELETE FROM sy_instances WHERE id = ?");
  if (!stmt) {
    return stmt.error();
  }
  if (auto r = stmt->bind(id).exec(); !r) {
    return r.error();
  }
  return ok_result();
}

}  // namespace sy::admin
