// Generated man page sections and bash completion (docs_gen.h).

#include "packaging/docs_gen.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "conf/load.h"

namespace sy::packaging {

namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string trim(std::string_view text) {
  size_t a = text.find_first_not_of(" \t");
  if (a == std::string_view::npos) {
    return "";
  }
  size_t b = text.find_last_not_of(" \t");
  return std::string(text.substr(a, b - a + 1));
}

// Column of the '#' of a comment-only line, or npos.
size_t comment_only_column(const std::string& line) {
  size_t first = line.find_first_not_of(" \t");
  return first != std::string::npos && line[first] == '#' ? first : std::string::npos;
}

// The column of a comment after a value on |line| ("key: v  # text"), or npos; '#' inside
// quotes or not preceded by a blank does not start a comment.
size_t trailing_comment_column(const std::string& line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return i;
    }
  }
  return std::string::npos;
}

// The text of that comment ("key: v  # text" -> "text"), or "".
std::string trailing_comment(const std::string& line) {
  size_t at = trailing_comment_column(line);
  return at == std::string::npos ? "" : trim(line.substr(at + 1));
}

std::string comment_text(const std::string& line) {
  size_t hash = comment_only_column(line);
  return hash == std::string::npos ? "" : trim(line.substr(hash + 1));
}

void append_sentence(std::string* out, const std::string& more) {
  if (!more.empty()) {
    *out += (out->empty() ? "" : " ") + more;
  }
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Walks one example and records its keys into a reference.
class ReferenceBuilder {
 public:
  explicit ReferenceBuilder(ConfigReference* out) : out_(out) {
    for (size_t i = 0; i < out_->keys.size(); ++i) {
      index_[out_->keys[i].path] = i;
    }
  }

  void file(const ExampleFile& f) {
    std::string text = uncomment_keys(f.text);
    lines_ = split_lines(text);
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      out_->errors.push_back(f.name + ": " + e.what());
      return;
    }
    walk(root, "");
  }

 private:
  KeyDoc& key(const std::string& path) {
    auto [it, inserted] = index_.emplace(path, out_->keys.size());
    if (inserted) {
      out_->keys.push_back(KeyDoc{path, "", {}, false});
    }
    return out_->keys[it->second];
  }

  // The comment next to the key on |line| (block style only) and its continuation lines (
  // comment-only lines right below with the '#' right of the key); else the comment block
  // right above at the key's own column.
  std::string describe(size_t line, size_t column, bool flow) {
    std::string text;
    if (!flow) {
      text = trailing_comment(lines_[line]);
      for (size_t l = line + 1; !text.empty() && l < lines_.size(); ++l) {
        size_t hash = comment_only_column(lines_[l]);
        if (hash == std::string::npos || hash <= column) {
          break;
        }
        append_sentence(&text, comment_text(lines_[l]));
      }
    }
    if (text.empty()) {
      size_t l = line;
      while (l > 0 && comment_only_column(lines_[l - 1]) == column) {
        --l;
      }
      for (; l < line; ++l) {
        append_sentence(&text, comment_text(lines_[l]));
      }
    }
    return text;
  }

  void example(KeyDoc& doc, const std::string& value) {
    std::string shown = value.empty() ? "\"\"" : value;
    if (doc.examples.size() < 4 &&
        std::find(doc.examples.begin(), doc.examples.end(), shown) == doc.examples.end()) {
      doc.examples.push_back(shown);
    }
  }

  void walk(const YAML::Node& node, const std::string& path) {
    if (node.IsSequence()) {
      for (const auto& item : node) {
        walk(item, path + "[]");
      }
      return;
    }
    if (!node.IsMap()) {
      return;
    }
    bool flow = node.Style() == YAML::EmitterStyle::Flow;
    for (const auto& entry : node) {
      std::string p = join_path(path, entry.first.Scalar());
      const YAML::Mark mark = entry.first.Mark();
      std::string description =
          describe(static_cast<size_t>(mark.line), static_cast<size_t>(mark.column), flow);
      KeyDoc& doc = key(p);
      if (doc.description.empty()) {
        doc.description = description;
      }
      const YAML::Node& value = entry.second;
      if (value.IsScalar()) {
        example(doc, value.Scalar());
      } else if (value.IsMap()) {
        doc.mapping = true;
      } else if (value.IsSequence() && value.size() > 0 && value[0].IsScalar()) {
        std::string list;
        for (const auto& item : value) {
          list += (list.empty() ? "[" : ", ") + item.Scalar();
        }
        example(key(p), list + "]");
      }
      walk(value, p);  // |doc| may move: key() grows the vector
    }
  }

  ConfigReference* out_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> lines_;
};

