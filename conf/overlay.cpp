// Stage 0 of a load: main file + include_dir overlays -> one substituted, merged YAML tree.
//
// The merge edits the main document's tree in place and moves the overlay's own nodes into
// it, so every node keeps the Mark yaml-cpp gave it in its own file; Positions::set_origin
// records which file each moved path came from. A replaced entry is removed and re-inserted
// with the overlay's key node too, so an error about the key points into the overlay.

#include "conf/overlay.h"

#include <yaml-cpp/depthguard.h>  // YAML::DeepRecursion (not in yaml.h in 0.7)
#include <yaml-cpp/eventhandler.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace sy::conf::detail {

namespace {

// yaml-cpp 0.7's parser gives up (DeepRecursion) a little below this many nested collections.
constexpr int kYamlMaxDepth = 500;

// Lists of items that merge by their `name` key; every other list is replaced whole. Paths
// without indices ("pools", not "pools[0]").
constexpr std::string_view kNamedLists[] = {"listeners", "pools", "database.servers"};

bool is_named_list(const std::string& path) {
  std::string bare;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      i = path.find(']', i);
      if (i == std::string::npos) {
        break;
      }
      continue;
    }
    bare.push_back(path[i]);
  }
  return std::find(std::begin(kNamedLists), std::end(kNamedLists), bare) != std::end(kNamedLists);
}

std::string indexed_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// The first entry of mapping |map| whose key is the scalar |key|; false when there is none.
bool find_entry(const YAML::Node& map, const std::string& key, YAML::Node* key_node,
                YAML::Node* value) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      *key_node = it->first;
      *value = it->second;
      return true;
    }
  }
  return false;
}

// The scalar `name` of a list item, or "" when it has none.
std::string item_name(const YAML::Node& item) {
  YAML::Node key, value;
  if (item.IsMap() && find_entry(item, "name", &key, &value) && value.IsScalar()) {
    return value.Scalar();
  }
  return "";
}

// yaml-cpp 0.7 can fail to advance: on some inputs (a ',' where a document's node should start,
// after a tag, an anchor or a NUL byte, ...) every call of Parser::HandleNextDocument returns one
// more empty document starting at the same place, and YAML::LoadAll collects them until memory
// runs out. This pass runs the same parser with an event handler that only counts, up to the
// third document or more events than the text could hold, so LoadAll runs only on text with
// one document.
class DocumentScan : public YAML::EventHandler {
 public:
  struct Result {
    int documents = 0;   // 0, 1, 2 (two or more), or 2 with |stuck|
    bool stuck = false;  // the parser does not advance past |second|
    YAML::Mark second = YAML::Mark::null_mark();
  };

