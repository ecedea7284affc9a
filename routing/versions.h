#pragma once
// Version labels (servers', pools', instances') in order: the one-way door of a schema move
// (admin/directory.h) and the loader's hold on a schema a lost change moved back
// (store/directory_loader.h) compare them the same way.

#include <string>

namespace sy::routing {

// "7.10.6" < "8.0.0"; numeric per dot-separated part, a missing part counts as 0, a
// non-numeric part compares as text.
bool version_less(const std::string& a, const std::string& b);

}  // namespace sy::routing
