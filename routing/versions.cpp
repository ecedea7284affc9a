// Version labels in order (routing/versions.h).

#include "routing/versions.h"

#include <algorithm>
#include <vector>

namespace sy::routing {

namespace {

bool digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool version_less(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& v) {
    std::vector<std::string> out;
    if (v.empty()) {
      return out;
    }
    size_t start = 0;
    for (;;) {
      size_t dot = v.find('.', start);
      out.push_back(v.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) {
        return out;
      }
      start = dot + 1;
    }
  };
  const auto pa = parts(a);
  const auto pb = parts(b);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    const std::string x = i < pa.size() ? pa[i] : "0";
    const std::string y = i < pb.size() ? pb[i] : "0";
    if (digits(x) && digits(y)) {
      // Compare as numbers of any length: strip leading zeros, then length, then text.
      auto strip = [](const std::string& s) {
        size_t nz = s.find_first_not_of('0');
        return nz == std::string::npos ? std::string("0") : s.substr(nz);
      };
      const std::string nx = strip(x);
      const std::string ny = strip(y);
      if (nx.size() != ny.size()) {
        return nx.size() < ny.size();
      }
      if (nx != ny) {
        return nx < ny;
      }
    } else if (x != y) {
      return x < y;
    }
  }
  return false;
}

}  // namespace sy::routing