  // A syntax error counts as one document: LoadAll then reports it with its own message.
  static Result scan(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentScan counter(2 * text.size() + 16);
    try {
      while (parser.HandleNextDocument(counter)) {
      }
    } catch (const Stop&) {
    } catch (const YAML::Exception&) {
      return Result{1, false, YAML::Mark::null_mark()};
    }
    return counter.result_;
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++started_ == 2) {
      result_.documents = 2;
      result_.second = mark;
    } else if (started_ == 3) {
      result_.stuck = mark.pos == result_.second.pos;
      throw Stop{};
    } else {
      result_.documents = 1;
    }
    tick();
  }
  void OnDocumentEnd() override { tick(); }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { tick(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { tick(); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    tick();
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    tick();
  }
  void OnSequenceEnd() override { tick(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    tick();
  }
  void OnMapEnd() override { tick(); }

 private:
  struct Stop {};

  explicit DocumentScan(size_t limit) : limit_(limit) {}
  void tick() {
    if (++events_ > limit_) {
      result_ = Result{2, true, YAML::Mark::null_mark()};
      throw Stop{};
    }
  }

  size_t limit_;
  size_t events_ = 0;
  int started_ = 0;
  Result result_;
};

class Gatherer {
 public:
  Gatherer(const EnvLookup& env, Positions* positions, std::vector<ConfigError>* errors)
      : env_(env), positions_(positions), errors_(errors) {}

  // One YAML document of |text| into |out| (null for an empty text). False on a syntax error
  // or a second document.
  bool parse(std::string_view text, const std::string& label, YAML::Node* out) {
    // YAML is text: a NUL byte is not allowed anywhere, and yaml-cpp reads one as the end of
    // the stream and can then loop forever (the config fuzzer found "\0,").
    if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
      Mark at;
      at.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
      size_t line_start = text.rfind('\n', nul);
      at.col =
          static_cast<int>(nul - (line_start == std::string_view::npos ? 0 : line_start + 1)) + 1;
      error(label, at, "", "a NUL byte: a configuration file is text");
      return false;
    }
    Mark comma = comma_starting_document(text);
    if (comma.line > 0) {
      error(label, comma, "",
            "YAML syntax error: a document cannot start with ',' (it only separates items inside "
            "[ ] or { })");
      return false;
    }
    std::string owned(text);
    if (DocumentScan::Result scan = DocumentScan::scan(owned); scan.documents > 1) {
      error(label, to_mark(scan.second), "",
            scan.stuck ? "YAML syntax error: the YAML parser cannot read past this point (a ',' "
                         "only separates items inside [ ] or { })"
                       : "a second YAML document (expected exactly one)");
      return false;
    }
    std::vector<YAML::Node> documents;
    try {
      // One document at most here (DocumentScan stopped the rest).
      documents = YAML::LoadAll(owned);
    } catch (const YAML::DeepRecursion&) {
      // yaml-cpp 0.7 throws this with no position and the message "bad file".
      int depth = 0;
      Mark mark = deepest_nesting(text, &depth);
      error(label, mark, "",
            "YAML nested too deeply: " + std::to_string(depth) +
                " levels of lists/mappings reached here (the YAML parser stops at about " +
                std::to_string(kYamlMaxDepth) + "; a Switchyard config needs fewer than 10)");
      return false;
    } catch (const YAML::Exception& e) {
      error(label, to_mark(e.mark), "", "YAML syntax error: " + e.msg);
      return false;
    }
    *out = documents.empty() ? YAML::Node() : documents.front();
    return true;
  }

  // Replaces ${...} in every scalar value below |node| (keys are left alone). A node reached
  // twice through a YAML alias is expanded once: its scalar's address identifies it.
  void substitute_values(YAML::Node node, const std::string& path, const std::string& label) {
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        substitute_values(it->second,
                          join_path(path, it->first.IsScalar() ? it->first.Scalar() : "?"), label);
      }
    } else if (node.IsSequence()) {
      size_t i = 0;
      for (auto it = node.begin(); it != node.end(); ++it) {
        substitute_values(*it, indexed_path(path, i++), label);
      }
    } else if (node.IsScalar() && node.Scalar().find('$') != std::string::npos &&
               expanded_.insert(&node.Scalar()).second) {
      std::string value, why;
      if (!substitute(node.Scalar(), env_, &value, &why)) {
        error(label, to_mark(node.Mark()), path, why);
        return;
      }
      node = value;  // keeps the node's mark and tag (a quoted scalar stays a string)
    }
  }

  // Merges mapping |over| (of file |file|) into mapping |base| at |path|. The key |keep| (the
  // `name` of a named list item, equal on both sides) keeps the base's node and position.
  void merge_map(YAML::Node base, const YAML::Node& over, const std::string& path, int file,
                 std::string_view keep = "") {
    const std::string& label = positions_->file_name(file);
    std::map<std::string, int> seen;  // key -> line, within |over|
    for (auto it = over.begin(); it != over.end(); ++it) {
      Mark key_mark = to_mark(it->first.Mark());
      if (!it->first.IsScalar()) {
        error(label, key_mark, path, "wrong type: expected a key name");
        continue;
      }
      const std::string& key = it->first.Scalar();
      std::string key_path = join_path(path, key);
      auto [first, inserted] = seen.emplace(key, key_mark.line);
      if (!inserted) {
        error(label, key_mark, key_path,
              "duplicate key (first at line " + std::to_string(first->second) + ")");
        continue;
      }
      if (key == keep) {
        continue;
      }
      if (path.empty() && key == "include_dir") {
        error(label, key_mark, key_path,
              "include_dir is only read from the main file (expected it in " +
                  positions_->file_name(0) + ")");
        continue;
      }
      YAML::Node base_key, base_value;
      if (!find_entry(base, key, &base_key, &base_value)) {
        base.force_insert(it->first, it->second);
        positions_->set_origin(key_path, file);
      } else if (base_value.IsMap() && it->second.IsMap()) {
        merge_map(base_value, it->second, key_path, file);
      } else if (base_value.IsSequence() && it->second.IsSequence() && is_named_list(key_path)) {
        merge_named_list(base_value, it->second, key_path, file);
      } else {
        base.remove(base_key);
        base.force_insert(it->first, it->second);
        positions_->set_origin(key_path, file);
      }
    }
  }

  // Items of |over| merge into the item of |base| with the same name (as |base| was before
  // this file; each at most once, so a name twice in one file stays a duplicate for pass 2 to
  // report); other items are appended.
  void merge_named_list(YAML::Node base, const YAML::Node& over, const std::string& path,
                        int file) {
    std::vector<YAML::Node> before(base.begin(), base.end());
    std::vector<bool> matched(before.size(), false);
    for (auto it = over.begin(); it != over.end(); ++it) {
      std::string name = item_name(*it);
      size_t i = 0;
      while (i < before.size() && (name.empty() || matched[i] || item_name(before[i]) != name)) {
        ++i;
      }
      if (i < before.size()) {
        matched[i] = true;
        merge_map(before[i], *it, indexed_path(path, i), file, "name");
      } else {
        base.push_back(*it);
        positions_->set_origin(indexed_path(path, base.size() - 1), file);
      }
    }
  }

  // The overlay files of |dir| (resolved): *.yaml, not hidden, in byte order of their names.
  std::vector<std::string> list_overlays(const std::string& dir, const std::string& label,
                                         Mark mark) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      error(label, mark, "include_dir",
            "cannot read directory \"" + dir + "\": " + std::strerror(errno));
      return names;
    }
    while (dirent* entry = ::readdir(d)) {
      std::string name = entry->d_name;
      if (name.empty() || name[0] == '.' || name.size() <= 5 ||
          name.compare(name.size() - 5, 5, ".yaml") != 0) {
        continue;
      }
      names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  void error(const std::string& file, Mark mark, const std::string& path, std::string message) {
    errors_->push_back(ConfigError{file, mark.line, mark.col, path, std::move(message)});
  }

 private:
  const EnvLookup& env_;
  Positions* positions_;
  std::vector<ConfigError>* errors_;
  std::set<const std::string*> expanded_;
};

}  // namespace

