#pragma once
// The database servers of one process, changeable at run time (`reload`), and what each
// session made of them (`show database`; docs/decisions.md 62).
//
//   writers  database.dsns: the admin commands, the sequencer, heartbeats and migrations write
//            through the first of these that is writable (read_only OFF; on Galera synced)
//   readers  database.reader_dsns: the loader reads the directory from the first synced node
//            or replica of these; empty = the writers
//   state    the state database's servers (state_dsns, or the writers with state_database);
//            empty = the state lives in the directory database
//
// Every session owner (the loader, each admin Stores) reads the lists when it connects and
// compares generation() before each use: a reload that changed them makes it drop its sessions
// and connect again to the new lists. Any thread (a mutex guards everything).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

// Wall-clock milliseconds since the epoch (the times the loader and this source report).
uint64_t now_unix_ms();

struct DsnLists {
  std::vector<Dsn> writers;
  std::vector<Dsn> readers;  // empty = the writers
  std::vector<Dsn> state;    // empty = in the directory database

  const std::vector<Dsn>& read() const { return readers.empty() ? writers : readers; }
  // The loader's state session (heartbeats): the state servers, or, when the directory is read
  // from readers of its own, the writers (a replica must not take heartbeats); empty = the
  // directory session itself, then connected as a Writer.
  std::vector<Dsn> loader_state() const;

  bool operator==(const DsnLists&) const = default;
};

// One session as `show database` lists it.
struct SessionView {
  std::string who;                       // "loader", "loader state", "admin directory", ...
  std::string dsn;                       // Dsn::label() of the server in use; "" = none
  std::string role;                      // "writer" / "reader"
  std::vector<std::string> passed_over;  // "label: reason" for each DSN it left
  std::string error;                     // the last connect failure; "" = connected
  std::string left;                      // "label: why" of the last server it dropped; "" = none
  uint64_t since_unix_ms = 0;            // when this was noted
};

class DsnSource {
 public:
  explicit DsnSource(DsnLists lists) : lists_(std::move(lists)) {}

  DsnLists lists() const;
  uint64_t generation() const;
  // Replaces the lists; true (and a new generation) when they differ.
  bool set(DsnLists lists);

  // Session owners report here after each connect attempt.
  void connected(const std::string& who, const Db& db);
  void failed(const std::string& who, const Error& e);
  // It dropped its session to |db| because of |why| (health, a 1047/1290 error, a reload).
  void left(const std::string& who, const Db& db, const std::string& why);
  std::vector<SessionView> sessions() const;  // by name

 private:
  mutable std::mutex mu_;
  DsnLists lists_;
  uint64_t generation_ = 0;
  std::map<std::string, SessionView> sessions_;
};

}  // namespace sy::store