// The node at |segments| (from |at|) below |node|: "pools[]" picks the first item that has the
// rest of the path. Sets |probe_path| to the concrete path ("pools[1].tls"); a null node when
// the path is not there.
YAML::Node node_at(const YAML::Node& node, const std::vector<std::string>& segments, size_t at,
                   std::string* probe_path) {
  if (at == segments.size()) {
    return node;
  }
  const std::string& segment = segments[at];
  bool item = segment.size() > 2 && segment.compare(segment.size() - 2, 2, "[]") == 0;
  std::string key = item ? segment.substr(0, segment.size() - 2) : segment;
  // Lookups through a const node insert nothing.
  if (!node.IsMap() || !node[key]) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
  const YAML::Node child = node[key];
  std::string base = join_path(*probe_path, key);
  if (!item) {
    *probe_path = base;
    return node_at(child, segments, at + 1, probe_path);
  }
  for (size_t i = 0; child.IsSequence() && i < child.size(); ++i) {
    *probe_path = base + "[" + std::to_string(i) + "]";
    YAML::Node found = node_at(child[i], segments, at + 1, probe_path);
    if (found.IsDefined()) {
      return found;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// The keys the loader lists in "unknown key (expected one of: a, b, c)" for a probe key
// inserted at |path| of |root|; false when it did not say.
bool accepted_keys(const YAML::Node& root, const std::string& path, std::set<std::string>* out) {
  constexpr char kProbe[] = "zz_probe";
  YAML::Node copy = YAML::Clone(root);
  std::vector<std::string> segments;
  std::stringstream in(path);
  for (std::string segment; !path.empty() && std::getline(in, segment, '.');) {
    segments.push_back(segment);
  }
  std::string probe_path;
  YAML::Node target = node_at(copy, segments, 0, &probe_path);
  if (!target.IsMap()) {
    return false;
  }
  target[kProbe] = "1";
  YAML::Emitter emitter;
  emitter << copy;
  conf::LoadResult r = conf::load_config_string(emitter.c_str(), "<probe>");
  const std::string want = join_path(probe_path, kProbe);
  const std::string prefix = "unknown key (expected one of: ";
  for (const auto& e : r.errors) {
    if (e.path == want && e.message.rfind(prefix, 0) == 0) {
      std::string list = e.message.substr(prefix.size());
      list = list.substr(0, list.rfind(')'));
      std::stringstream keys(list);
      std::string k;
      while (std::getline(keys, k, ',')) {
        out->insert(trim(k));
      }
      return true;
    }
  }
  return false;
}

// Every path of |node| below |path| that is a mapping, list items as "[]"; |path| first.
void mapping_paths(const YAML::Node& node, const std::string& path, std::set<std::string>* out) {
  if (node.IsSequence()) {
    for (const auto& item : node) {
      mapping_paths(item, path + "[]", out);
    }
  } else if (node.IsMap()) {
    out->insert(path);
    for (const auto& entry : node) {
      mapping_paths(entry.second, join_path(path, entry.first.Scalar()), out);
    }
  }
}

std::string command_name(const admin::Command& c) {
  std::string name;
  for (const auto& w : c.words) {
    name += (name.empty() ? "" : " ") + w;
  }
  return name;
}

}  // namespace

std::string roff_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out.push_back(c);
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) {
    out.insert(0, "\\&");
  }
  return out;
}

std::string uncomment_keys(std::string_view text) {
  static const std::regex kKeyLine("^ *(- )?[a-z][a-z_]*:( .*)?$");
  std::string out;
  // The column of the previous line's trailing comment: a comment-only line with its '#' there
  // continues that comment (even when its prose looks like "key: ..."), as do the lines after it.
  size_t continues = std::string::npos;
  for (const std::string& line : split_lines(text)) {
    size_t hash = comment_only_column(line);
    if (hash != std::string::npos && hash == continues) {
      out += line + '\n';
      continue;
    }
    std::string candidate = line;
    size_t skip = 0;
    if (hash == 0) {
      skip = 1;
      candidate = line.substr(1);
    } else if (hash != std::string::npos) {
      skip = hash + 1 < line.size() && line[hash + 1] == ' ' ? 2 : 1;
      candidate = line.substr(0, hash) + line.substr(hash + skip);
    }
    bool key = hash != std::string::npos && std::regex_match(candidate, kKeyLine);
    out += (key ? candidate : line) + '\n';
    // Where this line's own trailing comment starts, in the original columns.
    continues = std::string::npos;
    if (hash == std::string::npos || key) {
      std::string body = key ? candidate : line;
      size_t at = trailing_comment_column(body);
      if (at != std::string::npos) {
        continues = key && at >= hash ? at + skip : at;
      }
    }
  }
  return out;
}