bool gather_sources(std::string_view main_text, const std::string& main_label, const EnvLookup& env,
                    YAML::Node* root, Positions* positions, std::vector<ConfigError>* errors) {
  size_t errors_before = errors->size();
  *positions = Positions({main_label});
  Gatherer g(env, positions, errors);
  if (!g.parse(main_text, main_label, root)) {
    return false;
  }
  g.substitute_values(*root, "", main_label);
  YAML::Node include_key, include;
  if (!root->IsMap() || !find_entry(*root, "include_dir", &include_key, &include) ||
      !include.IsScalar() || include.Scalar().empty() || errors->size() != errors_before) {
    return errors->size() == errors_before;  // no overlays; the decoder checks include_dir
  }
  std::string dir = resolve_path(directory_of(main_label), include.Scalar());
  for (const std::string& name : g.list_overlays(dir, main_label, to_mark(include.Mark()))) {
    std::string path = resolve_path(dir, name);
    std::string text;
    int file = positions->add_file(path);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      g.error(path, Mark{}, "", "not a regular file (expected a YAML overlay)");
      continue;
    }
    if (!read_file(path, &text)) {
      g.error(path, Mark{}, "", std::string("cannot read file: ") + std::strerror(errno));
      continue;
    }
    YAML::Node overlay;
    if (!g.parse(text, path, &overlay) || overlay.IsNull()) {
      continue;  // an empty overlay changes nothing
    }
    if (!overlay.IsMap()) {
      g.error(path, to_mark(overlay.Mark()), "",
              "an overlay must be a mapping of top-level keys, like the main file");
      continue;
    }
    g.substitute_values(overlay, "", path);
    g.merge_map(*root, overlay, "", file);
  }
  return errors->size() == errors_before;
}

bool read_file(const std::string& path, std::string* out, size_t max_bytes) {
  // POSIX calls rather than ifstream so the error names the real errno (ENOENT, EACCES, EISDIR).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buffer[65536];
  for (;;) {
    ssize_t n = out->size() < max_bytes
                    ? ::read(fd, buffer, std::min(sizeof buffer, max_bytes - out->size()))
                    : 0;
    if (n > 0) {
      out->append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      ::close(fd);
      return true;
    } else if (errno != EINTR) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
  }
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return "";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string resolve_path(const std::string& dir, const std::string& path) {
  if (dir.empty() || (!path.empty() && path[0] == '/')) {
    return path;
  }
  return dir.back() == '/' ? dir + path : dir + "/" + path;
}

Mark to_mark(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return Mark{};
  }
  return Mark{mark.line + 1, mark.column + 1};
}

void Positions::set_origin(const std::string& path, int file) {
  for (auto it = origins_.lower_bound(path); it != origins_.end();) {
    const std::string& p = it->first;
    if (p.compare(0, path.size(), path) != 0) {
      break;
    }
    bool below = p.size() > path.size() && (p[path.size()] == '.' || p[path.size()] == '[');
    it = below ? origins_.erase(it) : std::next(it);
  }
  origins_[path] = file;
}

int Positions::origin(const std::string& path) const {
  for (std::string p = path;; p = parent_path(p)) {
    auto it = origins_.find(p);
    if (it != origins_.end()) {
      return it->second;
    }
    if (p.empty()) {
      return 0;
    }
  }
}

size_t Positions::file_index(const std::string& name) const {
  return static_cast<size_t>(std::find(files_.begin(), files_.end(), name) - files_.begin());
}

}  // namespace sy::conf::detail
