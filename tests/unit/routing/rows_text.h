#pragma once
// The directory readers' tests compare rows as text: context id -> "schema/server/on|off".

#include <map>
#include <string>

#include "routing/directory_rows.h"

namespace sy::test {

inline std::map<routing::ContextId, std::string> contexts_of(const routing::DirectoryData& d) {
  std::map<routing::ContextId, std::string> out;
  for (const routing::ContextRow& c : d.contexts) {
    out[c.id] = d.schemas.at(c.schema_index).name + "/" + std::to_string(c.server_id) + "/" +
                (c.enabled ? "on" : "off");
  }
  return out;
}

inline std::map<routing::ContextId, std::string> contexts_of(const routing::DirectoryDelta& d) {
  std::map<routing::ContextId, std::string> out;
  for (const routing::ContextRow& c : d.contexts) {
    out[c.id] = d.schema_names.at(c.schema_index) + "/" + std::to_string(c.server_id) + "/" +
                (c.enabled ? "on" : "off");
  }
  return out;
}

}  // namespace sy::test