ConfigReference read_config_reference(const std::vector<ExampleFile>& files) {
  ConfigReference reference;
  ReferenceBuilder builder(&reference);
  for (const auto& f : files) {
    builder.file(f);
  }
  return reference;
}

std::string render_config_keys(const ConfigReference& reference) {
  // Sections (top-level keys) in order of first appearance, each with all of its keys, also
  // those a later example added.
  auto top_of = [](const std::string& path) { return path.substr(0, path.find_first_of(".[")); };
  std::vector<std::string> sections;
  for (const KeyDoc& k : reference.keys) {
    if (std::find(sections.begin(), sections.end(), top_of(k.path)) == sections.end()) {
      sections.push_back(top_of(k.path));
    }
  }
  std::vector<const KeyDoc*> ordered;
  for (const auto& s : sections) {
    for (const KeyDoc& k : reference.keys) {
      if (top_of(k.path) == s) {
        ordered.push_back(&k);
      }
    }
  }
  std::string out;
  std::string section;
  for (const KeyDoc* key : ordered) {
    const KeyDoc& k = *key;
    std::string top = top_of(k.path);
    if (top != section) {
      section = top;
      out += ".SS " + roff_escape(section) + "\n";
    }
    if (k.path == top) {  // the section's own text
      if (!k.description.empty()) {
        out += roff_escape(k.description) + "\n";
      }
      if (!k.examples.empty()) {
        out += ".PP\nExample: \\fB" + roff_escape(k.path + ": " + k.examples[0]) + "\\fR\n";
      }
      continue;
    }
    out += ".TP\n\\fB" + roff_escape(k.path) + "\\fR";
    if (!k.examples.empty()) {
      std::string shown;
      for (const auto& e : k.examples) {
        shown += (shown.empty() ? "" : ", ") + e;
      }
      out += " (e.g. \\fI" + roff_escape(shown) + "\\fR)";
    }
    std::string text = k.description;
    if (text.empty() && k.mapping) {
      text = "A mapping of the keys below.";
    } else if (text.empty()) {  // e.g. a key of a flow-style list item: its list says more
      std::string parent = k.path.substr(0, k.path.rfind('.'));
      if (parent.size() > 2 && parent.compare(parent.size() - 2, 2, "[]") == 0) {
        parent.resize(parent.size() - 2);
      }
      text = "See " + parent + ".";
    }
    out += "\n" + roff_escape(text) + "\n";
  }
  return out;
}

std::vector<std::string> check_config_reference(const std::vector<ExampleFile>& files,
                                                const ConfigReference& reference) {
  std::set<std::string> documented;
  for (const auto& k : reference.keys) {
    documented.insert(k.path);
  }
  std::map<std::string, std::set<std::string>> accepted;  // mapping path -> its keys
  std::vector<std::string> problems = reference.errors;
  for (const auto& f : files) {
    YAML::Node root;
    try {
      root = YAML::Load(uncomment_keys(f.text));
    } catch (const YAML::Exception&) {
      continue;  // already in reference.errors
    }
    if (root.IsMap()) {
      root.remove("include_dir");  // a directory the probes cannot have
    }
    std::set<std::string> paths;
    mapping_paths(root, "", &paths);
    for (const auto& path : paths) {
      if (accepted.count(path) == 0 && !accepted_keys(root, path, &accepted[path])) {
        accepted.erase(path);
        problems.push_back(f.name + ": " + (path.empty() ? "<top level>" : path) +
                           ": the loader named no keys for a probe key here");
      }
    }
  }
  std::set<std::string> probed_keys;
  for (const auto& [path, keys] : accepted) {
    for (const auto& k : keys) {
      std::string p = join_path(path, k);
      probed_keys.insert(p);
      if (documented.count(p) == 0) {
        problems.push_back(p + ": accepted by the loader but in no example (document it in "
                               "conf/examples/)");
      }
    }
  }
  for (const auto& k : reference.keys) {
    std::string parent =
        k.path.substr(0, k.path.rfind('.') == std::string::npos ? 0 : k.path.rfind('.'));
    if (accepted.count(parent) != 0 && probed_keys.count(k.path) == 0) {
      problems.push_back(k.path + ": in an example but not accepted by the loader");
    }
  }
  return problems;
}

