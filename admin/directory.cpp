// The pure part of the directory interface: version and schema order, the one-way door.

#include "admin/directory.h"

#include <algorithm>

#include "routing/versions.h"

namespace sy::admin {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool version_less(const std::string& a, const std::string& b) {
  return routing::version_less(a, b);  // the loader's hold compares the same way
}

bool schema_less(const std::string& a, const std::string& b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  size_t j = 0;
  int zeros = 0;  // tie-break: fewer leading zeros first ("a5" < "a05")
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ei = i;
      size_t ej = j;
      while (ei < a.size() && digit(a[ei])) {
        ++ei;
      }
      while (ej < b.size() && digit(b[ej])) {
        ++ej;
      }
      size_t zi = i;
      size_t zj = j;
      while (zi + 1 < ei && a[zi] == '0') {
        ++zi;
      }
      while (zj + 1 < ej && b[zj] == '0') {
        ++zj;
      }
      const size_t li = ei - zi;
      const size_t lj = ej - zj;
      if (li != lj) {
        return li < lj;
      }
      const int cmp = a.compare(zi, li, b, zj, lj);
      if (cmp != 0) {
        return cmp < 0;
      }
      if (zeros == 0 && (zi - i) != (zj - j)) {
        zeros = (zi - i) < (zj - j) ? -1 : 1;
      }
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) {
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      }
      ++i;
      ++j;
    }
  }
  if ((i < a.size()) != (j < b.size())) {
    return j < b.size();  // the shorter one first
  }
  return zeros < 0;
}

namespace {

std::string describe(const ServerInfo& s) {
  return "id " + std::to_string(s.id) + ", pool '" + s.pool + "', version '" + s.version +
         "', redirect_url '" + s.redirect_url + "'";
}

// What |wanted| asks for that |stored| does not have (fields left empty are not compared).
std::string differences(const ServerInfo& stored, const ServerInfo& wanted) {
  std::string out;
  auto cmp = [&](const char* field, const std::string& have, const std::string& want) {
    if (!want.empty() && want != have) {
      out +=
          std::string(out.empty() ? "" : "; ") + field + " is '" + have + "', not '" + want + "'";
    }
  };
  if (wanted.id != 0 && wanted.id != stored.id) {
    out += "id is " + std::to_string(stored.id) + ", not " + std::to_string(wanted.id);
  }
  cmp("pool", stored.pool, wanted.pool);
  cmp("version", stored.version, wanted.version);
  cmp("redirect_url", stored.redirect_url, wanted.redirect_url);
  return out;
}

}  // namespace

Result<Unit> check_server_name(const std::string& name) {
  if (name.empty()) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "register server: a name is required", ErrorSource::Downstream);
  }
  if (all_digits(name)) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "register server: the name '" + name +
                                 "' is all digits and would read as an id",
                             ErrorSource::Downstream);
  }
  return ok_result();
}

Result<RegisterResult> existing_server(const ServerInfo& have, const ServerInfo& wanted,
                                       IfExists if_exists) {
  switch (if_exists) {
  case IfExists::Refuse:
    return make_tagged_error(Errc::InvalidArgument, "exists",
                             "server '" + wanted.name + "' exists already (" + describe(have) +
                                 "); use it with --continue or pick another name",
                             ErrorSource::Downstream);
  case IfExists::Abort:
    return make_tagged_error(Errc::InvalidArgument, "aborted",
                             "server '" + wanted.name + "' exists already (" + describe(have) +
                                 "); nothing changed",
                             ErrorSource::Downstream);
  case IfExists::Continue: break;
  }
  RegisterResult result;
  result.server = have;
  result.existed = true;
  const std::string diff = differences(have, wanted);
  result.warning = "server '" + wanted.name + "' exists already (" + describe(have) +
                   "); using it as it is" + (diff.empty() ? "" : ": " + diff);
  return result;
}

ServerInfo merge_server(const ServerInfo& have, const ServerInfo& changes) {
  ServerInfo out = have;
  for (auto [field, value] :
       {std::pair{&out.pool, &changes.pool}, std::pair{&out.version, &changes.version},
        std::pair{&out.redirect_url, &changes.redirect_url}}) {
    if (!value->empty()) {
      *field = *value;
    }
  }
  return out;
}

bool on_server(const SchemaInfo& s, uint32_t server) {
  return s.contexts == 0 || s.server_id == server;
}

Result<Unit> check_one_way_door(const std::string& schema, const ServerInfo& current,
                                const ServerInfo& target) {
  // A schema on a server without a version has no door to close.
  if (!current.version.empty() && !target.version.empty() &&
      version_less(target.version, current.version)) {
    return make_tagged_error(Errc::InvalidArgument, "one-way-door",
                             "schema '" + schema + "' is on server '" + current.name +
                                 "' (version " + current.version + "); moving it to '" +
                                 target.name + "' (version " + target.version +
                                 ") would go back to an older version",
                             ErrorSource::Downstream);
  }
  return ok_result();
}

Result<Unit> check_server_unused(const ServerInfo& server, const std::vector<std::string>& schemas,
                                 const std::vector<uint32_t>& contexts) {
  if (schemas.empty() && contexts.empty()) {
    return ok_result();
  }
  auto some = [](const auto& items, auto text) {
    std::string out;
    size_t n = 0;
    for (const auto& item : items) {
      if (++n > 10) {
        out += ", ... (" + std::to_string(items.size()) + " in all)";
        break;
      }
      out += (out.empty() ? "" : ", ") + text(item);
    }
    return out;
  };
  std::string what;
  if (!schemas.empty()) {
    what += std::to_string(schemas.size()) + " schema(s) (" +
            some(schemas, [](const std::string& s) { return s; }) + ")";
  }
  if (!contexts.empty()) {
    what += std::string(what.empty() ? "" : " and ") + std::to_string(contexts.size()) +
            " context(s) with it as their own server (" +
            some(contexts, [](uint32_t c) { return std::to_string(c); }) + ")";
  }
  return make_tagged_error(Errc::InvalidArgument, "in-use",
                           "server '" + server.name + "' (id " + std::to_string(server.id) +
                               ") is still used by " + what +
                               ": move them to another server first (`schema move S --server "
                               "OTHER`, `context move ID --server OTHER`)",
                           ErrorSource::Downstream);
}

}  // namespace sy::admin
