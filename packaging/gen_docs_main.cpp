// sy-gen-docs: the build-time generator of the man pages' tables and the bash completion
// (packaging/docs_gen.h). Run by packaging/CMakeLists.txt; not installed.
//
//   sy-gen-docs man TEMPLATE OUT VERSION [EXAMPLE.yaml...]   fill @VERSION@, @COMMANDS@,
//                                                             @CONFIG_KEYS@ of a roff template
//   sy-gen-docs completion OUT                               bash completion of switchyardctl
//   sy-gen-docs check-reference EXAMPLE.yaml...              exit 1 naming every key the
//                                                             examples and the loader disagree on

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "admin/commands.h"
#include "packaging/docs_gen.h"

namespace {

bool read(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "sy-gen-docs: cannot read %s\n", path.c_str());
    return false;
  }
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::fprintf(stderr, "sy-gen-docs: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

bool read_examples(int argc, char** argv, int first, std::vector<sy::packaging::ExampleFile>* out) {
  for (int i = first; i < argc; ++i) {
    std::string path = argv[i];
    sy::packaging::ExampleFile f{path.substr(path.rfind('/') + 1), ""};
    if (!read(path, &f.text)) {
      return false;
    }
    out->push_back(std::move(f));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sy::packaging;
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "man" && argc >= 5) {
    std::string text;
    std::vector<ExampleFile> examples;
    if (!read(argv[2], &text) || !read_examples(argc, argv, 5, &examples)) {
      return 1;
    }
    ConfigReference reference = read_config_reference(examples);
    for (const auto& e : reference.errors) {
      std::fprintf(stderr, "sy-gen-docs: %s\n", e.c_str());
    }
    if (!reference.errors.empty()) {
      return 1;
    }
    text = fill_template(text, {{"VERSION", argv[4]},
                                {"COMMANDS", render_commands(sy::admin::command_table())},
                                {"CONFIG_KEYS", render_config_keys(reference)}});
    return write(argv[3], text) ? 0 : 1;
  }
  if (cmd == "completion" && argc == 3) {
    return write(argv[2], render_bash_completion(sy::admin::command_table())) ? 0 : 1;
  }
  if (cmd == "check-reference" && argc >= 3) {
    std::vector<ExampleFile> examples;
    if (!read_examples(argc, argv, 2, &examples)) {
      return 1;
    }
    auto problems = check_config_reference(examples, read_config_reference(examples));
    for (const auto& p : problems) {
      std::fprintf(stderr, "%s\n", p.c_str());
    }
    return problems.empty() ? 0 : 1;
  }
  std::fprintf(stderr, "usage: sy-gen-docs man TEMPLATE OUT VERSION [EXAMPLE...]\n"
                       "       sy-gen-docs completion OUT\n"
                       "       sy-gen-docs check-reference EXAMPLE...\n");
  return 2;
}