std::string render_commands(const std::vector<admin::Command>& table) {
  std::vector<std::string> groups;
  for (const auto& c : table) {
    if (std::find(groups.begin(), groups.end(), c.words[0]) == groups.end()) {
      groups.push_back(c.words[0]);
    }
  }
  std::string out;
  for (const auto& g : groups) {
    out += ".SS " + roff_escape(g) + "\n";
    for (const auto& c : table) {
      if (c.words[0] != g) {
        continue;
      }
      out += ".TP\n\\fB" + roff_escape(command_name(c)) + "\\fR";
      if (*c.args != '\0') {
        out += " " + roff_escape(c.args);
      }
      out += "\n" + roff_escape(c.help) + ".";
      out += c.privilege == admin::Privilege::Admin ? " Needs the admin level.\n" : " Read-only.\n";
    }
  }
  return out;
}

std::string render_bash_completion(const std::vector<admin::Command>& table) {
  const std::string kGlobalFlags = "-s --socket --tcp --token-file --json --help --version";
  // Next words after each typed prefix, and the flags of each command.
  std::map<std::string, std::vector<std::string>> next;
  std::map<std::string, std::string> flags;
  std::set<std::string> value_flags = {"--tcp"};
  for (const auto& c : table) {
    std::string prefix;
    for (const auto& w : c.words) {
      auto& words = next[prefix];
      if (std::find(words.begin(), words.end(), w) == words.end()) {
        words.push_back(w);
      }
      prefix += (prefix.empty() ? "" : " ") + w;
    }
    std::string f;
    for (const auto& spec : c.flags) {
      f += std::string(spec.name) + " ";
      if (spec.takes_value) {
        value_flags.insert(spec.name);
      }
    }
    flags[prefix] = f + "--json";
  }
  auto joined = [](const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
      out += (out.empty() ? "" : " ") + w;
    }
    return out;
  };
  std::string values;
  for (const auto& v : value_flags) {
    values += "|" + v;
  }
  std::string out =
      "# bash completion for switchyardctl(1). Generated from the admin command table\n"
      "# (admin/commands.cpp) by sy-gen-docs at build time; do not edit.\n"
      "\n"
      "_switchyardctl() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=\n"
      "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  case $prev in\n"
      "    -s|--socket|--token-file)\n"
      "      COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "      return 0 ;;\n"
      "    " +
      values.substr(1) +
      ")\n"
      "      COMPREPLY=()  # a value: nothing to offer\n"
      "      return 0 ;;\n"
      "  esac\n"
      "  # The command words typed so far, without options and the values of global options.\n"
      "  local i w typed=\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${COMP_WORDS[i]}\n"
      "    case $w in\n"
      "      -s|--socket|--tcp|--token-file) ((i++)) ;;\n"
      "      -*) ;;\n"
      "      *) typed+=${typed:+ }$w ;;\n"
      "    esac\n"
      "  done\n"
      "  local words= flags=\n"
      "  case $typed in\n";
  for (const auto& [prefix, words] : next) {
    std::string f = prefix.empty() ? kGlobalFlags : (flags.count(prefix) ? flags[prefix] : "");
    out += "    \"" + prefix + "\") words=\"" + joined(words) + "\" flags=\"" + f + "\" ;;\n";
  }
  std::vector<std::string> leaves;
  for (const auto& [command, f] : flags) {
    leaves.push_back(command);
  }
  std::sort(leaves.begin(), leaves.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& command : leaves) {
    std::string arm = "\"" + command + " \"*";
    if (next.count(command) == 0) {
      arm = "\"" + command + "\"|" + arm;  // a leaf: its exact words are not a prefix arm
    }
    out += "    " + arm + ") flags=\"" + flags[command] + "\" ;;\n";
  }
  out += "  esac\n"
         "  if [[ $cur == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "  fi\n"
         "  return 0\n"
         "}\n"
         "complete -F _switchyardctl switchyardctl\n";
  return out;
}

std::string fill_template(std::string text,
                          const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [name, value] : values) {
    std::string marker = "@" + name + "@";
    for (size_t at = text.find(marker); at != std::string::npos;
         at = text.find(marker, at + value.size())) {
      text.replace(at, marker.size(), value);
    }
  }
  return text;
}

}  // namespace sy::packaging
