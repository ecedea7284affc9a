#pragma once
// Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): a small writer, pure (appends to
// a string). Each family is written once with its HELP and TYPE, its samples right after it; label
// values are escaped (\\, \", \n).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace sy::admin {

using Label = std::pair<std::string_view, std::string_view>;

class PromWriter {
 public:
  explicit PromWriter(std::string* out) : out_(out) {}

  // Starts family |name| of |type| ("counter", "gauge", "histogram").
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample: |name| (the family's, or with _bucket/_sum/_count) with |labels|.
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // A histogram's samples from non-cumulative |counts| (one per bound, then +Inf) with bounds
  // in microseconds (written in seconds) and the sum in microseconds.
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const uint64_t* bounds_us, const uint64_t* counts, size_t num_bounds,
                 uint64_t sum_us);

 private:
  void head(std::string_view name, std::initializer_list<Label> labels, const Label* extra);
  std::string* out_;
};

}  // namespace sy::admin
